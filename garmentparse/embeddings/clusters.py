"""Clusters of a collection (style clusters on photo-level folders): spherical k-means (faiss),
k chosen by the silhouette score when ``auto``; an assignments CSV, a contact sheet per cluster
(its garments nearest the centre) and the centroids, so new items can be given the nearest one.

``DIR/``: ``clusters.json`` (model, k, silhouette per k tried, sizes, top labels per cluster),
``centroids.npy``, ``assignments.csv``, ``cluster_NN.png``.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from garmentparse.draw import save_rgb
from garmentparse.embeddings.encoders import ModelIdentity
from garmentparse.embeddings.folder import FIELDS, EmbeddingFolder, ModelMismatchError
from garmentparse.embeddings.pictures import paste, put_text

K_AUTO_RANGE = (2, 12)
SILHOUETTE_SAMPLE = 4_000
TRAIN_LIMIT = 100_000  # k-means trains on at most this many vectors (all are assigned)
SHEET_COLUMNS = 8
SHEET_ITEMS = 40
SHEET_THUMB = 96
SUMMARY_FIELDS = ("part", "category", "colour", "style")


@dataclass
class ClusterSummary:
    out_dir: Path
    k: int
    sizes: list[int]
    silhouette: dict[int, float] = field(default_factory=dict)  # k -> score (auto)
    sheets: list[Path] = field(default_factory=list)
    assigned_to: Path | None = None  # clusters.json the items were assigned to (assign)


def kmeans(vectors: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """(k, D) unit centroids of spherical k-means on ``vectors`` (a seeded sample past TRAIN_LIMIT)."""
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if len(x) > TRAIN_LIMIT:
        x = x[np.sort(np.random.default_rng(seed).choice(len(x), TRAIN_LIMIT, replace=False))]
    km = faiss.Kmeans(x.shape[1], k, niter=25, nredo=3, seed=seed, spherical=True, verbose=False,
                      min_points_per_centroid=1, max_points_per_centroid=max(256, len(x) // k + 1))
    km.train(x)
    return km.centroids / np.linalg.norm(km.centroids, axis=1, keepdims=True)


def nearest_centroid(vectors: np.ndarray, centroids: np.ndarray, chunk: int = 100_000) -> tuple[np.ndarray, np.ndarray]:
    """(cluster, cosine similarity) of each vector's nearest centroid."""
    index = faiss.IndexFlatIP(centroids.shape[1])
    index.add(np.ascontiguousarray(centroids, dtype=np.float32))
    labels, scores = [], []
    for start in range(0, len(vectors), chunk):
        s, i = index.search(np.ascontiguousarray(vectors[start:start + chunk], dtype=np.float32), 1)
        labels.append(i[:, 0])
        scores.append(s[:, 0])
    return np.concatenate(labels), np.concatenate(scores)


def choose_k(vectors: np.ndarray, k_range: tuple[int, int] = K_AUTO_RANGE, seed: int = 0) -> tuple[int, dict[int, float]]:
    """The k of ``k_range`` (inclusive) with the best silhouette (cosine, on a sample)."""
    from sklearn.metrics import silhouette_score

    x = np.asarray(vectors, dtype=np.float32)
    sample = x if len(x) <= SILHOUETTE_SAMPLE else x[np.random.default_rng(seed).choice(len(x), SILHOUETTE_SAMPLE,
                                                                                        replace=False)]
    scores: dict[int, float] = {}
    for k in range(k_range[0], min(k_range[1], len(sample) - 1) + 1):
        labels, _ = nearest_centroid(sample, kmeans(x, k, seed))
        if len(set(labels.tolist())) < 2:
            continue
        scores[k] = float(silhouette_score(sample, labels, metric="cosine"))
    if not scores:
        raise ValueError(f"cannot choose k: {len(x)} items are too few for {k_range[0]} or more clusters")
    return max(scores, key=scores.get), scores


def top_labels(folder: EmbeddingFolder, ids: np.ndarray, n: int = 3) -> dict[str, list[tuple[str, float]]]:
    """The most common values of the summary fields among ``ids``, with their share."""
    out: dict[str, list[tuple[str, float]]] = {}
    for name in SUMMARY_FIELDS:
        values = Counter(v for v in (folder.items[i].label(name) for i in ids) if v)
        if values:
            out[name] = [(v, round(c / len(ids), 3)) for v, c in values.most_common(n)]
    return out


