"""The embedding folder: what ``embed`` writes and every other command reads.

::

    EMB/
      manifest.json   model (kind, file, sha256, width), level, count, index settings, sources
      vectors.npy     (N, D) float32, unit rows, row i = item i (memory-mapped when read)
      items.csv       id, key, photo, photo_sha256, crop, box, part, source, one column per attribute
      index.faiss     the approximate index (IVF / HNSW); an exact index is rebuilt from vectors.npy

``source`` says whether an item's labels are ``true`` (a labelled crop manifest) or
``predicted`` (a ``tag`` output). Multi-label values are joined with ``|`` as in crop manifests.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from garmentparse import vocab
from garmentparse.imageio import ImageReadError, load_rgb
from garmentparse.masks import letterbox
from garmentparse.embeddings.encoders import ModelIdentity
from garmentparse.embeddings.index import IndexSpec, flat_index, read_index, write_index

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
VECTORS = "vectors.npy"
ITEMS = "items.csv"
INDEX = "index.faiss"
ITEM_COLUMNS = ["id", "key", "photo", "photo_sha256", "crop", "box", "part", "source", *vocab.ATTRIBUTES]
LEVELS = ("garment", "photo")
FIELDS = ("part", *vocab.ATTRIBUTES)  # what --same and --color-by may name


class ModelMismatchError(ValueError):
    """A query or an addition made with another model than the folder's vectors."""


@dataclass
class Item:
    """One embedded garment (or photo): where it comes from and its labels (English ids)."""

    key: str  # stable name: "<photo>#<garment>" or the crop's annotation; `similar --item` takes it
    photo: str = ""  # the photo, relative to the folder's images root when there is one
    photo_sha256: str = ""  # the photo file's sha256 when it was readable (finds a query's own photo)
    crop: str = ""  # a crop image file, absolute, when the source had one
    box: list[float] | None = None  # [x0, y0, x1, y1] in the photo's pixels
    part: str = ""
    source: str = "true"  # true: labels as annotated | predicted: labels from a model
    labels: dict[str, list[str]] = field(default_factory=dict)
    id: int = -1  # row in vectors.npy / items.csv

    def label(self, name: str) -> str:
        """The part, or the first value of attribute ``name`` ("" when missing)."""
        if name == "part":
            return self.part
        values = self.labels.get(name) or []
        return values[0] if values else ""

    def to_row(self) -> dict[str, str]:
        row = {"id": str(self.id), "key": self.key, "photo": self.photo, "photo_sha256": self.photo_sha256,
               "crop": self.crop, "box": " ".join(f"{v:.1f}" for v in self.box) if self.box else "",
               "part": self.part, "source": self.source}
        for name in vocab.ATTRIBUTES:
            row[name] = "|".join(self.labels.get(name, []))
        return row

    @classmethod
    def from_row(cls, row: dict[str, str]) -> Item:
        box = [float(v) for v in row["box"].split()] if row.get("box") else None
        labels = {name: row[name].split("|") for name in vocab.ATTRIBUTES if row.get(name)}
        return cls(row["key"], row["photo"], row["photo_sha256"], row["crop"], box, row["part"],
                   row["source"], labels, int(row["id"]))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "key": self.key, "photo": self.photo, "crop": self.crop or None,
                "box": self.box, "part": self.part or None, "source": self.source,
                "labels": {k: v if vocab.ATTRIBUTES[k].multi_label or len(v) > 1 else v[0]
                           for k, v in self.labels.items()}}


@dataclass
class FolderManifest:
    """``manifest.json``: the model that made the vectors, their level, count and index."""

    model: ModelIdentity
    level: str
    count: int
    index: IndexSpec
    crop_size: int  # how garments were cut for the model (a photo query is cut the same way)
    crop_background: str
    images_root: str = ""  # absolute; photos are relative to it
    sources: list[str] = field(default_factory=list)
    created: str = ""
    format: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format, "model": self.model.to_dict(), "level": self.level, "count": self.count,
                "index": self.index.to_dict(), "crop_size": self.crop_size,
                "crop_background": self.crop_background, "images_root": self.images_root,
                "sources": self.sources, "created": self.created}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FolderManifest:
        return cls(ModelIdentity.from_dict(data["model"]), data["level"], int(data["count"]),
                   IndexSpec.from_dict(data["index"]), int(data["crop_size"]), data["crop_background"],
                   data.get("images_root", ""), list(data.get("sources", [])), data.get("created", ""),
                   int(data.get("format", FORMAT_VERSION)))


def read_items(path: Path) -> list[Item]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [Item.from_row(row) for row in csv.DictReader(fh)]


def write_items(items: list[Item], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=ITEM_COLUMNS)
        writer.writeheader()
        writer.writerows(item.to_row() for item in items)
    os.replace(tmp, path)


