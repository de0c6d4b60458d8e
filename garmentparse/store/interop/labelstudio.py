"""Label Studio: tasks with predictions and a labeling config out, reviewed regions back in.

A task per photo: ``data`` has the image URL and our ``path`` (and ``photo_id`` / ``run`` from
the catalogue); one prediction per shape kind (``brush``: the exact mask in Label Studio's brush
RLE; ``polygon``: the mask's largest outline, in percent of the image). Each region carries the
garment's part as its label and its attribute values as ``choices`` results with the region's
id (per-region choices), with the detector score and head probabilities as ``score``.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import quote, unquote

from garmentparse import masks, vocab
from garmentparse.report import Problem
from garmentparse.store.interop import brush
from garmentparse.store.interop.common import Region, Reviewed, is_multi, outlines, part_id

IMAGE, MASK, POLYGON = "image", "part_mask", "part_polygon"  # the labeling config's tag names
SHAPES = ("brush", "polygon")
DEFAULT_PREFIX = "/data/local-files/?d="  # Label Studio's local files storage
_COLOURS = {"outer": "#1f77b4", "top": "#ff7f0e", "bottom": "#2ca02c", "onepiece": "#d62728"}


def image_url(path: str, prefix: str = DEFAULT_PREFIX) -> str:
    """``prefix`` + the photo's path, percent-encoded (``/`` kept)."""
    return prefix + quote(path, safe="/")


def task(photo: dict[str, Any], garments: list[dict[str, Any]], *, prefix: str = DEFAULT_PREFIX,
         shapes: tuple[str, ...] = SHAPES) -> dict[str, Any]:
    """One Label Studio task (``data`` + ``predictions``) for a photo and its garments."""
    h, w = photo["height"], photo["width"]
    data = {IMAGE: image_url(photo["path"], prefix), "path": photo["path"],
            **{k: photo[k] for k in ("photo_id", "run") if photo.get(k) is not None}}
    score = min([1.0, *(g["confidence"] for g in garments)])
    predictions = []
    for shape in shapes:
        result: list[dict[str, Any]] = []
        for g in garments:
            region = _region(shape, g, w, h)
            if region is None:
                continue
            result.append(region)
            for head, (value, probability) in g["attributes"].items():
                if value:
                    result.append({"id": region["id"], "type": "choices", "from_name": head, "to_name": IMAGE,
                                   "value": {"choices": value.split("|") if is_multi(head) else [value]},
                                   "score": probability})
        predictions.append({"model_version": f"{photo.get('model') or 'garmentparse'}-{shape}", "score": score,
                            "result": result})
    return {"data": data, "predictions": predictions}


def _region(shape: str, g: dict[str, Any], w: int, h: int) -> dict[str, Any] | None:
    common = {"id": f"{g['key']}-{shape}", "to_name": IMAGE, "original_width": w, "original_height": h,
              "image_rotation": 0, "score": g["score"]}
    if shape == "brush":
        return {**common, "type": "brushlabels", "from_name": MASK,
                "value": {"format": "rle", "rle": brush.from_coco(g["mask"]), "brushlabels": [g["part"]]}}
    polygons = outlines(g["mask"])
    if not polygons:  # nothing of it left to outline
        return None
    flat = polygons[0]
    points = [[round(x / w * 100, 4), round(y / h * 100, 4)] for x, y in zip(flat[0::2], flat[1::2])]
    return {**common, "type": "polygonlabels", "from_name": POLYGON,
            "value": {"points": points, "polygonlabels": [g["part"]], "closed": True}}


def labeling_config(heads: dict[str, list[str]], shapes: tuple[str, ...] = SHAPES) -> str:
    """The project's labeling config: the parts as brush / polygon labels, each head a block of
    per-region choices (its values, the Korean names as hints)."""
    view = ET.Element("View")
    ET.SubElement(view, "Image", name=IMAGE, value=f"${IMAGE}", zoom="true", zoomControl="true")
    for shape, tag, name in (("brush", "BrushLabels", MASK), ("polygon", "PolygonLabels", POLYGON)):
        if shape in shapes:
            labels = ET.SubElement(view, tag, name=name, toName=IMAGE)
            for part, korean in vocab.PARTS.items():
                ET.SubElement(labels, "Label", value=part, hint=korean, background=_COLOURS.get(part, "#7f7f7f"))
    selected = ET.SubElement(view, "View", visibleWhen="region-selected")
    for head, values in heads.items():
        ET.SubElement(selected, "Header", value=head)
        choices = ET.SubElement(selected, "Choices", name=head, toName=IMAGE, perRegion="true", showInline="true",
                                choice="multiple" if is_multi(head) else "single")
        for value in values:
            ET.SubElement(choices, "Choice", value=value, hint=vocab.korean_name(head, value))
    ET.indent(view)
    return ET.tostring(view, encoding="unicode") + "\n"


# ---------------------------------------------------------------------------- coming back


