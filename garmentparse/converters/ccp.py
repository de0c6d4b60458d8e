"""Clothing Co-Parsing (CCP) pixel-level masks -> COCO.

CCP labels every pixel with one of 59 names (``label_list.mat``). Garment names map onto the
K-Fashion vocabulary (``CCP_CATEGORY``, the same mapping the shared ``kfashion-ccp`` labels
used); skin, hair, shoes, bags, accessories, hosiery, underwear and the ambiguous ``suit``/``cape``
are not garments. Each garment label of a photo becomes ONE instance with ALL its pixels (a
garment split by an arm stays one garment), stored as RLE; ``area`` and ``bbox`` come from
pycocotools.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.io import loadmat

from garmentparse import masks, vocab
from garmentparse.imageio import IMAGE_SUFFIXES, ImageReadError
from garmentparse.report import Report

from .coco import Classes, category_ids, coco_categories, coco_info
from .imagehead import photo_size

# CCP label -> K-Fashion fine category. Anything not listed is not a garment.
CCP_CATEGORY: dict[str, str] = {
    "blazer": "jacket", "blouse": "blouse", "bodysuit": "top", "cardigan": "cardigan", "coat": "coat",
    "dress": "dress", "hoodie": "hoodie", "jacket": "jacket", "jeans": "jeans",
    "jumper": "knitwear",  # British "jumper" = pullover sweater (CCP is a UK-English label set)
    "leggings": "leggings", "pants": "pants", "romper": "jumpsuit", "shirt": "shirt",
    "shorts": "pants",  # K-Fashion has no shorts category; its 팬츠 covers every length
    "skirt": "skirt", "sweater": "knitwear", "sweatshirt": "t-shirt", "t-shirt": "t-shirt", "top": "top",
    "vest": "vest",
}

_IMAGE_DIRS = ("photos", "images")
_MASK_DIRS = ("annotations/pixel-level", "pixel-level", "ccp/pixel-level", "ccp/annotations/pixel-level")
_LABEL_LISTS = ("label_list.mat", "ccp/label_list.mat", "annotations/label_list.mat")


@dataclass(frozen=True)
class CCPLayout:
    """Where a CCP root keeps its photos, pixel masks and label list."""

    root: Path
    images: Path
    masks: Path
    label_list: Path

    @classmethod
    def find(cls, root: str | Path) -> CCPLayout:
        """Detect the original layout or the shared/examples one; FileNotFoundError names what is missing."""
        root = Path(root)

        def first(candidates: tuple[str, ...], what: str, is_dir: bool) -> Path:
            for c in candidates:
                p = root / c
                if (p.is_dir() if is_dir else p.is_file()):
                    return p
            raise FileNotFoundError(f"{root}: no {what} (looked for {', '.join(candidates)})")

        return cls(root, first(_IMAGE_DIRS, "photo folder", True), first(_MASK_DIRS, "pixel-level folder", True),
                   first(_LABEL_LISTS, "label list", False))


def load_label_list(path: str | Path) -> list[str]:
    """CCP label names by pixel value (0 = ``null``)."""
    arr = loadmat(str(path))["label_list"].ravel()
    return [str(x[0]) if getattr(x, "size", 0) else "" for x in arr]


def load_pixel_labels(path: str | Path) -> np.ndarray:
    """The (H, W) uint8 ``groundtruth`` array of one CCP ``.mat`` file."""
    data = loadmat(str(path))
    if "groundtruth" not in data:
        raise ValueError("no 'groundtruth' array")
    return np.asarray(data["groundtruth"])


def pixel_label_garments(groundtruth: np.ndarray, names: list[str], *, classes: Classes = "part",
                         min_area: int = 0) -> tuple[list[dict[str, Any]], list[str]]:
    """COCO annotations (without ids) of one CCP label map, and the garment labels too small to keep.

    One instance per garment label present, with every pixel of that label (RLE, ``iscrowd 0``),
    ``part``, ``attributes.category`` and the original ``ccp_label``.
    """
    ids = category_ids(classes)
    anns: list[dict[str, Any]] = []
    small: list[str] = []
    counts = np.bincount(groundtruth.ravel().astype(np.intp, copy=False))  # pixels per label value
    for value, count in enumerate(counts.tolist()):
        if count == 0:
            continue
        name = names[value] if 0 <= value < len(names) else ""
        category = CCP_CATEGORY.get(name)
        if category is None:
            continue
        if count < min_area:
            small.append(f"{name} ({count} px)")
            continue
        part = vocab.CATEGORY_PART[category]
        rle = masks.encode(groundtruth == value)
        anns.append({"category_id": ids[part if classes == "part" else category], "segmentation": rle,
                     "area": masks.area(rle), "bbox": masks.bbox_xywh(rle), "iscrowd": 0, "part": part,
                     "attributes": {"category": category}, "ccp_label": name})
    return anns, small


def convert_ccp(root: str | Path, *, classes: Classes = "part", min_area: int = 0
                ) -> tuple[dict[str, Any], Report]:
    """Convert a CCP root (original or shared layout) to a COCO dict; returns (coco, report).

    Photos are matched to masks by stem; a mask whose photo is missing, unreadable or of another
    size is reported and skipped. Photos without a pixel-level mask (CCP has 1094 with image-level
    tags only) are counted, not reported.
    """
    if classes not in ("part", "category"):
        raise ValueError(f"unknown classes {classes!r}: use 'part' or 'category'")
    layout = CCPLayout.find(root)
    names = load_label_list(layout.label_list)
    report = Report("convert ccp")
    photos = {}
    for p in sorted(layout.images.rglob("*")):
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file():
            photos.setdefault(p.stem, p)
    mask_files = sorted(p for p in layout.masks.rglob("*.mat") if p.is_file())
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    used = set()
    for mask_file in mask_files:
        rel_mask = os.path.relpath(mask_file, layout.root).replace(os.sep, "/")
        photo = photos.get(mask_file.stem)
        report.counts["mask_files"] += 1
        if photo is None:
            report.add(mask_file, "label_without_image", "no photo with this stem")
            continue
        used.add(mask_file.stem)
        try:
            gt = load_pixel_labels(mask_file)
        except Exception as exc:  # noqa: BLE001 - scipy raises several types for broken .mat files
            report.add(mask_file, "invalid_mask", f"cannot read pixel labels: {exc}")
            continue
        try:
            width, height = photo_size(photo)
        except ImageReadError as exc:
            report.add(photo, "image_undecodable", str(exc))
            continue
        if gt.shape[:2] != (height, width):
            report.add(mask_file, "size_mismatch_skipped",
                       f"mask {gt.shape[1]}x{gt.shape[0]}, photo {width}x{height}")
            continue
        if gt.max() >= len(names):
            report.add(mask_file, "unknown_value", f"pixel values up to {int(gt.max())} but "
                       f"{len(names)} labels; those pixels ignored", "value dropped")
        anns, small = pixel_label_garments(gt, names, classes=classes, min_area=min_area)
        for s in small:
            report.add(mask_file, "garment_too_small", f"{s} < --min-area {min_area}")
        if not anns:
            report.add(mask_file, "no_garments", "no garment label in the mask")
            continue
        image_id = len(images) + 1
        images.append({"id": image_id, "file_name": os.path.relpath(photo, layout.images).replace(os.sep, "/"),
                       "width": width, "height": height, "source_label": rel_mask})
        for ann in anns:
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, **ann})
    report.counts["images"] = len(images)
    report.counts["annotations"] = len(annotations)
    report.counts["photos_without_pixel_labels"] = sum(1 for s in photos if s not in used)
    coco = {"info": coco_info("Clothing Co-Parsing pixel-level labels converted by garmentparse", classes,
                              root=str(layout.root), images=str(layout.images)),
            "licenses": [{"id": 1, "name": "Apache-2.0 (Clothing Co-Parsing)"}],
            "categories": coco_categories(classes), "images": images, "annotations": annotations}
    return coco, report
