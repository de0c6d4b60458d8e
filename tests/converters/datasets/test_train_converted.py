"""A converted DeepFashion2 fixture trains the tiny detector and evaluates, through the CLI (CPU, seconds)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import DET_TINY, invoke

from .checks import DF2_ANNOS, IMAGES


@pytest.mark.slow
def test_deepfashion2_trains_and_evaluates_the_tiny_detector(tmp_path):
    coco = tmp_path / "df2.json"
    invoke("convert", "deepfashion2", DF2_ANNOS, "--images", IMAGES, "--out", coco, "--workers", 1)
    run = tmp_path / "run"
    summary = json.loads(invoke("train", "detector", "--config", DET_TINY, "--train", coco, "--images", IMAGES,
                                "--out", run, "--set", "solver.max_iter=2", "solver.warmup_iters=1",
                                "--device", "cpu", "--no-progress", "--json"))
    assert summary["iterations"] == 2 and (run / "model.pt").is_file()
    metrics = json.loads(invoke("eval", "detector", run / "model.pt", "--coco", coco, "--images", IMAGES,
                                "--device", "cpu", "--json"))
    assert metrics["images"] == 3 and metrics["skipped"] == []
    assert set(metrics["segm"]["per_category"]) == {"outer", "top", "bottom", "onepiece"}
    assert 0.0 <= metrics["segm"]["AP"] <= 100.0
