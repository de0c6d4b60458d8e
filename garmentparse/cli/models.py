"""``garmentparse models list|info``: the release models installed (weights packages)."""

from __future__ import annotations

from typing import Any, Optional

import typer
from rich.table import Table

from garmentparse.cli.common import console, print_json
from garmentparse.release import TASKS, ReleaseModel, get_model, release_models, verify

models_app = typer.Typer(no_args_is_help=True, help="Release models: trained weights used by name (`--detector NAME`).")


def _classes(model: ReleaseModel) -> str:
    classes = model.card.get("classes") or {}
    if model.task == "detector":
        return ", ".join(next(iter(classes.values()), []))
    if model.task == "classifier":
        return ", ".join(f"{head} ({len(values)})" for head, values in classes.items())
    return f"{model.card.get('dim', '?')}-d, labels {', '.join(model.card.get('labels') or [])}"


def _headline(model: ReleaseModel) -> str:
    """The held-out figures shown in the list (the card has them all)."""
    held_out = (model.card.get("metrics") or {}).get("held_out", {})
    return ", ".join(f"{k} {v}" for k, v in held_out.items() if not isinstance(v, dict))


@models_app.command("list")
def list_command(
    task: Optional[str] = typer.Option(None, "--task", metavar="detector|classifier|embedder", help="Only models of this task."),
    json_out: bool = typer.Option(False, "--json", help="One JSON list on stdout."),
) -> None:
    """The installed release models: name, task, backbone, classes or heads, size, held-out metrics."""
    if task is not None and task not in TASKS:
        raise typer.BadParameter(f"use one of {', '.join(TASKS)}", param_hint="--task")
    models = release_models(task)
    if json_out:
        print_json([m.summary() for m in models])
        return
    if not models:
        console.print("no release models installed (pip install garmentparse-models; `make setup` does it)")
        return
    table = Table(title="release models (* = default for its task)")
    # the name is what a user types: never cut (other columns wrap and fold to make room)
    table.add_column("name", no_wrap=True, min_width=max(len(m.name) + 2 for m in models))
    for column in ("task", "backbone", "classes / heads", "size"):
        table.add_column(column, overflow="fold")
    for m in models:
        table.add_row(m.name + (" *" if m.default else ""), m.task, str(m.card.get("backbone", "")), _classes(m),
                      f"{m.size_bytes / 2**20:.1f} MiB")
    console.print(table)
    console.print("held out (garmentparse models info NAME: the whole card):", highlight=False)
    for m in models:  # long figures on lines of their own, so the table stays narrow
        console.print(f"  {m.name}: {_headline(m)}", highlight=False)


def _flat(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [row for k, v in value.items() for row in _flat(f"{prefix}.{k}" if prefix else str(k), v)]
    if isinstance(value, list):
        return [(prefix, ", ".join(map(str, value)))]
    return [(prefix, str(value))]


@models_app.command("info")
def info_command(
    name: str = typer.Argument(..., help="A release model name (see `garmentparse models list`)."),
    json_out: bool = typer.Option(False, "--json", help="The whole card as JSON on stdout."),
    check: bool = typer.Option(True, "--check/--no-check", help="Verify the weights file's sha256 against the manifest."),
) -> None:
    """One model's card: data, recipe, metrics, licence, file and sha256 (checked)."""
    model = get_model(name)
    if check:
        verify(model)
    summary = {**model.summary(), "sha256_checked": check}
    if json_out:
        print_json(summary)
        return
    table = Table(title=f"{model.name} ({model.task})", show_header=False)
    table.add_column("field")
    table.add_column("value", overflow="fold")
    for key, value in _flat("", summary):
        table.add_row(key, value)
    console.print(table)


def register(root: typer.Typer, train: typer.Typer, eval_: typer.Typer) -> None:
    """Add the ``models`` group to the app."""
    root.add_typer(models_app, name="models")
