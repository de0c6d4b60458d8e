"""Reproducible train/val/test split of a COCO dataset, stratified by garment category.

Images carry several garments, so the split is a greedy *iterative stratification*: images are
taken rarest category first and each goes to the split that still wants most of that category.
A category with at least as many images as there are splits gets at least one image in every
split, so rare classes appear in val and test too.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

from .coco import CocoDict, annotations_by_image, category_names, load_coco, save_coco, subset

_NONE = "__no_garment__"


def stratum_labels(coco: CocoDict) -> dict[int, set[str]]:
    """image id -> labels it is stratified by: fine category (``attributes.category``) else category."""
    names = category_names(coco)
    out: dict[int, set[str]] = {}
    by_image = annotations_by_image(coco)
    for image in coco.get("images", []):
        anns = by_image.get(image["id"], [])
        labels = {(a.get("attributes") or {}).get("category") or names.get(a.get("category_id"), "?")
                  for a in anns}
        image_label = (image.get("labels") or {}).get("class")  # photos with one image-level label
        out[image["id"]] = labels or ({f"class:{image_label}"} if image_label else {_NONE})
    return out


def group_split_image_ids(coco: CocoDict, fractions: dict[str, float], group_by: str, seed: int = 0
                          ) -> dict[str, list[int]]:
    """Image ids per split with every group (images sharing ``image[group_by]``, e.g. the
    photographer's ``sender_id``) in one split, so no split shares a group's floor and light.
    Groups are shuffled by ``seed``, then placed largest first into the split furthest below
    its share; an image without the field is a group of its own."""
    groups: dict[str, list[int]] = {}
    for image in coco.get("images", []):
        value = image.get(group_by)
        groups.setdefault(f"v:{value}" if value not in (None, "") else f"id:{image['id']}", []).append(image["id"])
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    keys.sort(key=lambda k: -len(groups[k]))  # stable: equal sizes keep the shuffled order
    total = sum(len(v) for v in groups.values())
    splits = [s for s, f in fractions.items() if f > 0]
    result: dict[str, list[int]] = {s: [] for s in fractions}
    for k in keys:
        best = max(splits, key=lambda s: (fractions[s] * total - len(result[s])) / fractions[s])
        result[best].extend(groups[k])
    return {s: sorted(ids) for s, ids in result.items()}


def split_image_ids(coco: CocoDict, fractions: dict[str, float], seed: int = 0) -> dict[str, list[int]]:
    """Image ids per split for ``fractions`` (e.g. train 0.8, val 0.1, test 0.1), reproducibly."""
    if any(f < 0 for f in fractions.values()) or abs(sum(fractions.values()) - 1) > 1e-6:
        raise ValueError(f"split fractions must be >= 0 and sum to 1, got {fractions}")
    splits = [s for s, f in fractions.items() if f > 0]
    labels = stratum_labels(coco)
    totals: Counter = Counter(lab for labs in labels.values() for lab in labs)
    # How many images of each label every split still wants; at least 1 where the label can cover all.
    want: dict[str, dict[str, float]] = {s: {} for s in splits}
    for lab, n in totals.items():
        rest = n
        for s in splits[1:]:
            w = n * fractions[s]
            if n >= len(splits):
                w = max(w, 1.0)
            want[s][lab] = w
            rest -= w
        want[splits[0]][lab] = rest
    quota = {s: len(labels) * fractions[s] for s in splits}
    rng = random.Random(seed)
    order = sorted(labels)
    rng.shuffle(order)
    rank = {image_id: i for i, image_id in enumerate(order)}
    order.sort(key=lambda i: (min(totals[lab] for lab in labels[i]), rank[i]))
    result: dict[str, list[int]] = {s: [] for s in fractions}
    for image_id in order:
        labs = labels[image_id]
        rarest = min(labs, key=lambda lab: (totals[lab], lab))
        best = max(splits, key=lambda s: (want[s][rarest], quota[s], -splits.index(s)))
        result[best].append(image_id)
        quota[best] -= 1
        for lab in labs:
            want[best][lab] -= 1
    return {s: sorted(ids) for s, ids in result.items()}


def split_coco(coco: CocoDict | str | Path, out_dir: str | Path | None = None, *, val: float = 0.1,
               test: float = 0.0, seed: int = 0, group_by: str | None = None) -> dict[str, CocoDict]:
    """Split into ``train``/``val`` (/``test`` when ``test > 0``); writes ``<split>.json`` to ``out_dir``.
    ``group_by``: an image field whose value keeps images together (see :func:`group_split_image_ids`)."""
    data = load_coco(coco)
    fractions = {"train": 1.0 - val - test, "val": val}
    if test > 0:
        fractions["test"] = test
    ids = (group_split_image_ids(data, fractions, group_by, seed) if group_by
           else split_image_ids(data, fractions, seed))
    parts: dict[str, CocoDict] = {}
    for name, image_ids in ids.items():
        part: dict[str, Any] = subset(data, image_ids)
        info = dict(part.get("info") or {})
        info["split"] = {"name": name, "seed": seed, "fractions": fractions,
                         **({"group_by": group_by} if group_by else {})}
        part["info"] = info
        parts[name] = part
        if out_dir is not None:
            save_coco(part, Path(out_dir) / f"{name}.json")
    return parts
