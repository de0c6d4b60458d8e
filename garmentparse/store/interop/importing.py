"""``garmentparse import labelstudio|cvat|coco FILE``: reviewed annotations back as review decisions.

Each reviewed photo's regions are matched one to one to the garments of one tag run on that
photo by mask IoU (:func:`garmentparse.masks.match`); a matched garment gets, by the importing
user, ``confirmed`` for each head whose value the region keeps and ``corrected`` for each it
changes (``part`` included); a head already confirmed or corrected to that value gets nothing,
so importing a file again adds nothing. Regions that match no garment are report problems
(``unmatched_region``, with their label and box): nothing is added for them. Garments no region
matched are rejected (part) only with ``reject_missing``. Bad input (file, task, region) is a
report problem with its place in the file; the rest is imported.
"""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa

from garmentparse import masks
from garmentparse.progress import ProgressCallback, report_progress
from garmentparse.report import Report
from garmentparse.store.api import REVIEWERS, Store, check_label
from garmentparse.store.interop import cvat, labelstudio
from garmentparse.store.interop.common import Region, Reviewed, is_multi
from garmentparse.store.models import CONFIRMED, CORRECTED, PART_HEAD, REJECTED, Garment
from garmentparse.store.records import Decision, GarmentDetail, HeadValue, NotFound, ReviewConflict

FORMATS = ("labelstudio", "cvat", "coco")
REDRAWN_IOU = 0.9  # a matched region further than this from the garment's mask counts as redrawn (masks are not stored)


