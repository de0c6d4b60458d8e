"""RLE masks (pycocotools) and masked crops."""

from __future__ import annotations

import numpy as np
import pytest

from garmentparse import masks


def test_mask_roundtrip_and_crop():
    m = np.zeros((40, 60), dtype=np.uint8)
    m[10:20, 5:25] = 1
    rle = masks.encode(m)
    assert isinstance(rle["counts"], str)
    assert np.array_equal(masks.decode(rle), m)
    assert masks.area(rle) == 200
    assert masks.bbox_xywh(rle) == [5, 10, 20, 10]
    poly = masks.mask_to_polygons(m)
    assert masks.area(masks.polygons_to_rle(poly, 40, 60)) == pytest.approx(200, rel=0.25)
    img = np.full((40, 60, 3), 7, dtype=np.uint8)
    crop = masks.masked_crop(img, m, [5, 10, 25, 20], size=32, background="black")
    assert crop.shape == (32, 32, 3) and crop.max() == 7


def test_mask_iou_matrix():
    a = np.zeros((20, 20), np.uint8)
    a[0:10, 0:10] = 1
    b = np.zeros((20, 20), np.uint8)
    b[0:10, 5:15] = 1
    rles = [masks.encode(a), masks.encode(b)]
    ious = masks.iou(rles)
    assert ious.shape == (2, 2) and ious[0, 0] == pytest.approx(1.0)
    assert ious[0, 1] == pytest.approx(50 / 150) and ious[1, 0] == pytest.approx(50 / 150)
    assert masks.iou([], rles).shape == (0, 2)


def test_fill_holes_fills_blotches_and_keeps_real_gaps():
    trousers = np.zeros((100, 80), np.uint8)
    trousers[10:90, 10:70] = 1  # waist to feet
    trousers[40:85, 35:45] = 0  # the gap between the legs, closed at the feet: 450 px, ~10% of the mask
    trousers[20:23, 20:23] = 0  # a 9-pixel blotch
    trousers[60:62, 15:17] = 0  # a 4-pixel blotch in a leg
    trousers[30:32, 68:70] = 0  # a notch open to the outside (not enclosed)
    out = masks.fill_holes(trousers, 0.02)
    assert out.dtype == np.uint8 and out.shape == trousers.shape
    assert out[20:23, 20:23].all() and out[60:62, 15:17].all()  # blotches filled
    assert not out[40:85, 35:45].any()  # the big gap stays
    assert not out[30:32, 68:70].any()  # the notch is not a hole
    assert (out >= trousers).all() and out.sum() == trousers.sum() + 9 + 4
    assert (masks.fill_holes(trousers, 0.0) == trousers).all()  # 0 = off
    assert masks.fill_holes(trousers, 0.5)[40:85, 35:45].all()  # a generous fraction fills the gap too
    assert masks.fill_holes(np.zeros((5, 5), np.uint8), 0.02).sum() == 0  # an empty mask
    edge = np.ones((10, 10), np.uint8)
    edge[0, 4] = 0  # background on the image border is outside, not a hole
    assert masks.fill_holes(edge, 0.5)[0, 4] == 0


def test_match_pairs_masks_one_to_one_from_the_highest_iou():
    def box(x0, y0, x1, y1):
        m = np.zeros((20, 20), np.uint8)
        m[y0:y1, x0:x1] = 1
        return masks.encode(m)

    a = [box(0, 0, 10, 10), box(10, 10, 20, 20), box(0, 10, 5, 20)]
    b = [box(11, 10, 20, 20), box(0, 0, 10, 9), box(0, 0, 10, 10)]
    pairs = masks.match(a, b, threshold=0.5)
    assert [(i, j) for i, j, _ in pairs] == [(0, 2), (1, 0)]  # a[0] takes its exact twin, not b[1]
    assert pairs[0][2] == 1.0 and 0.85 < pairs[1][2] < 0.95
    assert masks.match(a, [], 0.5) == [] and masks.match([], b, 0.5) == []
