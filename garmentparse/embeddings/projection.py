"""A 2-D map of a collection: PCA or t-SNE of its vectors drawn as a PNG, points coloured by the
part or any attribute, thumbnails of garments spread over the map, a legend; the coordinates go
to a CSV beside it.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from garmentparse.draw import save_rgb
from garmentparse.embeddings.folder import EmbeddingFolder, check_field
from garmentparse.embeddings.pictures import class_colours, colour_key, draw_legend, paste, put_text

METHODS = ("pca", "tsne")
TSNE_LIMIT = 5_000  # t-SNE is quadratic-ish: larger collections are sampled first
PLOT = 1100  # side of the square plot area (pixels)
LEGEND_WIDTH = 300
MARGIN = 60
THUMB = 72


@dataclass
class MapSummary:
    path: Path
    csv_path: Path
    points: int  # drawn
    items: int  # in the folder
    method: str
    color_by: str
    thumbnails: int
    classes: dict[str, int]


def project(vectors: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """(N, 2) coordinates of ``vectors``: PCA, or t-SNE (on the first 50 PCA components)."""
    from sklearn.decomposition import PCA

    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: use pca or tsne")
    x = np.asarray(vectors, dtype=np.float32)
    if len(x) < 3:
        raise ValueError(f"a map needs at least 3 items, the folder has {len(x)}")
    if method == "pca":
        return PCA(n_components=2, random_state=seed).fit_transform(x)
    from sklearn.manifold import TSNE

    reduced = PCA(n_components=min(50, x.shape[1], len(x)), random_state=seed).fit_transform(x)
    perplexity = float(min(30.0, max(2.0, (len(x) - 1) / 3)))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(reduced)


def unit_square(coords: np.ndarray) -> np.ndarray:
    """Coordinates scaled into [0, 1] x [0, 1] (equal scale on both axes, centred)."""
    lo, hi = coords.min(axis=0), coords.max(axis=0)
    span = float(max((hi - lo).max(), 1e-9))
    return (coords - (lo + hi) / 2) / span + 0.5


def to_pixels(coords: np.ndarray) -> np.ndarray:
    """Coordinates scaled into the plot area (equal scale on both axes)."""
    return (MARGIN + THUMB / 2 + unit_square(coords) * (PLOT - THUMB)).astype(int)


@dataclass
class MapPoints:
    """A collection sampled and projected to 2-D: what a map draws (the PNG here, the web app's page)."""

    ids: np.ndarray  # item rows of the folder, ascending
    coords: np.ndarray  # (n, 2) projection
    labels: list[str]  # the ``color_by`` value of each point ("" = none)
    keys: list[str]  # its legend entry: the value, (other) or (none)
    colours: dict[str, tuple[int, int, int]]  # legend entry -> RGB
    method: str
    color_by: str
    total: int  # items in the folder

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(self.keys))

    def recoloured(self, folder: EmbeddingFolder, color_by: str) -> MapPoints:
        """The same points and coordinates coloured by another field (no new projection)."""
        column = folder.column(color_by)
        labels = [str(column[i]) for i in self.ids]
        colours = class_colours(labels, parts=color_by == "part")
        return replace(self, labels=labels, keys=[colour_key(v, colours) for v in labels], colours=colours,
                       color_by=color_by)


def map_points(folder: EmbeddingFolder, *, method: str = "pca", color_by: str = "part",
               max_points: int = 20_000, seed: int = 0) -> MapPoints:
    """Project ``folder`` (a random ``max_points`` sample past that size; t-SNE at most
    :data:`TSNE_LIMIT`) and colour it by the part or an attribute."""
    check_field(color_by)  # before the projection, not after it
    limit = min(max_points, TSNE_LIMIT) if method == "tsne" else max_points
    rng = np.random.default_rng(seed)
    ids = np.sort(rng.choice(len(folder), size=limit, replace=False)) if len(folder) > limit else np.arange(len(folder))
    coords = project(np.asarray(folder.vectors[ids]), method, seed)
    return MapPoints(ids, coords, [], [], {}, method, "", len(folder)).recoloured(folder, color_by)


def spread_sample(pixels: np.ndarray, cells: int, origin: float = MARGIN, extent: float = PLOT) -> list[int]:
    """One point per occupied cell of a ``cells`` x ``cells`` grid over the square at ``origin``
    with side ``extent``: the one nearest its centre."""
    size = extent / cells
    chosen: dict[tuple[int, int], tuple[float, int]] = {}
    for i, (x, y) in enumerate(pixels):
        cell = (int((x - origin) // size), int((y - origin) // size))
        centre = (origin + (cell[0] + 0.5) * size, origin + (cell[1] + 0.5) * size)
        d = (x - centre[0]) ** 2 + (y - centre[1]) ** 2
        if cell not in chosen or d < chosen[cell][0]:
            chosen[cell] = (d, i)
    return [i for _, i in sorted(chosen.values())]


def make_map(folder: EmbeddingFolder | str | Path, out: str | Path, *, method: str = "pca",
             color_by: str = "part", thumbnails: bool = True, max_points: int = 20_000,
             seed: int = 0) -> MapSummary:
    """Draw ``folder`` as ``out`` (PNG) and write ``out`` with ``.csv`` (id, key, x, y, label)."""
    folder = folder if isinstance(folder, EmbeddingFolder) else EmbeddingFolder.open(folder)
    points = map_points(folder, method=method, color_by=color_by, max_points=max_points, seed=seed)
    ids, coords, labels, keys, colours = points.ids, points.coords, points.labels, points.keys, points.colours
    pixels = to_pixels(coords)
    canvas = np.full((PLOT + 2 * MARGIN, PLOT + 2 * MARGIN + LEGEND_WIDTH, 3), 255, np.uint8)
    radius = 5 if len(ids) <= 2_000 else 3 if len(ids) <= 10_000 else 2
    for (x, y), key in zip(pixels, keys):
        cv2.circle(canvas, (int(x), int(y)), radius, colours[key], -1, cv2.LINE_AA)
    shown = 0
    if thumbnails:
        for i in spread_sample(pixels, cells=7):
            thumb = folder.thumbnail(folder.items[int(ids[i])], THUMB)
            if thumb is not None:
                paste(canvas, thumb, tuple(pixels[i]), colours[keys[i]])
                shown += 1
    level = folder.manifest.level
    sampled = f" (random {len(ids)} of {len(folder)})" if len(ids) < len(folder) else ""
    put_text(canvas, f"{len(ids)} {level}s{sampled}, {method.upper()} of {folder.model.kind} embeddings, "
                     f"coloured by {color_by}", (MARGIN, MARGIN - 25), 0.6, thickness=2)
    counts = points.counts
    draw_legend(canvas, colours, counts, (PLOT + 2 * MARGIN, MARGIN + 10), color_by)
    out = Path(out)
    save_rgb(out, canvas)
    csv_path = out.with_suffix(".csv")
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "key", "x", "y", color_by])
        for i, (x, y), value in zip(ids, coords, labels):
            writer.writerow([int(i), folder.items[int(i)].key, f"{x:.4f}", f"{y:.4f}", value])
    return MapSummary(out, csv_path, len(ids), len(folder), method, color_by, shown, dict(counts))


__all__ = ["METHODS", "TSNE_LIMIT", "MapPoints", "MapSummary", "make_map", "map_points", "project", "spread_sample",
           "to_pixels", "unit_square"]
