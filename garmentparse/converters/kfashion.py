"""K-Fashion label JSON -> COCO, with cleaning.

Pure part: :func:`decode_label` (bytes -> dict), :func:`label_image_info` and
:func:`label_garments` (label dict -> COCO annotations + issues). I/O shell:
:func:`convert_kfashion_to_file` walks the label tree, matches photos, fans the work out over
worker processes and streams the COCO file; :func:`convert_kfashion` is the in-memory variant.

Every problem is an :class:`~garmentparse.report.Problem` with a stable ``reason`` code (see ``REASONS``); good data is
never dropped because a neighbour is bad.
"""

from __future__ import annotations

import codecs
import itertools
import json
import math
import multiprocessing as mp
import os
import re
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import shapely
import shapely.ops
from shapely.geometry import LineString, Polygon, box

from garmentparse import vocab
from garmentparse.imageio import IMAGE_SUFFIXES, ImageReadError
from garmentparse.report import Problem, Report

from ._json import dumps, loads_fast
from .coco import Classes, CocoStreamWriter, category_ids, coco_categories, coco_info, load_coco
from .imagehead import check_photo, read_bytes

# Stable reason codes written to the report, with the usual action.
REASONS: dict[str, str] = {
    "invalid_json": "label is not parseable JSON (label skipped)",
    "invalid_schema": "label JSON lacks the K-Fashion structure (label skipped)",
    "unreadable_label": "label file cannot be read (label skipped)",
    "encoding": "label text not in plain UTF-8 (utf-8-sig, utf-16, cp949/euc-kr): decoded",
    "label_without_image": "no photo matches the label by stem or by 이미지 파일명 (label skipped)",
    "image_without_label": "photo under --images that no label matched (not in the output)",
    "image_undecodable": "photo cannot be read or decoded (label skipped)",
    "size_mismatch_rescaled": "photo size differs from the label's, same aspect: polygons rescaled",
    "size_mismatch_skipped": "photo size differs from the label's with another aspect (label skipped)",
    "missing_size": "no --images and the label has no usable size (label skipped)",
    "duplicate_photo": "photo already used by an earlier label (this label skipped)",
    "duplicate_image_id": "이미지 식별자 seen before: kept, COCO ids stay unique",
    "numeric_string": "numbers written as strings: converted",
    "invalid_coordinate": "a coordinate that is not a number: point dropped",
    "unpaired_coordinates": "X좌표k without Y좌표k (or the reverse): point dropped",
    "polygon_too_few_points": "polygon with fewer than 3 points (garment skipped)",
    "polygon_missing": "garment labelled but without polygon (garment skipped)",
    "degenerate_polygon": "polygon with zero area (garment skipped)",
    "self_intersection_repaired": "self-intersecting polygon: repaired with shapely make_valid",
    "points_clipped": "polygon reaching outside the image: clipped to the image",
    "polygon_outside_image": "polygon entirely outside the image (garment skipped)",
    "unknown_value": "attribute value or key not in the vocabulary: value dropped, garment kept",
    "missing_category": "--classes category and the garment has no known category (garment skipped)",
    "category_part_mismatch": "category belongs to another part than the one it is listed under: kept",
    "no_garments": "label without any usable garment (label skipped)",
    "polygon_label_mismatch": "a part has more polygons than labels: the extra ones kept without attributes",
    "unexpected_error": "the label broke the converter in an unforeseen way (label skipped; detail says how)",
}


