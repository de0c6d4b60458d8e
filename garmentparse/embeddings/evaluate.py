"""How good are the neighbours? Precision@k and mAP@10 of same-label retrieval: each garment of
a query folder (held-out photos) searches a gallery folder (training photos) made with the same
model; a neighbour is relevant when it has the query's label (e.g. the same category). Beside
it, the class-prior baseline: what a random ranking of the same gallery scores.

- P@k: share of relevant garments among the first k, averaged over queries.
- AP@10: sum over ranks i <= 10 of P@i at each relevant rank, divided by min(10, R) where R is
  the number of relevant garments in the gallery; mAP@10 is its mean.
- The query's own photo is never searched (garments sharing its photo key are left out), and
  gallery garments without the label are left out of every ranking; with ``same``, so are the
  garments that do not share those labels with the query (queries without them are skipped).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from garmentparse.embeddings.folder import EmbeddingFolder, photo_key
from garmentparse.embeddings.index import search as index_search
from garmentparse.embeddings.search import bitmap_selector, search_parameters

DEFAULT_KS = (1, 5, 10)
MAP_K = 10


@dataclass
class RetrievalResult:
    """Retrieval quality for one label, with the random (class-prior) baseline beside it."""

    label: str
    queries: int  # query garments that carry the label
    unlabelled_queries: int
    gallery: int  # gallery garments that carry the label
    precision: dict[int, float]
    map_at_10: float
    random_precision: dict[int, float]
    random_map_at_10: float
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)
    same: list[str] = field(default_factory=list)  # labels every candidate shared with its query

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["precision"] = {f"p@{k}": v for k, v in self.precision.items()}
        out["random_precision"] = {f"p@{k}": v for k, v in self.random_precision.items()}
        return out


def average_precision(relevant: np.ndarray, total_relevant: int, k: int = MAP_K) -> float:
    """AP@k of one ranking (``relevant``: bools, best first)."""
    rel = np.asarray(relevant[:k], dtype=float)
    if total_relevant == 0:
        return 0.0
    precision_at = np.cumsum(rel) / np.arange(1, len(rel) + 1)
    return float((precision_at * rel).sum() / min(k, total_relevant))


def _folder(f: EmbeddingFolder | str | Path) -> EmbeddingFolder:
    return f if isinstance(f, EmbeddingFolder) else EmbeddingFolder.open(f)


def evaluate_retrieval(queries: EmbeddingFolder | str | Path, gallery: EmbeddingFolder | str | Path, *,
                       label: str = "category", ks: tuple[int, ...] = DEFAULT_KS,
                       same: tuple[str, ...] = ()) -> RetrievalResult:
    """Same-``label`` retrieval of every labelled garment of ``queries`` among ``gallery``.

    Both folders must come from one model. ``same`` (e.g. ``("part",)``) searches only gallery
    garments that share those labels with the query, as ``similar --same`` does. The random
    baseline is the expectation over random orders of the same candidates
    (:func:`random_average_precision`; P@k: the class prior among them).
    """
    queries, gallery = _folder(queries), _folder(gallery)
    gallery.require_model(queries.model.sha256, f"the query folder {queries.path}")
    g_labels, q_labels = gallery.column(label), queries.column(label)
    labelled = g_labels != ""
    if not labelled.any():
        raise ValueError(f"{gallery.path}: no garment carries a {label} label")
    g_same = [gallery.column(name) for name in same]
    q_same = [queries.column(name) for name in same]
    q_ids = np.flatnonzero((q_labels != "") & np.all([c != "" for c in q_same] or [True], axis=0))
    groups = {key: np.array(ids) for key, ids in gallery.photo_groups().items()}
    k_max = max(max(ks), MAP_K)
    by_filter: dict[tuple[str, ...], list[int]] = {}
    for qi in q_ids:
        by_filter.setdefault(tuple(c[qi] for c in q_same), []).append(int(qi))
    precision: dict[int, list[float]] = {k: [] for k in ks}
    random_precision: dict[int, list[float]] = {k: [] for k in ks}
    aps, random_aps = [], []
    per_class: dict[str, list[float]] = {}
    for values, members in by_filter.items():
        candidates = labelled & np.all([c == v for c, v in zip(g_same, values)] or [True], axis=0)
        class_counts = Counter(g_labels[candidates])
        fetch = min(int(candidates.sum()), k_max + max(len(v) for v in groups.values()))
        found = np.full((len(members), 0), -1)
        if fetch:
            selector, _bits = bitmap_selector(candidates)
            vectors = np.ascontiguousarray(queries.vectors[members], dtype=np.float32)
            _, found = index_search(gallery.index(), vectors, fetch, search_parameters(gallery.manifest.index, selector))
        for row, qi in zip(found, members):
            own = groups.get(photo_key(queries.items[qi]), np.zeros(0, int))
            own_set = set(own.tolist())
            ranking = [r for r in row if r >= 0 and r not in own_set][:k_max]
            relevant = g_labels[ranking] == q_labels[qi] if ranking else np.zeros(0, bool)
            total_relevant = class_counts[q_labels[qi]] - int((candidates[own] & (g_labels[own] == q_labels[qi])).sum())
            pool = int(candidates.sum()) - int(candidates[own].sum())
            for k in ks:
                precision[k].append(float(relevant[:k].sum()) / k)
                random_precision[k].append(total_relevant / pool if pool else 0.0)
            aps.append(average_precision(relevant, total_relevant))
            random_aps.append(random_average_precision(total_relevant, pool))
            per_class.setdefault(q_labels[qi], []).append(float(relevant[:MAP_K].sum()) / MAP_K)
    mean = lambda xs: float(np.mean(xs)) if xs else 0.0  # noqa: E731
    counts = Counter(g_labels[labelled])
    return RetrievalResult(
        label, len(q_ids), len(queries) - len(q_ids), int(labelled.sum()),
        {k: mean(v) for k, v in precision.items()}, mean(aps),
        {k: mean(v) for k, v in random_precision.items()}, mean(random_aps),
        {c: {"queries": len(v), f"p@{MAP_K}": mean(v), "prior": counts.get(c, 0) / int(labelled.sum())}
         for c, v in sorted(per_class.items(), key=lambda kv: -len(kv[1]))}, list(same))


def random_average_precision(relevant: int, pool: int, k: int = MAP_K) -> float:
    """Expected AP@k of a random ranking of ``pool`` garments of which ``relevant`` are relevant:
    (1 / min(k, R)) * sum over ranks i <= k of (1/i) * (p + (i - 1) * q), with p = R / N the
    chance that a rank is relevant and q = R (R - 1) / (N (N - 1)) that two ranks both are."""
    if pool == 0 or relevant == 0:
        return 0.0
    p = relevant / pool
    q = relevant * (relevant - 1) / (pool * (pool - 1)) if pool > 1 else 0.0
    ranks = np.arange(1, min(k, pool) + 1)
    return float(((p + (ranks - 1) * q) / ranks).sum() / min(k, relevant))


__all__ = ["DEFAULT_KS", "MAP_K", "RetrievalResult", "average_precision", "evaluate_retrieval",
           "random_average_precision"]
