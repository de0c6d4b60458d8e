"""The dataclasses flowing between stages."""

from __future__ import annotations

import numpy as np
import pytest

from garmentparse.structures import Detections


def test_detections_validates_lengths():
    with pytest.raises(ValueError, match="disagree"):
        Detections(np.zeros((2, 4)), np.zeros(1), ["top"], [{}], (4, 4))


def _box_mask(shape, y0, y1, x0, x1):
    m = np.zeros(shape, np.uint8)
    m[y0:y1, x0:x1] = 1
    return m


def _dets(regions, scores, labels, shape=(60, 80)):
    """Detections of rectangular masks ``regions`` = [(y0, y1, x0, x1), ...]."""
    binary = [_box_mask(shape, *r) for r in regions]
    boxes = [[x0, y0, x1, y1] for y0, y1, x0, x1 in regions]
    return Detections.from_binary(np.array(boxes, float).reshape(-1, 4), np.array(scores), labels, binary, shape)


def test_suppress_duplicates_keeps_the_higher_scoring_part_over_the_same_region():
    det = _dets([(10, 40, 10, 40), (11, 40, 10, 41), (0, 20, 50, 80)], [0.6, 0.9, 0.7], ["outer", "top", "bottom"])
    out = det.suppress_duplicates(0.5)
    assert out.labels == ["top", "bottom"]  # "outer" over top's pixels goes, whatever its part
    assert out.scores.tolist() == pytest.approx([0.9, 0.7])  # original order and scores kept
    assert out.boxes.tolist() == det.boxes[[1, 2]].tolist() and out.masks == [det.masks[1], det.masks[2]]
    assert det.duplicate_pairs(0.5) == 1 and out.duplicate_pairs(0.5) == 0
    assert len(det) == 3  # the input is left as it was


def test_suppress_duplicates_same_part_twice_disjoint_garments_and_off():
    twice = _dets([(10, 40, 10, 40), (10, 40, 12, 40)], [0.8, 0.5], ["top", "top"])
    assert twice.suppress_duplicates(0.5).scores.tolist() == pytest.approx([0.8])
    assert len(twice.suppress_duplicates(0.0)) == 2  # 0 = off
    assert len(twice.suppress_duplicates(0.95)) == 2  # IoU 28/30 is not above 0.95
    # touching or slightly overlapping garments (a top over a skirt's waistband) are not duplicates
    pair = _dets([(0, 30, 0, 80), (25, 60, 0, 80)], [0.9, 0.8], ["top", "bottom"])
    assert pair.suppress_duplicates(0.5).labels == ["top", "bottom"]
    # greedy: a detection suppressed itself suppresses nothing
    chain = _dets([(0, 20, 0, 20), (0, 20, 8, 28), (0, 20, 16, 36)], [0.9, 0.8, 0.7], ["top"] * 3)
    assert chain.suppress_duplicates(0.3).scores.tolist() == pytest.approx([0.9, 0.7])


def test_suppress_duplicates_empty_and_single():
    empty = Detections.empty((10, 10))
    assert len(empty.suppress_duplicates(0.5)) == 0 and empty.duplicate_pairs() == 0
    one = _dets([(0, 5, 0, 5)], [0.4], ["top"], shape=(10, 10))
    assert one.suppress_duplicates(0.5).labels == ["top"]
    assert one.above(0.5).labels == [] and one.above(0.4).labels == ["top"]


def test_from_binary_fills_small_holes_before_encoding():
    m = _box_mask((60, 80), 5, 55, 5, 75)
    m[20:22, 30:32] = 0  # a 4-pixel blotch in a 3500-pixel garment
    kept = Detections.from_binary(np.zeros((1, 4)), [0.9], ["top"], [m], (60, 80))
    filled = Detections.from_binary(np.zeros((1, 4)), [0.9], ["top"], [m], (60, 80), fill_holes=0.02)
    assert kept.binary_masks()[0, 20, 30] == 0 and filled.binary_masks()[0, 20, 30] == 1
