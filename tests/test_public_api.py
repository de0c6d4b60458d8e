"""`import garmentparse as gp` gives the real objects, imported on first use."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import pytest

import garmentparse as gp


def test_import_is_light():
    code = "import sys, garmentparse; print('torch' in sys.modules, 'garmentparse.tagging' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


@pytest.mark.parametrize("name", [n for n in gp.__all__ if n != "__version__"])
def test_every_name_is_the_real_object(name):
    value = getattr(gp, name)
    home = importlib.import_module(value.__module__)
    assert getattr(home, name) is value
    assert name in dir(gp)


def test_api_lists_the_documented_names():
    assert set(gp.__all__) >= {
        "__version__", "convert_kfashion", "convert_ccp", "load_segmenter", "load_classifier", "Tagger",
        "tag", "tag_folder", "Detections", "Garment", "TagResult", "AttributePrediction", "Segmenter",
        "AttributeClassifier", "train_detector", "train_classifier", "evaluate_detector",
        "evaluate_classifier", "load_detector_config", "load_classifier_config", "tag_folder_ray",
        "RayOptions", "CheckpointLoader", "embed", "SimilarityIndex", "EmbeddingFolder", "load_encoder",
        "make_map", "cluster_folder", "assign_folder", "evaluate_retrieval", "train_embedder"}
    assert isinstance(gp.__version__, str)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        gp.nope  # noqa: B018


def test_tag_has_its_real_signature():
    params = inspect.signature(gp.tag).parameters
    assert list(params)[:4] == ["images", "detector", "out_jsonl", "classifier"]
    assert {"device", "score_threshold", "csv_path", "batch_size", "workers", "resume", "on_progress"} <= set(params)
    assert not any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params.values())
