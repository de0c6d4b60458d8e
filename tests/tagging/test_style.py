"""The photo's style: a multi-label style head trained on ``crop --level photo`` crops of
K-Fashion-schema labels, evaluated per style, then ``tag --style``. The styles here are given to
CCP photos in turn (no public data carries K-Fashion styles): this checks the path, not accuracy."""

from __future__ import annotations

import json
import shutil

import jsonschema
import numpy as np
import pytest

from garmentparse import masks
from garmentparse.classifiers import load_classifier, load_classifier_config
from garmentparse.embeddings import EmbeddingFolder
from garmentparse.structures import AttributePrediction, Detections
from garmentparse.tagging import SCHEMA_PATH, Tagger, run_record_path
from tests.conftest import REPO, invoke

STYLE_CONFIG = REPO / "configs" / "classification" / "style.yaml"
TINY = ["model.backbone=mobilenet_v3_small", "model.bn_momentum=0.1", "data.input_size=64", "data.workers=0",
        "data.val_fraction=0", "train.epochs=6", "train.patience=0", "solver.batch_size=8", "solver.lr=0.003"]


@pytest.fixture(scope="module")
def style_model(styled_kfashion, tmp_path_factory):
    work = tmp_path_factory.mktemp("style")
    invoke("crop", styled_kfashion["coco"], "--images", styled_kfashion["images"], "--out", work / "photos",
           "--level", "photo", "--size", "96")
    invoke("train", "classifier", "--config", STYLE_CONFIG, "--manifest", work / "photos" / "manifest.csv",
           "--out", work / "run", "--device", "cpu", "--no-progress", "--set", *TINY)
    return {"model": work / "run" / "model.pt", "manifest": work / "photos" / "manifest.csv"}


def test_style_config_is_one_multi_label_head_on_photos():
    cfg = load_classifier_config(STYLE_CONFIG)
    assert [(h.attribute, h.multi_label) for h in cfg.model.heads] == [("style", True)]
    assert cfg.data.crop_region == "photo" and cfg.data.balance_head == "style"


def test_style_model_is_evaluated_per_style(style_model):
    clf = load_classifier(style_model["model"], device="cpu")
    assert clf.heads == ["style"] and clf.crop_region == "photo"
    assert clf.vocabulary["style"] == ["classic", "romantic", "sexy", "street", "hiphop"]  # vocabulary order
    out = json.loads(invoke("eval", "classifier", style_model["model"], "--manifest", style_model["manifest"],
                            "--json", "--device", "cpu"))
    assert out["style"]["n"] == 24 and set(out["style"]["per_class_recall"]) == set(clf.vocabulary["style"])


def test_tag_adds_the_photo_style(style_model, detector_run, ccp_dir, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("0001.jpg", "0002.jpg", "0003.jpg"):
        shutil.copy(ccp_dir / "images" / name, photos / name)
    out = tmp_path / "tags.jsonl"
    invoke("tag", photos, "--detector", detector_run["model"], "--style", style_model["model"], "--out", out,
           "--score-threshold", "0.01", "--device", "cpu")
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    for line in lines:
        validator.validate(line)
        style = line["style"]["style"]
        assert style["label"] in ("classic", "romantic", "sexy", "street", "hiphop") and "labels" in style
    record = json.loads(run_record_path(out).read_text())
    assert "style" in record["settings"]["models"] and record["settings"]["style_heads"] == ["style"]
    invoke("embed", out, "--model", style_model["model"], "--images", photos, "--level", "photo",
           "--out", tmp_path / "emb", "--device", "cpu")
    folder = EmbeddingFolder.open(tmp_path / "emb")
    assert len(folder) == 3 and all(it.label("style") == line["style"]["style"]["labels"][0]
                                    if line["style"]["style"]["labels"] else True
                                    for it, line in zip(folder.items, lines))


class OneBox:
    class_names = ["outer", "top", "bottom", "onepiece"]
    score_threshold = 0.5

    def predict(self, images, score_threshold=None):
        out = []
        for im in images:
            mask = np.zeros(im.shape[:2], np.uint8)
            mask[100:300, 50:200] = 1
            out.append(Detections([[50, 100, 200, 300]], [0.9], ["top"], [masks.encode(mask)], im.shape[:2]))
        return out


class SeeingStyle:
    """A style classifier on the person region that keeps what it was shown."""

    heads = ["style"]
    crop_size = 64
    crop_background = "white"
    crop_region = "person"

    def __init__(self):
        self.seen = []

    def predict(self, crops, parts=None, top_k=3, tta=False):
        self.seen.extend(crops)
        return [{"style": AttributePrediction("street", 0.8, [("street", 0.8)], ["street"])} for _ in crops]


def test_a_person_region_style_model_sees_the_box_around_the_garments(ccp_dir):
    from garmentparse.imageio import load_rgb

    image = load_rgb(ccp_dir / "images" / "0004.jpg")
    style = SeeingStyle()
    [tagged] = Tagger(OneBox(), style=style).tag_arrays([image])
    assert tagged.style["style"].labels == ["street"]
    assert np.array_equal(style.seen[0], masks.photo_region(image, [[50, 100, 200, 300]], "person", size=64))
