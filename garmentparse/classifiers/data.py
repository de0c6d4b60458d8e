"""Crop manifests in, tensors out: reading ``manifest.csv``, class lists, label encoding with
missing-label masks, augmentation (albumentations), rare-class sampling weights, splits."""

from __future__ import annotations

import csv
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import albumentations as A
import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from garmentparse import vocab
from garmentparse.classifiers.config import AugmentConfig
from garmentparse.imageio import ImageReadError, load_rgb
from garmentparse.masks import letterbox
from garmentparse.report import Report

MANIFEST_COLUMNS = ["crop_path", "source_image", "image_id", "annotation_id", "part", *vocab.ATTRIBUTES]
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


@dataclass
class CropRecord:
    """One manifest row: the crop file and its labels (an empty list = label missing)."""

    path: Path
    part: str | None
    labels: dict[str, list[str]] = field(default_factory=dict)
    source_image: str = ""
    image_id: str = ""
    annotation_id: str = ""
    row: dict[str, str] = field(default_factory=dict)  # the original manifest row


def read_manifest(path: str | Path, report: Report | None = None,
                  attributes: Iterable[str] | None = None) -> list[CropRecord]:
    """Rows of a crop manifest; crop paths are resolved against the manifest's folder.

    Rows whose crop file is missing are skipped; label values the vocabulary does not know
    are dropped from their cell (the label is then missing, never guessed). Both are noted in
    ``report``. ``attributes`` limits which attribute columns are read (default: all)."""
    path = Path(path)
    report = report if report is not None else Report("read_manifest")
    if not path.is_file():
        raise FileNotFoundError(f"manifest not found: {path}")
    attributes = list(attributes) if attributes is not None else list(vocab.ATTRIBUTES)
    records: list[CropRecord] = []
    with path.open(newline="", encoding="utf-8-sig") as fh:  # -sig: Excel's "CSV UTF-8" starts with a BOM
        reader = csv.DictReader(fh)
        columns = reader.fieldnames or []
        if "crop_path" not in columns:
            shown = [c[:40] for c in columns[:10]] + (["..."] if len(columns) > 10 else [])
            raise ValueError(f"{path}: not a crop manifest (no 'crop_path' column; columns: {shown})")
        for line, row in enumerate(reader, start=2):
            crop = path.parent / (row.get("crop_path") or "")
            if not row.get("crop_path") or not crop.is_file():
                report.add(crop, "crop_missing", f"{path.name} line {line}")
                continue
            part = (row.get("part") or "").strip() or None
            if part is not None and part not in vocab.PARTS:
                report.add(crop, "unknown_part", f"part {part!r} at line {line}", action="part_ignored")
                part = None
            labels: dict[str, list[str]] = {}
            for attr in attributes:
                cell = (row.get(attr) or "").strip()
                values = [v.strip() for v in cell.split("|") if v.strip()] if cell else []
                known = vocab.ATTRIBUTES[attr].values_ko
                for v in values:
                    if v not in known:
                        report.add(crop, "unknown_label", f"{attr}={v!r} at line {line}", action="label_ignored")
                labels[attr] = [v for v in values if v in known]
            records.append(CropRecord(crop, part, labels, row.get("source_image", ""),
                                      row.get("image_id", ""), row.get("annotation_id", ""), dict(row)))
    report.counts["manifest_rows"] += len(records)
    return records


def build_vocabulary(records: list[CropRecord], heads: list[str], classes: str = "seen") -> tuple[dict[str, list[str]], list[str]]:
    """Class list per head, in vocabulary order, and the heads that have no label at all.

    ``classes="seen"`` keeps only values that occur in ``records`` (a class without one
    training example cannot be learnt); ``"all"`` keeps the whole vocabulary. A head with no
    labels gets the whole vocabulary and is listed as untrained."""
    out: dict[str, list[str]] = {}
    untrained: list[str] = []
    for head in heads:
        seen = {v for r in records for v in r.labels.get(head, [])}
        everything = vocab.ATTRIBUTES[head].values
        if not seen:
            untrained.append(head)
        out[head] = everything if classes == "all" or not seen else [v for v in everything if v in seen]
    return out, untrained


