"""Runs side by side: the garments of two tag runs matched by mask IoU on the photos both have
garments on (``garment_matches``), and each run's accuracy against what reviewers decided.

A run's labels are what it predicted (its predictions, and the part as detected: the value
before any review changed it), so matches do not go stale when garments are reviewed. The store
keeps garments, not which photos a run saw: a photo a run found nothing on is not one of its
photos. Photos are read in chunks (keyset on their id): memory stays flat in catalogue size.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePath
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from garmentparse import masks
from garmentparse.store.ids import parse_int
from garmentparse.store.models import (CONFIRMED, CORRECTED, PART_HEAD, PREDICTED, REJECTED, Accepted, Correction,
                                       Garment, GarmentMatch, Photo, Prediction, TagRun)
from garmentparse.store.records import (Comparison, GarmentMatchInfo, HeadAccuracy, MatchCounts, NotFound,
                                        PhotoComparison, RunAccuracy)

CHUNK = 100  # photos per round trip
Labels = dict[str, str | None]
_GENERIC_STEMS = ("model", "best", "last", "final", "checkpoint")


@dataclass
class _Garment:
    id: int
    run_id: int
    state: str
    updated_at: datetime
    rle: dict[str, Any]
    labels: Labels = field(default_factory=dict)  # what its run predicted
    truth: Labels = field(default_factory=dict)  # heads a reviewer confirmed or corrected


def same_label(a: str | None, b: str | None) -> bool:
    """Equal labels; multi-label values (``a|b``) as sets."""
    return a == b or (a is not None and b is not None and set(a.split("|")) == set(b.split("|")))


def _load(s: Session, photos: Sequence[int], runs: Sequence[int] = ()) -> dict[int, list[_Garment]]:
    """The garments on ``photos`` (of ``runs``, or all), by photo, with their labels and truth."""
    where = [Garment.photo_id.in_(photos), *([Garment.run_id.in_(runs)] if runs else [])]
    by_id: dict[int, _Garment] = {}
    by_photo: dict[int, list[_Garment]] = {}
    for gid, pid, run, state, updated, h, w, counts in s.execute(sa.select(
            Garment.id, Garment.photo_id, Garment.run_id, Garment.state, Garment.updated_at, Garment.mask_height,
            Garment.mask_width, Garment.mask_counts).where(*where).order_by(Garment.id)):
        by_id[gid] = g = _Garment(gid, run, state, updated, {"size": [h, w], "counts": counts})
        by_photo.setdefault(pid, []).append(g)
    for gid, head, label in s.execute(sa.select(Prediction.garment_id, Prediction.head, Prediction.label)
                                      .join(Garment, Garment.id == Prediction.garment_id).where(*where)):
        by_id[gid].labels[head] = label
    for gid, head, value, state in s.execute(sa.select(Accepted.garment_id, Accepted.head, Accepted.value,
                                                       Accepted.state)
                                             .join(Garment, Garment.id == Accepted.garment_id).where(*where)):
        if head == PART_HEAD:
            by_id[gid].labels[head] = value
        if state in (CONFIRMED, CORRECTED):
            by_id[gid].truth[head] = value
    # a corrected part: the detector said what the value was before the first change (newest first here)
    for gid, old in s.execute(sa.select(Correction.garment_id, Correction.old_value)
                              .join(Garment, Garment.id == Correction.garment_id)
                              .where(*where, Correction.head == PART_HEAD).order_by(Correction.id.desc())):
        by_id[gid].labels[PART_HEAD] = old
    return by_photo


def _match(a: list[_Garment], b: list[_Garment], threshold: float) -> list[tuple[int, int, float]]:
    """:func:`masks.match` of two runs' garments on one photo (masks of one size compared only)."""
    pairs = []
    for size in {tuple(g.rle["size"]) for g in a}:
        ia = [i for i, g in enumerate(a) if tuple(g.rle["size"]) == size]
        ib = [j for j, g in enumerate(b) if tuple(g.rle["size"]) == size]
        pairs += [(ia[i], ib[j], iou) for i, j, iou in
                  masks.match([a[i].rle for i in ia], [b[j].rle for j in ib], threshold)]
    return pairs