class LabelError(Exception):
    """A label that cannot be used at all; ``reason`` is a code from ``REASONS``."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


# --------------------------------------------------------------------------- pure functions

def decode_label(raw: bytes) -> tuple[Any, str | None]:
    """Parse label bytes; returns ``(data, encoding)`` where ``encoding`` is None for plain UTF-8.

    UTF-8 with BOM and UTF-16/32 are handled by ``json``; CP949 (a superset of EUC-KR, what
    Korean Windows tools write) is tried when the bytes are not UTF-8.
    """
    if raw[:1] not in (b"\xef", b"\xfe", b"\xff") and raw[1:2] != b"\x00":
        try:  # the common case: plain UTF-8 (orjson when installed)
            return loads_fast(raw), None
        except ValueError:
            pass  # look closer below, to name the problem
    if raw[:3] == codecs.BOM_UTF8:
        encoding: str | None = "utf-8-sig"
    elif raw[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        encoding = "utf-16"
    elif len(raw) >= 2 and (raw[0] == 0 or raw[1] == 0):
        encoding = "utf-16/32 (no BOM)"
    else:
        encoding = None
    try:
        return json.loads(raw), encoding
    except UnicodeDecodeError:
        pass
    except ValueError as exc:
        raise LabelError("invalid_json", str(exc)) from None
    try:
        text = raw.decode("cp949")
    except UnicodeDecodeError:
        raise LabelError("invalid_json", "text is neither UTF-8/16 nor CP949/EUC-KR") from None
    try:
        return json.loads(text), "cp949"
    except ValueError as exc:
        raise LabelError("invalid_json", f"(cp949) {exc}") from None


_THOUSANDS = re.compile(r"^[-+]?\d{1,3}(,\d{3})+(\.\d*)?$")
_DECIMAL_COMMA = re.compile(r"^[-+]?\d+,\d{1,2}$")
_INT64_MAX = 2**63 - 1


class _Ctx:
    """Collects issues of one label; numbers-as-strings are summarised once per label."""

    __slots__ = ("file", "issues", "numeric_strings")

    def __init__(self, file: str):
        self.file = file
        self.issues: list[Problem] = []
        self.numeric_strings = 0

    def add(self, reason: str, detail: str = "", action: str = "skipped") -> None:
        self.issues.append(Problem(self.file, reason, detail, action))

    def number(self, value: Any) -> float | None:
        """A float from a JSON number or a numeric string (counted); None otherwise.

        Strings may use thousands separators (``"1,024.5"``) or one decimal comma (``"10,5"``);
        anything else with a comma is not a number. Values beyond float range are None."""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                v = float(value)
            except OverflowError:  # an int beyond float range
                return None
            return v if math.isfinite(v) else None
        if isinstance(value, str):
            text = value.strip()
            if "," in text:
                if _THOUSANDS.match(text):
                    text = text.replace(",", "")
                elif _DECIMAL_COMMA.match(text):
                    text = text.replace(",", ".")
                else:
                    return None
            try:
                v = float(text)
            except ValueError:
                return None
            if not math.isfinite(v):
                return None
            self.numeric_strings += 1
            return v
        return None

    def finish(self) -> list[Problem]:
        if self.numeric_strings:
            self.add("numeric_string", f"{self.numeric_strings} numbers written as strings", "converted")
            self.numeric_strings = 0
        return self.issues


@dataclass
class LabelImageInfo:
    width: int | None
    height: int | None
    kfashion_id: int | str | None
    file_name: str | None  # the label's 이미지 파일명


def _section(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            raise LabelError("invalid_schema", f"missing {'/'.join(keys)}")
        data = data[key]
    return data


def label_image_info(data: Any, ctx: _Ctx | None = None) -> LabelImageInfo:
    """The ``이미지 정보`` block: size, 식별자 and 이미지 파일명 (numbers may be strings)."""
    ctx = ctx or _Ctx("")
    if not isinstance(data, dict):
        raise LabelError("invalid_schema", "top level is not a JSON object")
    info = _section(data, "이미지 정보")
    if not isinstance(info, dict):
        raise LabelError("invalid_schema", "이미지 정보 is not an object")
    w, h = ctx.number(info.get("이미지 너비")), ctx.number(info.get("이미지 높이"))
    kid = info.get("이미지 식별자")
    if isinstance(kid, str) and kid.strip().isdigit():
        ctx.numeric_strings += 1
        kid = int(kid.strip())
    elif isinstance(kid, float) and kid.is_integer():
        kid = int(kid)
    if isinstance(kid, int) and not 0 <= kid <= _INT64_MAX:  # JSON writers stop at 64 bits
        kid = str(kid)
    name = info.get("이미지 파일명")
    return LabelImageInfo(
        width=int(round(w)) if w and w > 0 else None,
        height=int(round(h)) if h and h > 0 else None,
        kfashion_id=kid if isinstance(kid, (int, str)) and kid != "" else None,
        file_name=str(name).strip() if isinstance(name, (str, int)) and str(name).strip() else None,
    )


def _as_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    return value if isinstance(value, list) else []


def _attributes(label: dict, ctx: _Ctx, where: str) -> dict[str, Any]:
    """English-id attributes of one garment's ``라벨링`` entry; unknown values are dropped."""
    out: dict[str, Any] = {}
    for key, value in label.items():
        attr = vocab.ATTRIBUTE_BY_KOREAN.get(key)
        if attr is None:
            ctx.add("unknown_value", f"{where}: unknown attribute key {key!r}", "value dropped")
            continue
        if attr.multi_label:
            items = value if isinstance(value, list) else [value]
            ids: list[str] = []
            for item in items:
                if item is None or item == "":
                    continue
                en = vocab.lookup(attr.name, str(item))
                if en is None:
                    ctx.add("unknown_value", f"{where}: {key}={item!r}", "value dropped")
                elif en not in ids:
                    ids.append(en)
            if ids:
                out[attr.name] = ids
        else:
            if isinstance(value, list):
                extra = [v for v in value[1:] if v not in (None, "")]
                if extra:
                    ctx.add("unknown_value", f"{where}: {key} takes one value; kept {value[0]!r}, "
                            f"dropped {extra!r}", "value dropped")
                value = value[0] if value else None
            if value is None or value == "":
                continue
            en = vocab.lookup(attr.name, str(value))
            if en is None:
                ctx.add("unknown_value", f"{where}: {key}={value!r}", "value dropped")
            else:
                out[attr.name] = en
    return out


