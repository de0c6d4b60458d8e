"""Similar-garment search over an embedding folder: :class:`SimilarityIndex`.

A query is a garment of the collection (``--item``), or a photo: it is tagged first (any object
with the :class:`~garmentparse.tagging.Tagger`'s ``tag_arrays``), each garment it finds is cut
as the collection's garments were cut, embedded with the folder's model and gets its own
neighbours. ``same=("part", "category", "colour")`` keeps only garments whose label equals the
query's (the first value of a multi-label attribute). Garments of the query's own photo are
never among its neighbours.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import faiss
import numpy as np

from garmentparse import masks
from garmentparse.checkpoint import file_sha256
from garmentparse.embeddings.encoders import LITE0, Encoder, load_encoder, model_sha256
from garmentparse.embeddings.folder import FIELDS, EmbeddingFolder, Item, photo_key
from garmentparse.embeddings.index import IndexSpec, exact_top_k
from garmentparse.embeddings.index import search as index_search
from garmentparse.imageio import load_rgb

log = logging.getLogger(__name__)

SUBSET_EXACT_LIMIT = 50_000  # a filter leaving at most this many garments is searched exactly


class GarmentFinder(Protocol):
    """What a photo query needs from a tagger: ``tag_arrays([image])[0].garments``, each with
    ``part``, ``box``, ``mask`` (COCO RLE) and ``attributes`` (``{head: AttributePrediction}``).
    :class:`garmentparse.tagging.Tagger` is one."""

    def tag_arrays(self, images: list[np.ndarray], keep_crops: bool = False) -> list[Any]: ...


@dataclass
class Neighbour:
    item: Item
    score: float  # cosine similarity, 1 = the same direction

    def to_dict(self) -> dict[str, Any]:
        return {"score": round(float(self.score), 4), **self.item.to_dict()}


@dataclass
class QueryResult:
    """One query garment and its neighbours, best first."""

    query: Item
    neighbours: list[Neighbour]
    same: dict[str, str] = field(default_factory=dict)  # the filters applied: field -> value
    candidates: int = 0  # garments that passed the filters and the own-photo rule

    def to_dict(self) -> dict[str, Any]:
        return {"query": self.query.to_dict(), "same": self.same, "candidates": self.candidates,
                "neighbours": [n.to_dict() for n in self.neighbours]}


def parse_same(same: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"part,category"`` -> ``("part", "category")``, each checked against the known fields."""
    if not same:
        return ()
    names = tuple(s.strip() for s in (same.split(",") if isinstance(same, str) else same) if s.strip())
    bad = [n for n in names if n not in FIELDS]
    if bad:
        raise ValueError(f"--same: unknown field(s) {bad}; use part or an attribute: {', '.join(FIELDS[1:])}")
    return names


def bitmap_selector(mask: np.ndarray) -> tuple[faiss.IDSelector, np.ndarray]:
    bits = np.packbits(mask, bitorder="little")
    return faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits)), bits  # keep bits alive with it


def search_parameters(spec: IndexSpec, selector: faiss.IDSelector) -> faiss.SearchParameters:
    if spec.kind == "ivf":
        return faiss.SearchParametersIVF(sel=selector, nprobe=max(1, spec.nprobe))
    if spec.kind == "hnsw":
        return faiss.SearchParametersHNSW(sel=selector, efSearch=max(1, spec.ef_search))
    return faiss.SearchParameters(sel=selector)


