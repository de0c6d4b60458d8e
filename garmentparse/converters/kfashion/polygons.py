"""Garment polygons: reading ``X좌표k``/``Y좌표k`` points, measuring many polygons in one
vectorised shapely call, and repairing / clipping the ones that need it into COCO polygons."""

from __future__ import annotations

import math

import numpy as np
import shapely
import shapely.ops
from shapely.geometry import LineString, Polygon, box

from .reasons import IssueLog

#: COCO ``(segmentation, area, bbox)`` of one garment.
Geometry = tuple[list[list[float]], float, list[float]]

_NUMERIC = {float, int}
_XKEYS = [f"X좌표{k}" for k in range(1, 2049)]
_YKEYS = [f"Y좌표{k}" for k in range(1, 2049)]


def _key_order(n: int) -> list[str]:
    """``X좌표1, Y좌표1, ..., X좌표n, Y좌표n``: the key order annotation tools write (cached per n)."""
    order = _ORDER.get(n)
    if order is None:
        order = _ORDER[n] = [key for pair in zip(_XKEYS[:n], _YKEYS[:n]) for key in pair]
    return order


_ORDER: dict[int, list[str]] = {}


def _numbers_ok(values: list) -> bool:
    """Every value a finite JSON number (int or float, not bool): the fast path's condition."""
    kinds = set(map(type, values))
    if not kinds <= _NUMERIC:
        return False
    try:
        # a sum of finite numbers is finite unless it overflows; then look at each value
        return math.isfinite(sum(values)) or all(map(math.isfinite, values))
    except OverflowError:  # an int beyond float range: the careful path below drops it
        return False


def polygon_points(poly: dict, log: IssueLog, where: str) -> tuple[list[float], list[float]]:
    """(xs, ys) of the ``X좌표k``/``Y좌표k`` pairs in numeric order of k.

    Keys arrive unordered; numbers may be strings (counted), non-numbers and unpaired indices are
    dropped and reported. Well-formed polygons (keys 1..n, JSON numbers) take a fast path.
    """
    xs, ys, _ = read_polygon(poly, log, where)
    return xs, ys


def read_polygon(poly: dict, log: IssueLog, where: str) -> tuple[list[float], list[float], list[float] | None]:
    """:func:`polygon_points` plus, when the keys come in the order tools write them
    (X1, Y1, X2, Y2, ...) and hold JSON numbers, the values as they are: the COCO
    ``[x1, y1, x2, y2, ...]`` at no cost (else None)."""
    n = len(poly) // 2
    if 2 * n == len(poly) and 0 < n <= len(_XKEYS):
        if list(poly) == _key_order(n):
            values = list(poly.values())
            if _numbers_ok(values):
                return values[0::2], values[1::2], values
        else:
            try:
                xs = [poly[k] for k in _XKEYS[:n]]
                ys = [poly[k] for k in _YKEYS[:n]]
            except KeyError:
                xs = ys = None
            if xs is not None and ys is not None and _numbers_ok(xs + ys):
                return xs, ys, None
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
        v = log.number(value)
        if v is None:
            bad += 1
            continue
        (xd if axis == "X" else yd)[k] = v
    if bad:
        log.add("invalid_coordinate", f"{where}: {bad} non-numeric coordinates", "point dropped")
    unpaired = xd.keys() ^ yd.keys()
    if unpaired:
        log.add("unpaired_coordinates", f"{where}: indices {sorted(unpaired)[:10]} have only X or Y",
                "point dropped")
    keys = sorted(xd.keys() & yd.keys())
    return [xd[k] for k in keys], [yd[k] for k in keys], None


def _interleave(xs: list[float], ys: list[float]) -> list[float]:
    """``[x1, y1, x2, y2, ...]``."""
    return [v for xy in zip(xs, ys) for v in xy]


class Outline:
    """A polygon's points plus what :func:`measure_polygons` found (``valid`` None: not measured)."""

    __slots__ = ("xs", "ys", "flat", "valid", "area", "bounds")

    def __init__(self, xs: list[float], ys: list[float], flat: list[float] | None = None):
        self.xs, self.ys = xs, ys
        self.flat = flat  # [x1, y1, x2, y2, ...] when already at hand (else built when needed)
        self.valid: bool | None = None  # None: not measured, take the careful path
        self.area = 0.0
        self.bounds: list[float] = []