def _style(labels: dict, ctx: _Ctx) -> dict[str, Any]:
    """Image-level style (``라벨링/스타일``), copied onto every garment."""
    for entry in _as_list(labels.get("스타일")):
        if isinstance(entry, dict) and entry:
            return {k: v for k, v in _attributes(entry, ctx, "스타일").items() if k in ("style", "sub_style")}
    return {}


_NUMERIC = {float, int}
_XKEYS = [f"X좌표{k}" for k in range(1, 2049)]
_YKEYS = [f"Y좌표{k}" for k in range(1, 2049)]


def polygon_points(poly: dict, ctx: _Ctx, where: str) -> tuple[list[float], list[float]]:
    """(xs, ys) of the ``X좌표k``/``Y좌표k`` pairs in numeric order of k.

    Keys arrive unordered; numbers may be strings (counted), non-numbers and unpaired indices are
    dropped and reported. Well-formed polygons (keys 1..n, JSON numbers) take a fast path.
    """
    n = len(poly) // 2
    if 2 * n == len(poly) and 0 < n <= len(_XKEYS):
        try:
            xs = [poly[k] for k in _XKEYS[:n]]
            ys = [poly[k] for k in _YKEYS[:n]]
        except KeyError:
            xs = ys = None
        if xs is not None and ys is not None:
            kinds = set(map(type, xs))
            kinds.update(map(type, ys))
            try:
                if kinds <= _NUMERIC and all(map(math.isfinite, xs)) and all(map(math.isfinite, ys)):
                    return xs, ys
            except OverflowError:
                pass  # an int beyond float range: the careful path below drops it
    xd: dict[int, float] = {}
    yd: dict[int, float] = {}
    bad = 0
    for key, value in poly.items():
        axis = key[:1].upper()
        if axis not in ("X", "Y") or "좌표" not in key:
            continue
        try:
            k = int(key.split("좌표", 1)[1])
        except ValueError:
            continue  # e.g. a bare box key "X좌표"
        v = ctx.number(value)
        if v is None:
            bad += 1
            continue
        (xd if axis == "X" else yd)[k] = v
    if bad:
        ctx.add("invalid_coordinate", f"{where}: {bad} non-numeric coordinates", "point dropped")
    unpaired = xd.keys() ^ yd.keys()
    if unpaired:
        ctx.add("unpaired_coordinates", f"{where}: indices {sorted(unpaired)[:10]} have only X or Y",
                "point dropped")
    keys = sorted(xd.keys() & yd.keys())
    return [xd[k] for k in keys], [yd[k] for k in keys]


def _polygon_parts(geom) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [geom] if not geom.is_empty and geom.area > 0 else []
    parts: list[Polygon] = []
    for g in getattr(geom, "geoms", []):
        parts.extend(_polygon_parts(g))
    return parts


def _flat(coords) -> list[float]:
    arr = np.asarray(coords, dtype=np.float64)[:, :2]
    if len(arr) > 1 and (arr[0] == arr[-1]).all():
        arr = arr[:-1]
    return np.round(arr, 2).ravel().tolist()


def _without_holes(poly: Polygon) -> list[Polygon]:
    """Hole-free pieces whose union is ``poly``: COCO polygons cannot hold a hole (the gap
    between an arm and the body that a repaired outline encloses), so each hole is cut through
    by a vertical line at its centre. pycocotools unions the pieces back, hole kept."""
    if not poly.interiors:
        return [poly]
    x = poly.interiors[0].centroid.x
    _, y0, _, y1 = poly.bounds
    pieces = shapely.ops.split(poly, LineString([(x, y0 - 1), (x, y1 + 1)]))
    return [q for piece in _polygon_parts(pieces) for q in _without_holes(piece)]


def _usable(flat: list[float]) -> bool:
    """A rounded COCO polygon that still has 3 distinct points and an area (slivers that
    ``make_valid`` splits off can collapse to one point at 2 decimals)."""
    pts = np.asarray(flat, dtype=np.float64).reshape(-1, 2)
    if len(np.unique(pts, axis=0)) < 3:
        return False
    x, y = pts[:, 0], pts[:, 1]
    return abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))) > 0


