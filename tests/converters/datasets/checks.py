"""Shared by the DeepFashion2 / Fashionpedia / ModaNet converter tests: fixture paths and the checks
every converted dataset must pass (pycocotools loads it, AP 1.0 against itself, true mask areas)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from pycocotools import mask as coco_mask

from ..test_roundtrip_and_ccp import self_eval_ap, to_api

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
IMAGES = FIXTURES / "images"
DF2_ANNOS = FIXTURES / "deepfashion2" / "annos"
FASHIONPEDIA = FIXTURES / "fashionpedia" / "instances_attributes.json"
MODANET = FIXTURES / "modanet" / "instances.json"


def problems(report, reason: str) -> list:
    return [p for p in report.problems if p.reason == reason]


def reasons(report) -> set[str]:
    return {p.reason for p in report.problems}


def fixture(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def assert_sound_coco(coco: dict, tmp_path: Path) -> None:
    """Loads in pycocotools, scores AP 1.0 against itself (boxes and masks), areas are the masks' pixels."""
    api = to_api(coco, tmp_path)
    assert len(api.getImgIds()) == len(coco["images"]) and len(api.getAnnIds()) == len(coco["annotations"])
    ids = [a["id"] for a in coco["annotations"]]
    assert ids == list(range(1, len(ids) + 1))
    assert [im["id"] for im in coco["images"]] == list(range(1, len(coco["images"]) + 1))
    for ann in coco["annotations"]:
        rle = api.annToRLE(ann)
        assert ann["area"] == float(coco_mask.area(rle)) > 0
        np.testing.assert_allclose(ann["bbox"], coco_mask.toBbox(rle))
        if isinstance(ann["segmentation"], dict):
            assert isinstance(ann["segmentation"]["counts"], str)
        else:
            assert all(len(p) >= 6 and len(p) % 2 == 0 for p in ann["segmentation"])
    assert self_eval_ap(coco, tmp_path, "bbox") == 1.0
    assert self_eval_ap(coco, tmp_path, "segm") == 1.0
