"""``map`` and ``cluster``: a readable picture of a collection, k-means with contact sheets,
nearest-centroid assignment of new items."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from garmentparse.embeddings import EmbeddingFolder, ModelMismatchError, assign_folder, cluster_folder, make_map
from garmentparse.embeddings.clusters import choose_k
from garmentparse.embeddings.projection import map_points, unit_square
from garmentparse.imageio import load_rgb
from tests.conftest import invoke


def test_map_png_with_legend_thumbnails_and_coordinates(crops_emb, tmp_path):
    summary = make_map(crops_emb, tmp_path / "map.png", color_by="category")
    picture = load_rgb(summary.path)
    assert picture.shape[0] > 1000 and picture.shape[1] > 1200
    assert summary.points == 52 and summary.thumbnails >= 10
    folder = EmbeddingFolder.open(crops_emb)
    assert summary.classes == dict(__import__("collections").Counter(folder.column("category")))
    with summary.csv_path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 52 and rows[0]["category"] == folder.items[0].label("category")
    invoke("map", crops_emb, "--out", tmp_path / "tsne.png", "--method", "tsne", "--color-by", "part",
           "--no-thumbnails", "--max-points", "40")
    assert len((tmp_path / "tsne.csv").read_text().splitlines()) == 41  # a random 40 of 52, plus the header
    with pytest.raises(ValueError, match="unknown field 'brand'"):
        make_map(crops_emb, tmp_path / "x.png", color_by="brand")


def test_map_points_sample_project_and_colour_a_folder(crops_emb):
    folder = EmbeddingFolder.open(crops_emb)
    points = map_points(folder, color_by="part", max_points=30, seed=1)
    assert len(points.ids) == 30 and points.total == 52 and list(points.ids) == sorted(set(points.ids))
    assert points.coords.shape == (30, 2)
    assert points.labels == [folder.items[int(i)].part for i in points.ids]
    assert set(points.keys) <= set(points.colours) and sum(points.counts.values()) == 30
    again = map_points(folder, color_by="part", max_points=30, seed=1)
    assert np.array_equal(again.ids, points.ids) and np.allclose(again.coords, points.coords)  # reproducible
    by_category = points.recoloured(folder, "category")  # same points, no new projection
    assert by_category.coords is points.coords and np.array_equal(by_category.ids, points.ids)
    assert by_category.labels == [folder.items[int(i)].label("category") for i in points.ids]
    with pytest.raises(ValueError, match="unknown field 'brand'"):
        map_points(folder, color_by="brand")
    square = unit_square(points.coords)
    assert square.min() >= 0 and square.max() <= 1 and np.isclose(np.ptp(square, axis=0).max(), 1.0)


def test_choose_k_finds_the_clusters_of_a_mixture():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((4, 16)) * 3
    x = centres[rng.integers(0, 4, 400)] + rng.standard_normal((400, 16)) * 0.3
    k, scores = choose_k(x / np.linalg.norm(x, axis=1, keepdims=True), (2, 7))
    assert k == 4 and set(scores) == set(range(2, 8))


def test_cluster_writes_assignments_sheets_and_assigns_new_items(crops_emb, tmp_path):
    summary = cluster_folder(crops_emb, tmp_path / "clusters", k="auto", k_range=(2, 5))
    assert 2 <= summary.k <= 5 and sum(summary.sizes) == 52
    meta = json.loads((tmp_path / "clusters" / "clusters.json").read_text())
    assert meta["k"] == summary.k and set(meta["silhouette"]) == {"2", "3", "4", "5"}
    assert [c["size"] for c in meta["clusters"]] == summary.sizes and meta["clusters"][0]["top_labels"]["part"]
    assert len(summary.sheets) == sum(1 for s in summary.sizes if s) and load_rgb(summary.sheets[0]).shape[1] >= 640
    with (tmp_path / "clusters" / "assignments.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 52 and {int(r["cluster"]) for r in rows} <= set(range(summary.k))
    assigned = assign_folder(crops_emb, tmp_path / "clusters", tmp_path / "again")
    with (tmp_path / "again" / "assignments.csv").open(newline="", encoding="utf-8") as fh:
        again = list(csv.DictReader(fh))
    assert [r["cluster"] for r in again] == [r["cluster"] for r in rows] and assigned.sizes == summary.sizes
    out = json.loads(invoke("cluster", crops_emb, "--out", tmp_path / "three", "--k", "3", "--json"))
    assert out["k"] == 3 and sum(out["sizes"]) == 52


def test_assigning_items_of_another_model_is_refused(crops_emb, tmp_path):
    cluster_folder(crops_emb, tmp_path / "c", k=2, sheets=False)
    meta = json.loads((tmp_path / "c" / "clusters.json").read_text())
    meta["model"]["sha256"] = "0" * 64
    (tmp_path / "c" / "clusters.json").write_text(json.dumps(meta))
    with pytest.raises(ModelMismatchError, match="same model"):
        assign_folder(crops_emb, tmp_path / "c", tmp_path / "d")
