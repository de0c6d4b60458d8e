"""The vector index (faiss-cpu): exact inner-product search for small collections, an
approximate one (IVF or HNSW) past :data:`EXACT_LIMIT` vectors.

Vectors are L2-normalised, so inner product is cosine similarity. An approximate index is tuned
when it is built: a sample of the collection is searched exactly and the smallest ``nprobe``
(IVF) or ``efSearch`` (HNSW) whose recall@10 reaches ``target_recall`` is kept, with the recall
it measured, in :class:`IndexSpec` (and so in the embedding folder's manifest).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from garmentparse.progress import ProgressCallback, report_progress

log = logging.getLogger(__name__)

EXACT_LIMIT = 100_000  # up to this many vectors, ``auto`` searches exactly
INDEX_KINDS = ("auto", "flat", "ivf", "hnsw")
APPROXIMATE_KIND = "ivf"  # what ``auto`` builds past EXACT_LIMIT (docs/embeddings.md: why)
NPROBES = (1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)
EF_SEARCHES = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
TUNE_QUERIES = 300
TRAIN_POINTS_PER_LIST = 40  # k-means training sample for IVF (faiss warns below 39)


@dataclass
class IndexSpec:
    """How the index is built and searched; ``recall_at_10`` was measured at build time."""

    kind: str  # flat | ivf | hnsw
    nlist: int = 0  # ivf: number of lists (k-means cells)
    nprobe: int = 0  # ivf: lists searched per query
    m: int = 32  # hnsw: links per node
    ef_construction: int = 40  # hnsw
    ef_search: int = 0  # hnsw: candidates kept while searching
    target_recall: float = 0.95
    recall_at_10: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IndexSpec:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    @property
    def exact(self) -> bool:
        return self.kind == "flat"

    def describe(self) -> str:
        if self.kind == "ivf":
            return f"IVF{self.nlist}, nprobe {self.nprobe} (recall@10 {self.recall_at_10:.3f} at build)"
        if self.kind == "hnsw":
            return f"HNSW{self.m}, efSearch {self.ef_search} (recall@10 {self.recall_at_10:.3f} at build)"
        return "exact (flat inner product)"


def choose_kind(count: int, requested: str = "auto") -> str:
    """``flat`` up to :data:`EXACT_LIMIT` vectors, else :data:`APPROXIMATE_KIND`; or as asked."""
    if requested not in INDEX_KINDS:
        raise ValueError(f"unknown index kind {requested!r}: use one of {', '.join(INDEX_KINDS)}")
    if requested != "auto":
        return requested
    return "flat" if count <= EXACT_LIMIT else APPROXIMATE_KIND


def _as_float32(vectors: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(vectors, dtype=np.float32)


def flat_index(vectors: np.ndarray) -> faiss.Index:
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(_as_float32(vectors))
    return index


def _add_in_chunks(index: faiss.Index, vectors: np.ndarray, on_progress: ProgressCallback | None,
                   chunk: int = 50_000) -> None:
    for start in range(0, len(vectors), chunk):
        index.add(_as_float32(vectors[start:start + chunk]))
        report_progress(on_progress, min(start + chunk, len(vectors)), len(vectors), "indexing")


def search(index: faiss.Index, queries: np.ndarray, k: int,
           params: faiss.SearchParameters | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``index.search`` with optional search parameters (a filter, nprobe / efSearch).

    ``faiss.contrib.torch_utils`` (imported by ``pytorch-metric-learning``) replaces
    ``Index.search`` by one without ``params`` and keeps faiss' own as ``search_numpy``."""
    own = getattr(index, "search_numpy", index.search)
    return own(_as_float32(queries), k, params=params)


