"""Photos with one label each (a folder per class, or a CSV of ``image,label``) -> our COCO.

The label is an *image-level* label: it goes on the image record (``labels``), not on an
annotation, because nothing says where the garment is. A class maps to a part and attributes
through a :data:`ClassMap`; a class that is not one of the four parts (hats, shoes) maps to
``part: None`` and its photos are kept as garment-free photos (negatives for the detector).
Class names are matched case- and space-insensitively; our own category ids (``t-shirt``,
``jeans``) and their Korean names (``티셔츠``) map by themselves, so a shop's folders named
after our categories need no map. :mod:`.pseudomasks` turns such a COCO into one with masks.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from garmentparse import vocab
from garmentparse.imageio import IMAGE_SUFFIXES, ImageReadError
from garmentparse.report import Report

from .coco import CocoDict, coco_categories, coco_info
from .imagehead import check_photo


@dataclass(frozen=True)
class ClassLabels:
    """What one source class says about a photo: its part (``None``: no garment of the four
    parts, e.g. a hat) and the attributes it implies (``category``, ``sleeve_length``, ...)."""

    part: str | None
    attributes: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.part is not None and self.part not in vocab.PARTS:
            raise ValueError(f"unknown part {self.part!r}: use one of {list(vocab.PARTS)} or none")
        for name, value in self.attributes.items():
            if name not in vocab.ATTRIBUTES:
                raise ValueError(f"unknown attribute {name!r} (known: {', '.join(vocab.ATTRIBUTES)})")
            if value not in vocab.ATTRIBUTES[name].values_ko:
                raise ValueError(f"unknown {name} {value!r}")
        category = self.attributes.get("category")
        if category is not None and vocab.part_of(category) != self.part:
            raise ValueError(f"category {category!r} is a {vocab.part_of(category)}, not a {self.part}")


ClassMap = Mapping[str, ClassLabels]


def _top(**attrs: str) -> ClassLabels:
    return ClassLabels("top", attrs)


# The 17 classes of the CC0 Clothing dataset (Grigorev et al.; ../shared/data/clothing-dataset).
# Only what the class name says for sure: a Longsleeve may be a t-shirt or a knit, so it names the
# sleeves, not the category; Outwear names no category; Shorts and Pants give K-Fashion's 팬츠
# (every length) and the length apart.
CLOTHING_DATASET_CLASSES: dict[str, ClassLabels] = {
    "t-shirt": _top(category="t-shirt", sleeve_length="short"),
    "polo": _top(category="t-shirt", sleeve_length="short", collar="polo"),
    "longsleeve": _top(sleeve_length="long"),
    "shirt": _top(category="shirt"),
    "top": _top(category="top"),
    "blouse": _top(category="blouse"),
    "undershirt": _top(),
    "body": _top(),
    "hoodie": _top(category="hoodie", sleeve_length="long"),
    "blazer": ClassLabels("outer", {"category": "jacket", "sleeve_length": "long"}),
    "outwear": ClassLabels("outer"),
    "dress": ClassLabels("onepiece", {"category": "dress"}),
    "skirt": ClassLabels("bottom", {"category": "skirt"}),
    "pants": ClassLabels("bottom", {"category": "pants", "length": "ankle"}),
    "shorts": ClassLabels("bottom", {"category": "pants", "length": "mini"}),
    "hat": ClassLabels(None),
    "shoes": ClassLabels(None),
}

NOT_GARMENT = frozenset({"hat", "hats", "cap", "shoes", "shoe", "sneakers", "boots", "bag", "bags",
                         "accessories", "accessory", "socks"})


def _key(name: str) -> str:
    return "".join(str(name).split()).lower()


def vocabulary_class(name: str) -> ClassLabels | None:
    """Labels of a class named after our vocabulary: a category id or Korean name (``jeans``,
    ``청바지``), a part (``top``, ``상의``), or a common non-garment (``shoes``, ``hat``)."""
    key = _key(name)
    category = vocab.lookup("category", name) or (key if key in vocab.CATEGORY_PART else None)
    if category is not None:
        return ClassLabels(vocab.CATEGORY_PART[category], {"category": category})
    part = vocab.PART_BY_KOREAN.get(key) or (key if key in vocab.PARTS else None)
    if part is not None:
        return ClassLabels(part)
    if key in NOT_GARMENT:
        return ClassLabels(None)
    return None


def resolve_class(name: str, class_map: ClassMap | None) -> ClassLabels | None:
    """``name`` through ``class_map`` (case/space-insensitive), then the vocabulary; None: unknown."""
    return _resolver(class_map)(name)


def _resolver(class_map: ClassMap | None):  # noqa: ANN202 - a small closure
    """``resolve_class`` with the map's keys normalised once (not once per photo)."""
    table = {_key(k): v for k, v in (class_map or {}).items()}
    return lambda name: table.get(_key(name)) or vocabulary_class(name)


def load_class_map(path: str | Path) -> dict[str, ClassLabels]:
    """A class map from YAML/JSON: ``{CLASS: {part: top|...|null, attributes: {name: value}}}``
    (or ``CLASS: null`` for a class that is no garment). Errors name the class."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read class map ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a class map is a mapping of class name -> {{part, attributes}}")
    out: dict[str, ClassLabels] = {}
    for name, spec in data.items():
        spec = spec or {}
        if not isinstance(spec, dict) or set(spec) - {"part", "attributes"}:
            raise ValueError(f"{path}: class {name!r}: give 'part' and optionally 'attributes'")
        try:
            out[str(name)] = ClassLabels(spec.get("part"), dict(spec.get("attributes") or {}))
        except ValueError as exc:
            raise ValueError(f"{path}: class {name!r}: {exc}") from None
    return out


@dataclass(frozen=True)
class LabelledPhoto:
    """One row of the input: the photo's path (relative to the photo root), its class and the
    row's other columns (``sender_id``, ...), kept on the image record."""

    file_name: str
    label: str
    extra: dict[str, str] = field(default_factory=dict)
    where: str = ""  # CSV line or folder, for the report


