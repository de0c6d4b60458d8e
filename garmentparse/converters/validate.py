"""COCO dataset validation: schema, ids, references, polygons, RLEs, boxes, photos on disk."""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import Polygon

from garmentparse import masks
from garmentparse.imageio import ImageReadError
from garmentparse.report import Report

from .coco import CocoDict, load_coco
from .imagehead import check_photo

# Stable reason codes of ``validate``.
VALIDATE_REASONS: dict[str, str] = {
    "invalid_schema": "a required key is missing or has the wrong type",
    "duplicate_id": "image, annotation or category id used twice",
    "duplicate_file_name": "two images share a file_name",
    "missing_reference": "annotation names an image or category that does not exist",
    "invalid_bbox": "bbox is not 4 finite numbers with positive width and height",
    "box_outside_image": "bbox reaches outside its image (more than 1 px)",
    "invalid_area": "area missing, not positive or not a number",
    "polygon_too_few_points": "polygon with fewer than 3 points (or an odd number of values)",
    "invalid_polygon": "self-intersecting or otherwise invalid polygon",
    "polygon_outside_image": "polygon points outside the image (more than 1 px)",
    "invalid_rle": "RLE segmentation that cannot be decoded or has the wrong size",
    "image_missing": "photo file not found under --images",
    "image_undecodable": "photo cannot be read or decoded",
    "image_size_mismatch": "photo size differs from the image record",
}

_TOL = 1.0  # px of slack for boxes and polygons at the border


def _finite(values: Any) -> bool:
    return isinstance(values, (list, tuple)) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)


def _check_segmentation(seg: Any, w: int, h: int, where: str, report: Report) -> None:
    if isinstance(seg, dict):
        try:
            size = [int(s) for s in seg.get("size", [])]
            if size != [h, w]:
                report.add(where, "invalid_rle", f"RLE size {size} but image is {h}x{w} (h x w)", "reported")
                return
            masks.decode(seg)
        except Exception as exc:  # noqa: BLE001 - any decoding failure is a finding
            report.add(where, "invalid_rle", str(exc), "reported")
        return
    if not isinstance(seg, list) or not seg:
        report.add(where, "invalid_schema", "segmentation is neither a polygon list nor an RLE", "reported")
        return
    for k, poly in enumerate(seg):
        if not _finite(poly) or len(poly) % 2:
            report.add(where, "polygon_too_few_points" if isinstance(poly, list) else "invalid_schema",
                       f"polygon {k}: not an even list of numbers", "reported")
            continue
        if len(poly) < 6:
            report.add(where, "polygon_too_few_points", f"polygon {k}: {len(poly) // 2} points", "reported")
            continue
        xs, ys = poly[0::2], poly[1::2]
        if min(xs) < -_TOL or min(ys) < -_TOL or max(xs) > w + _TOL or max(ys) > h + _TOL:
            report.add(where, "polygon_outside_image", f"polygon {k}: bounds "
                       f"{min(xs):.1f},{min(ys):.1f},{max(xs):.1f},{max(ys):.1f} in {w}x{h}", "reported")
        shape = Polygon(list(zip(xs, ys)))
        if not shape.is_valid:
            report.add(where, "invalid_polygon", f"polygon {k}: {shapely.is_valid_reason(shape)}", "reported")


