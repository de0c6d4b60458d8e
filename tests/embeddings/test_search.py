"""``similar``: neighbours of a garment or of a photo's garments, filters, the own-photo rule, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from garmentparse.cli import build_app
from garmentparse.embeddings import ModelMismatchError, SimilarityIndex
from garmentparse.embeddings.folder import photo_key
from garmentparse.structures import Detections
from garmentparse.tagging import Tagger
from tests.conftest import runner

SCORE = 0.01  # the session's tiny detector scores low


def test_item_query_is_exact_without_its_own_photo(crops_emb):
    index = SimilarityIndex.open(crops_emb)
    folder = index.folder
    vectors = np.asarray(folder.vectors)
    for query in folder.items[::7]:
        result = index.search(query.key, k=10)
        own = {it.id for it in folder.items if photo_key(it) == photo_key(query)}
        got = [n.item.id for n in result.neighbours]
        assert not own & set(got) and len(got) == 10
        scores = vectors @ vectors[query.id]
        expected = [i for i in np.argsort(-scores, kind="stable") if i not in own][:10]
        assert np.allclose([n.score for n in result.neighbours], scores[expected], atol=1e-5)
        assert result.candidates == len(folder) - len(own)


def test_same_keeps_only_garments_with_the_query_labels(crops_emb):
    index = SimilarityIndex.open(crops_emb)
    query = next(it for it in index.folder.items if it.label("category") == "blouse")
    result = index.search(query.id, k=5, same="part,category")
    assert result.same == {"part": "top", "category": "blouse"}
    assert result.neighbours and all(n.item.part == "top" and n.item.label("category") == "blouse"
                                     for n in result.neighbours)
    expected = sum(1 for it in index.folder.items if it.label("category") == "blouse" and it.photo != query.photo)
    assert result.candidates == expected and len(result.neighbours) == min(5, expected)
    with pytest.raises(ValueError, match="unknown field"):
        index.search(query.id, same="brand")
    with pytest.raises(ValueError, match="larger than the collection"):
        index.search(query.id, k=53)
    with pytest.raises(ValueError, match="no item 'nope'"):
        index.search("nope")


class NoGarments:
    """A segmenter that finds nothing (a photo with no garment)."""

    class_names = ["outer", "top", "bottom", "onepiece"]
    score_threshold = 0.5

    def predict(self, images, score_threshold=None):
        return [Detections.empty(im.shape[:2]) for im in images]


def test_photo_query_tags_cuts_and_leaves_out_its_own_photo(crops_emb, detector_run, classifier_model, ccp_dir):
    index = SimilarityIndex.open(crops_emb, device="cpu")
    tagger = Tagger.from_checkpoints(detector_run["model"], classifier_model, device="cpu", score_threshold=SCORE)
    results = index.search_photo(ccp_dir / "images" / "0003.jpg", tagger, k=4, same=("part",))
    assert results, "the tiny detector finds garments at a low threshold"
    for r in results:
        assert r.query.photo_sha256 and r.query.label("category")  # labelled by the classifier
        assert len(r.neighbours) == 4 and all(n.item.photo != "0003.jpg" for n in r.neighbours)
        assert all(n.item.part == r.query.part for n in r.neighbours)
    assert index.search_photo(ccp_dir / "images" / "0003.jpg", Tagger(NoGarments()), k=4) == []


def test_a_query_with_another_model_is_refused(crops_emb):
    with pytest.raises(ModelMismatchError, match="another model"):
        SimilarityIndex.open(crops_emb, model="lite0", device="cpu")


def test_similar_command(crops_emb, detector_run, ccp_dir, tmp_path):
    app = build_app()
    out = runner.invoke(app, ["similar", str(crops_emb), "--item", "0005.jpg#12", "-k", "3", "--same", "part", "--json"])
    assert out.exit_code == 0, out.output
    [result] = json.loads(out.stdout)
    assert result["query"]["key"] == "0005.jpg#12" and len(result["neighbours"]) == 3
    photo = ccp_dir / "images" / "0007.jpg"
    out = runner.invoke(app, ["similar", str(crops_emb), "--image", str(photo), "--detector", str(detector_run["model"]),
                              "--score-threshold", str(SCORE), "-k", "2", "--device", "cpu", "--json"])
    assert out.exit_code == 0, out.output
    assert all(len(r["neighbours"]) == 2 for r in json.loads(out.stdout))
    blank = tmp_path / "blank.jpg"
    Image.new("RGB", (320, 480), "white").save(blank)
    out = runner.invoke(app, ["similar", str(crops_emb), "--image", str(blank), "--detector", str(detector_run["model"]),
                              "--score-threshold", "1.0", "--device", "cpu"])
    assert out.exit_code == 1 and "no garment found" in out.output
    for args, message in ((["--item", "1", "-k", "500"], "larger than the collection"),
                          (["--item", "1", "--model", "lite0"], "another model"),
                          ([], "exactly one of")):
        out = runner.invoke(app, ["similar", str(crops_emb), *args])
        assert out.exit_code == 2 and message in " ".join(out.output.split()), (args, out.output)
