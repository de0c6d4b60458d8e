"""Reading the two sides of a comparison: ``tag`` outputs (JSON Lines + run record) and a
reviewed COCO dataset (the truth)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from garmentparse import masks, vocab
from garmentparse.converters.coco import category_names, load_coco
from garmentparse.masks import RLE
from garmentparse.report import Report
from garmentparse.store.ingest import parsed_lines, read_run_record, run_settings

PART = "part"  # the garment's part is compared like any attribute head


def normal_label(head: str, value: Any) -> str | None:
    """A label as compared: multi-label values (a list, or ``a|b``) sorted and joined by ``|``."""
    if value is None or value == [] or value == "":
        return None
    attr = vocab.ATTRIBUTES.get(head)
    if isinstance(value, list) or (attr is not None and attr.multi_label):
        parts = value if isinstance(value, list) else str(value).split("|")
        return "|".join(sorted(str(v) for v in parts)) or None
    return str(value)


@dataclass(frozen=True)
class ModelRef:
    """One model a run was made with, as its run record names it."""

    role: str  # detector, classifier, style
    sha256: str | None
    file: str | None


@dataclass(frozen=True)
class Instance:
    """One garment of a photo: its mask, box, score and labels (``part`` included)."""

    mask: RLE
    box: tuple[float, float, float, float]  # [x0, y0, x1, y1]
    score: float
    labels: dict[str, str | None]

    @property
    def part(self) -> str:
        return str(self.labels[PART])


@dataclass(frozen=True)
class Photo:
    path: str
    width: int | None
    height: int | None
    error: str | None
    garments: tuple[Instance, ...]


@dataclass(frozen=True)
class Run:
    """A ``tag`` output read whole: its photos by path and the models its record names."""

    path: Path
    photos: dict[str, Photo]
    models: tuple[ModelRef, ...]
    images_dir: str | None

    @property
    def name(self) -> str:
        return self.path.name


def _models(record: dict[str, Any]) -> tuple[ModelRef, ...]:
    settings = record.get("settings") if isinstance(record.get("settings"), dict) else {}
    shas = settings.get("models") if isinstance(settings.get("models"), dict) else {}
    files = record.get("model_files") if isinstance(record.get("model_files"), dict) else {}
    refs = []
    for role in dict.fromkeys([*shas, *files]):
        file = files.get(role)
        if isinstance(file, dict):
            file = file.get("name") or file.get("path")
        refs.append(ModelRef(str(role), shas.get(role), None if file is None else str(file)))
    return tuple(refs)


def read_run(path: str | Path, report: Report) -> Run:
    """A ``tag`` output, streamed line by line. A bad line is a problem ``FILE:LINE`` with its
    reason and is left out; a photo seen twice keeps its last line (a resumed run)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"tag output not found: {path}")
    record = read_run_record(path, report)
    settings = run_settings(record)
    lang = settings.get("lang")
    photos: dict[str, Photo] = {}
    for line in parsed_lines(path, lang, report, f"bad_lines_{path.name}"):
        garments = tuple(
            Instance({"size": list(g.mask_size), "counts": g.counts}, g.box, g.score,
                     {PART: g.part, **{h: normal_label(h, label) for h, label, *_ in g.heads}})
            for g in line.garments)
        photos[line.path] = Photo(line.path, line.width, line.height, line.error, garments)
    runs = record.get("runs") if isinstance(record.get("runs"), list) else []
    images_dir = next((r.get("images_dir") for r in reversed(runs) if isinstance(r, dict) and r.get("images_dir")),
                      None)
    return Run(path, photos, _models(record), images_dir)


def _truth_part(ann: dict[str, Any], names: dict[int, str]) -> str | None:
    part = ann.get("part") or names.get(ann.get("category_id"))  # type: ignore[arg-type]
    part = vocab.PART_BY_KOREAN.get(part, part) if isinstance(part, str) else None
    return part if part in vocab.PARTS else vocab.part_of(part or "")


def read_truth(coco: str | Path | dict[str, Any], report: Report) -> dict[str, Photo]:
    """Reviewed garments (a COCO dataset, as ``export --format coco`` writes) by photo
    ``file_name``. Labels: the annotation's ``part`` (or its category's name) and its
    ``attributes``; with fine categories (``convert --classes category``) the category's name is
    also its ``category`` label and gives its part. An unusable annotation is a problem, left out."""
    data = load_coco(coco)
    where = str(coco) if not isinstance(coco, dict) else "truth"
    names = category_names(data)
    fine = any(n not in vocab.PARTS for n in names.values())  # categories are K-Fashion's 21, not the parts
    by_image: dict[Any, list[dict[str, Any]]] = {}
    for ann in data.get("annotations") or []:
        by_image.setdefault(ann.get("image_id"), []).append(ann)
    photos: dict[str, Photo] = {}
    for image in data["images"]:
        h, w = image.get("height"), image.get("width")
        garments = []
        for ann in by_image.get(image.get("id"), []):
            part = _truth_part(ann, names)
            if part is None or not isinstance(h, int) or not isinstance(w, int):
                report.add(f"{where}: annotation {ann.get('id')}", "unusable_truth",
                           "no known part" if part is None else "photo without a size")
                continue
            try:
                rle = masks.segmentation_to_rle(ann["segmentation"], h, w)
            except (KeyError, TypeError, ValueError, IndexError) as exc:
                report.add(f"{where}: annotation {ann.get('id')}", "bad_segmentation", str(exc))
                continue
            attrs = ann.get("attributes") if isinstance(ann.get("attributes"), dict) else {}
            labels = {h_: normal_label(h_, v) for h_, v in attrs.items()}
            category = names.get(ann.get("category_id"))  # type: ignore[arg-type]
            if fine and category in vocab.CATEGORY_PART and "category" not in labels:
                labels["category"] = category
            x, y, bw, bh = ann.get("bbox") or masks.bbox_xywh(rle)
            garments.append(Instance(rle, (x, y, x + bw, y + bh), 1.0,
                                     {PART: part, **{k: v for k, v in labels.items() if v is not None}}))
        photos[str(image["file_name"])] = Photo(str(image["file_name"]), w, h, None, tuple(garments))
    return photos