def reviewed(tasks: Any, file: str, prefix: str = DEFAULT_PREFIX) -> tuple[list[Reviewed], list[Problem], int]:
    """The reviewed tasks of a Label Studio JSON export (a list of tasks, or one task): per task its
    latest annotation not cancelled. Returns (reviewed photos, problems, tasks nobody annotated)."""
    if isinstance(tasks, dict):
        tasks = [tasks]
    if not isinstance(tasks, list):
        return [], [Problem(file, "schema", "expected a list of Label Studio tasks (JSON export)")], 0
    out, problems, unreviewed = [], [], 0
    for t, item in enumerate(tasks):
        where = f"{file}:tasks[{t}]"
        if not isinstance(item, dict) or not isinstance(item.get("data"), dict):
            problems.append(Problem(where, "schema", "a task needs a data object"))
            continue
        path = _path(item["data"], prefix)
        if path is None:
            problems.append(Problem(where, "no_path", f"no data.path, and data.{IMAGE} does not start with {prefix!r}"))
            continue
        annotations = [(i, a) for i, a in enumerate(item.get("annotations") or [])
                       if isinstance(a, dict) and not a.get("was_cancelled")]
        if not annotations:
            unreviewed += 1
            continue
        i, annotation = max(annotations, key=lambda ia: (str(ia[1].get("updated_at") or ""), ia[0]))
        run = item["data"].get("run")
        photo = Reviewed(f"{where}.annotations[{i}]", path, None, run if isinstance(run, int) else None,
                         note=_note(item, annotation))
        _regions(annotation.get("result"), photo)
        out.append(photo)
    return out, problems, unreviewed


def _path(data: dict[str, Any], prefix: str) -> str | None:
    if isinstance(data.get("path"), str) and data["path"]:
        return data["path"]
    url = data.get(IMAGE)
    if isinstance(url, str) and url.startswith(prefix) and len(url) > len(prefix):
        return unquote(url[len(prefix):])
    return None


def _note(item: dict[str, Any], annotation: dict[str, Any]) -> str:
    who = annotation.get("completed_by")
    who = who.get("email") or who.get("id") if isinstance(who, dict) else who
    by = f" by {who}" if who else ""
    return f"Label Studio task {item.get('id', '?')} annotation {annotation.get('id', '?')}{by}"


def _regions(result: Any, photo: Reviewed) -> None:
    """Fill ``photo`` with the regions of one annotation's ``result`` list (bad ones as problems)."""
    if not isinstance(result, list):
        photo.problems.append(Problem(photo.where, "schema", "result: expected a list"))
        return
    shapes: dict[str, tuple[str, dict[str, Any]]] = {}  # region id -> (where, result)
    choices: dict[str, dict[str, str]] = {}
    for r, res in enumerate(result):
        where = f"{photo.where}.result[{r}]"
        kind = res.get("type") if isinstance(res, dict) else None
        rid = str(res["id"]) if isinstance(res, dict) and res.get("id") is not None else f"#{r}"
        if kind in ("brushlabels", "polygonlabels"):
            shapes[rid] = (where, res)
        elif kind == "choices":
            picked = (res.get("value") or {}).get("choices")
            head = res.get("from_name")
            if not isinstance(head, str) or not isinstance(picked, list) or not all(isinstance(v, str) for v in picked):
                photo.problems.append(Problem(where, "schema", "choices: expected from_name and value.choices"))
            elif picked:
                choices.setdefault(rid, {})[head] = "|".join(picked)
        else:
            photo.problems.append(Problem(where, "unsupported_region", f"type {kind!r}: only brush and polygon "
                                                                       "regions and choices are read"))
    for rid in choices.keys() - shapes.keys():
        photo.problems.append(Problem(photo.where, "choices_without_region",
                                      f"choices {sorted(choices[rid])} refer to no region (id {rid})"))
    for rid, (where, res) in shapes.items():
        try:
            label, mask, size = _shape(res)
        except ValueError as exc:
            reason, _, detail = str(exc).partition(": ")
            photo.problems.append(Problem(where, reason, detail))
            continue
        if photo.size is None:
            photo.size = size
        elif size != photo.size:
            photo.problems.append(Problem(where, "mask_size", f"region drawn on {size[0]}x{size[1]} (h x w), others "
                                                              f"on {photo.size[0]}x{photo.size[1]}"))
            continue
        photo.regions.append(Region(where, label, mask, choices.get(rid, {})))


def _shape(res: dict[str, Any]) -> tuple[str, masks.RLE, tuple[int, int]]:
    """(part, COCO RLE, (h, w)) of a brush or polygon result; ValueError("reason: detail")."""
    w, h = res.get("original_width"), res.get("original_height")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (w, h)):
        raise ValueError("schema: original_width and original_height must be positive integers")
    value = res.get("value")
    kind = res["type"]
    labels = value.get(kind) if isinstance(value, dict) else None
    if not isinstance(labels, list) or len(labels) != 1:
        raise ValueError(f"schema: value.{kind} must hold one label, got {labels!r:.60}")
    part = part_id(labels[0])
    if part is None:
        raise ValueError(f"unknown_label: {labels[0]!r:.40} is not one of {', '.join(vocab.PARTS)}")
    if kind == "brushlabels":
        if value.get("format", "rle") != "rle" or not isinstance(value.get("rle"), list):
            raise ValueError("schema: a brush region needs value.rle (format rle)")
        try:
            return part, brush.to_coco(value["rle"], h, w), (h, w)
        except ValueError as exc:
            raise ValueError(f"mask_size: {exc}" if "values, but" in str(exc) else f"bad_mask: {exc}") from None
    points = value.get("points")
    if (not isinstance(points, list) or len(points) < 3
            or not all(isinstance(p, list) and len(p) == 2 and all(_finite(v) for v in p) for p in points)):
        raise ValueError("schema: a polygon needs at least 3 points [x%, y%]")
    flat = [c for x, y in points for c in (min(max(x, 0), 100) / 100 * w, min(max(y, 0), 100) / 100 * h)]
    return part, masks.polygons_to_rle([flat], h, w), (h, w)


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
