"""Garment crops for the attribute classifier: one masked, square crop per COCO annotation.

Writes the crops plus ``manifest.csv`` (the contract the classifier trains from): ``crop_path``
(relative to the manifest's folder), ``source_image``, ``image_id``, ``annotation_id``, ``part``
and one column per attribute in ``vocab.ATTRIBUTES`` order (multi-label values joined with ``|``,
empty cell = label missing).

``level="photo"`` writes one crop per photo instead (the whole photo, or with ``region="person"``
the box around all its garments) for photo-level heads such as the outfit's style: ``part`` and
``annotation_id`` are empty, ``style`` lists every style of the outfit (K-Fashion's 스타일 first,
then its 서브스타일) and ``sub_style`` the sub-style alone.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from garmentparse import masks, vocab
from garmentparse.draw import save_rgb
from garmentparse.imageio import ImageReadError, load_rgb
from garmentparse.report import Report

from .coco import CocoDict, annotations_by_image, category_names, load_coco
from .pool import map_chunks

MANIFEST_COLUMNS: list[str] = ["crop_path", "source_image", "image_id", "annotation_id", "part",
                               *vocab.ATTRIBUTES]


def annotation_part(ann: dict[str, Any], cat_names: dict[int, str]) -> str | None:
    """The garment part of an annotation: its ``part`` key, else from its category name."""
    part = ann.get("part")
    if part in vocab.PARTS:
        return part
    name = cat_names.get(ann.get("category_id"))
    if name in vocab.PARTS:
        return name
    return vocab.part_of(name) if name else None


def annotation_attributes(ann: dict[str, Any], cat_names: dict[int, str]) -> dict[str, Any]:
    """The annotation's ``attributes``; a fine-category dataset also gives ``category``."""
    attrs = dict(ann.get("attributes") or {})
    name = cat_names.get(ann.get("category_id"))
    if "category" not in attrs and name in vocab.CATEGORY_PART:
        attrs["category"] = name
    return attrs


def manifest_row(crop_path: str, source_image: str, image_id: int, ann_id: int, part: str,
                 attrs: dict[str, Any]) -> dict[str, str]:
    row = {"crop_path": crop_path, "source_image": source_image, "image_id": str(image_id),
           "annotation_id": str(ann_id), "part": part}
    for name in vocab.ATTRIBUTES:
        value = attrs.get(name)
        if value is None or value == [] or value == "":
            row[name] = ""
        elif isinstance(value, (list, tuple)):
            row[name] = "|".join(str(v) for v in value)
        else:
            row[name] = str(value)
    return row


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name).strip("_") or "x"


#: What cropping one photo gives: manifest rows and problems (file, reason, detail, action).
Crops = tuple[list[dict[str, str]], list[tuple[str, str, str, str]]]


@dataclass(frozen=True)
class _CropJob:
    images_dir: str
    out_dir: str
    size: int | None
    background: str
    by_category: bool
    pad: float
    level: str = "garment"
    region: str = "photo"


def crop_image(image: dict[str, Any], anns: list[dict[str, Any]], cat_names: dict[int, str], job: _CropJob
               ) -> Crops:
    """Crops of one photo's garments: manifest rows and problems (file, reason, detail, action)."""
    src = os.path.join(job.images_dir, image["file_name"])
    rows: list[dict[str, str]] = []
    problems: list[tuple[str, str, str, str]] = []
    try:
        photo = load_rgb(src)
    except ImageReadError as exc:
        return rows, [(src, "image_undecodable", str(exc), f"{len(anns)} garments skipped")]
    h, w = photo.shape[:2]
    if (image.get("width"), image.get("height")) not in ((w, h), (None, None)):
        return rows, [(src, "size_mismatch_skipped",
                       f"COCO says {image.get('width')}x{image.get('height')}, photo is {w}x{h}",
                       f"{len(anns)} garments skipped")]
    stem = _safe(Path(image["file_name"]).stem)
    for ann in anns:
        part = annotation_part(ann, cat_names)
        attrs = annotation_attributes(ann, cat_names)
        try:
            mask = masks.decode(masks.segmentation_to_rle(ann["segmentation"], h, w))
        except Exception as exc:  # noqa: BLE001 - broken segmentations are reported, not fatal
            problems.append((src, "invalid_segmentation", f"annotation {ann.get('id')}: {exc}", "skipped"))
            continue
        if not mask.any():
            problems.append((src, "empty_mask", f"annotation {ann.get('id')}", "skipped"))
            continue
        ys, xs = np.nonzero(mask)
        box = [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]
        crop = masks.masked_crop(photo, mask, box, size=job.size, background=job.background, pad=job.pad)
        folder = _safe(attrs.get("category") or part or "unknown") if job.by_category else "crops"
        rel = f"{folder}/{stem}_{ann['id']}.jpg"
        save_rgb(os.path.join(job.out_dir, rel), crop)
        rows.append(manifest_row(rel, image["file_name"], image["id"], ann["id"], part or "", attrs))
    return rows, problems