def measure_polygons(outlines: list[Outline]) -> None:
    """Validity, area and bounds of many polygons in one vectorised shapely call.

    Batching a whole chunk of labels is what makes full cleaning cheap; if the batch cannot be
    built (a ring shapely rejects), every outline falls back to the careful per-polygon path.
    """
    todo = [g for g in outlines if len(g.xs) >= 3]
    if not todo:
        return
    counts = [len(g.xs) for g in todo]
    flat: list[float] = []
    for g in todo:
        flat += g.flat if g.flat is not None else _interleave(g.xs, g.ys)
    coords = np.array(flat, np.float64).reshape(-1, 2)
    try:
        rings = shapely.linearrings(coords, indices=np.repeat(np.arange(len(todo)), counts))
        geoms = shapely.polygons(rings)
        valid = shapely.is_valid(geoms).tolist()
        area = shapely.area(geoms).tolist()
        bounds = shapely.bounds(geoms).tolist()
    except (ValueError, shapely.errors.GEOSException):
        return
    for g, v, a, b in zip(todo, valid, area, bounds):
        g.valid, g.area, g.bounds = v, a, b


def outline_geometry(outline: Outline, width: int, height: int, log: IssueLog, where: str) -> Geometry | None:
    """COCO geometry of a measured outline: its points as they are when valid and inside the
    image, else :func:`clean_polygon`'s repair. None when nothing usable is left."""
    g = outline
    if g.valid and g.area > 0 and g.bounds[0] >= 0 and g.bounds[1] >= 0 and g.bounds[2] <= width \
            and g.bounds[3] <= height:
        x0, y0, x1, y1 = g.bounds
        return [g.flat if g.flat is not None else _interleave(g.xs, g.ys)], g.area, [x0, y0, x1 - x0, y1 - y0]
    points = np.column_stack([np.asarray(g.xs, np.float64), np.asarray(g.ys, np.float64)]) \
        if g.xs else np.zeros((0, 2))
    return clean_polygon(points, width, height, log, where)


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


def clean_polygon(points: np.ndarray, width: int, height: int, log: IssueLog, where: str
                  ) -> Geometry | None:
    """COCO ``(segmentation, area, bbox)`` of one garment polygon (``points``: (n, 2)), repaired and clipped.

    Valid in-image polygons keep their points exactly; a self-intersecting one is repaired with
    shapely ``make_valid`` (every piece kept); one reaching outside the image is intersected with
    it. ``area`` is the true polygon area (not the box). None when nothing usable is left.
    """
    if len(points) < 3:
        log.add("polygon_too_few_points", f"{where}: {len(points)} points")
        return None
    try:
        poly = shapely.polygons(points)
    except (ValueError, shapely.errors.GEOSException) as exc:
        log.add("degenerate_polygon", f"{where}: {exc}")
        return None
    changed = False
    parts = [poly]
    if not shapely.is_valid(poly):
        reason = shapely.is_valid_reason(poly)
        parts = _polygon_parts(shapely.make_valid(poly))
        if not parts:
            log.add("degenerate_polygon", f"{where}: {reason}")
            return None
        log.add("self_intersection_repaired", f"{where}: {reason}; {len(parts)} piece(s) kept", "repaired")
        changed = True
        x0, y0, x1, y1 = shapely.total_bounds(parts).tolist()
    else:
        x0, y0 = points.min(axis=0).tolist()
        x1, y1 = points.max(axis=0).tolist()
    if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
        frame = box(0, 0, width, height)
        parts = [q for p in parts for q in _polygon_parts(p.intersection(frame))]
        if not parts:
            log.add("polygon_outside_image", f"{where}: bounds {x0:.1f},{y0:.1f},{x1:.1f},{y1:.1f}")
            return None
        log.add("points_clipped", f"{where}: bounds {x0:.1f},{y0:.1f},{x1:.1f},{y1:.1f} in "
                f"{width}x{height}", "clipped")
        changed = True
    if not changed:
        area = float(shapely.area(poly))
        if area <= 0:
            log.add("degenerate_polygon", f"{where}: zero area")
            return None
        return [points.ravel().tolist()], area, [x0, y0, x1 - x0, y1 - y0]
    shells = [q for p in parts for q in _without_holes(p)]
    kept = [(s, flat) for s in shells if _usable(flat := _flat(s.exterior.coords))]
    if not kept:
        log.add("degenerate_polygon", f"{where}: nothing left after repair")
        return None
    shells, seg = [s for s, _ in kept], [flat for _, flat in kept]
    x0, y0, x1, y1 = shapely.total_bounds(shells).tolist()
    area = float(sum(s.area for s in shells))
    return seg, round(area, 2), [round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)]