def clean_polygon(points: np.ndarray, width: int, height: int, ctx: _Ctx, where: str
                  ) -> tuple[list[list[float]], float, list[float]] | None:
    """COCO ``(segmentation, area, bbox)`` of one garment polygon (``points``: (n, 2)), repaired and clipped.

    Valid in-image polygons keep their points exactly; a self-intersecting one is repaired with
    shapely ``make_valid`` (every piece kept); one reaching outside the image is intersected with
    it. ``area`` is the true polygon area (not the box). None when nothing usable is left.
    """
    if len(points) < 3:
        ctx.add("polygon_too_few_points", f"{where}: {len(points)} points")
        return None
    try:
        poly = shapely.polygons(points)
    except (ValueError, shapely.errors.GEOSException) as exc:
        ctx.add("degenerate_polygon", f"{where}: {exc}")
        return None
    changed = False
    parts = [poly]
    if not shapely.is_valid(poly):
        reason = shapely.is_valid_reason(poly)
        parts = _polygon_parts(shapely.make_valid(poly))
        if not parts:
            ctx.add("degenerate_polygon", f"{where}: {reason}")
            return None
        ctx.add("self_intersection_repaired", f"{where}: {reason}; {len(parts)} piece(s) kept", "repaired")
        changed = True
        x0, y0, x1, y1 = shapely.total_bounds(parts).tolist()
    else:
        x0, y0 = points.min(axis=0).tolist()
        x1, y1 = points.max(axis=0).tolist()
    if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
        frame = box(0, 0, width, height)
        parts = [q for p in parts for q in _polygon_parts(p.intersection(frame))]
        if not parts:
            ctx.add("polygon_outside_image", f"{where}: bounds {x0:.1f},{y0:.1f},{x1:.1f},{y1:.1f}")
            return None
        ctx.add("points_clipped", f"{where}: bounds {x0:.1f},{y0:.1f},{x1:.1f},{y1:.1f} in "
                f"{width}x{height}", "clipped")
        changed = True
    if not changed:
        area = float(shapely.area(poly))
        if area <= 0:
            ctx.add("degenerate_polygon", f"{where}: zero area")
            return None
        return [points.ravel().tolist()], area, [x0, y0, x1 - x0, y1 - y0]
    shells = [q for p in parts for q in _without_holes(p)]
    kept = [(s, flat) for s in shells if _usable(flat := _flat(s.exterior.coords))]
    if not kept:
        ctx.add("degenerate_polygon", f"{where}: nothing left after repair")
        return None
    shells, seg = [s for s, _ in kept], [flat for _, flat in kept]
    x0, y0, x1, y1 = shapely.total_bounds(shells).tolist()
    area = float(sum(s.area for s in shells))
    return seg, round(area, 2), [round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)]


class _Garment:
    """One garment on its way through extract -> measure (batched) -> finish."""

    __slots__ = ("part", "where", "labelling", "xs", "ys", "valid", "area", "bounds")

    def __init__(self, part: str, where: str, labelling: dict, xs: list[float], ys: list[float]):
        self.part, self.where, self.labelling, self.xs, self.ys = part, where, labelling, xs, ys
        self.valid: bool | None = None  # None: not measured, take the careful path
        self.area = 0.0
        self.bounds: list[float] = []


def extract_garments(data: Any, ctx: _Ctx, scale: tuple[float, float] = (1.0, 1.0)
                     ) -> tuple[list[_Garment], dict[str, Any]]:
    """Garments (polygon points scaled to the photo, raw labelling) and the image-level style."""
    detail = _section(data, "데이터셋 정보", "데이터셋 상세설명")
    if not isinstance(detail, dict):
        raise LabelError("invalid_schema", "데이터셋 상세설명 is not an object")
    polygons = detail.get("폴리곤좌표") or {}
    labels = detail.get("라벨링") or {}
    if not isinstance(polygons, dict) or not isinstance(labels, dict):
        raise LabelError("invalid_schema", "폴리곤좌표/라벨링 is not an object")
    sx, sy = scale
    known = set(vocab.PARTS.values()) | {"스타일"}
    for key in sorted((set(polygons) | set(labels)) - known):
        if any(_as_list(polygons.get(key))) or any(_as_list(labels.get(key))):
            ctx.add("unknown_value", f"unknown part {key!r} (not {'/'.join(vocab.PARTS.values())}): "
                    "its garments are not converted", "value dropped")
    garments: list[_Garment] = []
    for part, part_ko in vocab.PARTS.items():
        plist, llist = _as_list(polygons.get(part_ko)), _as_list(labels.get(part_ko))
        n_poly, n_lab = sum(1 for x in plist if x), sum(1 for x in llist if x)
        if n_poly > n_lab > 0:
            ctx.add("polygon_label_mismatch", f"{part_ko}: {n_poly} polygons, {n_lab} labels; "
                    "polygons without a label are kept without attributes", "kept")
        for i in range(max(len(plist), len(llist))):
            poly = plist[i] if i < len(plist) else {}
            lab = llist[i] if i < len(llist) else {}
            poly = poly if isinstance(poly, dict) else {}
            lab = lab if isinstance(lab, dict) else {}
            where = f"{part_ko}[{i}]"
            if not poly:
                if lab:
                    ctx.add("polygon_missing", f"{where}: labelled garment without polygon")
                continue
            xs, ys = polygon_points(poly, ctx, where)
            if sx != 1.0 or sy != 1.0:
                xs = [round(x * sx, 2) for x in xs]
                ys = [round(y * sy, 2) for y in ys]
            garments.append(_Garment(part, where, lab, xs, ys))
    return garments, _style(labels, ctx)