def photo_styles(anns: list[dict[str, Any]]) -> dict[str, list[str]]:
    """The outfit's styles, as K-Fashion copies them onto each garment: ``style`` = main style
    then sub-style (both, for a multi-label head), ``sub_style`` = the sub-style."""
    for ann in anns:
        attrs = ann.get("attributes") or {}
        main, sub = attrs.get("style"), attrs.get("sub_style")
        if main or sub:
            styles = [v for v in (main, sub) if v]
            return {"style": list(dict.fromkeys(styles)), "sub_style": [sub] if sub else []}
    return {}


def crop_photo(image: dict[str, Any], anns: list[dict[str, Any]], cat_names: dict[int, str], job: _CropJob) -> Crops:
    """The photo-level crop of one photo (whole, or its person region) with the outfit's styles."""
    src = os.path.join(job.images_dir, image["file_name"])
    try:
        photo = load_rgb(src)
    except ImageReadError as exc:
        return [], [(src, "image_undecodable", str(exc), "photo skipped")]
    boxes = [[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in anns if len(a.get("bbox") or []) == 4)]
    crop = masks.photo_region(photo, boxes, job.region, size=job.size)
    rel = f"photos/{_safe(Path(image['file_name']).stem)}_{image['id']}.jpg"
    save_rgb(os.path.join(job.out_dir, rel), crop)
    return [manifest_row(rel, image["file_name"], image["id"], "", "", photo_styles(anns))], []


def _crop_chunk(items: list[tuple[dict[str, Any], list[dict[str, Any]]]],
                context: tuple[_CropJob, dict[int, str]]) -> list[Crops]:
    job, cat_names = context
    cut = crop_photo if job.level == "photo" else crop_image
    return [cut(image, anns, cat_names, job) for image, anns in items]


def _crop_failed(item: tuple[dict[str, Any], list[dict[str, Any]]], exc: Exception,
                 context: tuple[_CropJob, dict[int, str]]) -> Crops:
    """A photo that broke ``crop_image`` in an unforeseen way: reported, the run goes on."""
    image, anns = item
    src = os.path.join(context[0].images_dir, str(image.get("file_name")))
    return [], [(src, "unexpected_error", f"{type(exc).__name__}: {exc}", f"{len(anns)} garments skipped")]


def crop_dataset(
    coco: CocoDict | str | Path,
    images_dir: str | Path,
    out_dir: str | Path,
    *,
    size: int | None = 400,
    background: str = "white",
    by_category: bool = False,
    workers: int = 1,
    pad: float = 0.0,
    level: str = "garment",
    region: str = "photo",
    on_progress: Callable[[int], None] | None = None,
) -> Report:
    """Cut every garment of a COCO dataset by its mask into ``out_dir`` and write ``manifest.csv``.

    Crops are letterboxed to ``size``x``size`` (None keeps the crop's size) with pixels outside
    the mask set by ``background`` (``white``, ``black`` or ``keep``). ``by_category`` puts crops
    in one folder per category (the part when the category is unknown) instead of ``crops/``.
    ``level="photo"``: one crop per photo (``region``: ``photo`` whole, or ``person``: the box
    around its garments) with the outfit's styles, in ``photos/``.
    """
    if background not in ("white", "black", "keep"):
        raise ValueError(f"unknown background {background!r}: use white, black or keep")
    if level not in ("garment", "photo"):
        raise ValueError(f"unknown level {level!r}: use garment or photo")
    if region not in masks.REGIONS:
        raise ValueError(f"unknown region {region!r}: use photo or person")
    data = load_coco(coco)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    job = _CropJob(str(images_dir), str(out), size, background, by_category, pad, level, region)
    cat_names = category_names(data)
    by_image = annotations_by_image(data)
    items = [(img, by_image.get(img["id"], [])) for img in data.get("images", [])]
    items = [it for it in items if it[1]]
    report = Report("crop")
    report.counts["images"] = len(items)
    rows: list[dict[str, str]] = []
    results = map_chunks(_crop_chunk, items, (job, cat_names), workers=workers if len(items) > 1 else 1,
                         chunk_size=8, on_error=_crop_failed)
    for i, (_, (r, p)) in enumerate(results, 1):
        rows.extend(r)
        for prob in p:
            report.add(*prob)
        if on_progress:
            on_progress(i)
    manifest = out / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    report.counts["crops"] = len(rows)
    report.counts["annotations"] = sum(len(a) for _, a in items)
    if level == "photo":
        report.counts["photos_with_style"] = sum(1 for r in rows if r["style"])
    return report