def _overlaps(g: _Garment, kept: list[_Garment], threshold: float) -> bool:
    others = [k.rle for k in kept if k.rle["size"] == g.rle["size"]]
    return bool(others) and float(masks.iou([g.rle], others).max()) >= threshold


# ---------------------------------------------------------------------------- matching two runs


def _pair(run_a: int, run_b: int) -> tuple[sa.ColumnElement[bool], ...]:
    return GarmentMatch.run_a == run_a, GarmentMatch.run_b == run_b


def _common_photos(s: Session, run_a: int, run_b: int) -> Iterator[list[int]]:
    """Ids of the photos both runs have garments on, in chunks, ascending."""
    other = aliased(Garment)
    last = 0
    while True:
        photos = list(s.scalars(sa.select(Garment.photo_id).distinct().where(
            Garment.run_id == run_a, Garment.photo_id > last,
            sa.exists().where(other.run_id == run_b, other.photo_id == Garment.photo_id))
            .order_by(Garment.photo_id).limit(CHUNK)))
        if not photos:
            return
        yield photos
        last = photos[-1]


def _photo_matches(pair: dict[str, int], a: list[_Garment], b: list[_Garment], threshold: float) -> list[dict]:
    rows = []
    for i, j, iou in _match(a, b, threshold):
        la, lb = a[i].labels, b[j].labels
        heads = {h: [la[h], lb[h]] for h in la if h in lb and not same_label(la[h], lb[h])}
        rows.append({**pair, "garment_a": a[i].id, "garment_b": b[j].id, "iou": iou, "heads": heads})
    paired_a, paired_b = {r["garment_a"] for r in rows}, {r["garment_b"] for r in rows}
    rows += [{**pair, "garment_a": g.id, "garment_b": None, "iou": 0.0,
              "heads": {h: [v, None] for h, v in g.labels.items()}} for g in a if g.id not in paired_a]
    rows += [{**pair, "garment_a": None, "garment_b": g.id, "iou": 0.0,
              "heads": {h: [None, v] for h, v in g.labels.items()}} for g in b if g.id not in paired_b]
    for r in rows:
        r["disagreements"] = len(r["heads"])
    return rows


def match_runs(s: Session, run_a: int, run_b: int, threshold: float = 0.5) -> MatchCounts:
    """Replace the ``garment_matches`` of the ordered pair (in ``s``, a write transaction):
    per photo both runs have garments on, one-to-one greedy mask-IoU pairs (at least
    ``threshold``), and a row for each garment only one run found (every head differs)."""
    if run_a == run_b:
        raise ValueError("compare a run with another run")
    if not 0 < threshold <= 1:
        raise ValueError(f"IoU threshold {threshold} outside (0, 1]")
    # lock both runs: two first uses of one pair at once match one after the other
    found = set(s.scalars(sa.select(TagRun.id).where(TagRun.id.in_((run_a, run_b))).with_for_update()))
    if missing := {run_a, run_b} - found:
        raise NotFound(f"no tag run {min(missing)}")
    s.execute(sa.delete(GarmentMatch).where(*_pair(run_a, run_b)))
    counts: Counter[str] = Counter()
    pair = {"run_a": run_a, "run_b": run_b}
    for photos in _common_photos(s, run_a, run_b):
        garments = _load(s, photos, (run_a, run_b))
        rows = []
        for pid in photos:
            on = garments.get(pid, [])
            rows += _photo_matches({**pair, "photo_id": pid}, [g for g in on if g.run_id == run_a],
                                   [g for g in on if g.run_id == run_b], threshold)
        s.execute(sa.insert(GarmentMatch.__table__), rows)
        counts["photos"] += len(photos)
        for r in rows:
            counts["only_b" if r["garment_a"] is None else "only_a" if r["garment_b"] is None else "matched"] += 1
            counts["changed"] += r["garment_a"] is not None and r["garment_b"] is not None and r["disagreements"] > 0
    return MatchCounts(counts["photos"], counts["matched"], counts["only_a"], counts["only_b"], counts["changed"])