def measure_polygons(garments: list[_Garment]) -> None:
    """Validity, area and bounds of many polygons in one vectorised shapely call.

    Batching a whole chunk of labels is what makes full cleaning cheap; if the batch cannot be
    built (a ring shapely rejects), every garment falls back to the careful per-polygon path.
    """
    todo = [g for g in garments if len(g.xs) >= 3]
    if not todo:
        return
    counts = [len(g.xs) for g in todo]
    total = sum(counts)
    xs = np.fromiter(itertools.chain.from_iterable(g.xs for g in todo), np.float64, count=total)
    ys = np.fromiter(itertools.chain.from_iterable(g.ys for g in todo), np.float64, count=total)
    try:
        rings = shapely.linearrings(xs, ys, indices=np.repeat(np.arange(len(todo)), counts))
        geoms = shapely.polygons(rings)
        valid = shapely.is_valid(geoms).tolist()
        area = shapely.area(geoms).tolist()
        bounds = shapely.bounds(geoms).tolist()
    except (ValueError, shapely.errors.GEOSException):
        return
    for g, v, a, b in zip(todo, valid, area, bounds):
        g.valid, g.area, g.bounds = v, a, b


def finish_garments(garments: list[_Garment], style: dict[str, Any], width: int, height: int,
                    classes: Classes, ctx: _Ctx) -> list[dict[str, Any]]:
    """COCO annotations (without ids) of measured garments: geometry cleaned, attributes translated."""
    ids = category_ids(classes)
    anns: list[dict[str, Any]] = []
    for g in garments:
        where = g.where
        if g.valid and g.area > 0 and g.bounds[0] >= 0 and g.bounds[1] >= 0 and g.bounds[2] <= width \
                and g.bounds[3] <= height:
            x0, y0, x1, y1 = g.bounds
            geo = ([[v for xy in zip(g.xs, g.ys) for v in xy]], g.area, [x0, y0, x1 - x0, y1 - y0])
        else:
            points = np.column_stack([np.asarray(g.xs, np.float64), np.asarray(g.ys, np.float64)]) \
                if g.xs else np.zeros((0, 2))
            geo = clean_polygon(points, width, height, ctx, where)
            if geo is None:
                continue
        attrs = _attributes(g.labelling, ctx, where)
        attrs.update(style)
        category = attrs.get("category")
        if category is not None and vocab.part_of(category) != g.part:
            ctx.add("category_part_mismatch", f"{where}: {category} is a {vocab.part_of(category)} garment",
                    "kept")
        if classes == "category":
            if category is None:
                ctx.add("missing_category", f"{where}: no known 카테고리")
                continue
            cid = ids[category]
        else:
            cid = ids[g.part]
        seg, area, bbox = geo
        anns.append({"category_id": cid, "segmentation": seg, "area": area, "bbox": bbox,
                     "iscrowd": 0, "part": g.part, "attributes": attrs})
    return anns


def label_garments(data: Any, width: int, height: int, *, scale: tuple[float, float] = (1.0, 1.0),
                   classes: Classes = "part", ctx: _Ctx | None = None) -> list[dict[str, Any]]:
    """COCO annotations (without ``id``/``image_id``) of every garment of a K-Fashion label.

    Each carries ``category_id`` (part or fine category), ``segmentation`` (polygons),
    ``area``, ``bbox``, ``iscrowd: 0``, ``part`` and ``attributes`` (English ids). ``scale`` maps
    label coordinates to the photo's. Problems go to ``ctx``.
    """
    ctx = ctx or _Ctx("")
    garments, style = extract_garments(data, ctx, scale)
    measure_polygons(garments)
    return finish_garments(garments, style, width, height, classes, ctx)


# --------------------------------------------------------------------------- I/O shell

@dataclass(frozen=True)
class _Options:
    labels_dir: str
    images_dir: str | None
    classes: Classes
    full_decode: bool
    aspect_tolerance: float = 0.01


class _Outcome(NamedTuple):
    status: str  # "ok", "skip" or "resolve" (stem did not match: look up 이미지 파일명)
    issues: list[Problem]
    image: dict[str, Any] | None = None
    fragments: list[str] | None = None
    name: str | None = None


class _Prepared(NamedTuple):
    """A label read and matched to its photo, garments extracted but not yet measured."""

    ctx: _Ctx
    image: dict[str, Any]
    garments: list[_Garment]
    style: dict[str, Any]


