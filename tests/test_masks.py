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