def has_matches(s: Session, run_a: int, run_b: int) -> bool:
    return s.scalar(sa.select(GarmentMatch.id).where(*_pair(run_a, run_b)).limit(1)) is not None


def pair_counts(s: Session, run_a: int, run_b: int) -> MatchCounts:
    """:class:`MatchCounts` of the pair's rows as they are."""
    a, b = GarmentMatch.garment_a.is_not(None), GarmentMatch.garment_b.is_not(None)

    def n(cond: sa.ColumnElement[bool]) -> Any:
        return sa.func.coalesce(sa.func.sum(sa.case((cond, 1), else_=0)), 0)

    row = s.execute(sa.select(sa.func.count(sa.distinct(GarmentMatch.photo_id)), n(a & b), n(a & ~b), n(~a & b),
                              n(a & b & (GarmentMatch.disagreements > 0))).where(*_pair(run_a, run_b))).one()
    return MatchCounts(*(int(v) for v in row))


def compare(s: Session, run_a: int, run_b: int, *, limit: int = 10, cursor: str | None = None) -> Comparison:
    """The pair's photos, most disagreements first (then by id), each with its garment matches."""
    total = sa.func.sum(GarmentMatch.disagreements)
    q = sa.select(GarmentMatch.photo_id, total).where(*_pair(run_a, run_b)).group_by(GarmentMatch.photo_id)
    if cursor is not None:
        t, pid = parse_cursor(cursor)
        q = q.having(sa.or_(total < t, sa.and_(total == t, GarmentMatch.photo_id > pid)))
    page = [(pid, int(t)) for pid, t in s.execute(q.order_by(total.desc(), GarmentMatch.photo_id).limit(limit + 1))]
    more, page = len(page) > limit, page[:limit]
    ids = [pid for pid, _ in page]
    paths = dict(s.execute(sa.select(Photo.id, Photo.path).where(Photo.id.in_(ids))).all()) if ids else {}
    matches: dict[int, list[GarmentMatchInfo]] = {pid: [] for pid in ids}
    rows = s.scalars(sa.select(GarmentMatch).where(*_pair(run_a, run_b), GarmentMatch.photo_id.in_(ids))) if ids else []
    for m in rows:
        matches[m.photo_id].append(match_info(m))
    big = float("inf")
    photos = [PhotoComparison(pid, paths[pid], t, sorted(matches[pid], key=lambda m: (
        -m.disagreements, m.garment_a or big, m.garment_b or big))) for pid, t in page]
    next_cursor = f"{page[-1][1]}:{page[-1][0]}" if more else None
    return Comparison(run_a, run_b, pair_counts(s, run_a, run_b), photos, next_cursor)


def match_info(m: GarmentMatch) -> GarmentMatchInfo:
    return GarmentMatchInfo(m.garment_a, m.garment_b, m.iou, m.disagreements, {h: (v[0], v[1]) for h, v in m.heads.items()})


def parse_cursor(cursor: str, key: Callable[[str], Any] = parse_int) -> tuple[Any, int]:
    """A keyset cursor ``KEY:ID`` (``key`` reads KEY: :func:`parse_int`, or :func:`parse_float`
    for probabilities); ValueError for anything else."""
    try:
        value, gid = cursor.split(":")
        return key(value), parse_int(gid)
    except ValueError:
        raise ValueError(f"bad page cursor {cursor[:40]!r}") from None


# ---------------------------------------------------------------------------- accuracy against reviewed truth


@dataclass
class _Tally:
    truth: int = 0
    found: int = 0
    false_positives: int = 0
    heads: dict[str, list[int]] = field(default_factory=dict)  # head -> [correct, total]

    def add(self, head: str, correct: bool) -> None:
        tally = self.heads.setdefault(head, [0, 0])
        tally[0] += correct
        tally[1] += 1