def _prepare(label_rel: str, photo_rel: str | None, opts: _Options) -> _Prepared | _Outcome:
    """Read and decode one label, check its photo and size, extract its garments."""
    label_file = os.path.join(opts.labels_dir, label_rel)
    ctx = _Ctx(label_file)
    try:
        raw = read_bytes(label_file)
    except OSError as exc:
        ctx.add("unreadable_label", str(exc))
        return _Outcome("skip", ctx.issues)
    try:
        data, encoding = decode_label(raw)
        if encoding:
            ctx.add("encoding", f"decoded as {encoding}", "decoded")
        info = label_image_info(data, ctx)
        scale = (1.0, 1.0)
        if opts.images_dir is not None:
            if photo_rel is None:
                if info.file_name:
                    return _Outcome("resolve", [], name=info.file_name)
                ctx.add("label_without_image", "no photo with the label's stem and no 이미지 파일명")
                return _Outcome("skip", ctx.finish())
            photo_file = os.path.join(opts.images_dir, photo_rel)
            try:
                width, height = check_photo(photo_file, opts.full_decode)
            except ImageReadError as exc:
                ctx.issues.append(Problem(photo_file, "image_undecodable", f"{exc} (label {label_file})"))
                return _Outcome("skip", ctx.finish())
            if info.width and info.height and (info.width, info.height) != (width, height):
                sizes = f"label {info.width}x{info.height}, photo {width}x{height}"
                ratio_label, ratio_photo = info.width / info.height, width / height
                if abs(ratio_label - ratio_photo) / ratio_photo <= opts.aspect_tolerance:
                    scale = (width / info.width, height / info.height)
                    ctx.add("size_mismatch_rescaled", sizes, "rescaled")
                else:
                    ctx.add("size_mismatch_skipped", sizes + " (aspect ratio differs)")
                    return _Outcome("skip", ctx.finish())
            file_name = photo_rel
        else:
            if not (info.width and info.height):
                ctx.add("missing_size", "no --images and no 이미지 너비/높이 in the label")
                return _Outcome("skip", ctx.finish())
            width, height = info.width, info.height
            # real dumps name the photo after the label's stem, not its 이미지 파일명
            file_name = os.path.join(os.path.dirname(label_rel), Path(label_rel).stem + ".jpg")
        garments, style = extract_garments(data, ctx, scale)
    except LabelError as exc:
        ctx.add(exc.reason, exc.detail)
        return _Outcome("skip", ctx.finish())
    image: dict[str, Any] = {"file_name": file_name.replace(os.sep, "/"), "width": width, "height": height,
                             "source_label": label_rel.replace(os.sep, "/")}
    if info.kfashion_id is not None:
        image["kfashion_id"] = info.kfashion_id
    if info.file_name and info.file_name != os.path.basename(image["file_name"]):
        image["label_file_name"] = info.file_name  # the label's own 이미지 파일명, for tracing
    return _Prepared(ctx, image, garments, style)


def _complete(prep: _Prepared, classes: Classes) -> _Outcome:
    ctx, image = prep.ctx, prep.image
    anns = finish_garments(prep.garments, prep.style, image["width"], image["height"], classes, ctx)
    if not anns:
        ctx.add("no_garments", "no usable garment in the label")
        return _Outcome("skip", ctx.finish())
    return _Outcome("ok", ctx.finish(), image, [dumps(a)[1:] for a in anns])


def _guarded(label_file: str, step: Callable[..., _Prepared | _Outcome], *args: Any) -> _Prepared | _Outcome:
    """``step(*args)``, or a skip naming ``label_file`` and the exception: one label that breaks
    the converter in an unforeseen way must not end a run over a million others."""
    try:
        return step(*args)
    except Exception as exc:  # noqa: BLE001 - recorded in the report, the run goes on
        return _Outcome("skip", [Problem(label_file, "unexpected_error", f"{type(exc).__name__}: {exc}")])


def process_labels(tasks: list[tuple[str, str | None]], opts: _Options) -> list[_Outcome]:
    """Everything for a chunk of labels: read, decode, match photos, clean (polygons measured in
    one batch), serialise. One outcome per task, in order."""
    files = [os.path.join(opts.labels_dir, label) for label, _ in tasks]
    items = [_guarded(f, _prepare, label, photo, opts) for f, (label, photo) in zip(files, tasks)]
    measure_polygons([g for it in items if isinstance(it, _Prepared) for g in it.garments])
    return [_guarded(f, _complete, it, opts.classes) if isinstance(it, _Prepared) else it
            for f, it in zip(files, items)]


def process_label(label_rel: str, photo_rel: str | None, opts: _Options) -> _Outcome:
    """:func:`process_labels` for one label."""
    return process_labels([(label_rel, photo_rel)], opts)[0]


