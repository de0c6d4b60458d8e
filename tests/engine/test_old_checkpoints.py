"""Checkpoints saved before the shared ``train:`` section (old key layout) still load, and a
config naming an unknown backbone fails clearly once the model is built."""

from __future__ import annotations

import pytest

from garmentparse.checkpoint import Checkpoint, save_checkpoint
from garmentparse.classifiers import MultiHeadClassifier, load_classifier, load_classifier_config
from garmentparse.parsing import build_model, load_detector_config, load_segmenter

from tests.conftest import CLS_TINY, DET_TINY

from .test_config_keys import old_classifier_layout, old_detector_layout



def test_old_detector_checkpoint_loads(tmp_path):
    old = old_detector_layout()
    tiny = load_detector_config(DET_TINY)
    for section in ("model", "input"):
        old[section].update({k: v for k, v in vars(getattr(tiny, section)).items()})
    old["model"]["amp"] = False
    cfg = load_detector_config(DET_TINY)
    model = build_model(cfg, 3)
    path = tmp_path / "old.pt"
    save_checkpoint(Checkpoint("detector", old, {"part": ["top", "bottom"]}, model.state_dict(),
                               {"iteration": 1}), path)
    seg = load_segmenter(path, device="cpu")
    assert seg.class_names == ["top", "bottom"] and seg.config.train.amp is False
    assert seg.config.model.backbone == "resnet18_fpn"


def test_old_classifier_checkpoint_loads(tmp_path):
    tiny = load_classifier_config(CLS_TINY)
    old = old_classifier_layout(2)
    old["model"] = {**old["model"], "backbone": tiny.model.backbone,
                    "heads": [{"attribute": "category"}, {"attribute": "colour"}]}
    vocabulary = {"category": ["blouse", "skirt"], "colour": ["black", "white", "red"]}
    tiny.model.heads = tiny.model.heads[:2]
    model = MultiHeadClassifier.from_config(tiny, vocabulary, init="none")
    path = tmp_path / "old.pt"
    save_checkpoint(Checkpoint("classifier", old, vocabulary, model.state_dict(), {}), path)
    clf = load_classifier(path, device="cpu")
    assert clf.heads == ["category", "colour"] and clf.config.train.time_budget_s == 120
    old["train"]["grad_clip"] = None  # the old classifier schema allowed null for "off"
    save_checkpoint(Checkpoint("classifier", old, vocabulary, model.state_dict(), {}), path)
    assert load_classifier(path, device="cpu").config.train.grad_clip == 0.0


def test_unknown_backbone_fails_when_the_model_is_built():
    cfg = load_detector_config(DET_TINY, ["model.backbone=resnet9000"])  # names need no registry
    with pytest.raises(KeyError, match="unknown backbone 'resnet9000'; known: .*resnet18_fpn"):
        build_model(cfg, 3)
    cfg = load_detector_config(DET_TINY, ["model.backend=caffe"])
    from garmentparse.parsing import train_detector

    with pytest.raises(KeyError, match="unknown backend 'caffe'"):
        train_detector(cfg, "train.json", "images", "out")


def test_detector_checkpoint_from_before_duplicate_suppression_gets_the_defaults(tmp_path):
    """A config saved before test.duplicate_iou / test.fill_holes existed loads with their defaults."""
    from garmentparse.config import to_dict
    from garmentparse.parsing.config import DUPLICATE_IOU, FILL_HOLES

    cfg = load_detector_config(DET_TINY)
    old = to_dict(cfg)
    del old["test"]["duplicate_iou"], old["test"]["fill_holes"]
    path = tmp_path / "old.pt"
    save_checkpoint(Checkpoint("detector", old, {"part": ["top", "bottom"]}, build_model(cfg, 3).state_dict(),
                               {"iteration": 1}), path)
    seg = load_segmenter(path, device="cpu")
    assert (seg.duplicate_iou, seg.fill_holes) == (DUPLICATE_IOU, FILL_HOLES)
    assert load_segmenter(path, device="cpu", duplicate_iou=0.0).duplicate_iou == 0.0
