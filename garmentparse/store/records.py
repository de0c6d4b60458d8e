"""What the store hands out: plain frozen dataclasses (no ORM objects, no sessions)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


def run_label(run_id: int, created_at: datetime, names: Iterable[str]) -> str:
    """How pages name a run: ``#3 2026-12-07 · ccp-lite0-detector + ccp-lite0-classifier`` (the
    models' names; only the number and day when the run record names none)."""
    known = " + ".join(n for n in names if n)
    return f"#{run_id} {created_at:%Y-%m-%d}" + (f" · {known}" if known else "")


@dataclass(frozen=True)
class RunInfo:
    id: int
    key: str
    models: dict[str, str]  # role -> sha256
    settings: dict[str, Any]
    source: str
    images_root: str | None
    created_at: datetime
    names: dict[str, str] = field(default_factory=dict)  # role -> model name ("" when unknown)

    @property
    def label(self) -> str:
        return run_label(self.id, self.created_at, self.names.values())


@dataclass(frozen=True)
class PhotoInfo:
    id: int
    path: str
    sha256: str | None
    size: int | None
    width: int | None
    height: int | None
    error: str | None
    product_id: int | None


@dataclass(frozen=True)
class GarmentSummary:
    """One gallery / queue tile."""

    id: int
    photo_id: int
    photo_path: str
    run_id: int
    part: str
    score: float
    box: tuple[float, float, float, float]  # x0, y0, x1, y1
    confidence: float
    state: str
    version: int
    updated_at: datetime
    margin: float = 1.0  # lowest head margin (top-1 minus top-2 probability)


@dataclass(frozen=True)
class HeadValue:
    """One head of one garment: accepted value and state, next to what the model said."""

    head: str
    value: str | None  # multi-label heads: "|"-joined ids
    state: str
    predicted: str | None
    probability: float | None
    top_k: list[tuple[str, float]] = field(default_factory=list)
    margin: float = 1.0  # top-1 minus top-2 probability (1.0: unknown)


@dataclass(frozen=True)
class CorrectionInfo:
    id: int
    garment_id: int
    version: int
    head: str
    old_value: str | None
    new_value: str | None
    old_state: str
    new_state: str
    username: str
    comment: str
    created_at: datetime


@dataclass(frozen=True)
class GarmentDetail:
    """Everything the review page shows for one garment (``version`` goes back with a decision)."""

    garment: GarmentSummary
    mask: dict[str, Any]  # COCO RLE, counts as str
    heads: dict[str, HeadValue]
    history: list[CorrectionInfo]

    @property
    def version(self) -> int:
        return self.garment.version


@dataclass(frozen=True)
class Page:
    """A keyset page: pass ``next_cursor`` back for the next page (``None``: last page)."""

    items: list[GarmentSummary]
    next_cursor: str | None


@dataclass(frozen=True)
class GalleryFilter:
    """Gallery filters; all optional, combined with AND. ``head``+``value`` match accepted values."""

    part: str | None = None
    states: tuple[str, ...] = ()
    run_id: int | None = None
    photo_id: int | None = None
    head: str | None = None
    value: str | None = None
    min_confidence: float | None = None
    max_confidence: float | None = None
    product_id: int | None = None
    path_text: str | None = None  # substring of the photo path, case-insensitive


@dataclass(frozen=True)
class Decision:
    """A reviewer's decision on one head: ``confirmed``, ``corrected`` (with ``value``) or
    ``rejected`` (the label is wrong; on head ``part``: not a garment at all)."""

    head: str
    state: str
    value: str | None = None


@dataclass(frozen=True)
class Dashboard:
    photos: int
    garments: int
    runs: int
    users: int
    corrections: int
    by_state: dict[str, int]
    by_part: dict[str, int]
    heads: dict[str, dict[str, int]]  # head -> state -> count
    reviewers: dict[str, int]  # username -> logged decisions


@dataclass(frozen=True)
class MatchCounts:
    """Garments of two runs matched on the photos both have garments on."""

    photos: int  # photos with garments of both runs
    matched: int  # garment pairs (mask IoU at least the threshold)
    only_a: int  # garments of run A that run B did not find
    only_b: int
    changed: int  # pairs whose labels differ (part included)


@dataclass(frozen=True)
class GarmentMatchInfo:
    """A garment of run A and its match in run B (either ``None`` when only one run found it);
    ``heads``: head -> (label of A, label of B) where they differ."""

    garment_a: int | None
    garment_b: int | None
    iou: float
    disagreements: int
    heads: dict[str, tuple[str | None, str | None]]


@dataclass(frozen=True)
class PhotoComparison:
    photo_id: int
    path: str
    disagreements: int  # over the photo's garments
    matches: list[GarmentMatchInfo]  # most disagreements first


@dataclass(frozen=True)
class Comparison:
    """Two runs photo by photo, photos with the most label changes first (keyset pages)."""

    run_a: int
    run_b: int
    counts: MatchCounts
    photos: list[PhotoComparison]
    next_cursor: str | None


@dataclass(frozen=True)
class HeadAccuracy:
    correct: int
    total: int

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.total if self.total else None


@dataclass(frozen=True)
class RunAccuracy:
    """One tag run against reviewed truth (reviewed garments of any run on the photos it has
    garments on, matched by mask IoU)."""

    run_id: int
    created_at: datetime
    models: dict[str, tuple[str, str]]  # role -> (name, sha256)
    photos: int
    garments: int
    reviewed: int  # of its own garments
    truth: int  # truth garments on its photos
    found: int  # of those, matched by one of its garments
    false_positives: int  # its garments on a garment reviewers rejected (not a garment)
    heads: dict[str, HeadAccuracy]  # part first

    @property
    def label(self) -> str:
        return run_label(self.run_id, self.created_at, (name for name, _ in self.models.values()))

    @property
    def recall(self) -> float | None:
        return self.found / self.truth if self.truth else None

    @property
    def accuracy(self) -> float | None:
        """Over every head's reviewed values together."""
        total = sum(h.total for h in self.heads.values())
        return sum(h.correct for h in self.heads.values()) / total if total else None


@dataclass(frozen=True)
class UserInfo:
    """A user; ``session_version`` changes when their sessions must end (role or password changed)."""

    id: int
    name: str
    role: str
    created_at: datetime
    session_version: int = 0


@dataclass(frozen=True)
class ProductInfo:
    id: int
    sku: str
    name: str
    attributes: dict[str, str] = field(default_factory=dict)  # head -> accepted value
    photo_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class ReviewedPhoto:
    """A photo's reviewed garments in one tag run (the run with the most complete review of it):
    ``kept`` confirmed or corrected garment ids, ``rejected`` ones (not garments); ``complete``
    when no garment of that run on the photo is still unreviewed (its garments are then the
    photo's whole truth: what the detector may learn from, rejected ones as background)."""

    photo_id: int
    path: str
    width: int
    height: int
    run_id: int
    kept: tuple[int, ...]
    rejected: tuple[int, ...]
    complete: bool


class ReviewConflict(Exception):
    """Someone else changed the garment since ``expected`` was read: nothing was written.
    ``current`` is the garment now; ``changes`` the log entries made after ``expected``."""

    def __init__(self, garment_id: int, expected: int, current: GarmentDetail, changes: list[CorrectionInfo]):
        who = sorted({c.username for c in changes}) or ["someone"]
        super().__init__(f"garment {garment_id} changed by {', '.join(who)} (version {expected} -> "
                         f"{current.version}); reload and decide again")
        self.garment_id = garment_id
        self.expected = expected
        self.current = current
        self.changes = changes


class NotFound(LookupError):
    """No such garment / user / photo."""
