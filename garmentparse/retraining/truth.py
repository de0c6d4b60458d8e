"""Reviews from known truth: decide every unreviewed garment of a tag run with the labels of a
COCO file (a labelled dataset, or a simulation of reviewers for measuring the closed loop).

Each garment is matched (mask IoU >= ``iou``) to the photo's true garments; matched: the part and
each head the truth labels are confirmed when the model said the same, else corrected to the
true value; unmatched: the part is rejected (not a garment). Decisions go through
:meth:`Store.review` as ``user``, logged like the web app's.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from garmentparse import masks, vocab
from garmentparse.store import (CONFIRMED, CORRECTED, PART_HEAD, PREDICTED, REJECTED, Decision, GalleryFilter,
                                GarmentDetail, Store)


def truth_by_photo(coco: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Photo path -> its true garments ``{part, rle, attributes}``."""
    images = {im["id"]: im for im in coco["images"]}
    names = {c["id"]: c["name"] for c in coco.get("categories", [])}
    out: dict[str, list[dict[str, Any]]] = {im["file_name"]: [] for im in coco["images"]}
    for ann in coco["annotations"]:
        im = images[ann["image_id"]]
        rle = masks.segmentation_to_rle(ann["segmentation"], im["height"], im["width"])
        out[im["file_name"]].append({"part": ann.get("part") or names.get(ann["category_id"]), "rle": rle,
                                     "attributes": ann.get("attributes") or {}})
    return out


def decisions_for(detail: GarmentDetail, truth: dict[str, Any] | None, heads: list[str]) -> list[Decision]:
    """What a reviewer who knows ``truth`` (None: not a garment) decides on ``detail``."""
    if truth is None:
        return [Decision(PART_HEAD, REJECTED)]
    decisions = [Decision(PART_HEAD, CONFIRMED) if detail.garment.part == truth["part"]
                 else Decision(PART_HEAD, CORRECTED, truth["part"])]
    for head in heads:
        value = truth["attributes"].get(head)
        if isinstance(value, list):
            value = "|".join(value) if vocab.ATTRIBUTES[head].multi_label else (value[0] if value else None)
        if not value or head not in detail.heads:
            continue
        said = detail.heads[head].predicted
        decisions.append(Decision(head, CONFIRMED) if said == value else Decision(head, CORRECTED, value))
    return decisions


def review_with_truth(store: Store, run_id: int, coco: dict[str, Any], *, user: str,
                      heads: list[str] | None = None, iou: float = 0.5, photos: set[str] | None = None,
                      comment: str = "review from known labels") -> Counter:
    """Decide the unreviewed garments of run ``run_id`` on the photos ``coco`` labels (only those
    in ``photos`` when given); ``heads``: the attribute heads to decide (default: every head the
    truth labels). Returns counts of decisions (``<head>_<state>``), photos and missed garments."""
    truth = truth_by_photo(coco)
    if heads is None:
        heads = sorted({h for garments in truth.values() for g in garments for h in g["attributes"]})
    by_photo: dict[int, list[int]] = {}
    cursor = None
    while True:
        page = store.gallery(GalleryFilter(run_id=run_id, states=(PREDICTED,)), limit=500, cursor=cursor)
        for g in page.items:
            by_photo.setdefault(g.photo_id, []).append(g.id)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    counts: Counter = Counter()
    for garment_ids in by_photo.values():
        details = [store.garment(gid) for gid in sorted(garment_ids)]
        path = details[0].garment.photo_path
        true = truth.get(path)
        if true is None or (photos is not None and path not in photos):
            counts["photos_not_decided"] += 1
            continue
        pairs = masks.match([d.mask for d in details], [t["rle"] for t in true], iou)
        matched = {i: true[j] for i, j, _ in pairs}
        for i, d in enumerate(details):
            decisions = decisions_for(d, matched.get(i), heads)
            store.review(d.garment.id, version=d.version, user=user, decisions=decisions, comment=comment)
            counts.update(f"{dec.head}_{dec.state}" for dec in decisions)
        counts["photos"] += 1
        counts["garments"] += len(details)
        counts["true_garments_missed"] += len(true) - len(pairs)
    return counts
