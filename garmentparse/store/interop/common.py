"""What the interchange formats share: garments going out, reviewed regions coming back.

Going out, a photo is a dict ``{path, width, height}`` (plus ``photo_id``, ``run`` and ``model``
when it comes from the catalogue) with a list of garment dicts ``{key, part, score, confidence,
mask (COCO RLE), attributes: {head: (value, probability)}}``; ``value`` is ``"|"``-joined for
multi-label heads. Coming back, a file is a list of :class:`Reviewed` photos, each with the
:class:`Region` s a reviewer left on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from garmentparse import masks, vocab
from garmentparse.report import Problem

# Keys CVAT and Datumaro add to every annotation's attributes: not garment heads.
TOOL_ATTRIBUTES = frozenset(("occluded", "rotation", "track_id", "keyframe", "is_crowd", "z_order", "score"))


@dataclass(frozen=True)
class Region:
    """One garment as a reviewer left it: its part label, mask and attribute values."""

    where: str  # FILE:tasks[3].annotations[0].result[5]
    label: str  # a part id (checked)
    mask: masks.RLE  # COCO RLE at the size the reviewer saw the photo
    attributes: dict[str, str] = field(default_factory=dict)  # head -> value ("a|b" for several)


@dataclass
class Reviewed:
    """One reviewed photo: the regions on it, and what was wrong with the rest of it."""

    where: str
    path: str
    size: tuple[int, int] | None  # (height, width) of the photo the reviewer saw
    run: int | None = None  # the tag run the task was made from, when it says so
    regions: list[Region] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    note: str = ""  # e.g. "annotation 7 by mina@example.com"


def part_id(label: Any) -> str | None:
    """The part id of a label written as an id or a Korean name; ``None`` when it is none."""
    if not isinstance(label, str):
        return None
    return label if label in vocab.PARTS else vocab.PART_BY_KOREAN.get(label)


def outlines(rle: masks.RLE) -> list[list[float]]:
    """A mask's outer contours as flat ``[x1, y1, ...]`` polygons through pixel centres (pixel
    ``i`` spans ``[i, i+1)``), largest first; holes are not kept."""
    polygons = [[v + 0.5 for v in p] for p in masks.mask_to_polygons(masks.decode(rle))]
    return sorted(polygons, key=_area, reverse=True)


def _area(flat: list[float]) -> float:
    x, y = np.asarray(flat[0::2]), np.asarray(flat[1::2])
    return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


def head_values(heads: dict[str, set[str]]) -> dict[str, list[str]]:
    """The values offered per head: the vocabulary's, else (a head of its own) the ones seen."""
    out = {}
    for head, seen in heads.items():
        attr = vocab.ATTRIBUTES.get(head)
        out[head] = attr.values if attr is not None else sorted(seen)
    return out


def is_multi(head: str) -> bool:
    attr = vocab.ATTRIBUTES.get(head)
    return attr is not None and attr.multi_label
