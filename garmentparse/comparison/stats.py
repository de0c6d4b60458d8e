"""The numbers of a comparison: a paired bootstrap over photos and COCO detection AP."""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from garmentparse import masks, vocab
from garmentparse.comparison.runs import Instance

PART_IDS: dict[str, int] = {p: i for i, p in enumerate(vocab.PARTS, 1)}
_CHUNK = 2_000_000  # resampled values per step: memory stays small however many photos


def bootstrap_difference(correct_a: Sequence[bool], correct_b: Sequence[bool], groups: Sequence[Any],
                         n: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """``mean(correct_b) - mean(correct_a)`` and its ``level`` percentile interval from ``n``
    bootstrap resamples of whole groups (photos): paired, since a resampled photo brings both
    runs' answers on its garments. NaN for no data; ``n=0`` gives NaN bounds."""
    a, b = np.asarray(correct_a, dtype=float), np.asarray(correct_b, dtype=float)
    if not len(a):
        return math.nan, math.nan, math.nan
    _, index = np.unique(np.asarray(groups, dtype=object).astype(str), return_inverse=True)
    diff_sum = np.bincount(index, weights=b - a)  # per photo: sum of (b - a) and garment count
    count = np.bincount(index).astype(float)
    diff = float(diff_sum.sum() / count.sum())
    if n <= 0:
        return diff, math.nan, math.nan
    rng = np.random.default_rng(seed)
    g = len(count)
    draws = []
    step = max(1, _CHUNK // g)
    for start in range(0, n, step):
        picks = rng.integers(0, g, size=(min(step, n - start), g))
        draws.append(diff_sum[picks].sum(axis=1) / count[picks].sum(axis=1))
    values = np.concatenate(draws)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(values, [tail, 100 - tail])
    return diff, float(lo), float(hi)


def _ann(image_id: int, g: Instance, k: int) -> dict[str, Any]:
    x0, y0, x1, y1 = g.box
    return {"id": k, "image_id": image_id, "category_id": PART_IDS[g.part], "segmentation": g.mask,
            "area": masks.area(g.mask), "bbox": [x0, y0, x1 - x0, y1 - y0], "iscrowd": 0, "score": g.score}


def detection_ap(truth: dict[str, tuple[Instance, ...]], found: dict[str, tuple[Instance, ...]],
                 sizes: dict[str, tuple[int, int]]) -> dict[str, float | None]:
    """COCO AP and AP50 (pycocotools ``COCOeval``, bbox and segm, the 4 parts as categories) of
    the ``found`` garments (with their scores) against the ``truth`` ones, on the photos of
    ``truth`` (``sizes``: photo -> (width, height)). ``None`` where there is no true garment."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    ids = {path: i for i, path in enumerate(sorted(truth), 1)}
    gt = {"images": [{"id": i, "file_name": p, "width": sizes[p][0], "height": sizes[p][1]} for p, i in ids.items()],
          "categories": [{"id": i, "name": p} for p, i in PART_IDS.items()],
          "annotations": [_ann(ids[p], g, 0) for p in ids for g in truth[p]]}
    for k, ann in enumerate(gt["annotations"], 1):
        ann["id"] = k
    results = [_ann(ids[p], g, 0) for p in ids for g in found.get(p, ())]
    out: dict[str, float | None] = {}
    for iou_type in ("bbox", "segm"):
        if not gt["annotations"]:
            out[iou_type], out[f"{iou_type}_50"] = None, None
            continue
        if not results:  # pycocotools cannot load an empty results list
            out[iou_type], out[f"{iou_type}_50"] = 0.0, 0.0
            continue
        with contextlib.redirect_stdout(io.StringIO()):
            coco_gt = COCO()
            coco_gt.dataset = gt
            coco_gt.createIndex()
            # loadRes reads a result with a bbox as a box: give each evaluation only its own field
            drop = "segmentation" if iou_type == "bbox" else "bbox"
            dt = coco_gt.loadRes([{k: v for k, v in r.items() if k != drop} for r in results])
            evaluator = COCOeval(coco_gt, dt, iou_type)
            evaluator.evaluate()
            evaluator.accumulate()
            evaluator.summarize()
        ap, ap50 = (float(v) for v in evaluator.stats[:2])
        out[iou_type], out[f"{iou_type}_50"] = (None if ap < 0 else ap), (None if ap50 < 0 else ap50)
    return out
