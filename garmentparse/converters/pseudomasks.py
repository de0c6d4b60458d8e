"""Pseudo-masks for one-product photos: the garment segmented from its background, no hand labels.

A product photo (flat lay, hanger) shows one garment, roughly centred, on a floor, bed or wall.
GrabCut (OpenCV) initialised with the photo less a thin margin learns colour models of the
background (the border) and the garment and cuts between them; the result is cleaned (opening and
closing, the largest connected part, small holes filled) and scaled back to the photo. It works
on patterned bedsheets and carpets too, where a plain threshold on the border colour would not.
A mask that covers almost nothing or almost everything is implausible and reported, not kept.

:func:`add_pseudo_masks` gives every garment photo of a :mod:`.photolabels` COCO one annotation
(its part, the class's attributes, ``pseudo_mask: grabcut``); photos of classes that are no garment
(hats, shoes) stay without annotations, as negatives for the detector.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from garmentparse import masks
from garmentparse.imageio import ImageReadError, load_rgb
from garmentparse.report import Report

from .coco import CocoDict, category_ids, load_coco
from .pool import map_chunks

METHOD = "grabcut"


@dataclass(frozen=True)
class PseudoMaskSettings:
    """GrabCut at ``work_size`` px (long side), rectangle = photo less ``margin`` on each side;
    masks outside ``[min_fraction, max_fraction]`` of the photo are rejected."""

    work_size: int = 256
    margin: float = 0.03
    iterations: int = 4
    min_fraction: float = 0.03
    max_fraction: float = 0.95
    max_hole_fraction: float = 0.05


def foreground_mask(rgb: np.ndarray, settings: PseudoMaskSettings = PseudoMaskSettings()) -> np.ndarray:
    """(H, W) bool mask of the one object of a product photo (see the module docstring)."""
    h, w = rgb.shape[:2]
    scale = min(1.0, settings.work_size / max(h, w))
    small = cv2.resize(rgb, (max(8, round(w * scale)), max(8, round(h * scale))), interpolation=cv2.INTER_AREA)
    sh, sw = small.shape[:2]
    mx, my = max(1, round(sw * settings.margin)), max(1, round(sh * settings.margin))
    label = np.zeros((sh, sw), np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(np.ascontiguousarray(small[:, :, ::-1]), label, (mx, my, sw - 2 * mx, sh - 2 * my), bgd, fgd,
                settings.iterations, cv2.GC_INIT_WITH_RECT)
    fg = ((label == cv2.GC_FGD) | (label == cv2.GC_PR_FGD)).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    fg = cv2.morphologyEx(cv2.morphologyEx(fg, cv2.MORPH_OPEN, kernel), cv2.MORPH_CLOSE, kernel)
    n, parts, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    if n <= 1:
        return np.zeros((h, w), bool)
    fg = (parts == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))).astype(np.uint8)
    fg = masks.fill_holes(fg, settings.max_hole_fraction)
    return cv2.resize(fg * 255, (w, h), interpolation=cv2.INTER_LINEAR) > 127


def implausible(mask: np.ndarray, settings: PseudoMaskSettings) -> str | None:
    """Why a pseudo-mask is not kept (None: it is)."""
    fraction = float(mask.mean()) if mask.size else 0.0
    if fraction < settings.min_fraction:
        return f"covers {fraction:.1%} of the photo (< {settings.min_fraction:.0%})"
    if fraction > settings.max_fraction:
        return f"covers {fraction:.1%} of the photo (> {settings.max_fraction:.0%}): no background found"
    return None


@dataclass(frozen=True)
class _Job:
    images_dir: str
    settings: PseudoMaskSettings


def _mask_chunk(items: list[dict[str, Any]], job: _Job) -> list[tuple[dict | None, tuple[str, str, str] | None]]:
    out = []
    for image in items:
        path = os.path.join(job.images_dir, image["file_name"])
        try:
            rgb = load_rgb(path)
        except ImageReadError as exc:
            out.append((None, (path, "image_undecodable", str(exc))))
            continue
        if (image.get("width"), image.get("height")) not in ((rgb.shape[1], rgb.shape[0]), (None, None)):
            out.append((None, (path, "size_mismatch_skipped",
                               f"COCO says {image.get('width')}x{image.get('height')}, photo is "
                               f"{rgb.shape[1]}x{rgb.shape[0]}")))
            continue
        mask = foreground_mask(rgb, job.settings)
        why = implausible(mask, job.settings)
        if why is not None:
            out.append((None, (path, "pseudo_mask_implausible", why)))
            continue
        rle = masks.encode(mask)
        out.append(({"segmentation": rle, "area": masks.area(rle), "bbox": masks.bbox_xywh(rle)}, None))
    return out


def _mask_failed(image: dict[str, Any], exc: Exception, job: _Job) -> tuple[None, tuple[str, str, str]]:
    return None, (os.path.join(job.images_dir, image["file_name"]), "pseudo_mask_failed", f"{type(exc).__name__}: {exc}")


def add_pseudo_masks(coco: CocoDict | str | Path, images_dir: str | Path, *,
                     settings: PseudoMaskSettings = PseudoMaskSettings(), workers: int = 1,
                     report: Report | None = None,
                     on_progress: Callable[[int], None] | None = None) -> tuple[CocoDict, Report]:
    """A copy of an image-level-labelled COCO with one pseudo-mask annotation per garment photo.

    Photos whose class is no garment keep no annotation (``labels.part`` is null). A garment
    photo whose mask is implausible or unreadable is reported and left out of the output, so a
    detector never learns it as a garment-free photo."""
    data = load_coco(coco)
    report = report if report is not None else Report("pseudo-masks")
    ids = category_ids("part")
    garments = [im for im in data["images"] if (im.get("labels") or {}).get("part")]
    dropped: set[int] = set()
    annotations: list[dict[str, Any]] = []
    job = _Job(os.fspath(images_dir), settings)
    for done, (image, (ann, problem)) in enumerate(
            map_chunks(_mask_chunk, garments, job, workers=workers, chunk_size=16, on_error=_mask_failed), 1):
        if problem is not None:
            report.add(*problem, action="photo left out")
            dropped.add(image["id"])
        else:
            labels = image["labels"]
            annotations.append({"id": len(annotations) + 1, "image_id": image["id"],
                                "category_id": ids[labels["part"]], **ann, "iscrowd": 0, "part": labels["part"],
                                "attributes": dict(labels.get("attributes") or {}), "pseudo_mask": METHOD})
        if on_progress is not None:
            on_progress(done)
    out = dict(data)
    out["images"] = [im for im in data["images"] if im["id"] not in dropped]
    out["annotations"] = annotations
    out["info"] = {**(data.get("info") or {}), "pseudo_masks": {"method": METHOD, **settings.__dict__}}
    report.counts["pseudo_masks"] = len(annotations)
    report.counts["no_garment_photos"] = sum(1 for im in out["images"] if not (im.get("labels") or {}).get("part"))
    report.counts["images"] = len(out["images"])
    return out, report