def contact_sheet(folder: EmbeddingFolder, ids: np.ndarray, title: str, lines: list[str]) -> np.ndarray:
    """Thumbnails of ``ids`` in a grid under a header (title + one line per summary field)."""
    rows = max(1, -(-len(ids) // SHEET_COLUMNS))
    header = 40 + 22 * len(lines)
    gap = 6
    width = SHEET_COLUMNS * (SHEET_THUMB + gap) + gap
    canvas = np.full((header + rows * (SHEET_THUMB + gap) + gap, max(width, 640), 3), 255, np.uint8)
    put_text(canvas, title, (gap, 26), 0.7, thickness=2)
    for j, line in enumerate(lines):
        put_text(canvas, line, (gap, 52 + 22 * j), 0.5)
    for n, i in enumerate(ids):
        thumb = folder.thumbnail(folder.items[int(i)], SHEET_THUMB)
        if thumb is None:
            continue
        r, c = divmod(n, SHEET_COLUMNS)
        centre = (gap + c * (SHEET_THUMB + gap) + SHEET_THUMB // 2, header + gap + r * (SHEET_THUMB + gap) + SHEET_THUMB // 2)
        paste(canvas, thumb, centre, (210, 210, 210))
    return canvas


def _write_assignments(path: Path, folder: EmbeddingFolder, labels: np.ndarray, scores: np.ndarray) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "key", "photo", "cluster", "similarity", *SUMMARY_FIELDS])
        for item, c, s in zip(folder.items, labels, scores):
            writer.writerow([item.id, item.key, item.photo, int(c), f"{s:.4f}", *(item.label(f) for f in SUMMARY_FIELDS)])


def cluster_folder(folder: EmbeddingFolder | str | Path, out_dir: str | Path, *, k: int | str = "auto",
                   k_range: tuple[int, int] = K_AUTO_RANGE, seed: int = 0, sheets: bool = True) -> ClusterSummary:
    """k-means clusters of ``folder`` into ``out_dir`` (k by silhouette when ``"auto"``)."""
    folder = folder if isinstance(folder, EmbeddingFolder) else EmbeddingFolder.open(folder)
    vectors = np.asarray(folder.vectors)
    silhouette: dict[int, float] = {}
    if k == "auto":
        k, silhouette = choose_k(vectors, k_range, seed)
    k = int(k)
    if not 1 <= k <= len(folder):
        raise ValueError(f"--k {k}: must be between 1 and the number of items ({len(folder)})")
    centroids = kmeans(vectors, k, seed)
    labels, scores = nearest_centroid(vectors, centroids)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "centroids.npy", centroids.astype(np.float32))
    _write_assignments(out / "assignments.csv", folder, labels, scores)
    clusters, written = [], []
    for c in range(k):
        members = np.flatnonzero(labels == c)
        best = members[np.argsort(-scores[members], kind="stable")][:SHEET_ITEMS]
        tops = top_labels(folder, members) if len(members) else {}
        clusters.append({"cluster": c, "size": int(len(members)), "top_labels": tops,
                         "nearest_to_centre": [folder.items[int(i)].key for i in best[:10]]})
        if sheets and len(members):
            lines = [f"{name}: " + ", ".join(f"{v} {share:.0%}" for v, share in values) for name, values in tops.items()]
            path = out / f"cluster_{c:02d}.png"
            save_rgb(path, contact_sheet(folder, best, f"cluster {c}: {len(members)} {folder.manifest.level}s", lines))
            written.append(path)
    meta = {"model": folder.model.to_dict(), "folder": str(folder.path.resolve()), "level": folder.manifest.level,
            "k": k, "silhouette": {str(key): v for key, v in silhouette.items()}, "clusters": clusters}
    (out / "clusters.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False), encoding="utf-8")
    return ClusterSummary(out, k, [c["size"] for c in clusters], silhouette, written)


def assign_folder(folder: EmbeddingFolder | str | Path, clusters_dir: str | Path, out_dir: str | Path) -> ClusterSummary:
    """Give every item of ``folder`` the nearest centroid of an earlier ``cluster`` run
    (``clusters_dir``); both must come from one model. Writes ``assignments.csv`` to ``out_dir``."""
    folder = folder if isinstance(folder, EmbeddingFolder) else EmbeddingFolder.open(folder)
    clusters_dir = Path(clusters_dir)
    meta_path = clusters_dir / "clusters.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{clusters_dir}: no clusters.json (make one with `garmentparse cluster`)")
    meta: dict[str, Any] = json.loads(meta_path.read_text(encoding="utf-8"))
    identity = ModelIdentity.from_dict(meta["model"])
    if identity.sha256 != folder.model.sha256:
        raise ModelMismatchError(f"{clusters_dir} was clustered with {identity.describe()}; {folder.path} was "
                                 f"embedded with {folder.model.describe()}: embed the new items with the same model")
    centroids = np.load(clusters_dir / "centroids.npy")
    labels, scores = nearest_centroid(np.asarray(folder.vectors), centroids)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _write_assignments(out / "assignments.csv", folder, labels, scores)
    sizes = np.bincount(labels, minlength=len(centroids)).tolist()
    return ClusterSummary(out, len(centroids), sizes, assigned_to=meta_path)


__all__ = ["FIELDS", "K_AUTO_RANGE", "ClusterSummary", "assign_folder", "choose_k", "cluster_folder",
           "contact_sheet", "kmeans", "nearest_centroid", "top_labels"]
