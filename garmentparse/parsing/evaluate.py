"""COCO evaluation with pycocotools: box and mask AP, AP50, AP75, sizes, recall, per category.

Metrics are percentages (0-100, as detectron2 prints them); ``null`` where COCO has no value
(e.g. no ground truth of that size). An empty result list is valid and scores 0.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from garmentparse import masks as mask_utils
from garmentparse.engine.batching import batch_then_each
from garmentparse.engine.distributed import from_main, gather_objects, shard
from garmentparse.engine.images import DecodedImage, iter_decoded
from garmentparse.parsing.api import load_segmenter
from garmentparse.parsing.cocoapi import coco_api
from garmentparse.progress import ProgressCallback, report_progress
from garmentparse.report import Report
from garmentparse.structures import Detections, Segmenter

DUPLICATE_PAIR_IOU = 0.5  # two detections of one image whose masks overlap more count as a duplicate pair
STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


def prepare_gt(coco: COCO) -> COCO:
    """A copy of ``coco`` with the fields COCOeval needs (``area``, ``iscrowd``) filled in."""
    data = copy.deepcopy(coco.dataset)
    sizes = {im["id"]: (im["height"], im["width"]) for im in data.get("images", [])}
    for i, ann in enumerate(data.get("annotations", [])):
        ann.setdefault("id", i + 1)
        ann.setdefault("iscrowd", 0)
        if "area" not in ann and ann.get("segmentation") and ann["image_id"] in sizes:
            h, w = sizes[ann["image_id"]]
            ann["area"] = mask_utils.area(mask_utils.segmentation_to_rle(ann["segmentation"], h, w))
        elif "area" not in ann:
            ann["area"] = float(ann["bbox"][2] * ann["bbox"][3])
    return coco_api(data)


def category_map(class_names: list[str], gt: COCO) -> dict[str, int]:
    """Model class name -> GT category id (by name). Raises when nothing matches."""
    by_name = {str(c["name"]): c["id"] for c in gt.dataset.get("categories", [])}
    mapping = {n: by_name[n] for n in class_names if n in by_name}
    if not mapping:
        raise ValueError(f"none of the model's classes {class_names} is a category of the ground "
                         f"truth ({sorted(by_name)})")
    return mapping


def detections_to_results(det: Detections, image_id: int, cat_ids: dict[str, int]) -> list[dict[str, Any]]:
    """COCO results entries (``bbox`` as xywh, ``segmentation`` RLE with str counts)."""
    out = []
    for box, score, label, rle in zip(det.boxes, det.scores, det.labels, det.masks):
        if label not in cat_ids:
            continue
        x0, y0, x1, y1 = (float(v) for v in box)
        out.append({"image_id": int(image_id), "category_id": int(cat_ids[label]),
                    "bbox": [round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)],
                    "score": round(float(score), 5), "segmentation": rle})
    return out


def _pct(v: float) -> float | None:
    return None if v < 0 else round(float(v) * 100.0, 3)


def coco_metrics(gt: COCO, results: list[dict[str, Any]], image_ids: list[int] | None = None,
                 iou_types: tuple[str, ...] = ("bbox", "segm")) -> tuple[dict[str, Any], str]:
    """Run COCOeval per IoU type on ``results`` (may be empty). Returns (metrics, summary text)."""
    gt = prepare_gt(gt)
    known = set(gt.getImgIds())
    bad = {r["image_id"] for r in results} - known
    if bad:
        raise ValueError(f"results name image ids that are not in the ground truth: {sorted(bad)[:5]}")
    metrics: dict[str, Any] = {}
    text = io.StringIO()
    cat_names = {c["id"]: c["name"] for c in gt.dataset["categories"]}
    for iou_type in iou_types:
        drop = "bbox" if iou_type == "segm" else "segmentation"  # segm areas from masks
        res = [{k: v for k, v in r.items() if k != drop} for r in results]
        with contextlib.redirect_stdout(text):
            if res:
                dt = gt.loadRes(res)
            else:  # pycocotools' loadRes cannot take an empty list
                dt = coco_api({"images": gt.dataset["images"], "categories": gt.dataset["categories"],
                                "annotations": []})
            ev = COCOeval(gt, dt, iou_type)
            if image_ids is not None:
                ev.params.imgIds = sorted(image_ids)
            ev.evaluate()
            ev.accumulate()
            print(f"== {iou_type} ==")
            ev.summarize()
        stats = {name: _pct(v) for name, v in zip(STAT_NAMES, ev.stats)}
        per_cat = {}
        precision = ev.eval["precision"]  # [iou, recall, category, area, maxdets]
        for k, cat_id in enumerate(ev.params.catIds):
            p = precision[:, :, k, 0, -1]
            p = p[p > -1]
            per_cat[cat_names[cat_id]] = round(float(np.mean(p)) * 100.0, 3) if p.size else None
        stats["per_category"] = per_cat
        metrics[iou_type] = stats
    return metrics, text.getvalue()


@dataclass
class EvalOutput:
    metrics: dict[str, Any]
    results: list[dict[str, Any]]
    summary: str
    report: Report


def as_segmenter(model: str | Path | Segmenter, device: str = "auto", amp: bool = True,
                 batch_size: int | None = None, duplicate_iou: float | None = None) -> Segmenter:
    """``model`` loaded from a checkpoint path (``duplicate_iou`` replacing its config's), or
    returned as it is when it is already a segmenter (then ``duplicate_iou`` must be ``None``)."""
    if isinstance(model, (str, Path)):
        return load_segmenter(model, device, amp, batch_size, duplicate_iou=duplicate_iou)
    if duplicate_iou is not None:
        raise ValueError("duplicate_iou applies when loading a checkpoint; a loaded segmenter keeps its own "
                         "(load_segmenter(path, duplicate_iou=...))")
    return model


def decode_settings(segmenter: Segmenter, workers: int | None) -> tuple[int, int]:
    """Images per model call and decoding processes: the segmenter's ``batch_size`` and its
    config's ``test.workers`` when it has them (``workers`` given wins)."""
    test = getattr(getattr(segmenter, "config", None), "test", None)
    batch = getattr(segmenter, "batch_size", None) or getattr(test, "batch_size", 4)
    return batch, getattr(test, "workers", 0) if workers is None else workers


def detect_files(segmenter: Segmenter, paths: Sequence[Path], report: Report, *,
                 score_threshold: float | None, workers: int | None = None,
                 on_progress: ProgressCallback | None = None) -> Iterator[tuple[DecodedImage, Detections]]:
    """Each readable image with its detections, in input order. A file that cannot be read
    (``unreadable_image``) or that the model fails on (``model_failed``) is reported and skipped."""
    batch_size, workers = decode_settings(segmenter, workers)
    done = 0
    report_progress(on_progress, done, len(paths))
    for batch in iter_decoded(paths, batch_size, workers):
        ok = []
        for x in batch:
            if x.image is None:
                report.add(x.path, "unreadable_image", x.error or "")
            else:
                ok.append(x)
        dets = batch_then_each(lambda images: segmenter.predict(images, score_threshold=score_threshold),
                               [x.image for x in ok])
        for x, det in zip(ok, dets):
            if isinstance(det, Exception):
                report.add(x.path, "model_failed", f"{type(det).__name__}: {det}")
            else:
                yield x, det
        done += len(batch)
        report_progress(on_progress, done, len(paths))


def evaluate_segmenter(segmenter: Segmenter, coco: COCO | str | Path, images_dir: str | Path, *,
                       score_threshold: float = 0.0, workers: int | None = None,
                       on_progress: ProgressCallback | None = None) -> EvalOutput:
    """Predict every ground-truth image and score the results with COCOeval. Images that
    cannot be read are reported and left out of the evaluation.

    Next to AP, the duplicate rate of what ``tag`` would report: at the segmenter's own
    ``score_threshold`` (``garment_score_threshold``), ``garments`` (detections kept) and ``duplicate_pairs`` (pairs in one
    image, any parts, with mask IoU above :data:`DUPLICATE_PAIR_IOU`); ``duplicate_rate`` =
    pairs / garments. ``duplicate_iou`` is the suppression the segmenter applied (``None`` for a
    segmenter that does not say).

    In a run of several processes (training under torchrun) each rank predicts every size-th
    image, the per-image results are gathered in image order (no image twice) and rank 0 runs
    COCOeval for all: the metrics equal one process's on the same weights."""
    gt = coco_api(coco)
    images_dir = Path(images_dir)
    cat_ids = category_map(segmenter.class_names, gt)
    report = Report("eval detector")
    infos = [gt.imgs[i] for i in sorted(gt.imgs)]
    mine = list(shard(len(infos)))
    per_image: list[tuple[int, list[dict[str, Any]]]] = []  # (position in infos, its results)
    shown_threshold = float(segmenter.score_threshold)
    garments = pairs = 0
    for x, det in detect_files(segmenter, [images_dir / infos[i]["file_name"] for i in mine], report,
                               score_threshold=score_threshold, workers=workers, on_progress=on_progress):
        info = infos[mine[x.index]]
        if x.image.shape[:2] != (info["height"], info["width"]):
            report.add(x.path, "size_mismatch", f"file is {x.image.shape[1]}x{x.image.shape[0]}, "
                       f"COCO says {info['width']}x{info['height']}")
            continue
        per_image.append((mine[x.index], detections_to_results(det, info["id"], cat_ids)))
        shown = det.above(shown_threshold)
        garments += len(shown)
        pairs += shown.duplicate_pairs(DUPLICATE_PAIR_IOU)
    shards = gather_objects((per_image, garments, pairs, report.problems))
    if len(shards) > 1:
        per_image = sorted((item for part in shards for item in part[0]), key=lambda item: item[0])
        garments, pairs = sum(part[1] for part in shards), sum(part[2] for part in shards)
        report.problems = [p for part in shards for p in part[3]]
    evaluated = [infos[i]["id"] for i, _ in per_image]
    results = [r for _, rs in per_image for r in rs]
    if not evaluated:
        raise ValueError(f"no image of the ground truth could be evaluated (see problems: "
                         f"{report.reason_counts()})")
    metrics, summary = from_main(lambda: coco_metrics(gt, results, evaluated))
    metrics["images"] = len(evaluated)
    metrics["detections"] = len(results)
    metrics.update(duplicate_iou=getattr(segmenter, "duplicate_iou", None), garment_score_threshold=shown_threshold,
                   garments=garments, duplicate_pairs=pairs,
                   duplicate_rate=round(pairs / garments, 4) if garments else 0.0)
    metrics["skipped"] = [p.to_dict() for p in report.problems]
    report.counts["images"] = len(evaluated)
    report.counts["detections"] = len(results)
    return EvalOutput(metrics, results, summary, report)


def evaluate_detector(model: str | Path | Segmenter, coco: str | Path, images_dir: str | Path, *,
                      device: str = "auto", amp: bool = True, batch_size: int | None = None,
                      workers: int | None = None, score_threshold: float = 0.0,
                      duplicate_iou: float | None = None, out_json: str | Path | None = None,
                      on_progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Evaluate a checkpoint (or a loaded segmenter) on a COCO file; optionally write the
    metrics JSON to ``out_json``. Returns the metrics dict. ``duplicate_iou`` replaces the
    checkpoint config's ``test.duplicate_iou`` (:func:`as_segmenter`)."""
    seg = as_segmenter(model, device, amp, batch_size, duplicate_iou)
    out = evaluate_segmenter(seg, coco, images_dir, score_threshold=score_threshold, workers=workers,
                             on_progress=on_progress)
    if out_json is not None:
        Path(out_json).parent.mkdir(parents=True, exist_ok=True)
        Path(out_json).write_text(json.dumps(out.metrics, indent=1), encoding="utf-8")
    return out.metrics