def encode_targets(record: CropRecord, vocabulary: dict[str, list[str]],
                   multi_label: dict[str, bool]) -> dict[str, torch.Tensor]:
    """Targets per head. Single-label: class index, ``-1`` when missing (or when the value is
    outside the class list, or the cell holds several values). Multi-label: a multi-hot row,
    all ``-1`` when missing."""
    out: dict[str, torch.Tensor] = {}
    for head, classes in vocabulary.items():
        given = record.labels.get(head, [])
        values = [v for v in given if v in classes]
        if multi_label[head]:
            row = torch.full((len(classes),), -1.0)
            if values:
                row.zero_()
                for v in values:
                    row[classes.index(v)] = 1.0
            out[head] = row
        else:
            single = len(given) == 1 and len(values) == 1  # "blouse|hoodie" is no single label
            out[head] = torch.tensor(classes.index(values[0]) if single else -1, dtype=torch.long)
    return out


def background_fill(background: str) -> int:
    return 0 if background == "black" else 255


def prepare(image: np.ndarray, size: int, fill: int = 255) -> np.ndarray:
    """A crop letterboxed to the network's square input (uint8, RGB)."""
    if image.shape[0] == size and image.shape[1] == size:
        return image
    return letterbox(image, size, fill)


def train_transform(aug: AugmentConfig, size: int, fill: int) -> A.Compose:
    """Flip, small rotation, random resized crop and brightness/contrast jitter.

    Hue and saturation are left alone unless configured (the config refuses them while a
    colour head is trained), so augmentation never changes a crop's colour class."""
    ops: list = [A.HorizontalFlip(p=aug.hflip)]
    if aug.rotate > 0:
        ops.append(A.Rotate(limit=aug.rotate, border_mode=cv2.BORDER_CONSTANT, fill=fill, p=0.5))
    if aug.scale_min < 1.0:
        ops.append(A.RandomResizedCrop(size=(size, size), scale=(aug.scale_min, 1.0), ratio=(0.85, 1.18), p=1.0))
    if aug.brightness > 0 or aug.contrast > 0:
        ops.append(A.RandomBrightnessContrast(brightness_limit=aug.brightness, contrast_limit=aug.contrast,
                                              p=aug.jitter_p))
    if aug.hue > 0 or aug.saturation > 0:
        ops.append(A.ColorJitter(brightness=0.0, contrast=0.0, saturation=aug.saturation, hue=aug.hue,
                                 p=aug.jitter_p))
    return A.Compose(ops)


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """HWC uint8 -> CHW uint8 tensor (normalised later, on the device)."""
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))


def normalise(batch: torch.Tensor, mean: tuple[float, ...] = MEAN, std: tuple[float, ...] = STD) -> torch.Tensor:
    """uint8 (B, 3, H, W) -> float, ``(x / 255 - mean) / std`` (default: ImageNet mean/std)."""
    mean = torch.tensor(mean, device=batch.device).view(1, 3, 1, 1) * 255
    std = torch.tensor(std, device=batch.device).view(1, 3, 1, 1) * 255
    return (batch.float() - mean) / std


def load_crops(records: list[CropRecord], size: int, fill: int, report: Report,
               on_item=None) -> tuple[list[CropRecord], list[np.ndarray]]:
    """Decode every crop once, letterboxed to ``size``; unreadable files are skipped (reported)."""
    kept, images = [], []
    for r in records:
        try:
            images.append(prepare(load_rgb(r.path), size, fill))
            kept.append(r)
        except ImageReadError as exc:
            report.add(r.path, "crop_unreadable", str(exc))
        if on_item:
            on_item()
    return kept, images


def readable_crops(records: list[CropRecord], report: Report) -> list[CropRecord]:
    """The records whose crop passes a header + truncation check (no full decode); the others
    are reported as ``crop_unreadable``, as :func:`load_crops` does when caching."""
    from garmentparse.converters.imagehead import check_photo

    kept = []
    for r in records:
        try:
            check_photo(r.path)
            kept.append(r)
        except ImageReadError as exc:
            report.add(r.path, "crop_unreadable", str(exc))
    return kept


