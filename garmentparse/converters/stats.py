"""Dataset statistics of a COCO file: garments per category/part/colour/attribute, sizes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from garmentparse import vocab

from .coco import CocoDict, category_names, load_coco
from .crop import annotation_attributes, annotation_part


def _quantiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    arr = np.asarray(values, dtype=float)
    q = np.percentile(arr, [0, 5, 25, 50, 75, 95, 100])
    return {k: round(float(v), 4) for k, v in zip(("min", "p5", "p25", "median", "p75", "p95", "max"), q)}


def coco_stats(coco: CocoDict | str | Path) -> dict[str, Any]:
    """Counts and distributions of a COCO dataset as a JSON-ready dict.

    Keys: ``images``, ``annotations``, ``images_without_garments``, ``categories`` (COCO category
    name -> garments), ``parts``, ``attributes`` (attribute -> value -> garments; ``category`` and
    ``colour`` included), ``missing_attribute_rate`` (attribute -> fraction of garments without it),
    ``garments_per_image``, ``image_width``, ``image_height`` and ``relative_area`` (garment area /
    image area) quantiles.
    """
    data = load_coco(coco)
    names = category_names(data)
    images = {im["id"]: im for im in data.get("images", [])}
    anns = data.get("annotations", [])
    per_category: Counter = Counter()
    per_part: Counter = Counter()
    per_attr: dict[str, Counter] = {a: Counter() for a in vocab.ATTRIBUTES}
    missing: Counter = Counter()
    per_image: Counter = Counter()
    rel_area: list[float] = []
    for ann in anns:
        per_category[names.get(ann.get("category_id"), str(ann.get("category_id")))] += 1
        per_part[annotation_part(ann, names) or "unknown"] += 1
        attrs = annotation_attributes(ann, names)
        for name in vocab.ATTRIBUTES:
            value = attrs.get(name)
            if value is None or value == [] or value == "":
                missing[name] += 1
            elif isinstance(value, list):
                per_attr[name].update(value)
            else:
                per_attr[name][value] += 1
        per_image[ann.get("image_id")] += 1
        im = images.get(ann.get("image_id"))
        if im and im.get("width") and im.get("height") and isinstance(ann.get("area"), (int, float)):
            rel_area.append(ann["area"] / (im["width"] * im["height"]))
    n = len(anns)
    counts_per_image = [per_image.get(i, 0) for i in images]
    return {
        "images": len(images),
        "annotations": n,
        "images_without_garments": sum(1 for c in counts_per_image if c == 0),
        "categories": dict(per_category.most_common()),
        "parts": dict(per_part.most_common()),
        "attributes": {a: dict(c.most_common()) for a, c in per_attr.items()},
        "missing_attribute_rate": {a: round(missing[a] / n, 4) if n else 0.0 for a in vocab.ATTRIBUTES},
        "garments_per_image": dict(sorted(Counter(counts_per_image).items())),
        "image_width": _quantiles([im.get("width", 0) for im in images.values()]),
        "image_height": _quantiles([im.get("height", 0) for im in images.values()]),
        "relative_area": _quantiles(rel_area),
    }
