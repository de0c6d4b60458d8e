"""``eval embeddings``: precision@k and mAP@10 against a gallery, beside the class-prior baseline."""

from __future__ import annotations

import json

import numpy as np
import pytest

from garmentparse.embeddings import EmbeddingFolder, Item, evaluate_retrieval
from garmentparse.embeddings.encoders import ModelIdentity
from garmentparse.embeddings.evaluate import average_precision, random_average_precision
from garmentparse.embeddings.folder import FolderManifest
from garmentparse.embeddings.index import build_index
from tests.conftest import invoke


def test_average_precision():
    assert average_precision(np.array([1, 1, 0]), 2) == 1.0
    assert average_precision(np.array([0, 1, 0, 1]), 2) == pytest.approx((1 / 2 + 2 / 4) / 2)
    assert average_precision(np.array([0, 0]), 0) == 0.0
    assert average_precision(np.ones(12, bool), 50) == 1.0  # normalised by min(10, R)


def folder_of(path, vectors, categories, photos, sha="a" * 64):
    part = {"coat": "outer", "blouse": "top", "skirt": "bottom", "jeans": "bottom"}
    items = [Item(f"{p}#{i}", p, "", part=part.get(c, ""), labels={"category": [c]} if c else {})
             for i, (c, p) in enumerate(zip(categories, photos))]
    index, spec = build_index(np.asarray(vectors, np.float32))
    manifest = FolderManifest(ModelIdentity("lite0", "x", sha, len(vectors[0])), "garment", 0, spec, 224, "white")
    return EmbeddingFolder.write(path, np.asarray(vectors, np.float32), items, manifest, index)


def test_perfect_embeddings_score_one_and_the_baseline_is_the_class_prior(tmp_path):
    classes = ["blouse", "skirt", "coat"]
    onehot = np.eye(3, dtype=np.float32)
    g_cats = [classes[i % 3] for i in range(30)] + ["skirt"] * 6  # skirts: 16 of 36
    gallery = folder_of(tmp_path / "g", [onehot[classes.index(c)] for c in g_cats], g_cats,
                        [f"g{i // 2}.jpg" for i in range(36)])
    q_cats = ["blouse", "skirt", "coat", ""]
    queries = folder_of(tmp_path / "q", [onehot[classes.index(c or "coat")] for c in q_cats], q_cats,
                        ["q0.jpg", "q1.jpg", "q2.jpg", "q3.jpg"])
    result = evaluate_retrieval(queries, gallery, label="category")
    assert result.queries == 3 and result.unlabelled_queries == 1 and result.gallery == 36
    assert result.precision == {1: 1.0, 5: 1.0, 10: 1.0} and result.map_at_10 == 1.0
    prior = np.mean([10 / 36, 16 / 36, 10 / 36])
    assert result.random_precision[10] == pytest.approx(prior)
    rng = np.random.default_rng(0)  # the expected random AP@10, checked against random rankings
    for relevant, pool in ((10, 36), (16, 36), (3, 5)):
        drawn = [average_precision(rng.permutation(pool)[:10] < relevant, relevant) for _ in range(4_000)]
        assert random_average_precision(relevant, pool) == pytest.approx(np.mean(drawn), abs=0.012)
    assert result.random_map_at_10 == pytest.approx(np.mean([random_average_precision(r, 36) for r in (10, 16, 10)]))
    with pytest.raises(ValueError, match="another model"):
        evaluate_retrieval(folder_of(tmp_path / "other", [onehot[0]] * 3, ["coat"] * 3, ["o.jpg"] * 3, sha="b" * 64),
                           gallery)


def test_own_photo_is_left_out(tmp_path):
    onehot = np.eye(2, dtype=np.float32)
    gallery = folder_of(tmp_path / "g", [onehot[0]] * 3 + [onehot[1]] * 3, ["coat"] * 3 + ["skirt"] * 3,
                        ["same.jpg", "a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg"])
    queries = folder_of(tmp_path / "q", [onehot[0]], ["coat"], ["same.jpg"])
    result = evaluate_retrieval(queries, gallery, ks=(1, 2, 3))
    # the coat of the query's own photo is not searched: 2 coats left among 5 candidates
    assert result.precision == {1: 1.0, 2: 1.0, 3: pytest.approx(2 / 3)}
    assert result.random_precision[1] == pytest.approx(2 / 5)


def test_eval_embeddings_command_on_real_crops(crops_emb):
    out = json.loads(invoke("eval", "embeddings", crops_emb, "--gallery", crops_emb, "--labels", "category,part", "--json"))
    for label in ("category", "part"):
        r = out[label]
        assert r["queries"] == 52 and 0 <= r["precision"]["p@10"] <= 1
        # a trained backbone ranks same-label garments above chance, even leaving out each own photo
        assert r["precision"]["p@10"] > r["random_precision"]["p@10"]


def test_same_part_searches_only_garments_of_the_query_part(tmp_path):
    q = np.array([1, 0, 0], np.float32)
    near, far = np.array([0.8, 0.6, 0], np.float32), np.array([0.6, 0, 0.8], np.float32)
    cats = ["coat"] * 5 + ["skirt"] * 3 + ["jeans"] * 2  # the coats are nearest, but are no bottoms
    gallery = folder_of(tmp_path / "g", [q] * 5 + [near] * 3 + [far] * 2, cats, [f"g{i}.jpg" for i in range(10)])
    queries = folder_of(tmp_path / "q", [q], ["skirt"], ["q.jpg"])
    anywhere = evaluate_retrieval(queries, gallery, ks=(1, 3))
    assert anywhere.precision[1] == 0.0 and anywhere.random_precision[1] == pytest.approx(3 / 10)
    bottoms = evaluate_retrieval(queries, gallery, ks=(1, 3), same=("part",))
    assert bottoms.precision == {1: 1.0, 3: 1.0} and bottoms.random_precision[1] == pytest.approx(3 / 5)
    assert bottoms.same == ["part"] and bottoms.map_at_10 == 1.0
