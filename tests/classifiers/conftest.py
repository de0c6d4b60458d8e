"""Fixtures of the classifier tests: crops cut from the bundled CCP photos by the real converter,
and one tiny classifier trained on them through the CLI (shared by the module's tests)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from garmentparse.cli import build_app

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "configs" / "classification" / "tiny.yaml"
CROP_SIZE = 96
runner = CliRunner()


def invoke(*args) -> str:
    """Run the CLI in-process; fail with its output when it exits non-zero."""
    result = runner.invoke(build_app(), [str(a) for a in args])
    assert result.exit_code == 0, f"{args}\n{result.output}\n{result.exception!r}"
    return result.stdout


@pytest.fixture(scope="package", autouse=True)
def one_torch_thread():
    """Train with one intra-op thread here: on 2 shared, busy cores two spinning OpenMP threads
    made the tiny run ~8x slower; one thread is as fast as two when the cores are idle."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="package")
def ccp_crops(tmp_path_factory, ccp_dir) -> Path:
    """manifest.csv of the 52 garments of the 24 CCP photos, cut at 96 px."""
    from garmentparse.converters import convert_kfashion, crop_dataset

    out = tmp_path_factory.mktemp("ccp_crops")
    coco, _ = convert_kfashion(ccp_dir / "labels", ccp_dir / "images")
    report = crop_dataset(coco, ccp_dir / "images", out, size=CROP_SIZE)
    assert report.counts["crops"] == len(coco["annotations"]) > 40
    return out / "manifest.csv"


@pytest.fixture(scope="package")
def trained(tmp_path_factory, ccp_crops) -> Path:
    """RUN_DIR of the tiny config trained on all CCP crops (CPU, via the CLI)."""
    run = tmp_path_factory.mktemp("cls_run")
    invoke("train", "classifier", "--config", TINY, "--manifest", ccp_crops, "--out", run, "--device", "cpu")
    return run
