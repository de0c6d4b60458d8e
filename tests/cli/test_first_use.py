"""What a new user meets first: `--version`, help and tables that never cut a name or a path,
`tag` errors as one line before any model loads, and an interrupted `tag` that says how to go
on and is not overwritten by a rerun without --resume / --overwrite."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from garmentparse.cli import build_app, version_line
from tests.conftest import EXAMPLES, invoke

runner = CliRunner()
PRODUCTS = EXAMPLES / "products" / "images"
CLI = [sys.executable, "-m", "garmentparse"]


def run_cli(*args: object, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "80", **(env or {})})


def test_version():
    result = runner.invoke(build_app(), ["--version"])
    assert result.exit_code == 0
    from importlib.metadata import version
    assert result.stdout.strip() == version_line() == (
        f"garmentparse {version('garmentparse')} (release models {version('garmentparse-models')})")


def test_models_list_and_help_never_cut_names_or_paths():
    listing = run_cli("models", "list")
    assert listing.returncode == 0, listing.stderr
    from garmentparse.release import release_models
    for m in release_models():
        assert m.name in listing.stderr, listing.stderr  # whole, on one line, at 80 columns
    text = run_cli("tag", "--help").stdout
    assert "…" not in text
    flat = " ".join(text.split())
    for needle in ("configs/classification/style.yaml", "test.score_threshold", "test.duplicate_iou"):
        assert needle in flat, needle


def test_tag_input_errors_are_one_line_and_come_before_the_models(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "a-file").write_text("x")
    cases = [((tmp_path / "missing", tmp_path / "o.jsonl"), "no such folder or image"),
             ((tmp_path / "empty", tmp_path / "o.jsonl"), "no images to tag"),
             ((PRODUCTS, tmp_path / "a-file" / "out.jsonl"), "is a file, not a folder")]
    for (images, out), reason in cases:
        started = time.perf_counter()
        # a detector file that does not exist: reaching the model load would say so instead
        result = run_cli("tag", images, "--out", out, "--detector", tmp_path / "no-model.pt")
        lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
        assert result.returncode == 2 and len(lines) == 1, result.stderr
        assert lines[0].startswith("error: ") and reason in lines[0], lines
        assert time.perf_counter() - started < 60


def test_interrupted_tag_says_how_to_resume_and_is_not_overwritten(tmp_path: Path):
    photos = tmp_path / "photos"  # 60 photos: tagging them outlasts a slow poll on a busy machine
    photos.mkdir()
    for k in range(5):
        for p in sorted(PRODUCTS.glob("*.jpg")):
            (photos / f"{k}-{p.name}").symlink_to(p)
    total = len(list(photos.iterdir()))
    out = tmp_path / "tags.jsonl"
    proc = subprocess.Popen([*CLI, "tag", str(photos), "--out", str(out), "--device", "cpu", "--batch-size", "1",
                             "--workers", "0"], stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "COLUMNS": "200"},
                            # a job started with `&` inherits SIGINT ignored; Ctrl-C reaches a real terminal's
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 240
    while time.time() < deadline and not (out.exists() and out.read_text().count("\n") >= 1):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    done = out.read_text().count("\n")
    assert proc.returncode == 130, err
    assert "--resume" in err and str(out) in " ".join(err.split())
    assert 1 <= done < total
    again = run_cli("tag", photos, "--out", out, "--device", "cpu")
    assert again.returncode == 2 and "did not finish" in again.stderr and "--overwrite" in again.stderr
    assert out.read_text().count("\n") == done  # nothing lost
    summary = json.loads(invoke("tag", photos, "--out", out, "--device", "cpu", "--resume", "--json"))
    assert summary["skipped"] == done and summary["images"] == total - done
    invoke("tag", PRODUCTS, "--out", out, "--device", "cpu")  # a finished run may be replaced as before
    assert out.read_text().count("\n") == 12


def test_overwrite_starts_an_unfinished_run_again(tmp_path: Path):
    out = tmp_path / "tags.jsonl"
    invoke("tag", PRODUCTS, "--out", out, "--device", "cpu", "--classifier", "none")
    record_path = out.with_name(out.name + ".run.json")
    record = json.loads(record_path.read_text())
    record["runs"][-1]["finished"] = None  # as a killed run leaves it
    record_path.write_text(json.dumps(record))
    refused = runner.invoke(build_app(), ["tag", str(PRODUCTS), "--out", str(out), "--classifier", "none"])
    assert refused.exit_code == 2 and "did not finish (started" in " ".join(refused.output.split())
    invoke("tag", PRODUCTS, "--out", out, "--device", "cpu", "--classifier", "none", "--overwrite")
    assert json.loads(record_path.read_text())["runs"][-1]["finished"]


def test_heads_option_keeps_the_asked_heads_and_names_the_ones_a_model_has(tmp_path: Path):
    out = tmp_path / "tags.jsonl"
    invoke("tag", PRODUCTS, "--out", out, "--device", "cpu", "--heads", "category")
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    heads = {h for line in lines for g in line["garments"] for h in g["attributes"]}
    assert heads == {"category"}
    from garmentparse.release import default_model
    name = default_model("classifier").name
    result = runner.invoke(build_app(), ["tag", str(PRODUCTS), "--out", str(tmp_path / "b.jsonl"), "--heads",
                                         "category,neckline"])
    said = " ".join(result.output.split())
    assert result.exit_code == 2 and f"{name} has no neckline head (its heads: " in said


def test_both_packages_declare_their_licence_as_an_spdx_string():
    import tomllib

    from tests.conftest import REPO

    for path in (REPO / "pyproject.toml", REPO / "models" / "garmentparse-models" / "pyproject.toml"):
        project = tomllib.loads(path.read_text())["project"]
        assert project["license"] == "Apache-2.0", path  # a table is deprecated by setuptools (Feb 2027)