def _truth_photos(s: Session) -> Iterator[list[int]]:
    """Ids of photos with a reviewed garment (of any run), in chunks, ascending."""
    last = 0
    while True:
        photos = list(s.scalars(sa.select(Garment.photo_id).distinct().where(
            Garment.state != PREDICTED, Garment.photo_id > last).order_by(Garment.photo_id).limit(CHUNK)))
        if not photos:
            return
        yield photos
        last = photos[-1]


def _score(tally: _Tally, run: int, on: list[_Garment], threshold: float) -> None:
    """One run's garments on one photo against the photo's reviewed garments."""
    mine = [g for g in on if g.run_id == run]
    own = [g for g in mine if g.state != PREDICTED]  # reviewed in its own run: it is its own truth
    truth = list(own)
    for g in sorted((g for g in on if g.run_id != run and g.state != PREDICTED), key=lambda g: g.updated_at,
                    reverse=True):  # one truth per garment on the photo: own reviews first, then the latest
        if not _overlaps(g, truth, threshold):
            truth.append(g)
    rest, others = [g for g in mine if g.state == PREDICTED], truth[len(own):]
    pairs = [(g, g) for g in own] + [(rest[i], others[j]) for i, j, _ in _match(rest, others, threshold)]
    tally.truth += sum(t.state != REJECTED for t in truth)
    for g, t in pairs:
        if t.state == REJECTED:  # not a garment
            tally.false_positives += 1
            tally.add(PART_HEAD, False)
            continue
        tally.found += 1
        for head, value in t.truth.items():
            if head in g.labels:
                tally.add(head, same_label(g.labels[head], value))


def model_names(models: dict[str, Any], record: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Role -> (name, sha256) of a run's models: the name from the run record's ``model_files``
    (a release model's file is named after it; ``det/model.pt`` reads ``det/model``; "" unknown)."""
    files = record.get("model_files") or {}
    out = {}
    for role, sha in models.items():
        f = files.get(role)
        ref = (f.get("name") or f.get("path")) if isinstance(f, dict) else f
        name = ""
        if isinstance(ref, str) and ref:
            p = PurePath(ref)
            name = f"{p.parent.name}/{p.stem}" if p.stem in _GENERIC_STEMS and p.parent.name else p.stem
        out[role] = (name, str(sha))
    return out


def run_accuracy(s: Session, threshold: float = 0.5) -> list[RunAccuracy]:
    """Every tag run, oldest first, against reviewed truth: the reviewed garments of any run on
    the photos it has garments on (a rejected part: not a garment), matched to its garments by
    mask IoU (at least ``threshold``; a garment reviewed in its own run matches itself)."""
    runs = s.execute(sa.select(TagRun.id, TagRun.created_at, TagRun.models, TagRun.record).order_by(TagRun.id)).all()
    reviewed = sa.func.coalesce(sa.func.sum(sa.case((Garment.state != PREDICTED, 1), else_=0)), 0)
    sizes = {run: (int(p), int(g), int(r)) for run, p, g, r in s.execute(
        sa.select(Garment.run_id, sa.func.count(sa.distinct(Garment.photo_id)), sa.func.count(), reviewed)
        .group_by(Garment.run_id))}
    tallies = {run.id: _Tally() for run in runs}
    for photos in _truth_photos(s):
        for on in _load(s, photos).values():
            for run in {g.run_id for g in on}:
                _score(tallies[run], run, on, threshold)
    out = []
    for run_id, created, models, record in runs:
        t = tallies[run_id]
        heads = {h: HeadAccuracy(*t.heads[h]) for h in sorted(t.heads, key=lambda h: (h != PART_HEAD, h))}
        out.append(RunAccuracy(run_id, created, model_names(models or {}, record or {}), *sizes.get(run_id, (0, 0, 0)),
                               t.truth, t.found, t.false_positives, heads))
    return out
