"""How good are the neighbours? Precision@k and mAP@10 of same-label retrieval: each garment of
a query folder (held-out photos) searches a gallery folder (training photos) made with the same
model; a neighbour is relevant when it has the query's label (e.g. the same category). Beside
it, the class-prior baseline: what a random ranking of the same gallery scores.

- P@k: share of relevant garments among the first k, averaged over queries.
- AP@10: sum over ranks i <= 10 of P@i at each relevant rank, divided by min(10, R) where R is
  the number of relevant garments in the gallery; mAP@10 is its mean.
- The query's own photo is never searched (garments sharing its photo key are left out), and
  gallery garments without the label are left out of every ranking.
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
                       label: str = "category", ks: tuple[int, ...] = DEFAULT_KS) -> RetrievalResult:
    """Same-``label`` retrieval of every labelled garment of ``queries`` among ``gallery``.

    Both folders must come from one model. The random baseline is the expectation over random
    orders of the same candidates (:func:`random_average_precision`; P@k: the class prior).
    """
    queries, gallery = _folder(queries), _folder(gallery)
    gallery.require_model(queries.model.sha256, f"the query folder {queries.path}")
    g_labels = gallery.column(label)
    q_labels = queries.column(label)
    labelled = g_labels != ""
    if not labelled.any():
        raise ValueError(f"{gallery.path}: no garment carries a {label} label")
    groups = {key: np.array(ids) for key, ids in gallery.photo_groups().items()}
    q_ids = np.flatnonzero(q_labels != "")
    k_max = max(max(ks), MAP_K)
    fetch = min(int(labelled.sum()), k_max + max(len(v) for v in groups.values()))
    selector, _bits = bitmap_selector(labelled)
    params = search_parameters(gallery.manifest.index, selector)
    vectors = np.ascontiguousarray(queries.vectors[q_ids], dtype=np.float32)
    _, found = index_search(gallery.index(), vectors, fetch, params) if len(q_ids) else (None, np.zeros((0, 0), int))
    class_counts = Counter(g_labels[labelled])
    precision = {k: [] for k in ks}
    random_precision = {k: [] for k in ks}
    aps, random_aps = [], []
    per_class: dict[str, list[float]] = {}
    for row, qi in zip(found, q_ids):
        query = queries.items[qi]
        own = groups.get(photo_key(query), np.zeros(0, int))
        own_set = set(own.tolist())
        ranking = [r for r in row if r >= 0 and r not in own_set][:k_max]
        relevant = g_labels[ranking] == q_labels[qi] if ranking else np.zeros(0, bool)
        total_relevant = class_counts[q_labels[qi]] - int((g_labels[own] == q_labels[qi]).sum())
        pool = int(labelled.sum()) - int(labelled[own].sum())
        for k in ks:
            precision[k].append(float(relevant[:k].sum()) / k)
            random_precision[k].append(total_relevant / pool if pool else 0.0)
        aps.append(average_precision(relevant, total_relevant))
        per_class.setdefault(q_labels[qi], []).append(float(relevant[:MAP_K].sum()) / MAP_K)
        random_aps.append(random_average_precision(total_relevant, pool))
    mean = lambda xs: float(np.mean(xs)) if xs else 0.0  # noqa: E731
    prior = {c: n / int(labelled.sum()) for c, n in class_counts.items()}
    return RetrievalResult(
        label, len(q_ids), len(queries) - len(q_ids), int(labelled.sum()),
        {k: mean(v) for k, v in precision.items()}, mean(aps),
        {k: mean(v) for k, v in random_precision.items()}, mean(random_aps),
        {c: {"queries": len(v), f"p@{MAP_K}": mean(v), "prior": prior.get(c, 0.0)}
         for c, v in sorted(per_class.items(), key=lambda kv: -len(kv[1]))})


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