def configure(index: faiss.Index, spec: IndexSpec) -> faiss.Index:
    """Apply the search-time setting of ``spec`` (nprobe / efSearch) to ``index``."""
    if spec.kind == "ivf":
        faiss.extract_index_ivf(index).nprobe = max(1, spec.nprobe)
    elif spec.kind == "hnsw":
        index.hnsw.efSearch = max(1, spec.ef_search)
    return index


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, k: int,
                chunk: int = 200_000) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product top ``k`` of ``queries`` among ``vectors``: (scores, ids), best
    first, ``-1`` ids past the end. Goes through ``vectors`` in chunks (a memory map stays one)."""
    queries = _as_float32(queries)
    best_s = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_i = np.full((len(queries), 0), -1, dtype=np.int64)
    flat = faiss.IndexFlatIP(vectors.shape[1])
    for start in range(0, len(vectors), chunk):
        flat.reset()
        flat.add(_as_float32(vectors[start:start + chunk]))
        s, i = flat.search(queries, min(k, flat.ntotal))
        both_s, both_i = np.hstack([best_s, s]), np.hstack([best_i, np.where(i >= 0, i + start, -1)])
        order = np.argsort(-both_s, axis=1, kind="stable")[:, :k]
        best_s, best_i = np.take_along_axis(both_s, order, 1), np.take_along_axis(both_i, order, 1)
    return best_s, best_i


def recall_at_10(index: faiss.Index, vectors: np.ndarray, sample: np.ndarray,
                 exact: np.ndarray | None = None) -> float:
    """Share of the exact 10 nearest neighbours (the query itself left out) that ``index``
    returns, for the collection's own vectors ``sample`` as queries (``exact``: their exact top
    11 ids, when already known)."""
    queries = _as_float32(vectors[sample])
    if exact is None:
        _, exact = exact_top_k(vectors, queries, 11)
    _, found = search(index, queries, 11)
    hits = 0
    for q, truth, got in zip(sample, exact, found):
        truth_10 = {t for t in truth if t != q and t >= 0}
        if len(truth_10) > 10:  # the query was not among its own 11 (ties): keep the first 10
            truth_10 = set([t for t in truth if t != q][:10])
        hits += len(truth_10 & {g for g in got if g != q})
    return hits / (10 * len(sample))


def _tune(index: faiss.Index, spec: IndexSpec, vectors: np.ndarray, seed: int) -> IndexSpec:
    """The smallest nprobe / efSearch reaching ``spec.target_recall`` on a sample (or the largest tried)."""
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(vectors), size=min(TUNE_QUERIES, len(vectors)), replace=False)
    field, values = ("nprobe", NPROBES) if spec.kind == "ivf" else ("ef_search", EF_SEARCHES)
    if spec.kind == "ivf":
        values = tuple(v for v in values if v <= spec.nlist) or (spec.nlist,)
    _, exact = exact_top_k(vectors, vectors[sample], 11)
    for value in values:
        setattr(spec, field, value)
        spec.recall_at_10 = recall_at_10(configure(index, spec), vectors, sample, exact)
        log.info("index %s: %s %d -> recall@10 %.3f", spec.kind, field, value, spec.recall_at_10)
        if spec.recall_at_10 >= spec.target_recall:
            break
    else:
        log.warning("the %s index reaches recall@10 %.3f at most (%s %d), below the target %.2f: searches "
                    "will miss neighbours; choose another --index (ivf tunes further, flat is exact)", spec.kind,
                    spec.recall_at_10, field, values[-1], spec.target_recall)
    return spec


def build_index(vectors: np.ndarray, kind: str = "auto", *, target_recall: float = 0.95, seed: int = 0,
                nlist: int | None = None, hnsw_m: int = 32,
                on_progress: ProgressCallback | None = None) -> tuple[faiss.Index, IndexSpec]:
    """An index over ``vectors`` (N, D) float32 rows of unit length, and how to search it.

    ``kind``: ``auto`` (exact up to :data:`EXACT_LIMIT` vectors), ``flat``, ``ivf`` or ``hnsw``.
    An approximate index is tuned to ``target_recall`` (recall@10) on a sample of ``vectors``.
    """
    count, dim = vectors.shape
    if count == 0:
        raise ValueError("no vectors to index")
    spec = IndexSpec(choose_kind(count, kind), target_recall=target_recall)
    if spec.kind == "flat":
        index = faiss.IndexFlatIP(dim)
        _add_in_chunks(index, vectors, on_progress)
        spec.recall_at_10 = 1.0
        return index, spec
    if spec.kind == "ivf":
        spec.nlist = nlist or max(1, min(int(2 * np.sqrt(count)), count // TRAIN_POINTS_PER_LIST))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, spec.nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(seed)
        train = rng.choice(count, size=min(count, TRAIN_POINTS_PER_LIST * spec.nlist), replace=False)
        report_progress(on_progress, 0, count, "training IVF lists")
        index.cp.seed = seed
        index.train(_as_float32(vectors[np.sort(train)]))
    else:
        spec.m = hnsw_m
        index = faiss.IndexHNSWFlat(dim, spec.m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = spec.ef_construction
    _add_in_chunks(index, vectors, on_progress)
    report_progress(on_progress, count, count, "tuning")
    return index, _tune(index, spec, vectors, seed)


def write_index(index: faiss.Index, path: str | Path) -> None:
    faiss.write_index(index, str(path))


def read_index(path: str | Path, spec: IndexSpec) -> faiss.Index:
    if not Path(path).is_file():
        raise FileNotFoundError(f"index file not found: {path}")
    return configure(faiss.read_index(str(path)), spec)


__all__ = ["APPROXIMATE_KIND", "EXACT_LIMIT", "INDEX_KINDS", "IndexSpec", "build_index", "choose_kind",
           "configure", "exact_top_k", "flat_index", "search", "read_index", "recall_at_10", "write_index"]
