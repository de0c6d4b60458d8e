"""Predict a folder of images into a COCO results file.

With a ground-truth COCO file (``coco_gt``), images are those it lists and results use its
image and category ids (by file name / class name), so the file scores directly with
COCOeval. Without one, every image under the folder gets an id (1, 2, ... in sorted path
order) and ``<out>.images.json`` is written next to the results: ``{"images": [{id,
file_name, width, height}], "categories": [{id, name}]}``, category ids being the model's
label order (1 = first class).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from garmentparse.imageio import display_path, find_images
from garmentparse.parsing.cocoapi import coco_api
from garmentparse.parsing.evaluate import as_segmenter, category_map, detect_files, detections_to_results
from garmentparse.progress import ProgressCallback
from garmentparse.report import Report
from garmentparse.structures import Segmenter


@dataclass
class PredictSummary:
    out: Path
    images_file: Path | None  # <out>.images.json when ids were assigned here
    images: int  # images predicted
    detections: int
    report: Report


def images_file_for(out: Path) -> Path:
    return out.with_name(out.stem + ".images.json")


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def predict_folder(model: str | Path | Segmenter, images: str | Path, out: str | Path, *,
                   coco_gt: str | Path | None = None, device: str = "auto", amp: bool = True,
                   batch_size: int | None = None, workers: int | None = None,
                   score_threshold: float | None = None, duplicate_iou: float | None = None,
                   on_progress: ProgressCallback | None = None) -> PredictSummary:
    """Write the COCO results (a JSON list) of every image under ``images`` to ``out``.
    Unreadable images are skipped and listed in the returned report (file + reason).
    ``duplicate_iou`` replaces the checkpoint config's ``test.duplicate_iou``."""
    seg = as_segmenter(model, device, amp, batch_size, duplicate_iou)
    images = Path(images)
    out = Path(out)
    report = Report("predict")
    if not images.exists():
        raise FileNotFoundError(f"images not found: {images}")
    root = images if images.is_dir() else images.parent
    if coco_gt is not None:
        gt = coco_api(coco_gt)
        cat_ids = category_map(seg.class_names, gt)
        for name in seg.class_names:
            if name not in cat_ids:
                report.add(str(coco_gt), "class_not_in_gt", f"model class {name!r} has no category "
                           "in the ground truth; its detections are left out", action="dropped")
        entries = []
        for image_id in sorted(gt.imgs):
            path = root / gt.imgs[image_id]["file_name"]
            if path.is_file():
                entries.append((image_id, path))
            else:
                report.add(path, "missing_image", f"listed in {coco_gt} as image {image_id}")
    else:
        cat_ids = {name: i + 1 for i, name in enumerate(seg.class_names)}
        entries = [(i + 1, p) for i, p in enumerate(find_images(images))]
    if not entries:
        raise ValueError(f"no images to predict under {images}")
    results: list[dict[str, Any]] = []
    image_rows: list[dict[str, Any]] = []
    for x, det in detect_files(seg, [p for _, p in entries], report, score_threshold=score_threshold,
                               workers=workers, on_progress=on_progress):
        image_id = entries[x.index][0]
        results.extend(detections_to_results(det, image_id, cat_ids))
        h, w = x.image.shape[:2]
        image_rows.append({"id": image_id, "file_name": display_path(x.path.relative_to(root)),
                           "width": w, "height": h})
    _write_json(out, results)
    images_file = None
    if coco_gt is None:
        images_file = images_file_for(out)
        _write_json(images_file, {"images": image_rows, "categories": [
            {"id": i, "name": n, "supercategory": "garment"} for n, i in cat_ids.items()]})
    report.counts["images"] = len(image_rows)
    report.counts["detections"] = len(results)
    report.counts["skipped"] = len([p for p in report.problems if p.action == "skipped"])
    return PredictSummary(out, images_file, len(image_rows), len(results), report)