class SimilarityIndex:
    """Nearest garments in an embedding folder.

    >>> index = SimilarityIndex.open("emb/")
    >>> result = index.search("0001.jpg#2", k=10, same=("part", "category"))
    >>> [(n.item.key, n.score) for n in result.neighbours]
    """

    def __init__(self, folder: EmbeddingFolder, encoder: Encoder | None = None) -> None:
        self.folder = folder
        if encoder is not None:
            folder.require_model(encoder.identity.sha256, "the query model")
        self._encoder = encoder
        self._photos: dict[str, np.ndarray] | None = None

    @classmethod
    def open(cls, path: str | Path, model: str | Path | Encoder | None = None,
             device: str = "auto") -> SimilarityIndex:
        """The folder at ``path``; ``model`` (checked against the folder's) embeds photo queries."""
        folder = EmbeddingFolder.open(path)
        if isinstance(model, (str, Path)):
            folder.require_model(model_sha256(model), str(model))  # before any network is built
            model = load_encoder(model, device=device)
        return cls(folder, model)

    def __len__(self) -> int:
        return len(self.folder)

    def encoder(self, device: str = "auto") -> Encoder:
        """The folder's own model, loaded from the file its manifest names (sha256 checked)."""
        if self._encoder is None:
            identity = self.folder.model
            model = LITE0 if identity.kind == LITE0 else identity.path
            if model != LITE0 and not Path(model).is_file():
                raise FileNotFoundError(f"{self.folder.path} was embedded with {identity.path}, which is gone; "
                                        "give the model with --model")
            encoder = load_encoder(model, device=device)
            self.folder.require_model(encoder.identity.sha256, str(model))
            self._encoder = encoder
        return self._encoder

    # -- the search itself -------------------------------------------------------------------

    def _check_k(self, k: int) -> None:
        if k < 1:
            raise ValueError(f"-k must be >= 1, got {k}")
        if k > len(self.folder):
            raise ValueError(f"-k {k} is larger than the collection in {self.folder.path} "
                             f"({len(self.folder)} {self.folder.manifest.level}s)")

    def _allowed(self, query: Item, same: tuple[str, ...], own: np.ndarray) -> tuple[np.ndarray, dict[str, str]]:
        allowed = np.ones(len(self.folder), dtype=bool)
        allowed[own] = False
        wanted: dict[str, str] = {}
        for name in same:
            value = query.label(name)
            if not value:
                raise ValueError(f"--same {name}: the query has no {name} label"
                                 + (" (give a classifier that predicts it)" if query.source == "predicted" else ""))
            wanted[name] = value
            allowed &= self.folder.column(name) == value
        return allowed, wanted

    def _own_photo(self, query: Item, path: Path | None = None) -> np.ndarray:
        """Ids of the garments that come from the query's photo."""
        if self._photos is None:
            self._photos = {key: np.array(ids) for key, ids in self.folder.photo_groups().items()}
        ids = [self._photos.get(photo_key(query), np.zeros(0, int))]
        if query.photo_sha256:  # the same file, named differently in the collection
            ids.append(self._photos.get(f"sha256:{query.photo_sha256}", np.zeros(0, int)))
        if path is not None and self.folder.manifest.images_root:
            root = Path(self.folder.manifest.images_root)
            try:
                rel = path.resolve().relative_to(root).as_posix()
                ids.append(self._photos.get(f"photo:{rel}", np.zeros(0, int)))
            except ValueError:
                pass
        return np.unique(np.concatenate(ids)).astype(np.int64)

    def nearest(self, vector: np.ndarray, k: int, allowed: np.ndarray) -> list[Neighbour]:
        """The ``k`` best of the ``allowed`` garments for one query vector."""
        count = int(allowed.sum())
        if count == 0:
            return []
        spec = self.folder.manifest.index
        q = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
        if not spec.exact and count <= SUBSET_EXACT_LIMIT:
            ids = np.flatnonzero(allowed)
            scores, rows = exact_top_k(self.folder.vectors[ids], q, min(k, count))
            found = [(int(ids[r]), float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]
        else:
            selector, _bits = bitmap_selector(allowed)
            scores, rows = index_search(self.folder.index(), q, min(k, count), search_parameters(spec, selector))
            found = [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]
            if len(found) < min(k, count):  # an approximate index missed some: search them exactly
                ids = np.flatnonzero(allowed)
                scores, rows = exact_top_k(self.folder.vectors[ids], q, min(k, count))
                found = [(int(ids[r]), float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]
        return [Neighbour(self.folder.items[i], s) for i, s in found]

    def search_vector(self, vector: np.ndarray, query: Item, k: int = 10, same: Sequence[str] = (),
                      photo: Path | None = None) -> QueryResult:
        """Neighbours of an outside garment: its vector and an :class:`Item` with its part, labels
        and photo (garments of that photo in the collection are left out)."""
        self._check_k(k)
        allowed, wanted = self._allowed(query, parse_same(same), self._own_photo(query, photo))
        return QueryResult(query, self.nearest(vector, k, allowed), wanted, int(allowed.sum()))

    def search(self, item: int | str, k: int = 10, same: Sequence[str] = ()) -> QueryResult:
        """Neighbours of a garment of the collection (by id or key)."""
        query = self.folder.find(item)
        return self.search_vector(np.asarray(self.folder.vectors[query.id]), query, k, same)

    def search_photo(self, photo: str | Path, finder: GarmentFinder | None = None, k: int = 10,
                     same: Sequence[str] = (), device: str = "auto") -> list[QueryResult]:
        """Neighbours of each garment ``finder`` finds in ``photo`` (of the whole photo for a
        photo-level folder); an empty list when it finds none."""
        photo = Path(photo)
        image = load_rgb(photo)
        sha = file_sha256(photo)
        encoder = self.encoder(device)
        if self.folder.manifest.level == "photo":
            query = Item(photo.name, str(photo), sha, source="predicted")
            return [self.search_vector(encoder.encode([image])[0], query, k, same, photo)]
        if finder is None:
            raise ValueError("a photo query on garments needs a detector to find them (--detector)")
        garments = finder.tag_arrays([image])[0].garments
        queries, crops = [], []
        for j, g in enumerate(garments):
            crops.append(masks.masked_crop(image, masks.decode(g.mask), g.box, size=self.folder.manifest.crop_size,
                                           background=self.folder.manifest.crop_background))
            labels = {head: (p.labels if p.labels is not None else [p.label])
                      for head, p in g.attributes.items() if p.label is not None}
            queries.append(Item(f"{photo.name}#{j}", str(photo), sha, "", [float(v) for v in g.box], g.part,
                                "predicted", {h: v for h, v in labels.items() if v}))
        vectors = encoder.encode(crops) if crops else []
        return [self.search_vector(v, q, k, same, photo) for v, q in zip(vectors, queries)]


__all__ = ["SUBSET_EXACT_LIMIT", "GarmentFinder", "Neighbour", "QueryResult", "SimilarityIndex", "bitmap_selector", "parse_same",
           "search_parameters"]