class EmbeddingFolder:
    """An embedding folder in memory: manifest, vectors (memory-mapped), items, lazy index."""

    def __init__(self, path: Path, manifest: FolderManifest, vectors: np.ndarray, items: list[Item]) -> None:
        self.path = path
        self.manifest = manifest
        self.vectors = vectors
        self.items = items
        self._index = None
        self._keys: dict[str, int] | None = None

    def __len__(self) -> int:
        return len(self.items)

    @property
    def model(self) -> ModelIdentity:
        return self.manifest.model

    @classmethod
    def open(cls, path: str | Path) -> EmbeddingFolder:
        """Read ``path``; a folder that is not an embedding folder is a ``ValueError`` saying so."""
        path = Path(path)
        if not path.is_dir():
            raise FileNotFoundError(f"embedding folder not found: {path}")
        if not (path / MANIFEST).is_file():
            raise ValueError(f"{path}: not an embedding folder (no {MANIFEST}; make one with `garmentparse embed`)")
        try:
            manifest = FolderManifest.from_dict(json.loads((path / MANIFEST).read_text(encoding="utf-8")))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path / MANIFEST}: unreadable embedding manifest ({exc})") from None
        if manifest.format > FORMAT_VERSION:
            raise ValueError(f"{path}: embedding folder format {manifest.format} is newer than this "
                             f"garmentparse reads ({FORMAT_VERSION})")
        vectors = np.load(path / VECTORS, mmap_mode="r")
        items = read_items(path / ITEMS)
        if not (len(vectors) == len(items) == manifest.count):
            raise ValueError(f"{path}: {len(vectors)} vectors, {len(items)} items, manifest says "
                             f"{manifest.count}: the folder is incomplete; embed it again")
        return cls(path, manifest, vectors, items)

    @classmethod
    def write(cls, path: str | Path, vectors: np.ndarray, items: list[Item], manifest: FolderManifest,
              index: Any) -> EmbeddingFolder:
        """Write every file (each atomically) and return the folder, its index in memory."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for i, item in enumerate(items):
            item.id = i
        manifest.count = len(items)
        manifest.created = manifest.created or datetime.now(timezone.utc).isoformat(timespec="seconds")
        tmp = path / (VECTORS + ".tmp")
        with tmp.open("wb") as fh:
            np.save(fh, np.ascontiguousarray(vectors, dtype=np.float32))
        os.replace(tmp, path / VECTORS)
        write_items(items, path / ITEMS)
        if manifest.index.exact:
            (path / INDEX).unlink(missing_ok=True)
        else:
            write_index(index, path / (INDEX + ".tmp"))
            os.replace(path / (INDEX + ".tmp"), path / INDEX)
        (path / MANIFEST).write_text(json.dumps(manifest.to_dict(), indent=1, ensure_ascii=False), encoding="utf-8")
        folder = cls(path, manifest, np.load(path / VECTORS, mmap_mode="r"), items)
        folder._index = index
        return folder

    def index(self) -> Any:
        """The faiss index (built from the vectors for exact search, else read from disk)."""
        if self._index is None:
            spec = self.manifest.index
            self._index = flat_index(self.vectors) if spec.exact else read_index(self.path / INDEX, spec)
        return self._index

    def find(self, item: int | str) -> Item:
        """An item by id (row number) or key."""
        if isinstance(item, int) or (isinstance(item, str) and item.isdigit()):
            i = int(item)
            if 0 <= i < len(self.items):
                return self.items[i]
        if self._keys is None:
            self._keys = {it.key: it.id for it in self.items}
        if str(item) in self._keys:
            return self.items[self._keys[str(item)]]
        raise ValueError(f"{self.path}: no item {item!r} (ids 0..{len(self.items) - 1}, or a key from items.csv)")

    def require_model(self, sha256: str, what: str) -> None:
        """Refuse ``what`` (a query, an addition) made with a model other than the folder's."""
        if sha256 != self.model.sha256:
            raise ModelMismatchError(
                f"{self.path}: embedded with {self.model.describe()}; {what} uses another model "
                f"(sha256 {sha256[:12]}). Vectors of two models cannot be compared: use the folder's "
                "model, or embed the collection again with the new one")

    def column(self, name: str) -> np.ndarray:
        """The part or the first value of an attribute for every item (object array, "" = none)."""
        check_field(name)
        return np.array([it.label(name) for it in self.items], dtype=object)

    def thumbnail(self, item: Item, size: int) -> np.ndarray | None:
        """A ``size`` square picture of ``item``: its crop file, else its box cut from its photo
        (the whole photo at photo level); ``None`` when neither can be read."""
        try:
            if item.crop and Path(item.crop).is_file():
                return letterbox(load_rgb(item.crop), size)
            if item.photo and self.manifest.images_root:
                photo = load_rgb(Path(self.manifest.images_root) / item.photo)
                if item.box:
                    x0, y0, x1, y1 = (int(round(v)) for v in item.box)
                    photo = photo[max(0, y0):max(y0 + 1, y1), max(0, x0):max(x0 + 1, x1)]
                return letterbox(photo, size)
        except (ImageReadError, OSError):
            return None
        return None

    def photo_groups(self) -> dict[str, list[int]]:
        """Item ids per photo (the photo's sha256 when known, else its name)."""
        groups: dict[str, list[int]] = {}
        for it in self.items:
            groups.setdefault(photo_key(it), []).append(it.id)
        return groups


def check_field(name: str) -> None:
    """Raise a ValueError naming the choices when ``name`` is not the part or an attribute."""
    if name not in FIELDS:
        raise ValueError(f"unknown field {name!r}: use part or one of {', '.join(vocab.ATTRIBUTES)}")


def photo_key(item: Item) -> str:
    """What makes two items come from the same photo."""
    return f"sha256:{item.photo_sha256}" if item.photo_sha256 else f"photo:{item.photo}"


__all__ = ["FIELDS", "ITEM_COLUMNS", "check_field", "LEVELS", "EmbeddingFolder", "FolderManifest", "Item", "ModelMismatchError",
           "photo_key", "read_items", "write_items"]