def import_file(store: Store, path: str | Path, fmt: str, *, user: str, run_id: int | None = None,
                iou: float = 0.5, reject_missing: bool = False, prefix: str = labelstudio.DEFAULT_PREFIX,
                on_progress: ProgressCallback | None = None) -> Report:
    """Import one exported file (see the module doc). Counts ``photos``, ``regions``, ``matched``,
    ``garments_changed``, ``decisions``, ``unmatched_regions``, ``rejected_missing``, ``tasks_unreviewed``."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: use {', '.join(FORMATS)}")
    if not 0 < iou <= 1:
        raise ValueError(f"--iou {iou}: use a value in (0, 1]")
    role = store.user(user).role  # NotFound for no such user
    if role not in REVIEWERS:
        raise PermissionError(f"user {user!r} may not review (role: {role})")
    file = Path(path)
    report = Report(f"import {fmt}")
    try:
        data = json.loads(file.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        report.add(file, "not_json", str(exc), action="nothing imported")
        return report
    if fmt == "labelstudio":
        photos, problems, report.counts["tasks_unreviewed"] = labelstudio.reviewed(data, str(file), prefix)
    else:
        photos, problems = cvat.reviewed(data, str(file))
    report.extend(problems)
    for photo in photos:
        _import_photo(store, photo, report, user=user, run_id=run_id, iou=iou, reject_missing=reject_missing,
                      comment=f"imported from {fmt} {file.name}" + (f" ({photo.note})" if photo.note else ""))
        report_progress(on_progress, report.counts["photos"])
    return report


def _import_photo(store: Store, photo: Reviewed, report: Report, *, user: str, run_id: int | None, iou: float,
                  reject_missing: bool, comment: str) -> None:
    report.extend(photo.problems)
    try:
        info = store.photo_by_path(photo.path)
    except NotFound:
        report.add(photo.where, "photo_not_in_catalogue", photo.path)
        return
    with store.engine.connect() as conn:
        newest = sa.select(sa.func.max(Garment.run_id)).where(Garment.photo_id == info.id)
        run = run_id or photo.run or conn.scalar(newest)
        ids = list(conn.scalars(sa.select(Garment.id).where(Garment.photo_id == info.id, Garment.run_id == run)
                                .order_by(Garment.id)))
    if not ids:
        report.add(photo.where, "no_garments", f"{photo.path} has no garments of run {run}")
        return
    garments = [store.garment(gid) for gid in ids]
    size = (info.height, info.width) if info.height and info.width else tuple(garments[0].mask["size"])
    if photo.regions and photo.size is not None and tuple(photo.size) != size:
        report.add(photo.where, "mask_size", f"annotated on {photo.size[0]}x{photo.size[1]} (h x w) but "
                                             f"{photo.path} is {size[0]}x{size[1]}")
        return
    report.counts["photos"] += 1
    report.counts["regions"] += len(photo.regions)
    pairs = masks.match([r.mask for r in photo.regions], [g.mask for g in garments], iou)
    matched = {i for i, _, _ in pairs}
    for i, region in enumerate(photo.regions):
        if i not in matched:
            best = float(masks.iou([region.mask], [g.mask for g in garments]).max())
            box = [round(v) for v in masks.bbox_xywh(region.mask)]
            report.add(region.where, "unmatched_region",
                       f"{photo.path}: {region.label} at box {box} (x, y, w, h) "
                       f"matches no garment of run {run} (best IoU {best:.2f} < {iou})", action="not imported")
            report.counts["unmatched_regions"] += 1
    for i, j, overlap in pairs:
        report.counts["matched"] += 1
        report.counts["masks_redrawn"] += int(overlap < REDRAWN_IOU)
        _review(store, garments[j], photo.regions[i], report, user=user, comment=comment)
    if reject_missing:
        if photo.problems:  # a garment may be missing only because its region was bad
            report.add(photo.where, "reject_missing_skipped", "the photo had bad regions: no garment rejected")
            return
        for j in set(range(len(garments))) - {j for _, j, _ in pairs}:
            if garments[j].heads[PART_HEAD].state != REJECTED:
                report.counts["rejected_missing"] += 1
                _apply(store, garments[j], [Decision(PART_HEAD, REJECTED)], report, user, comment, photo.where)


def decide(heads: dict[str, HeadValue], region: Region) -> tuple[list[Decision], list[tuple[str, str]]]:
    """The decisions that make a garment's heads what ``region`` says, and (reason, detail) of values
    that cannot be used. A head already confirmed or corrected to that value needs none."""
    decisions, problems = [], []
    for head, value in {PART_HEAD: region.label, **region.attributes}.items():
        current = heads.get(head)
        if current is None:
            problems.append(("unknown_head", f"the garment has no head {head!r} (heads: {', '.join(heads)})"))
            continue
        try:
            value = check_label(head, value)
        except ValueError as exc:
            problems.append(("unknown_label", str(exc)))
            continue
        same = (sorted(value.split("|")) == sorted((current.value or "").split("|")) if is_multi(head)
                else value == current.value)
        if not same:
            decisions.append(Decision(head, CORRECTED, value))
        elif current.state not in (CONFIRMED, CORRECTED):
            decisions.append(Decision(head, CONFIRMED))
    return decisions, problems


def _review(store: Store, garment: GarmentDetail, region: Region, report: Report, *, user: str, comment: str) -> None:
    decisions, problems = decide(garment.heads, region)
    for reason, detail in problems:
        report.add(region.where, reason, detail, action="value skipped")
    _apply(store, garment, decisions, report, user, comment, region.where, region)


def _apply(store: Store, garment: GarmentDetail, decisions: list[Decision], report: Report, user: str,
           comment: str, where: str, region: Region | None = None) -> None:
    for attempt in (1, 2):
        if not decisions:
            report.counts["garments_unchanged"] += 1
            return
        try:
            store.review(garment.garment.id, version=garment.version, user=user, decisions=decisions, comment=comment)
        except ReviewConflict as conflict:  # someone reviewed it meanwhile: decide again on what is there now
            if attempt == 2:
                report.add(where, "conflict", str(conflict))
                return
            garment = conflict.current
            decisions = decide(garment.heads, region)[0] if region is not None else (
                [] if garment.heads[PART_HEAD].state == REJECTED else decisions)
            continue
        except ValueError as exc:
            report.add(where, "bad_decision", str(exc))
            return
        report.counts["garments_changed"] += 1
        report.counts["decisions"] += len(decisions)
        return

