"""One garment, one answer: the segmenters suppress duplicates across parts (test.duplicate_iou)
and fill small mask holes (test.fill_holes) on every predict path, evaluation included; the
loaders and the CLI override the suppression; `eval detector` reports the duplicate rate."""

from __future__ import annotations

import json

import numpy as np
import pytest

from garmentparse import masks
from garmentparse.imageio import load_rgb
from garmentparse.parsing import load_detector_config, load_segmenter
from garmentparse.parsing.config import DUPLICATE_IOU, FILL_HOLES

from tests.conftest import DET_TINY, REPO, invoke


def test_defaults_are_on_and_in_base_yaml():
    for path in (REPO / "configs" / "detection" / "base.yaml", DET_TINY):
        test = load_detector_config(path).test
        assert (test.duplicate_iou, test.fill_holes) == (DUPLICATE_IOU, FILL_HOLES) and DUPLICATE_IOU > 0
    with pytest.raises(ValueError, match="test.duplicate_iou"):
        load_detector_config(DET_TINY, ["test.duplicate_iou=1.5"])


@pytest.fixture(scope="module")
def photos(ccp_dir) -> list[np.ndarray]:
    return [load_rgb(ccp_dir / "images" / f"00{n}.jpg") for n in (21, 22, 23)]


def test_segmenter_applies_the_config_value_and_the_override(detector_run, photos):
    default = load_segmenter(detector_run["model"], device="cpu")
    off = load_segmenter(detector_run["model"], device="cpu", duplicate_iou=0.0)
    assert default.duplicate_iou == DUPLICATE_IOU and off.duplicate_iou == 0.0
    assert off.config.test.score_threshold == default.config.test.score_threshold  # only that key changes
    assert load_segmenter(detector_run["model"], device="cpu", duplicate_iou=0.8).duplicate_iou == 0.8
    with pytest.raises(ValueError, match="test.duplicate_iou"):
        load_segmenter(detector_run["model"], device="cpu", duplicate_iou=-0.1)
    # a low threshold, as evaluation uses: the tiny model reports many overlapping candidates
    raw = off.predict(photos, score_threshold=0.05)
    kept = default.predict(photos, score_threshold=0.05)
    assert sum(d.duplicate_pairs(DUPLICATE_IOU) for d in raw) > 0, "nothing to suppress in the fixture"
    for r, k in zip(raw, kept):
        expected = r.suppress_duplicates(DUPLICATE_IOU)  # what predict did is the pure function's answer
        assert k.labels == expected.labels and np.array_equal(k.scores, expected.scores)
        assert k.masks == expected.masks and k.duplicate_pairs(DUPLICATE_IOU) == 0
    assert sum(map(len, kept)) < sum(map(len, raw))


def test_segmenter_fills_small_holes_only(detector_run, photos):
    filled = load_segmenter(detector_run["model"], device="cpu", duplicate_iou=0.0)
    holey = load_segmenter(detector_run["model"], device="cpu", duplicate_iou=0.0, fill_holes=0.0)
    assert (filled.fill_holes, holey.fill_holes) == (FILL_HOLES, 0.0)
    a, b = filled.predict(photos[:1], score_threshold=0.05)[0], holey.predict(photos[:1], score_threshold=0.05)[0]
    assert a.labels == b.labels and len(a)
    ma, mb = a.binary_masks(), b.binary_masks()
    assert (ma >= mb).all() and (ma > mb).any()  # pixels only added, and some were
    for with_holes, without in zip(mb, ma):  # exactly the ground-floor function, before RLE encoding
        assert np.array_equal(masks.fill_holes(with_holes, FILL_HOLES), without)


def test_eval_reports_the_duplicate_rate(detector_run, ccp_coco):
    args = ["eval", "detector", detector_run["model"], "--coco", ccp_coco["val"], "--images", ccp_coco["images"],
            "--json", "--device", "cpu"]
    metrics = json.loads(invoke(*args))
    assert metrics["duplicate_iou"] == DUPLICATE_IOU and metrics["garment_score_threshold"] == 0.3  # tiny.yaml
    assert metrics["garments"] <= metrics["detections"] and metrics["duplicate_pairs"] == 0  # suppressed
    assert metrics["duplicate_rate"] == 0.0
    off = json.loads(invoke(*args, "--duplicate-iou", "0", "--workers", "0"))
    assert off["duplicate_iou"] == 0.0 and off["detections"] > metrics["detections"]


def test_duplicate_rate_counts_pairs_at_the_segmenters_score_threshold(detector_run, ccp_coco):
    """The tiny model scores below tiny.yaml's 0.3, so count at 0.05 where it has garments."""
    from garmentparse.parsing import evaluate_detector
    from garmentparse.parsing.config import with_test_overrides

    rates = {}
    for dup in (0.0, DUPLICATE_IOU):
        seg = load_segmenter(detector_run["model"], device="cpu", duplicate_iou=dup)
        seg.config = with_test_overrides(seg.config, score_threshold=0.05)
        rates[dup] = evaluate_detector(seg, ccp_coco["val"], ccp_coco["images"], workers=0)
    off, on = rates[0.0], rates[DUPLICATE_IOU]
    assert off["garment_score_threshold"] == 0.05 and 0 < off["garments"] <= off["detections"]
    assert off["duplicate_pairs"] > 0 and off["duplicate_rate"] == round(off["duplicate_pairs"] / off["garments"], 4)
    assert on["duplicate_pairs"] == 0 == on["duplicate_rate"] and 0 < on["garments"] < off["garments"]


def test_evaluate_with_a_loaded_segmenter_refuses_an_override(detector_run, ccp_coco):
    from garmentparse.parsing import evaluate_detector

    seg = load_segmenter(detector_run["model"], device="cpu")
    with pytest.raises(ValueError, match="duplicate_iou applies when loading"):
        evaluate_detector(seg, ccp_coco["val"], ccp_coco["images"], duplicate_iou=0.3)
