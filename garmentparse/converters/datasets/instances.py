"""One source instance (its class and segmentation) -> one COCO annotation, shared by the
DeepFashion2, Fashionpedia and ModaNet converters. Pure: problems go to an
:class:`~garmentparse.converters.kfashion.IssueLog`.

Polygons are cleaned one by one with the K-Fashion converter's :func:`clean_polygon` (fewer than 3
points, zero area, self-intersection repaired, clipped to the image); a garment keeps the polygons
that survive. RLEs (compressed or not) must decode at the image's size. ``area`` and ``bbox`` are
always pycocotools' over the final mask (the true pixel area, never the source's box area).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from garmentparse import masks

from ..coco import Classes
from ..kfashion.polygons import clean_polygon
from ..kfashion.reasons import IssueLog
from .classes import SourceClass, output_categories

#: Stable reason codes of ``convert deepfashion2|fashionpedia|modanet`` with the usual action.
REASONS: dict[str, str] = {
    "invalid_json": "annotation file is not parseable JSON (file skipped)",
    "invalid_schema": "JSON without the dataset's structure, or an image/annotation entry missing its keys (skipped)",
    "unreadable_file": "annotation file cannot be read (skipped)",
    "label_without_image": "DeepFashion2 annotation file with no photo of the same stem (skipped)",
    "image_without_label": "photo under --images that no annotation file matched (not in the output)",
    "image_missing": "image entry whose file_name is not under --images (image skipped)",
    "image_undecodable": "photo cannot be read or decoded (image skipped)",
    "size_mismatch_skipped": "photo size differs from the image entry's width/height (image skipped)",
    "duplicate_image_id": "image id seen before in the file (later entry skipped)",
    "duplicate_photo": "file_name already used by an earlier image entry (later entry skipped)",
    "annotation_without_image": "annotation whose image_id is not an image of the file (annotation skipped)",
    "unknown_category": "category id not among the dataset's classes (annotation skipped)",
    "category_name_mismatch": "DeepFashion2 category_name that is not its category_id's name (kept by id)",
    "unknown_class": "category of the file whose name this converter does not know (its annotations unmapped)",
    "polygon_missing": "annotation without a segmentation (annotation skipped)",
    "invalid_polygon": "polygon that is not an even-length list of numbers (polygon dropped)",
    "polygon_too_few_points": "polygon with fewer than 3 points (polygon dropped)",
    "degenerate_polygon": "polygon with zero area, or a mask that covers no pixel (dropped)",
    "self_intersection_repaired": "self-intersecting polygon: repaired with shapely make_valid",
    "points_clipped": "polygon reaching outside the image: clipped to the image",
    "polygon_outside_image": "polygon entirely outside the image (polygon dropped)",
    "invalid_rle": "RLE that does not decode, or not at the image's size (annotation skipped)",
    "missing_category": "--classes category and the class has no fine category (annotation skipped)",
    "invalid_value": "landmarks or attribute_ids of the wrong shape (field dropped, annotation kept)",
    "unknown_value": "attribute id not in the file's attributes list (id kept, no name)",
    "no_garments": "image without any usable annotation (image skipped)",
    "unexpected_error": "the input broke the converter in an unforeseen way (skipped; detail says how)",
}

#: ``(segmentation, area, bbox)`` of one instance.
Geometry = tuple[Any, float, list[float]]


@dataclass(frozen=True)
class InstanceOptions:
    """How instances become annotations: COCO classes, and whether unmapped classes are kept
    (each under its own category, ids in ``unmapped_ids``) or left out and counted."""

    classes: Classes = "part"
    keep_unmapped: bool = False
    category_ids: Mapping[str, int] = field(default_factory=dict)
    unmapped_ids: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def build(cls, classes: Classes, keep_unmapped: bool = False, unmapped: list[str] | tuple[str, ...] = ()
              ) -> tuple[InstanceOptions, list[dict[str, Any]]]:
        """Options and the output's COCO ``categories`` (unmapped ones only when kept)."""
        if classes not in ("part", "category"):
            raise ValueError(f"unknown classes {classes!r}: use 'part' or 'category'")
        cats, unmapped_ids = output_categories(classes, unmapped if keep_unmapped else ())
        ours = {c["name"]: c["id"] for c in cats if c["supercategory"] != "unmapped"}
        return cls(classes, keep_unmapped, ours, unmapped_ids), cats


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _measured(segmentation: Any, rle: dict[str, Any], log: IssueLog, where: str) -> Geometry | None:
    area = masks.area(rle)
    if area <= 0:
        log.add("degenerate_polygon", f"{where}: the mask covers no pixel")
        return None
    return segmentation, area, masks.bbox_xywh(rle)


