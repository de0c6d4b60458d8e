"""A decoded K-Fashion label -> COCO annotations: image info, attributes and style in English
ids, garments with their polygons. Pure functions (dict in, dicts out); problems go to an
:class:`IssueLog`, and a label that cannot be used at all raises :class:`LabelError`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from garmentparse import vocab

from ..coco import Classes, category_ids
from .numbers import INT64_MAX
from .polygons import Outline, measure_polygons, outline_geometry, read_polygon
from .reasons import IssueLog, LabelError


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


def label_image_info(data: Any, log: IssueLog | None = None) -> LabelImageInfo:
    """The ``이미지 정보`` block: size, 식별자 and 이미지 파일명 (numbers may be strings)."""
    log = log or IssueLog()
    if not isinstance(data, dict):
        raise LabelError("invalid_schema", "top level is not a JSON object")
    info = _section(data, "이미지 정보")
    if not isinstance(info, dict):
        raise LabelError("invalid_schema", "이미지 정보 is not an object")
    w, h = log.number(info.get("이미지 너비")), log.number(info.get("이미지 높이"))
    kid = info.get("이미지 식별자")
    if isinstance(kid, str) and kid.strip().isdigit():
        log.numeric_strings += 1
        kid = int(kid.strip())
    elif isinstance(kid, float) and kid.is_integer():
        kid = int(kid)
    if isinstance(kid, int) and not 0 <= kid <= INT64_MAX:  # JSON writers stop at 64 bits
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


_LOOKUPS: dict[tuple[str, str], str | None] = {}


def _lookup(attribute: str, value: str) -> str | None:
    """:func:`vocab.lookup`, remembered per process (labels repeat the same few hundred values;
    the memo stops growing at 4096 entries, so free-text values cannot fill memory)."""
    key = (attribute, value)
    try:
        return _LOOKUPS[key]
    except KeyError:
        pass
    en = vocab.lookup(attribute, value)
    if len(_LOOKUPS) < 4096:
        _LOOKUPS[key] = en
    return en


def label_attributes(label: dict, log: IssueLog, where: str) -> dict[str, Any]:
    """English-id attributes of one garment's ``라벨링`` entry; unknown values are dropped."""
    out: dict[str, Any] = {}
    for key, value in label.items():
        attr = vocab.ATTRIBUTE_BY_KOREAN.get(key)
        if attr is None:
            log.add("unknown_value", f"{where}: unknown attribute key {key!r}", "value dropped")
            continue
        if attr.multi_label:
            items = value if isinstance(value, list) else [value]
            ids: list[str] = []
            for item in items:
                if item is None or item == "":
                    continue
                en = _lookup(attr.name, str(item))
                if en is None:
                    log.add("unknown_value", f"{where}: {key}={item!r}", "value dropped")
                elif en not in ids:
                    ids.append(en)
            if ids:
                out[attr.name] = ids
        else:
            if isinstance(value, list):
                extra = [v for v in value[1:] if v not in (None, "")]
                if extra:
                    log.add("unknown_value", f"{where}: {key} takes one value; kept {value[0]!r}, "
                            f"dropped {extra!r}", "value dropped")
                value = value[0] if value else None
            if value is None or value == "":
                continue
            en = _lookup(attr.name, str(value))
            if en is None:
                log.add("unknown_value", f"{where}: {key}={value!r}", "value dropped")
            else:
                out[attr.name] = en
    return out


def label_style(labels: dict, log: IssueLog) -> dict[str, Any]:
    """Image-level style (``라벨링/스타일``), copied onto every garment."""
    for entry in _as_list(labels.get("스타일")):
        if isinstance(entry, dict) and entry:
            return {k: v for k, v in label_attributes(entry, log, "스타일").items() if k in ("style", "sub_style")}
    return {}


_KNOWN_PARTS = frozenset(vocab.PARTS.values()) | {"스타일"}
_PARTS = tuple(vocab.PARTS.items())
_CATEGORY_IDS = {classes: category_ids(classes) for classes in ("part", "category")}


class Garment(Outline):
    """One garment on its way through extract -> measure (batched) -> finish."""

    __slots__ = ("part", "where", "labelling")

    def __init__(self, part: str, where: str, labelling: dict, xs: list[float], ys: list[float],
                 flat: list[float] | None = None):
        self.xs, self.ys, self.flat = xs, ys, flat  # Outline.__init__, inlined (one per garment)
        self.valid, self.area, self.bounds = None, 0.0, []
        self.part, self.where, self.labelling = part, where, labelling