_WORKER_OPTS: _Options | None = None


def _init_worker(opts: _Options) -> None:
    global _WORKER_OPTS
    _WORKER_OPTS = opts


def _process_chunk(chunk: list[tuple[str, str | None]]) -> list[_Outcome]:
    assert _WORKER_OPTS is not None
    return process_labels(chunk, _WORKER_OPTS)


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _run(tasks: Iterable[tuple[str, str | None]], opts: _Options, workers: int, chunk_size: int
         ) -> Iterator[tuple[tuple[str, str | None], _Outcome]]:
    """(task, outcome) in task order; with workers > 1, at most 4 chunks per worker in flight."""
    if workers <= 1:
        for chunk in _chunks(tasks, chunk_size):
            yield from zip(chunk, process_labels(chunk, opts))
        return
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    with mp.get_context(method).Pool(workers, initializer=_init_worker, initargs=(opts,)) as pool:
        pending: deque = deque()
        for chunk in _chunks(tasks, chunk_size):
            pending.append((chunk, pool.apply_async(_process_chunk, (chunk,))))
            while len(pending) >= 4 * workers:
                done_chunk, result = pending.popleft()
                yield from zip(done_chunk, result.get())
        while pending:
            done_chunk, result = pending.popleft()
            yield from zip(done_chunk, result.get())


def iter_label_files(labels_dir: str | Path) -> Iterator[str]:
    """Label paths (``*.json``, case-insensitive) relative to ``labels_dir``, sorted, streamed."""
    root = str(labels_dir)
    if os.path.isfile(root):
        yield os.path.basename(root)
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = os.path.relpath(dirpath, root)
        for name in sorted(filenames):
            if name.lower().endswith(".json") and not name.startswith("."):
                yield name if rel == "." else os.path.join(rel, name)


class PhotoIndex:
    """Photos under a folder, found by stem (``1234``) or name; ambiguity resolved by folder."""

    def __init__(self, images_dir: str | Path):
        self.root = str(images_dir)
        self.by_stem: dict[str, str | list[str]] = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames.sort()
            rel = os.path.relpath(dirpath, self.root)
            for name in sorted(filenames):
                stem, ext = os.path.splitext(name)
                if ext.lower() not in IMAGE_SUFFIXES or name.startswith("."):
                    continue
                path = name if rel == "." else os.path.join(rel, name)
                old = self.by_stem.get(stem)
                if old is None:
                    self.by_stem[stem] = path
                elif isinstance(old, list):
                    old.append(path)
                else:
                    self.by_stem[stem] = [old, path]

    def __len__(self) -> int:
        return sum(len(v) if isinstance(v, list) else 1 for v in self.by_stem.values())

    def __iter__(self) -> Iterator[str]:
        for v in self.by_stem.values():
            yield from (v if isinstance(v, list) else (v,))

    def match(self, stem: str, near: str = "", name: str | None = None) -> str | None:
        """Photo with this ``stem``; among several, the one named ``name`` or in folder ``near``."""
        found = self.by_stem.get(stem)
        if found is None or isinstance(found, str):
            return found
        if name:
            for p in found:
                if os.path.basename(p) == name:
                    return p
        # the photo whose folder path ends like the label's (labels/street/x.json ->
        # images/street/x.jpg, whatever the roots are called); the first one on a tie
        want = near.split(os.sep)[::-1] if near else []

        def shared_tail(p: str) -> int:
            have = os.path.dirname(p).split(os.sep)[::-1]
            n = 0
            while n < min(len(want), len(have)) and want[n] == have[n]:
                n += 1
            return n + (os.path.dirname(p) == near)  # an exact folder match wins outright

        return max(found, key=shared_tail)

    def match_label(self, label_rel: str) -> str | None:
        stem = os.path.splitext(os.path.basename(label_rel))[0]
        return self.match(stem, os.path.dirname(label_rel))

    def match_name(self, file_name: str, label_rel: str) -> str | None:
        base = os.path.basename(file_name.replace("\\", "/"))
        return self.match(os.path.splitext(base)[0], os.path.dirname(label_rel), base)


