"""``train embedder``: a metric-learning projection on the labels, kept with its base in one file."""

from __future__ import annotations

import numpy as np

from garmentparse.checkpoint import load_checkpoint
from garmentparse.embeddings import EmbeddingFolder, evaluate_retrieval, load_encoder
from tests.conftest import invoke


def test_embedder_trains_on_a_classifier_base_and_embeds(ccp_crops, classifier_model, crops_emb, tmp_path):
    invoke("train", "embedder", "--manifest", ccp_crops, "--out", tmp_path / "run", "--base", classifier_model,
           "--dim", "32", "--epochs", "15", "--device", "cpu")
    ckpt = load_checkpoint(tmp_path / "run" / "model.pt", expect_kind="embedder")
    assert ckpt.config["dim"] == 32 and ckpt.extra["base"]["kind"] == "classifier"
    assert "checkpoint" in ckpt.extra["base"]  # the base travels inside: one file
    encoder = load_encoder(tmp_path / "run" / "model.pt", device="cpu")
    assert encoder.dim == 32 and encoder.crop_size == load_encoder(classifier_model, device="cpu").crop_size
    invoke("embed", ccp_crops, "--model", tmp_path / "run" / "model.pt", "--out", tmp_path / "emb", "--device", "cpu")
    folder = EmbeddingFolder.open(tmp_path / "emb")
    assert folder.model.kind == "embedder" and np.asarray(folder.vectors).shape == (52, 32)
    # trained on these crops' categories: same-category neighbours beat the base backbone's
    trained = evaluate_retrieval(folder, folder, label="category")
    base = evaluate_retrieval(crops_emb, crops_emb, label="category")
    assert trained.precision[5] > base.precision[5]


def test_embedder_trains_in_seconds_on_vectors_the_base_already_made(crops_emb, classifier_model, tmp_path):
    invoke("train", "embedder", "--embeddings", crops_emb, "--out", tmp_path / "run", "--head", "linear",
           "--dim", "16", "--epochs", "5", "--device", "cpu")
    ckpt = load_checkpoint(tmp_path / "run" / "model.pt", expect_kind="embedder")
    assert ckpt.config["head"] == "linear" and ckpt.config["flip"] is False
    assert ckpt.extra["base"]["sha256"] == EmbeddingFolder.open(crops_emb).model.sha256
    assert load_encoder(tmp_path / "run" / "model.pt", device="cpu").dim == 16
