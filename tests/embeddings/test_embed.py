"""``embed``: crop manifests and tag outputs into embedding folders, with the model named by sha256."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from garmentparse.checkpoint import file_sha256
from garmentparse.embeddings import EmbeddingFolder, ModelMismatchError, embed, load_encoder
from garmentparse.embeddings.folder import ITEM_COLUMNS
from garmentparse.embeddings.sources import NothingEmbedded
from garmentparse.imageio import load_rgb


def test_manifest_folder_holds_vectors_items_and_the_model(crops_emb, classifier_model, ccp_crops):
    folder = EmbeddingFolder.open(crops_emb)
    manifest = json.loads((crops_emb / "manifest.json").read_text())
    assert manifest["model"]["kind"] == "classifier"
    assert manifest["model"]["sha256"] == file_sha256(classifier_model)
    assert manifest["level"] == "garment" and manifest["count"] == len(folder) == 52
    assert manifest["index"]["kind"] == "flat" and not (crops_emb / "index.faiss").exists()
    vectors = np.asarray(folder.vectors)
    assert vectors.dtype == np.float32 and vectors.shape[0] == 52
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    with (crops_emb / "items.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ITEM_COLUMNS
    with ccp_crops.open(newline="", encoding="utf-8") as fh:
        truth = list(csv.DictReader(fh))
    for item, row in zip(folder.items, truth):  # labels are the manifest's, marked true
        assert item.source == "true" and item.label("category") == row["category"] and item.part == row["part"]
        assert item.key == f"{row['source_image']}#{row['annotation_id']}" and item.photo_sha256
    assert folder.find(folder.items[5].key).id == 5 and folder.find("5").id == 5


def test_append_adds_with_the_same_model_and_refuses_another(tmp_path, ccp_crops, classifier_model):
    out = tmp_path / "emb"
    first = embed(ccp_crops, classifier_model, out, device="cpu")
    again = embed(ccp_crops, classifier_model, out, append=True, device="cpu")
    assert (first.items, again.added, again.items) == (52, 52, 104)
    assert [it.id for it in EmbeddingFolder.open(out).items] == list(range(104))
    with pytest.raises(ModelMismatchError, match="another model"):
        embed(ccp_crops, "lite0", out, append=True, device="cpu")
    replaced = embed(ccp_crops, classifier_model, out, device="cpu")  # without --append: replaced
    assert replaced.items == 52


def test_tag_output_garments_are_cut_as_tag_cuts_them(tmp_path, truth_jsonl, ccp_dir, crops_emb, classifier_model):
    summary = embed(truth_jsonl, classifier_model, tmp_path / "tags", images=ccp_dir / "images", device="cpu")
    assert summary.items == 52
    assert [(p.file, p.reason) for p in summary.report.problems] == [("gone.jpg", "tag_error")]
    folder, crops = EmbeddingFolder.open(tmp_path / "tags"), EmbeddingFolder.open(crops_emb)
    item = folder.find("0001.jpg#0")
    assert item.source == "predicted" and item.box and item.part and item.label("category")
    # the same garment from the crop manifest (cut by `crop` at the classifier's crop size)
    same = next(it for it in crops.items if it.photo == "0001.jpg" and it.label("category") == item.label("category"))
    cosine = float(np.dot(folder.vectors[item.id], crops.vectors[same.id]))
    assert cosine > 0.95, cosine
    photos = embed(truth_jsonl, classifier_model, tmp_path / "photos", level="photo", images=ccp_dir / "images",
                   device="cpu")
    assert photos.items == 24 and EmbeddingFolder.open(tmp_path / "photos").manifest.level == "photo"


def test_bad_sources(tmp_path, truth_jsonl, classifier_model):
    (tmp_path / "empty.csv").write_text("crop_path,part\n", encoding="utf-8")
    with pytest.raises(ValueError, match="lists no crops"):
        embed(tmp_path / "empty.csv", classifier_model, tmp_path / "e", device="cpu")
    (tmp_path / "gone.csv").write_text("crop_path,part\nnope.jpg,top\n", encoding="utf-8")
    with pytest.raises(NothingEmbedded) as caught:
        embed(tmp_path / "gone.csv", classifier_model, tmp_path / "e", device="cpu")
    assert caught.value.report.problems[0].reason == "crop_missing"
    with pytest.raises(ValueError, match="needs --images"):
        embed(truth_jsonl, classifier_model, tmp_path / "e", device="cpu")
    with pytest.raises(ValueError, match="not an embedding folder"):
        EmbeddingFolder.open(tmp_path)


def test_lite0_encoder_gives_unit_1280d_vectors_and_knows_a_mirror_image(ccp_crops):
    encoder = load_encoder("lite0", device="cpu")
    assert encoder.identity.kind == "lite0" and len(encoder.identity.sha256) == 64 and encoder.dim == 1280
    crops = [load_rgb(p) for p in sorted(ccp_crops.parent.glob("crops/*.jpg"))[:4]]
    vectors = encoder.encode(crops + [np.ascontiguousarray(c[:, ::-1]) for c in crops], batch_size=3)
    assert vectors.shape == (8, 1280) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = vectors[:4] @ vectors[4:].T
    assert (similarity.argmax(axis=1) == np.arange(4)).all()  # each crop's nearest mirror is its own
