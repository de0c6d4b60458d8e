"""``--help`` reads like the workflow: commands in the order a user meets them, plain
Click-style metavars (no ``<bool>``, paths as ``PATH``), ``--set`` as ``KEY=VALUE``."""

from __future__ import annotations

import re

import typer
from typer.testing import CliRunner

from garmentparse.cli import COMMAND_ORDER, build_app

runner = CliRunner()


def help_of(*command: str) -> str:
    result = runner.invoke(build_app(), [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def every_command(app: typer.Typer, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    click_group = typer.main.get_command(app)
    found = []

    def walk(group, path):
        for name in group.list_commands(None):
            sub = group.get_command(None, name)
            found.append((*path, name))
            if hasattr(sub, "list_commands"):
                walk(sub, (*path, name))

    walk(click_group, prefix)
    return found


def test_commands_are_listed_in_workflow_order():
    text = help_of()
    listed = re.findall(r"^  (\w+)\s{2,}", text.split("Commands:")[1], flags=re.M)
    expected = [c for c in ("convert", "validate", "stats", "split", "crop", "visualize", "train", "eval",
                            "predict", "tag") if c in listed]
    assert [c for c in listed if c in expected] == expected
    assert set(listed) <= set(COMMAND_ORDER), "a new command needs a place in cli.COMMAND_ORDER"


def test_no_typer_type_brackets_and_paths_show_as_path():
    commands = every_command(build_app())
    assert ("train", "detector") in commands and ("tag",) in commands
    for command in commands:
        text = help_of(*command)
        assert not re.search(r"<(bool|path|str|int|float|list\[str\])>", text), (command, text)
    assert re.search(r"--detector\s+PATH", help_of("tag"))
    assert re.search(r"--batch-size\s+INTEGER", help_of("tag"))
    assert re.search(r"--resume\s{3,}\S", help_of("tag")), "a flag shows no metavar"


def test_set_takes_several_overrides_and_shows_key_value():
    repo_configs = __import__("pathlib").Path(__file__).resolve().parents[2] / "configs"
    result = runner.invoke(build_app(), [
        "train", "detector", "--config", str(repo_configs / "detection" / "tiny.yaml"), "--print-config",
        "--set", "solver.base_lr=0.05", "data.workers=1", "--set", "train.seed=3"])
    assert result.exit_code == 0, result.output
    assert "base_lr: 0.05" in result.stdout and "seed: 3" in result.stdout
    assert "  workers: 1" in result.stdout.split("\ntest:")[0]  # data.workers, not test.workers
    result = runner.invoke(build_app(), [
        "train", "classifier", "--config", str(repo_configs / "classification" / "tiny.yaml"),
        "--print-config", "--set", "solver.lr=0.5", "train.epochs=2"])
    assert result.exit_code == 0 and "lr: 0.5" in result.stdout and "epochs: 2" in result.stdout
    bad = runner.invoke(build_app(), ["train", "detector", "--config", str(repo_configs / "detection" / "tiny.yaml"),
                                      "--print-config", "--set", "solver.base_lr=0.05", "oops"])
    assert bad.exit_code == 2 and "unexpected extra argument 'oops'" in " ".join(bad.output.split())
    for command in ("detector", "classifier"):
        assert re.search(r"--set\s+KEY=VALUE", help_of("train", command))
