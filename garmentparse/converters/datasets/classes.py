"""The classes of DeepFashion2, Fashionpedia and ModaNet mapped onto garmentparse's vocabulary.

A source class maps to one of our four parts and, where the vocabulary has an equivalent, a fine
``category`` plus the attributes the class implies (DeepFashion2's "short sleeve top" says
``sleeve_length: short``). A class with no part (bags, shoes, Fashionpedia's sleeves, pockets and
decorations) is *unmapped*: left out and counted, or kept under its own name on request. Pure data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..coco import Classes, coco_categories


@dataclass(frozen=True)
class SourceClass:
    """One class of a source dataset and what it becomes here (``part`` None: unmapped)."""

    name: str
    part: str | None = None
    category: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)

    @property
    def mapped(self) -> bool:
        return self.part is not None


def normalise(name: Any) -> str:
    """A class name compared case- and whitespace-insensitively."""
    return " ".join(str(name).lower().split())


def _by_name(classes: Iterable[SourceClass]) -> dict[str, SourceClass]:
    return {normalise(c.name): c for c in classes}


def _sleeve(value: str) -> dict[str, str]:
    return {"sleeve_length": value}


#: DeepFashion2's 13 classes; ``category_id`` k is ``DEEPFASHION2[k - 1]``. Its "vest" and "sling"
#: are sleeveless tops (tank top, camisole), not K-Fashion's outer 베스트: they map to ``top``.
DEEPFASHION2: tuple[SourceClass, ...] = (
    SourceClass("short sleeve top", "top", None, _sleeve("short")),
    SourceClass("long sleeve top", "top", None, _sleeve("long")),
    SourceClass("short sleeve outwear", "outer", None, _sleeve("short")),
    SourceClass("long sleeve outwear", "outer", None, _sleeve("long")),
    SourceClass("vest", "top", "top", _sleeve("sleeveless")),
    SourceClass("sling", "top", "top", _sleeve("sleeveless")),
    SourceClass("shorts", "bottom", "pants"),  # K-Fashion's 팬츠 covers every length
    SourceClass("trousers", "bottom", "pants"),
    SourceClass("skirt", "bottom", "skirt"),
    SourceClass("short sleeve dress", "onepiece", "dress", _sleeve("short")),
    SourceClass("long sleeve dress", "onepiece", "dress", _sleeve("long")),
    SourceClass("vest dress", "onepiece", "dress", _sleeve("sleeveless")),
    SourceClass("sling dress", "onepiece", "dress", _sleeve("sleeveless")),
)

_FASHIONPEDIA_UNMAPPED = (
    "glasses", "earmuffs", "hat", "headband, head covering, hair accessory", "tie", "glove", "watch", "belt",
    "leg warmer", "tights, stockings", "sock", "shoe", "bag, wallet", "scarf", "umbrella",
    "hood", "collar", "lapel", "epaulette", "sleeve", "garment belt", "pocket", "neckline",
    "buckle", "zipper", "applique", "bead", "bow", "flower", "fringe", "ribbon", "rivet", "ruffle", "sequin",
    "tassel",
)

#: Fashionpedia's classes by (normalised) name: the 13 whole garments map, the accessories, garment
#: parts, closures and decorations do not. Names, not ids, are matched (the 2019 sample numbers 48
#: classes, with earmuffs and garment belt; the 2020 release 46, ids 0-45).
FASHIONPEDIA: dict[str, SourceClass] = _by_name((
    SourceClass("shirt, blouse", "top"),
    SourceClass("top, t-shirt, sweatshirt", "top"),
    SourceClass("sweater", "top", "knitwear"),
    SourceClass("cardigan", "outer", "cardigan"),
    SourceClass("jacket", "outer", "jacket"),
    SourceClass("vest", "outer", "vest"),
    SourceClass("pants", "bottom", "pants"),
    SourceClass("shorts", "bottom", "pants"),
    SourceClass("skirt", "bottom", "skirt"),
    SourceClass("coat", "outer", "coat"),
    SourceClass("dress", "onepiece", "dress"),
    SourceClass("jumpsuit", "onepiece", "jumpsuit"),
    SourceClass("cape", "outer"),
    *(SourceClass(n) for n in _FASHIONPEDIA_UNMAPPED),
))

#: ModaNet's 13 labels by name. Its "outer" also holds sweaters, jumpsuits and rompers and its "top"
#: every kind of top, so both give only the part.
MODANET: dict[str, SourceClass] = _by_name((
    SourceClass("bag"), SourceClass("belt"), SourceClass("boots"), SourceClass("footwear"),
    SourceClass("outer", "outer"),
    SourceClass("dress", "onepiece", "dress"),
    SourceClass("sunglasses"),
    SourceClass("pants", "bottom", "pants"),
    SourceClass("top", "top"),
    SourceClass("shorts", "bottom", "pants"),
    SourceClass("skirt", "bottom", "skirt"),
    SourceClass("headwear"),
    SourceClass("scarf & tie"), SourceClass("scarf/tie"),
))


def output_categories(classes: Classes, unmapped: Iterable[str] = ()) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """COCO ``categories`` and the ids of the kept unmapped classes (source name -> id): ours
    (:func:`~garmentparse.converters.coco.coco_categories`), then one per unmapped source class in the
    order given (supercategory ``unmapped``; a name that is also one of ours gets a ``source:`` prefix)."""
    cats = coco_categories(classes)
    taken = {c["name"] for c in cats}
    ids: dict[str, int] = {}
    for name in dict.fromkeys(unmapped):
        ids[name] = len(cats) + 1
        cats.append({"id": ids[name], "name": name if name not in taken else f"source:{name}",
                     "supercategory": "unmapped"})
    return cats, ids