def validate_coco(coco: CocoDict | str | Path, images_dir: str | Path | None = None, *,
                  full_decode: bool = False, on_progress: Callable[[int], None] | None = None) -> Report:
    """Check a COCO dataset; every finding is a problem (file/where + reason) in the report.

    With ``images_dir`` every photo must exist, be decodable (header + truncation check, or a full
    decode with ``full_decode``) and have the recorded size.
    """
    source = str(coco) if not isinstance(coco, dict) else "<coco>"
    report = Report("validate")
    data = load_coco(coco, need_images=False)  # not a JSON object: an error naming the file
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            report.add(source, "invalid_schema", f"'{key}' missing or not a list", "reported")
    if report.problems:
        return report
    cats: set[int] = set()
    for c in data["categories"]:
        if not isinstance(c, dict) or not isinstance(c.get("id"), int) or not isinstance(c.get("name"), str):
            report.add(source, "invalid_schema", f"category {c!r} needs int id and str name", "reported")
        elif c["id"] in cats:
            report.add(source, "duplicate_id", f"category id {c['id']}", "reported")
        else:
            cats.add(c["id"])
    images: dict[int, dict[str, Any]] = {}
    names: Counter = Counter()
    for im in data["images"]:
        ok = (isinstance(im, dict) and isinstance(im.get("id"), int) and isinstance(im.get("file_name"), str)
              and isinstance(im.get("width"), int) and isinstance(im.get("height"), int)
              and im["width"] > 0 and im["height"] > 0)
        if not ok:
            report.add(source, "invalid_schema", f"image {str(im)[:120]}: needs int id, str file_name, "
                       "positive int width/height", "reported")
            continue
        if im["id"] in images:
            report.add(source, "duplicate_id", f"image id {im['id']}", "reported")
            continue
        images[im["id"]] = im
        names[im["file_name"]] += 1
    for name, n in names.items():
        if n > 1:
            report.add(name, "duplicate_file_name", f"{n} image records", "reported")
    ann_ids: set[int] = set()
    for ann in data["annotations"]:
        if not isinstance(ann, dict) or not isinstance(ann.get("id"), int):
            report.add(source, "invalid_schema", f"annotation {str(ann)[:120]}: needs an int id", "reported")
            continue
        where = f"annotation {ann['id']}"
        if ann["id"] in ann_ids:
            report.add(where, "duplicate_id", f"annotation id {ann['id']}", "reported")
        ann_ids.add(ann["id"])
        im = images.get(ann.get("image_id"))
        if im is None:
            report.add(where, "missing_reference", f"image_id {ann.get('image_id')!r} not in images", "reported")
            continue
        where = f"{im['file_name']} (annotation {ann['id']})"
        if ann.get("category_id") not in cats:
            report.add(where, "missing_reference", f"category_id {ann.get('category_id')!r} unknown", "reported")
        w, h = im["width"], im["height"]
        bbox = ann.get("bbox")
        if not _finite(bbox) or len(bbox) != 4 or bbox[2] <= 0 or bbox[3] <= 0:
            report.add(where, "invalid_bbox", f"bbox {bbox!r}", "reported")
        elif bbox[0] < -_TOL or bbox[1] < -_TOL or bbox[0] + bbox[2] > w + _TOL or bbox[1] + bbox[3] > h + _TOL:
            report.add(where, "box_outside_image", f"bbox {bbox} in {w}x{h}", "reported")
        area = ann.get("area")
        if not _finite([area]) or area <= 0:
            report.add(where, "invalid_area", f"area {area!r}", "reported")
        if ann.get("iscrowd", 0) not in (0, 1):
            report.add(where, "invalid_schema", f"iscrowd {ann.get('iscrowd')!r}", "reported")
        if "segmentation" in ann:
            _check_segmentation(ann["segmentation"], w, h, where, report)
        else:
            report.add(where, "invalid_schema", "no segmentation", "reported")
    report.counts.update(images=len(data["images"]), annotations=len(data["annotations"]),
                         categories=len(data["categories"]))
    if images_dir is not None:
        for i, im in enumerate(images.values(), 1):
            path = os.path.join(str(images_dir), im["file_name"])
            if not os.path.isfile(path):
                report.add(path, "image_missing", "file not found", "reported")
            else:
                try:
                    w, h = check_photo(path, full_decode)
                    if (w, h) != (im["width"], im["height"]):
                        report.add(path, "image_size_mismatch",
                                   f"photo {w}x{h}, record {im['width']}x{im['height']}", "reported")
                except ImageReadError as exc:
                    report.add(path, "image_undecodable", str(exc), "reported")
            if on_progress:
                on_progress(i)
        report.counts["photos_checked"] = len(images)
    return report
