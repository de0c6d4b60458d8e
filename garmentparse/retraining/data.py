"""Reviewed garments as training data: a stable held-back split by photo, COCO files for the
detector and crop manifests for the classifier, written under the retrain folder.

``RETRAIN/data/train/coco.json`` + ``manifest.csv`` (+ ``crops/``): what is trained on.
``RETRAIN/data/heldback/coco.json`` + ``manifest.csv``: reviewed garments kept out, the truth
for ``compare --truth`` and ``eval``; ``heldback/photos/`` links the held-back photos so
``garmentparse tag`` can run on just them. ``RETRAIN/data/split.json`` records the split.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from garmentparse.report import Report
from garmentparse.store import ReviewedPhoto, Store
from garmentparse.store.export import MANIFEST_COLUMNS

SIDES = ("train", "heldback")


def side_of(path: str, held_back: float, seed: int = 0) -> str:
    """``heldback`` for a stable ``held_back`` share of photo paths, else ``train``: a photo keeps
    its side as more photos are reviewed, so held-back photos are never trained on later."""
    digest = hashlib.sha256(f"{seed}:{path}".encode()).digest()
    return "heldback" if int.from_bytes(digest[:8], "big") / 2**64 < held_back else "train"


@dataclass(frozen=True)
class ReviewedSplit:
    """The reviewed photos on each side, and what each stage can learn from them."""

    photos: dict[str, list[ReviewedPhoto]]  # side -> photos
    held_back: float
    seed: int

    def garments(self, side: str) -> int:
        """Confirmed or corrected garments (classifier crops)."""
        return sum(len(p.kept) for p in self.photos[side])

    def detector_photos(self, side: str) -> list[ReviewedPhoto]:
        """Photos whose review is complete: their garments are the whole truth of the photo."""
        return [p for p in self.photos[side] if p.complete]

    def detector_garments(self, side: str) -> int:
        return sum(len(p.kept) for p in self.detector_photos(side))

    def counts(self) -> dict[str, dict[str, int]]:
        return {side: {"photos": len(self.photos[side]), "garments": self.garments(side),
                       "complete_photos": len(self.detector_photos(side)),
                       "detector_garments": self.detector_garments(side),
                       "negative_photos": sum(1 for p in self.detector_photos(side) if not p.kept)}
                for side in SIDES}


def split_reviewed(store: Store, held_back: float = 0.2, seed: int = 0) -> ReviewedSplit:
    if not 0 <= held_back < 1:
        raise ValueError(f"held_back must be in [0, 1), got {held_back}")
    photos: dict[str, list[ReviewedPhoto]] = {side: [] for side in SIDES}
    for photo in store.reviewed_photos():
        photos[side_of(photo.path, held_back, seed)].append(photo)
    return ReviewedSplit(photos, held_back, seed)


@dataclass
class TrainingData:
    """Where :func:`write_training_data` put each side's files."""

    root: Path
    coco: dict[str, Path] = field(default_factory=dict)  # side -> coco.json (complete photos only)
    manifest: dict[str, Path] = field(default_factory=dict)  # side -> manifest.csv
    photos_dir: Path | None = None  # links to the held-back photos
    report: Report = field(default_factory=lambda: Report("retrain data"))


def write_training_data(store: Store, split: ReviewedSplit, images_root: str | Path, out_dir: str | Path, *,
                        crops: bool = True, crop_size: int = 400, background: str = "white") -> TrainingData:
    """Export the reviewed garments once and sort them into the two sides (see module doc)."""
    root = Path(out_dir)
    data = TrainingData(root)
    with tempfile.TemporaryDirectory(prefix=".export-", dir=_mkdir(root)) as tmp:
        data.report.extend(store.export(tmp, "coco").problems)
        coco = json.loads((Path(tmp) / "coco.json").read_text(encoding="utf-8"))
        rows: list[dict[str, str]] = []
        if crops:
            data.report.extend(store.export(tmp, "manifest", images_root=images_root, size=crop_size,
                                           background=background).problems)
            with open(Path(tmp) / "manifest.csv", encoding="utf-8", newline="") as fh:
                rows = list(csv.DictReader(fh))
        for side in SIDES:
            chosen = {p.photo_id: p for p in split.photos[side]}
            kept = {g for p in chosen.values() for g in p.kept}
            data.coco[side] = _write_coco(root / side / "coco.json", coco, split.detector_photos(side), kept)
            if crops:
                side_rows = [r for r in rows if int(r["annotation_id"]) in kept]
                data.manifest[side] = _write_manifest(root / side, Path(tmp), side_rows)
    data.photos_dir = _link_photos(Path(images_root), root / "heldback" / "photos", split.photos["heldback"],
                                   data.report)
    record = {"held_back": split.held_back, "seed": split.seed, "counts": split.counts(),
              "photos": {side: [p.path for p in split.photos[side]] for side in SIDES}}
    (root / "split.json").write_text(json.dumps(record, indent=1, ensure_ascii=False), encoding="utf-8")
    return data


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write_coco(path: Path, coco: dict[str, Any], photos: list[ReviewedPhoto], kept: set[int]) -> Path:
    """The export restricted to complete photos (kept garments only; a photo whose garments were
    all rejected stays in as a negative: an image without annotations)."""
    ids = {p.photo_id for p in photos}
    images = [{"id": p.photo_id, "file_name": p.path, "width": p.width, "height": p.height} for p in photos]
    anns = [a for a in coco["annotations"] if a["image_id"] in ids and a["id"] in kept]
    out = {**coco, "images": images, "annotations": anns}
    _mkdir(path.parent).joinpath(path.name).write_text(json.dumps(out, ensure_ascii=False), encoding="utf-8")
    return path


def _write_manifest(side_dir: Path, export_dir: Path, rows: list[dict[str, str]]) -> Path:
    """The side's crops moved next to its manifest.csv (same relative crop paths)."""
    for row in rows:
        target = side_dir / row["crop_path"]
        _mkdir(target.parent)
        shutil.move(export_dir / row["crop_path"], target)
    path = _mkdir(side_dir) / "manifest.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _link_photos(images_root: Path, out: Path, photos: list[ReviewedPhoto], report: Report) -> Path:
    """``out/<path>`` links (or copies, where links are refused) to each held-back photo."""
    for p in photos:
        source, target = images_root / p.path, out / p.path
        if not source.is_file():
            report.add(source, "photo_missing", "held-back photo not under --images", action="not linked")
            continue
        _mkdir(target.parent)
        if target.exists() or target.is_symlink():
            target.unlink()
        try:
            os.symlink(source.resolve(), target)
        except OSError:
            shutil.copy2(source, target)
    return _mkdir(out)
