"""Draw a COCO dataset's masks, boxes and labels on its photos (PNG) to eyeball a conversion."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from garmentparse import masks
from garmentparse.draw import draw_instances, save_rgb
from garmentparse.imageio import ImageReadError, load_rgb
from garmentparse.report import Report

from .coco import CocoDict, annotations_by_image, category_names, load_coco
from .crop import annotation_attributes, annotation_part


def _label(ann: dict, names: dict[int, str]) -> str:
    part = annotation_part(ann, names) or names.get(ann.get("category_id"), "?")
    attrs = annotation_attributes(ann, names)
    bits = [part]
    for key in ("category", "colour"):
        if attrs.get(key) and attrs[key] != part:
            bits.append(str(attrs[key]))
    return " ".join(bits)


def visualize_coco(coco: CocoDict | str | Path, images_dir: str | Path, out_dir: str | Path, *,
                   limit: int | None = None, on_progress: Callable[[int], None] | None = None) -> Report:
    """One PNG per photo (the first ``limit``) with masks tinted, boxes and ``part category colour``.

    Files are named after the photo's ``file_name`` (folders joined with ``__``).
    """
    data = load_coco(coco)
    names = category_names(data)
    by_image = annotations_by_image(data)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = Report("visualize")
    images = data.get("images", [])[: limit if limit is not None else None]
    for i, im in enumerate(images, 1):
        src = os.path.join(str(images_dir), im["file_name"])
        try:
            photo = load_rgb(src)
        except ImageReadError as exc:
            report.add(src, "image_undecodable", str(exc))
            continue
        h, w = photo.shape[:2]
        anns = by_image.get(im["id"], [])
        mlist, boxes, labels, keys = [], [], [], []
        for ann in anns:
            try:
                mlist.append(masks.decode(masks.segmentation_to_rle(ann["segmentation"], h, w)))
            except Exception as exc:  # noqa: BLE001 - one broken garment must not stop the picture
                report.add(src, "invalid_segmentation", f"annotation {ann.get('id')}: {exc}")
                continue
            x, y, bw, bh = ann["bbox"]
            boxes.append([x, y, x + bw, y + bh])
            labels.append(_label(ann, names))
            keys.append(annotation_part(ann, names) or labels[-1])
        drawn = draw_instances(photo, mlist, boxes, labels, colour_keys=keys)
        name = re.sub(r"[\\/]+", "__", os.path.splitext(im["file_name"])[0]) + ".png"
        save_rgb(out / name, drawn)
        report.counts["pictures"] += 1
        report.counts["garments_drawn"] += len(mlist)
        if on_progress:
            on_progress(i)
    report.counts["images"] = len(images)
    return report