class CropDataset(Dataset):
    """Crops with their per-head targets; images come from memory (``cache``) or disk."""

    def __init__(self, records: list[CropRecord], vocabulary: dict[str, list[str]],
                 multi_label: dict[str, bool], size: int, fill: int = 255,
                 transform: A.Compose | None = None, cache: list[np.ndarray] | None = None) -> None:
        self.records = records
        self.size = size
        self.fill = fill
        self.transform = transform
        self.cache = cache
        self.targets = [encode_targets(r, vocabulary, multi_label) for r in records]

    def __len__(self) -> int:
        return len(self.records)

    def labelled(self) -> bool:
        """Whether any sample has a target on any head (else it cannot validate anything)."""
        return any(bool((t >= 0).any()) for targets in self.targets for t in targets.values())

    def image(self, i: int) -> np.ndarray:
        if self.cache is not None:
            return self.cache[i]
        try:
            return prepare(load_rgb(self.records[i].path), self.size, self.fill)
        except ImageReadError as exc:
            raise RuntimeError(f"{self.records[i].path}: cannot read crop: {exc}") from None

    def __getitem__(self, i: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        image = self.image(i)
        if self.transform is not None:
            image = self.transform(image=image)["image"]
            if image.shape[:2] != (self.size, self.size):
                image = prepare(image, self.size, self.fill)
        return to_tensor(image), self.targets[i]


def sample_weights(records: list[CropRecord], head: str, power: float = 0.5) -> list[float]:
    """Weights for a ``WeightedRandomSampler``: ``1 / count(class)**power`` on ``head``'s first
    label; rows without that label get the mean weight of the labelled ones."""
    keys = [r.labels.get(head, [None])[0] if r.labels.get(head) else None for r in records]
    counts = Counter(k for k in keys if k is not None)
    weights = [counts[k] ** -power if k is not None else None for k in keys]
    known = [w for w in weights if w is not None]
    mean = float(np.mean(known)) if known else 1.0
    return [w if w is not None else mean for w in weights]


def split_by_image(records: list[CropRecord], fractions: list[float], seed: int = 0) -> list[list[CropRecord]]:
    """Split rows into groups by their source image (all crops of a photo stay together),
    seeded; ``fractions`` of images per group, the last group takes the rest."""
    images = sorted({r.source_image or r.image_id or str(r.path) for r in records})
    random.Random(seed).shuffle(images)
    bounds, start = [], 0
    for f in fractions[:-1]:
        n = int(round(f * len(images)))
        bounds.append(set(images[start:start + n]))
        start += n
    bounds.append(set(images[start:]))
    key = lambda r: r.source_image or r.image_id or str(r.path)  # noqa: E731
    return [[r for r in records if key(r) in group] for group in bounds]


def write_manifest(records: list[CropRecord], path: str | Path) -> Path:
    """Write ``records`` as a manifest at ``path`` with crop paths relative to its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=MANIFEST_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for r in records:
            row = {c: r.row.get(c, "") for c in MANIFEST_COLUMNS}
            row["crop_path"] = Path(_relpath(r.path, path.parent)).as_posix()
            writer.writerow(row)
    return path


def _relpath(target: Path, start: Path) -> str:
    import os

    return os.path.relpath(target.resolve(), start.resolve())


def split_manifest(manifest: str | Path, out_dir: str | Path, fractions: dict[str, float],
                   seed: int = 0) -> dict[str, Path]:
    """Split a manifest by source image into ``out_dir/<name>.csv`` files, e.g.
    ``{"train": 0.7, "val": 0.1, "test": 0.2}`` (the last name takes the rest)."""
    records = read_manifest(manifest)
    names = list(fractions)
    groups = split_by_image(records, [fractions[n] for n in names], seed)
    return {n: write_manifest(g, Path(out_dir) / f"{n}.csv") for n, g in zip(names, groups)}


def infer_crop_size(records: list[CropRecord]) -> int:
    """The size the crops were cut at: the most common longest side of (up to 64) crop files."""
    from garmentparse.imageio import image_size

    sizes = Counter()
    for r in records[:64]:
        try:
            h, w = image_size(r.path)
        except (ImageReadError, OSError, ValueError):
            continue
        sizes[max(h, w)] += 1
    return int(sizes.most_common(1)[0][0]) if sizes else 400
