"""The faiss index: exact below the limit, IVF / HNSW tuned to the asked recall above it."""

from __future__ import annotations

import numpy as np
import pytest

from garmentparse.embeddings.index import (EXACT_LIMIT, IndexSpec, build_index, choose_kind, exact_top_k,
                                           read_index, recall_at_10, write_index)


def clustered(n: int, dim: int = 32, clusters: int = 20, seed: int = 0) -> np.ndarray:
    """Unit vectors around ``clusters`` random centres (a Gaussian mixture)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim))
    x = centres[rng.integers(0, clusters, n)] + 0.3 * rng.standard_normal((n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_auto_is_exact_up_to_the_limit_and_approximate_past_it():
    assert choose_kind(EXACT_LIMIT) == "flat"
    assert choose_kind(EXACT_LIMIT + 1) in ("ivf", "hnsw")
    assert choose_kind(10, "hnsw") == "hnsw"
    with pytest.raises(ValueError, match="unknown index kind 'annoy'"):
        choose_kind(10, "annoy")


def test_exact_top_k_matches_brute_force_across_chunks():
    x = clustered(500)
    q = clustered(7, seed=1)
    scores, ids = exact_top_k(x, q, 5, chunk=128)
    brute = np.argsort(-(q @ x.T), axis=1)[:, :5]
    assert (ids == brute).all()
    assert np.allclose(scores, np.take_along_axis(q @ x.T, brute, 1), atol=1e-5)
    _, few = exact_top_k(x[:3], q, 5)
    assert (few[:, 3:] == -1).all()  # past the end of the collection


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_index_is_tuned_to_the_target_recall(kind, tmp_path):
    x = clustered(4000)
    index, spec = build_index(x, kind, target_recall=0.9, nlist=32)
    assert spec.kind == kind and spec.recall_at_10 >= 0.9
    assert (spec.nprobe if kind == "ivf" else spec.ef_search) > 0
    write_index(index, tmp_path / "index.faiss")
    again = read_index(tmp_path / "index.faiss", IndexSpec.from_dict(spec.to_dict()))
    sample = np.arange(0, 4000, 50)
    assert recall_at_10(again, x, sample) == pytest.approx(recall_at_10(index, x, sample))


def test_flat_index_and_no_vectors():
    x = clustered(50)
    index, spec = build_index(x)
    assert spec.kind == "flat" and spec.recall_at_10 == 1.0 and index.ntotal == 50
    with pytest.raises(ValueError, match="no vectors"):
        build_index(np.zeros((0, 8), np.float32))


def test_a_target_recall_out_of_reach_is_said(monkeypatch, caplog):
    import garmentparse.embeddings.index as index_module

    monkeypatch.setattr(index_module, "EF_SEARCHES", (16,))  # a capped search on a sparse graph
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3000, 64)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    with caplog.at_level("WARNING", logger="garmentparse.embeddings.index"):
        _, spec = build_index(x, "hnsw", hnsw_m=2, target_recall=0.99)
    assert spec.recall_at_10 < 0.99 and spec.ef_search == 16
    assert "below the target 0.99" in caplog.text and "--index" in caplog.text
