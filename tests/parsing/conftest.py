"""Fixtures of the parsing tests: 20 + 4 real CCP photos converted with the K-Fashion
converter, and one tiny detector trained on them through the CLI (shared by the module)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from garmentparse.cli import build_app

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "configs" / "detection" / "tiny.yaml"
runner = CliRunner()


def invoke(*args: object) -> str:
    """Run the CLI in-process; fail with its output when it exits non-zero."""
    result = runner.invoke(build_app(), [str(a) for a in args])
    assert result.exit_code == 0, f"{args}\n{result.output}\n{result.exception!r}"
    return result.stdout


@pytest.fixture(autouse=True, scope="package")
def one_thread():
    """Tiny models train as fast on one thread as on two idle cores, and on busy shared cores
    two spinning OpenMP threads made the tiny run ~10x slower (measured)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def ccp_coco(tmp_path_factory, ccp_dir) -> dict[str, Path]:
    """``train.json`` (photos 0001-0020) and ``val.json`` (0021-0024) from the real CCP labels."""
    from garmentparse.converters import convert_kfashion

    work = tmp_path_factory.mktemp("ccp_coco")
    labels = sorted((ccp_dir / "labels").glob("*.json"))
    out = {"images": ccp_dir / "images"}
    for name, chunk in (("train", labels[:20]), ("val", labels[20:24])):
        folder = work / f"{name}_labels"
        folder.mkdir()
        for label in chunk:
            shutil.copy(label, folder)
        coco, _ = convert_kfashion(folder, ccp_dir / "images")
        assert len(coco["images"]) == len(chunk) and coco["annotations"]
        out[name] = work / f"{name}.json"
        out[name].write_text(json.dumps(coco), encoding="utf-8")
    return out


@pytest.fixture(scope="session")
def trained(tmp_path_factory, ccp_coco) -> dict:
    """The tiny config trained on the 20 photos via ``garmentparse train detector``."""
    run = tmp_path_factory.mktemp("det") / "run"
    stdout = invoke("train", "detector", "--config", TINY, "--train", ccp_coco["train"],
                    "--images", ccp_coco["images"], "--out", run, "--val", ccp_coco["val"],
                    "--device", "cpu", "--no-progress", "--json")
    return {"run": run, "model": run / "model.pt", "summary": json.loads(stdout)}
