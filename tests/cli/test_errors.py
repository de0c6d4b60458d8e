"""Bad input to any command ends with one line naming the file and the reason (exit 2), never
a traceback; ``GARMENTPARSE_DEBUG=1`` brings the traceback back for developers."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from garmentparse.cli import build_app

runner = CliRunner()


def fails_clearly(*args: object) -> str:
    result = runner.invoke(build_app(), [str(a) for a in args])
    said = " ".join(result.output.split())  # Rich wraps long lines
    assert result.exit_code == 2, said
    assert "error" in said and "Traceback" not in said
    return said


def test_wrong_or_missing_inputs(tmp_path, examples_dir):
    assert "labels folder not found" in fails_clearly("convert", "kfashion", tmp_path / "nope", "--out",
                                                      tmp_path / "x.json")
    mat = examples_dir / "ccp" / "label_list.mat"
    assert f"{mat}: not a JSON file" in fails_clearly("validate", mat)
    results = tmp_path / "preds.json"
    results.write_text("[]")
    assert "COCO *results* file" in fails_clearly("split", results, "--out-dir", tmp_path / "sp")
    label = examples_dir / "kfashion" / "100026.json"
    assert "not a COCO dataset (no 'images' list" in fails_clearly("stats", label)
    assert "COCO file not found" in fails_clearly("stats", tmp_path / "none.json")


def test_unwritable_output(tmp_path, examples_dir):
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    coco = tmp_path / "coco.json"
    runner.invoke(build_app(), ["convert", "kfashion", str(examples_dir / "kfashion"), "--images",
                                str(examples_dir / "kfashion"), "--out", str(coco)])
    assert json.loads(coco.read_text())["images"]
    assert "Not a directory" in fails_clearly("crop", coco, "--images", examples_dir / "kfashion",
                                              "--out", blocker / "crops")


def test_debug_switch_shows_the_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("GARMENTPARSE_DEBUG", "1")
    result = runner.invoke(build_app(), ["stats", str(tmp_path / "none.json")])
    assert result.exit_code == 1 and isinstance(result.exception, FileNotFoundError)


@pytest.mark.parametrize("command", [["--help"], ["convert", "--help"], ["train", "--help"], ["eval", "--help"]])
def test_help_still_works_through_the_guard(command):
    result = runner.invoke(build_app(), command)
    assert result.exit_code == 0 and "Usage" in result.output