def read_class_folders(root: str | Path) -> list[LabelledPhoto]:
    """``root/CLASS/photo.jpg`` (photos found recursively under each class folder)."""
    root = Path(root)
    rows: list[LabelledPhoto] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for p in sorted(folder.rglob("*")):
            if p.is_file() and not p.name.startswith("."):
                rows.append(LabelledPhoto(p.relative_to(root).as_posix(), folder.name, where=f"folder {folder.name}"))
    return rows


def read_label_csv(path: str | Path, image_column: str = "image", label_column: str = "label") -> list[LabelledPhoto]:
    """Rows of a CSV with an image and a label column; other columns are kept as ``extra``."""
    path = Path(path)
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = reader.fieldnames or []
        for col in (image_column, label_column):
            if col not in columns:
                raise ValueError(f"{path}: no {col!r} column (columns: {columns[:10]})")
        return [LabelledPhoto((row.get(image_column) or "").strip(), (row.get(label_column) or "").strip(),
                              {k: v for k, v in row.items() if k not in (image_column, label_column) and k},
                              f"{path.name} line {line}")
                for line, row in enumerate(reader, start=2)]


def _find_photo(images: Path, name: str, stems: dict[str, str] | None) -> str | None:
    """The photo's path relative to ``images``: as given, else by stem (a CSV may omit ``.jpg``)."""
    if name and (images / name).is_file():
        return name
    if stems is not None:
        return stems.get(Path(name).name) or stems.get(Path(name).stem)
    return None


def photo_label_images(rows: list[LabelledPhoto], images: str | Path, class_map: ClassMap | None = None,
                       *, full_decode: bool = False, report: Report | None = None) -> list[dict[str, Any]]:
    """COCO image records (ids 1..N, in input order) of the rows whose photo and class are good;
    every other row is in ``report`` with its reason (``label_missing``, ``unknown_class``,
    ``image_missing``, ``not_an_image``, ``image_undecodable``, ``duplicate_image``)."""
    images = Path(images)
    report = report if report is not None else Report("convert photos")
    stems: dict[str, str] | None = None
    resolve = _resolver(class_map)
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for row in rows:
        report.counts["rows"] += 1
        where = f"{row.file_name or '(no image name)'}"
        if not row.label:
            report.add(where, "label_missing", row.where)
            continue
        labels = resolve(row.label)
        if labels is None:
            report.add(where, "unknown_class", f"{row.label!r} ({row.where}); give it in --class-map")
            continue
        rel = _find_photo(images, row.file_name, stems)
        if rel is None and stems is None:
            stems = {}
            for p in sorted(images.rglob("*")):
                if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES:
                    r = p.relative_to(images).as_posix()
                    stems.setdefault(p.name, r)
                    stems.setdefault(p.stem, r)
            rel = _find_photo(images, row.file_name, stems)
        if rel is None:
            report.add(where, "image_missing", f"no such photo under {images} ({row.where})")
            continue
        if rel in seen:
            report.add(rel, "duplicate_image", f"listed again ({row.where}); the first label kept")
            continue
        path = images / rel
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            report.add(rel, "not_an_image", f"suffix {path.suffix or '(none)'!r} ({row.where})")
            continue
        try:
            width, height = check_photo(path, full_decode=full_decode)
        except ImageReadError as exc:
            report.add(rel, "image_undecodable", str(exc))
            continue
        seen.add(rel)
        out.append({"id": len(out) + 1, "file_name": rel, "width": width, "height": height,
                    "labels": {"class": row.label, "part": labels.part, "attributes": dict(labels.attributes)},
                    **{k: v for k, v in row.extra.items() if k not in ("id", "file_name", "width", "height", "labels")}})
        report.counts["garment_photos" if labels.part else "no_garment_photos"] += 1
    report.counts["images"] = len(out)
    return out


def photo_labels_coco(images: list[dict[str, Any]], source: str) -> CocoDict:
    """The COCO dict around image records with image-level labels (no annotations yet)."""
    return {"info": coco_info("photos with one label each, converted by garmentparse", "part",
                              source=source, labels="image-level (images[].labels)"),
            "licenses": [], "categories": coco_categories("part"), "images": images, "annotations": []}


def convert_photo_labels(source: str | Path, images: str | Path | None = None, *,
                         class_map: ClassMap | None = None, image_column: str = "image",
                         label_column: str = "label", full_decode: bool = False) -> tuple[CocoDict, Report]:
    """A folder per class (``source`` a folder) or a CSV of image,label (``source`` a CSV, photos
    under ``images``, default: the CSV's folder) -> (COCO with image-level labels, report)."""
    source = Path(source)
    report = Report("convert photos")
    if source.is_dir():
        rows, root = read_class_folders(source), Path(images) if images else source
    elif source.is_file():
        rows, root = read_label_csv(source, image_column, label_column), Path(images) if images else source.parent
    else:
        raise FileNotFoundError(f"not a folder or a CSV file: {source}")
    if not root.is_dir():
        raise FileNotFoundError(f"photo folder not found: {root}")
    records = photo_label_images(rows, root, class_map, full_decode=full_decode, report=report)
    coco = photo_labels_coco(records, os.fspath(source))
    coco["info"]["images"] = os.fspath(root)
    return coco, report