def convert_kfashion_to_file(
    labels_dir: str | Path,
    out: str | Path,
    images_dir: str | Path | None = None,
    *,
    classes: Classes = "part",
    workers: int = 1,
    full_decode: bool = False,
    chunk_size: int = 64,
    on_progress: Callable[[int], None] | None = None,
) -> Report:
    """Convert a K-Fashion label tree to a COCO file at ``out``, streaming; returns the report.

    Labels are matched to photos under ``images_dir`` by file stem, then by ``이미지 파일명``;
    without ``images_dir`` sizes and file names come from the JSON. Photo sizes are read from
    headers (truncated JPEGs are caught); ``full_decode`` decodes every photo instead.
    ``on_progress(n)`` is called with the number of labels done so far.
    """
    if classes not in ("part", "category"):
        raise ValueError(f"unknown classes {classes!r}: use 'part' or 'category'")
    labels_dir = str(labels_dir)
    if not os.path.exists(labels_dir):
        raise FileNotFoundError(f"labels folder not found: {labels_dir}")
    if images_dir is not None and not os.path.isdir(images_dir):
        raise FileNotFoundError(f"images folder not found: {images_dir}")
    labels_root = labels_dir if os.path.isdir(labels_dir) else os.path.dirname(labels_dir)
    opts = _Options(labels_root, None if images_dir is None else str(images_dir), classes, full_decode)
    report = Report("convert kfashion")
    index = PhotoIndex(images_dir) if images_dir is not None else None
    used: set[str] = set()  # photos in the output
    matched: set[str] = set()  # photos some label matched (used or not)
    seen_ids: set = set()
    state = {"image_id": 0, "ann_id": 0, "done": 0}
    header = {"info": coco_info("K-Fashion labels converted by garmentparse", classes,
                                labels=labels_dir, images=None if images_dir is None else str(images_dir)),
              "licenses": []}
    writer = CocoStreamWriter(out, header, coco_categories(classes))
    resolve: list[tuple[str, str]] = []

    def handle(task: tuple[str, str | None], outcome: _Outcome) -> None:
        report.counts["label_files"] += outcome.status != "resolve"
        if outcome.status == "resolve":
            resolve.append((task[0], outcome.name or ""))
            return
        state["done"] += 1
        if on_progress is not None:
            on_progress(state["done"])
        report.extend(outcome.issues)
        if task[1] is not None:
            matched.add(task[1])
        if outcome.status != "ok":
            report.counts["labels_skipped"] += 1
            return
        image = outcome.image
        photo = task[1]
        if photo is not None:
            if photo in used:
                report.add(os.path.join(labels_dir, task[0]), "duplicate_photo",
                           f"photo {photo} already used by an earlier label")
                report.counts["labels_skipped"] += 1
                return
            used.add(photo)
        kid = image.get("kfashion_id")
        if kid is not None:
            if kid in seen_ids:
                report.add(os.path.join(labels_dir, task[0]), "duplicate_image_id",
                           f"이미지 식별자 {kid} seen before", "kept, new COCO id")
            seen_ids.add(kid)
        state["image_id"] += 1
        image_id = state["image_id"]
        writer.add_image({"id": image_id, **image})
        for frag in outcome.fragments or []:
            state["ann_id"] += 1
            writer.add_annotation_fragment(state["ann_id"], image_id, frag)

    try:
        tasks: Iterable[tuple[str, str | None]]
        if index is None:
            tasks = ((rel, None) for rel in iter_label_files(labels_dir))
        else:
            tasks = ((rel, index.match_label(rel)) for rel in iter_label_files(labels_dir))
        for task, outcome in _run(tasks, opts, workers, chunk_size):
            handle(task, outcome)
        if resolve:  # second pass: labels whose stem matched no photo, by 이미지 파일명
            second: list[tuple[str, str | None]] = []
            for rel, name in resolve:
                photo = index.match_name(name, rel) if index is not None else None
                if photo is None:
                    report.add(os.path.join(labels_dir, rel), "label_without_image",
                               f"no photo named like the label or its 이미지 파일명 {name!r}")
                    report.counts["label_files"] += 1
                    report.counts["labels_skipped"] += 1
                    state["done"] += 1
                    if on_progress is not None:
                        on_progress(state["done"])
                else:
                    second.append((rel, photo))
            for task, outcome in _run(second, opts, workers, chunk_size):
                handle(task, outcome)
        if index is not None:
            for photo in index:
                if photo not in matched:
                    report.add(os.path.join(str(images_dir), photo), "image_without_label",
                               "no label matched this photo", "not in output")
        writer.close()
    except BaseException:
        writer.abort()
        raise
    report.counts["images"] = writer.n_images
    report.counts["annotations"] = writer.n_annotations
    report.counts.setdefault("labels_skipped", 0)
    if index is not None:
        report.counts["photos"] = len(index)
    return report


def convert_kfashion(
    labels_dir: str | Path,
    images_dir: str | Path | None = None,
    *,
    classes: Classes = "part",
    workers: int = 1,
    full_decode: bool = False,
) -> tuple[dict[str, Any], Report]:
    """In-memory variant of :func:`convert_kfashion_to_file` (for small data): (COCO dict, report)."""
    with tempfile.TemporaryDirectory(prefix="garmentparse-") as tmp:
        out = os.path.join(tmp, "coco.json")
        report = convert_kfashion_to_file(labels_dir, out, images_dir, classes=classes,
                                          workers=workers, full_decode=full_decode)
        return load_coco(out), report