def polygon_geometry(polygons: list, width: int, height: int, log: IssueLog, where: str) -> Geometry | None:
    """Geometry of a garment given as COCO polygons; bad polygons are dropped (reported), the rest kept."""
    kept: list[list[float]] = []
    pieces = IssueLog(log.file)
    for i, poly in enumerate(polygons):
        at = f"{where} polygon {i}"
        if not isinstance(poly, list) or len(poly) % 2 or not all(map(is_number, poly)):
            pieces.add("invalid_polygon", f"{at}: not an even-length list of numbers")
            continue
        geo = clean_polygon(np.asarray(poly, np.float64).reshape(-1, 2), width, height, pieces, at)
        if geo is not None:
            kept.extend(geo[0])
    for p in pieces.issues:
        if kept and p.action == "skipped":
            p.action = "polygon dropped"  # the garment itself stays
    log.issues.extend(pieces.issues)
    if not kept:
        return None
    return _measured(kept, masks.polygons_to_rle(kept, height, width), log, where)


def rle_geometry(rle: dict, width: int, height: int, log: IssueLog, where: str) -> Geometry | None:
    """Geometry of a garment given as an RLE (``counts`` a string or a list): compressed ``str`` RLE."""
    size, counts = rle.get("size"), rle.get("counts")
    if not (isinstance(size, list) and len(size) == 2 and all(map(is_number, size))
            and isinstance(counts, (str, list))):
        log.add("invalid_rle", f"{where}: an RLE needs size [h, w] and counts")
        return None
    if [int(size[0]), int(size[1])] != [height, width]:
        log.add("invalid_rle", f"{where}: RLE size {size} but the image is {height}x{width} (h x w)")
        return None
    try:
        out = masks.segmentation_to_rle({"size": [height, width], "counts": counts}, height, width)
        masks.decode(out)  # pycocotools checks the runs add up to the image
    except Exception as exc:  # noqa: BLE001 - pycocotools raises several types for broken RLEs
        log.add("invalid_rle", f"{where}: {exc}")
        return None
    return _measured(out, out, log, where)


def instance_geometry(segmentation: Any, width: int, height: int, log: IssueLog, where: str) -> Geometry | None:
    """Geometry of a polygon list or an RLE; None (reported) when nothing usable is left."""
    if isinstance(segmentation, dict):
        return rle_geometry(segmentation, width, height, log, where)
    if isinstance(segmentation, list) and segmentation:
        if all(map(is_number, segmentation)):  # one flat polygon without the outer list
            segmentation = [segmentation]
        return polygon_geometry(segmentation, width, height, log, where)
    log.add("polygon_missing", f"{where}: no segmentation")
    return None


def class_fields(source: SourceClass, opts: InstanceOptions, log: IssueLog, where: str) -> dict[str, Any] | None:
    """``category_id``, ``part``, ``attributes`` and ``source_category`` of a mapped (or kept
    unmapped) class; None when the annotation is not kept (``missing_category`` reported)."""
    if not source.mapped:
        if source.name not in opts.unmapped_ids:
            return None
        return {"category_id": opts.unmapped_ids[source.name], "attributes": {}, "source_category": source.name}
    attrs: dict[str, Any] = {}
    if source.category is not None:
        attrs["category"] = source.category
    attrs.update(source.attributes)
    if opts.classes == "category":
        if source.category is None:
            log.add("missing_category", f"{where}: {source.name!r} has no fine category in the vocabulary")
            return None
        cid = opts.category_ids[source.category]
    else:
        cid = opts.category_ids[source.part]  # type: ignore[index]
    return {"category_id": cid, "part": source.part, "attributes": attrs, "source_category": source.name}


def instance_annotation(source: SourceClass, segmentation: Any, width: int, height: int, opts: InstanceOptions,
                        log: IssueLog, where: str, *, iscrowd: int = 0) -> dict[str, Any] | None:
    """A COCO annotation (without ``id``/``image_id``) of one instance, or None when it is not kept:
    unmapped and not kept (counted by the caller), or a problem (reported)."""
    fields = class_fields(source, opts, log, where)
    if fields is None:
        return None
    geo = instance_geometry(segmentation, width, height, log, where)
    if geo is None:
        return None
    seg, area, bbox = geo
    cid = fields.pop("category_id")
    return {"category_id": cid, "segmentation": seg, "area": area, "bbox": bbox, "iscrowd": iscrowd, **fields}
