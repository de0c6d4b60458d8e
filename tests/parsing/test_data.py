"""Training data: COCO polygons and RLE read alike, augmentation keeps image, masks and boxes
aligned, bad files are reported, and repeat-factor sampling follows the LVIS rule."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

from garmentparse import masks as mask_utils
from garmentparse.parsing import load_detector_config
from garmentparse.parsing.data import (CocoInstances, InfiniteSampler, boxes_from_masks,
                                       build_train_transform, make_train_dataset, repeat_factors)

from tests.conftest import DET_TINY


def _polygons_as_rle(coco: dict) -> dict:
    sizes = {im["id"]: (im["height"], im["width"]) for im in coco["images"]}
    out = json.loads(json.dumps(coco))
    for ann in out["annotations"]:
        ann["segmentation"] = mask_utils.segmentation_to_rle(ann["segmentation"], *sizes[ann["image_id"]])
    return out


def test_polygons_and_rle_give_the_same_targets(ccp_coco, tmp_path):
    coco = json.loads(ccp_coco["train"].read_text())
    rle_path = tmp_path / "rle.json"
    rle_path.write_text(json.dumps(_polygons_as_rle(coco)))
    a = CocoInstances(ccp_coco["train"], ccp_coco["images"])
    b = CocoInstances(rle_path, ccp_coco["images"])
    assert len(a) == len(b) == 20
    assert a.class_names == ["outer", "top", "bottom", "onepiece"]
    for i in (0, 7):
        (ia, ta), (ib, tb) = a[i], b[i]
        assert ia.shape == ib.shape and ia.dtype.is_floating_point is False
        assert np.array_equal(ta["masks"].numpy(), tb["masks"].numpy())
        assert np.array_equal(ta["labels"].numpy(), tb["labels"].numpy())
        assert ta["masks"].shape[1:] == ia.shape[1:]


def test_augmentation_keeps_masks_and_boxes_aligned(ccp_coco):
    cfg = load_detector_config(DET_TINY, ["augment.hflip=1.0", "augment.scale_jitter_p=1.0",
                                      "augment.scale_jitter=[0.7, 1.3]"])
    plain = CocoInstances(ccp_coco["train"], ccp_coco["images"], max_side=(128, 192))
    aug = make_train_dataset(cfg, ccp_coco["train"], ccp_coco["images"])
    aug.transform.set_random_seed(3) if hasattr(aug.transform, "set_random_seed") else None
    for i in range(6):
        image, target = aug[i]
        masks = target["masks"].numpy()
        assert image.shape[1:] == masks.shape[1:]  # same canvas
        assert image.shape[1:] == plain[i][0].shape[1:]  # zoom keeps the canvas size
        assert np.allclose(target["boxes"].numpy(), boxes_from_masks(masks))  # boxes hug masks
        assert (masks.reshape(len(masks), -1).sum(1) >= cfg.augment.min_mask_area).all()
    # flip only: masks are exactly the mirrored plain masks
    flip = build_train_transform(load_detector_config(DET_TINY, ["augment.hflip=1.0", "augment.scale_jitter_p=0",
                                                             "augment.color_jitter_p=0"]).augment)
    only_flip = CocoInstances(ccp_coco["train"], ccp_coco["images"], transform=flip, max_side=(128, 192))
    (i0, t0), (i1, t1) = plain[2], only_flip[2]
    assert np.array_equal(t1["masks"].numpy(), t0["masks"].numpy()[:, :, ::-1])
    assert np.array_equal(i1.numpy(), i0.numpy()[:, :, ::-1])


def test_pre_shrink_matches_model_input_size(ccp_coco):
    ds = make_train_dataset(load_detector_config(DET_TINY), ccp_coco["train"], ccp_coco["images"])
    image, target = ds[0]
    assert max(image.shape[1:]) <= 192 and min(image.shape[1:]) <= 128


def test_bad_images_are_reported_and_skipped(ccp_coco, tmp_path):
    images = tmp_path / "images"
    shutil.copytree(ccp_coco["images"], images)
    (images / "0003.jpg").write_bytes(b"garbage")
    (images / "0004.jpg").unlink()
    ds = CocoInstances(ccp_coco["train"], images)
    assert len(ds) == 18
    reasons = {p.file.rsplit("/", 1)[-1]: p.reason for p in ds.report.problems}
    assert reasons == {"0003.jpg": "unreadable_image", "0004.jpg": "unreadable_image"}


def test_repeat_factor_sampling(ccp_coco):
    ds = CocoInstances(ccp_coco["train"], ccp_coco["images"])
    t = 0.9  # rarer classes than this get repeated
    factors = repeat_factors(ds, t)
    n = len(ds)
    freq = {c: sum(c in ds.image_labels(i) for i in range(n)) / n for c in range(1, 5)}
    for i, r in enumerate(factors):
        expected = max(max(1.0, math.sqrt(t / freq[c])) for c in ds.image_labels(i))
        assert r == pytest.approx(expected)
    rare = min((c for c in freq if freq[c] > 0), key=freq.get)
    sampler = iter(InfiniteSampler(n, seed=0, factors=factors))
    draws = [next(sampler) for _ in range(4000)]
    share = np.mean([rare in ds.image_labels(i) for i in draws])
    assert share > freq[rare]  # rare class is seen more often than in uniform sampling
    uniform = iter(InfiniteSampler(n, seed=0))
    first = [next(uniform) for _ in range(n)]
    assert sorted(first) == list(range(n))  # one pass = every image once