def extract_garments(data: Any, log: IssueLog, scale: tuple[float, float] = (1.0, 1.0)
                     ) -> tuple[list[Garment], dict[str, Any]]:
    """Garments (polygon points scaled to the photo, raw labelling) and the image-level style."""
    detail = _section(data, "데이터셋 정보", "데이터셋 상세설명")
    if not isinstance(detail, dict):
        raise LabelError("invalid_schema", "데이터셋 상세설명 is not an object")
    polygons = detail.get("폴리곤좌표") or {}
    labels = detail.get("라벨링") or {}
    if not isinstance(polygons, dict) or not isinstance(labels, dict):
        raise LabelError("invalid_schema", "폴리곤좌표/라벨링 is not an object")
    sx, sy = scale
    if not _KNOWN_PARTS.issuperset(polygons) or not _KNOWN_PARTS.issuperset(labels):
        for key in sorted((set(polygons) | set(labels)) - _KNOWN_PARTS):
            if any(_as_list(polygons.get(key))) or any(_as_list(labels.get(key))):
                log.add("unknown_value", f"unknown part {key!r} (not {'/'.join(vocab.PARTS.values())}): "
                        "its garments are not converted", "value dropped")
    garments: list[Garment] = []
    for part, part_ko in _PARTS:
        plist, llist = polygons.get(part_ko), labels.get(part_ko)
        if type(plist) is not list:
            plist = _as_list(plist)
        if type(llist) is not list:
            llist = _as_list(llist)
        n_plist, n_llist = len(plist), len(llist)
        if n_plist > 1 or n_llist > 1:  # counted only when a part has several garments
            n_poly, n_lab = sum(map(bool, plist)), sum(map(bool, llist))
            if n_poly > n_lab > 0:
                log.add("polygon_label_mismatch", f"{part_ko}: {n_poly} polygons, {n_lab} labels; "
                        "polygons without a label are kept without attributes", "kept")
        for i in range(max(n_plist, n_llist)):
            poly = plist[i] if i < n_plist else None
            lab = llist[i] if i < n_llist else None
            if type(poly) is not dict:
                poly = poly if isinstance(poly, dict) else {}
            if type(lab) is not dict:
                lab = lab if isinstance(lab, dict) else {}
            if not poly:
                if lab:
                    log.add("polygon_missing", f"{part_ko}[{i}]: labelled garment without polygon")
                continue
            where = f"{part_ko}[{i}]"
            xs, ys, flat = read_polygon(poly, log, where)
            if sx != 1.0 or sy != 1.0:
                xs = [round(x * sx, 2) for x in xs]
                ys = [round(y * sy, 2) for y in ys]
                flat = None
            garments.append(Garment(part, where, lab, xs, ys, flat))
    return garments, label_style(labels, log)


def finish_garments(garments: list[Garment], style: dict[str, Any], width: int, height: int,
                    classes: Classes, log: IssueLog) -> list[dict[str, Any]]:
    """COCO annotations (without ids) of measured garments: geometry cleaned, attributes translated."""
    ids = _CATEGORY_IDS.get(classes) or category_ids(classes)
    anns: list[dict[str, Any]] = []
    for g in garments:
        where = g.where
        geo = outline_geometry(g, width, height, log, where)
        if geo is None:
            continue
        attrs = label_attributes(g.labelling, log, where)
        attrs.update(style)
        category = attrs.get("category")
        if category is not None and vocab.part_of(category) != g.part:
            log.add("category_part_mismatch", f"{where}: {category} is a {vocab.part_of(category)} garment",
                    "kept")
        if classes == "category":
            if category is None:
                log.add("missing_category", f"{where}: no known 카테고리")
                continue
            cid = ids[category]
        else:
            cid = ids[g.part]
        seg, area, bbox = geo
        anns.append({"category_id": cid, "segmentation": seg, "area": area, "bbox": bbox,
                     "iscrowd": 0, "part": g.part, "attributes": attrs})
    return anns


def label_garments(data: Any, width: int, height: int, *, scale: tuple[float, float] = (1.0, 1.0),
                   classes: Classes = "part", log: IssueLog | None = None) -> list[dict[str, Any]]:
    """COCO annotations (without ``id``/``image_id``) of every garment of a K-Fashion label.

    Each carries ``category_id`` (part or fine category), ``segmentation`` (polygons),
    ``area``, ``bbox``, ``iscrowd: 0``, ``part`` and ``attributes`` (English ids). ``scale`` maps
    label coordinates to the photo's. Problems go to ``log``.
    """
    log = log or IssueLog()
    garments, style = extract_garments(data, log, scale)
    measure_polygons(garments)
    return finish_garments(garments, style, width, height, classes, log)
