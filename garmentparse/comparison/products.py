"""The product-photo contract: does a ``tag`` output read right on photos with one label each?

A photo of one product (a :mod:`garmentparse.converters.photolabels` COCO: ``images[].labels``)
holds when its top-scoring garment has the class's part, an accepted category and accepted other
tags (:data:`CONTRACT`), and a photo of a class that is no garment (hat, shoes) holds when no
garment at all is reported. Figures per class, overall, and the share of garment photos with
exactly one garment; every failing photo is listed with what was wrong.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from garmentparse import vocab
from garmentparse.comparison.runs import Photo, read_run
from garmentparse.converters.coco import load_coco
from garmentparse.report import Report


@dataclass(frozen=True)
class Rule:
    """What the top garment of a photo must read: its part (None: no garment at all), the
    accepted categories (None: any of the part) and accepted values of other heads."""

    part: str | None
    categories: frozenset[str] | None = None
    heads: dict[str, frozenset[str]] = field(default_factory=dict)


def _tops() -> frozenset[str]:
    return frozenset(vocab.categories_of_part("top"))


# The contract of issue 24 for the ten classes of the Clothing dataset's published test subset.
CONTRACT: dict[str, Rule] = {
    "t-shirt": Rule("top", frozenset({"t-shirt", "top"}), {"sleeve_length": frozenset({"short", "cap"})}),
    "longsleeve": Rule("top", _tops(), {"sleeve_length": frozenset({"long", "three-quarter"})}),
    "shirt": Rule("top", frozenset({"shirt", "blouse"})),
    "pants": Rule("bottom", frozenset({"pants", "jeans", "jogger-pants", "leggings"}),
                  {"length": frozenset(vocab.ATTRIBUTES["length"].values) - {"mini", "knee"}}),
    "shorts": Rule("bottom", frozenset({"pants", "jeans"}), {"length": frozenset({"mini", "knee"})}),
    "skirt": Rule("bottom", frozenset({"skirt"})),
    "dress": Rule("onepiece", frozenset({"dress"})),
    "outwear": Rule("outer", frozenset(vocab.categories_of_part("outer"))),
    "hat": Rule(None),
    "shoes": Rule(None),
}


def _key(name: str) -> str:
    return "".join(str(name).split()).lower()


def rule_for(labels: dict[str, Any]) -> Rule:
    """The contract row of an image's labels: :data:`CONTRACT` by class name, else the part and
    the category its class map gives."""
    known = CONTRACT.get(_key(labels.get("class", "")))
    if known is not None:
        return known
    category = (labels.get("attributes") or {}).get("category")
    return Rule(labels.get("part"), frozenset({category}) if category else None)


def check(photo: Photo | None, rule: Rule) -> str | None:
    """Why ``photo`` breaks ``rule`` (None: it holds)."""
    if photo is None:
        return "not in the tag output"
    if photo.error:
        return f"tagging failed: {photo.error}"
    if rule.part is None:
        return None if not photo.garments else f"{len(photo.garments)} garment(s) reported, e.g. {photo.garments[0].part}"
    if not photo.garments:
        return "no garment found"
    top = max(photo.garments, key=lambda g: g.score)
    if top.part != rule.part:
        return f"part {top.part}, not {rule.part}"
    category = top.labels.get("category")
    if rule.categories is not None and category not in rule.categories:
        return f"category {category}"
    for head, accepted in rule.heads.items():
        value = top.labels.get(head)
        if value not in accepted:
            return f"{head} {value}"
    return None


@dataclass
class ClassResult:
    garment: bool = True  # the class is a garment of the four parts (not a hat, shoes)
    photos: int = 0
    held: int = 0
    part_right: int = 0  # the top garment's part is the class's (no garment at all for hats, shoes)
    one_garment: int = 0  # garment photos with exactly one garment

    @property
    def rate(self) -> float:
        return self.held / self.photos if self.photos else float("nan")


@dataclass
class ProductCheck:
    """The contract's figures of one tag output against one labelled COCO."""

    per_class: dict[str, ClassResult]
    failures: list[dict[str, str]]
    missing: int

    def summary(self, classes: set[str] | None = None) -> dict[str, Any]:
        rows = {c: r for c, r in self.per_class.items() if classes is None or _key(c) in classes}
        photos = sum(r.photos for r in rows.values())
        garment_rows = [(c, r) for c, r in rows.items() if r.garment]
        garment_photos = sum(r.photos for _, r in garment_rows)
        return {
            "photos": photos,
            "held": round(sum(r.held for r in rows.values()) / photos, 4) if photos else None,
            "part_right": round(sum(r.part_right for r in rows.values()) / photos, 4) if photos else None,
            "worst_class": min(([c, round(r.rate, 4)] for c, r in rows.items()), key=lambda x: x[1], default=None),
            "exactly_one_garment": round(sum(r.one_garment for _, r in garment_rows) / garment_photos, 4)
            if garment_photos else None,
            "per_class": {c: {**asdict(r), "rate": round(r.rate, 4)} for c, r in sorted(rows.items())},
        }

    def to_dict(self) -> dict[str, Any]:
        return {"contract_classes": self.summary({*CONTRACT}), "all_classes": self.summary(),
                "missing_photos": self.missing, "failures": self.failures}


def _by_name(photos: dict[str, Photo]) -> dict[str, Photo]:
    """Photos by their path as tagged and by every trailing part of it (``a/b.jpg``, ``b.jpg``)."""
    out: dict[str, Photo] = {}
    for path, photo in photos.items():
        parts = Path(path).parts
        for i in range(len(parts)):
            out.setdefault("/".join(parts[i:]), photo)
    return out


def check_products(tags: str | Path, coco: str | Path | dict[str, Any], report: Report | None = None) -> ProductCheck:
    """Score a ``tag`` output on a photo-labels COCO (``garmentparse convert photos``)."""
    report = report if report is not None else Report("eval products")
    data = load_coco(coco)
    run = read_run(tags, report)
    photos = _by_name(run.photos)
    per_class: dict[str, ClassResult] = {}
    failures: list[dict[str, str]] = []
    missing = 0
    for image in data["images"]:
        labels = image.get("labels")
        if not isinstance(labels, dict) or not labels.get("class"):
            report.add(image.get("file_name", "?"), "no_image_label", "image without labels.class: not scored")
            continue
        rule = rule_for(labels)
        photo = photos.get(image["file_name"]) or photos.get(Path(image["file_name"]).name)
        missing += photo is None
        why = check(photo, rule)
        row = per_class.setdefault(labels["class"], ClassResult(garment=rule.part is not None))
        row.photos += 1
        row.held += why is None
        row.part_right += check(photo, Rule(rule.part)) is None
        row.one_garment += photo is not None and rule.part is not None and len(photo.garments) == 1
        if why is not None:
            failures.append({"file_name": image["file_name"], "class": labels["class"], "why": why})
    report.counts["photos"] = sum(r.photos for r in per_class.values())
    report.counts["failures"] = len(failures)
    counts = Counter(f["class"] for f in failures)
    report.counts.update({f"failures/{c}": n for c, n in counts.items()})
    return ProductCheck(per_class, failures, missing)
