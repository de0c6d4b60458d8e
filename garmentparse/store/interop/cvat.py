"""CVAT's COCO 1.0 out (with the label spec for its project), reviewed COCO / CVAT annotations back in.

Out: part categories 1..4; ``segmentation`` as polygons (every outer contour, ``iscrowd`` 0) or
as compressed RLE with ``iscrowd`` 1 (what CVAT reads and writes as a mask); attribute values
under ``attributes`` (multi-label heads ``"|"``-joined text), the detector score as ``score``.
In: any COCO instances file whose ``file_name`` is a catalogue path (our own ``export --format
coco``, or CVAT's COCO 1.0 export), each annotation a region.
"""

from __future__ import annotations

import math
from typing import Any

from garmentparse import masks, vocab
from garmentparse.report import Problem
from garmentparse.store.interop.common import TOOL_ATTRIBUTES, Region, Reviewed, is_multi, outlines, part_id

SEGMENTATIONS = ("polygon", "rle")
_PART_IDS = {p: i for i, p in enumerate(vocab.PARTS, 1)}


def coco(photos: list[tuple[dict[str, Any], list[dict[str, Any]]]], *,
         segmentation: str = "polygon") -> dict[str, Any]:
    """A COCO instances dict CVAT imports as COCO 1.0, from (photo, garments) pairs."""
    if segmentation not in SEGMENTATIONS:
        raise ValueError(f"unknown segmentation {segmentation!r}: use {', '.join(SEGMENTATIONS)}")
    images, annotations = [], []
    for n, (photo, garments) in enumerate(photos, 1):
        image_id = photo.get("photo_id") or n
        images.append({"id": image_id, "file_name": photo["path"], "width": photo["width"], "height": photo["height"]})
        for g in garments:
            if segmentation == "rle":
                seg: Any = g["mask"]
            else:
                seg = [p for p in outlines(g["mask"]) if len(p) >= 6]
                if not seg:
                    continue
            attributes = {head: value for head, (value, _) in g["attributes"].items() if value}
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": _PART_IDS[g["part"]],
                                "segmentation": seg, "area": masks.area(g["mask"]), "bbox": masks.bbox_xywh(g["mask"]),
                                "iscrowd": int(segmentation == "rle"), "score": g["score"], "attributes": attributes})
    return {"info": {"description": "garments exported by garmentparse for CVAT"}, "licenses": [],
            "categories": [{"id": i, "name": p, "supercategory": ""} for p, i in _PART_IDS.items()],
            "images": images, "annotations": annotations}


def labels(heads: dict[str, list[str]]) -> list[dict[str, Any]]:
    """The project's labels for CVAT's raw label editor: each part with every head as an attribute
    (``select`` of its values; multi-label heads as ``text``, ``"|"``-joined)."""
    attributes = [{"name": head, "mutable": False, "input_type": "text", "default_value": "", "values": []}
                  if is_multi(head) else
                  {"name": head, "mutable": False, "input_type": "select", "default_value": values[0], "values": values}
                  for head, values in heads.items() if values]
    return [{"name": part, "type": "any", "attributes": attributes} for part in vocab.PARTS]


# ---------------------------------------------------------------------------- coming back


def reviewed(data: Any, file: str) -> tuple[list[Reviewed], list[Problem]]:
    """Every image of a COCO instances dict as a reviewed photo with its annotations as regions."""
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in ("images", "annotations")):
        return [], [Problem(file, "schema", "expected a COCO instances file (images, annotations, categories)")]
    problems: list[Problem] = []
    names = {c.get("id"): c.get("name") for c in data.get("categories") or [] if isinstance(c, dict)}
    photos: dict[Any, Reviewed] = {}
    for i, im in enumerate(data["images"]):
        where = f"{file}:images[{i}]"
        h, w = (im.get("height"), im.get("width")) if isinstance(im, dict) else (None, None)
        if (not isinstance(im, dict) or not isinstance(im.get("file_name"), str) or not im["file_name"]
                or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (h, w))):
            problems.append(Problem(where, "schema", "an image needs id, file_name, width and height"))
        elif im.get("id") in photos:
            problems.append(Problem(where, "schema", f"image id {im.get('id')!r} used twice"))
        else:
            photos[im.get("id")] = Reviewed(where, im["file_name"], (h, w))
    for a, ann in enumerate(data["annotations"]):
        where = f"{file}:annotations[{a}]"
        photo = photos.get(ann.get("image_id")) if isinstance(ann, dict) else None
        if photo is None:
            problems.append(Problem(where, "schema", "annotation of no listed image"))
            continue
        try:
            photo.regions.append(_region(ann, where, names, photo.size))  # type: ignore[arg-type]
        except ValueError as exc:
            reason, _, detail = str(exc).partition(": ")
            photo.problems.append(Problem(where, reason, detail))
    return list(photos.values()), problems


def _region(ann: dict[str, Any], where: str, names: dict[Any, Any], size: tuple[int, int]) -> Region:
    h, w = size
    name = names.get(ann.get("category_id"))
    part = part_id(name)
    if part is None:
        raise ValueError(f"unknown_label: category {ann.get('category_id')!r} ({name!r:.40}) is not one of "
                         f"{', '.join(vocab.PARTS)}")
    seg = ann.get("segmentation")
    if isinstance(seg, dict):
        if seg.get("size") != [h, w]:
            raise ValueError(f"mask_size: segmentation size {seg.get('size')} but the image is [{h}, {w}] (h, w)")
        if not isinstance(seg.get("counts"), (str, list)):
            raise ValueError("schema: an RLE segmentation needs counts")
        mask = masks.segmentation_to_rle(seg, h, w)
    elif isinstance(seg, list) and seg:
        polygons = []
        for p in seg:
            if not isinstance(p, list) or len(p) < 6 or len(p) % 2 or not all(_finite(v) for v in p):
                raise ValueError("schema: a polygon is a flat list of at least 3 (x, y) pairs")
            polygons.append([min(max(float(v), 0.0), float(w if k % 2 == 0 else h)) for k, v in enumerate(p)])
        mask = masks.polygons_to_rle(polygons, h, w)
    else:
        raise ValueError("no_mask: no segmentation (a box alone cannot be matched by mask)")
    if not isinstance(ann.get("attributes") or {}, dict):
        raise ValueError("schema: attributes: expected an object")
    attributes = {}
    for head, value in (ann.get("attributes") or {}).items():
        if head in TOOL_ATTRIBUTES or value in ("", None, []):
            continue
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = "|".join(value)
        if not isinstance(value, str):
            raise ValueError(f"schema: attribute {head!r}: expected text or a list of text, got {value!r:.40}")
        attributes[head] = value
    return Region(where, part, mask, attributes)


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
