"""Embedding fixtures: folders made once per module from the session's real CCP crops and tiny
classifier (its backbone embeds 52 crops in a second), and a tag output written from the CCP
labels (every garment with its true mask), so the JSON Lines source needs no detector run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from garmentparse.converters import convert_kfashion
from tests.conftest import invoke
from tests.store.conftest import tag_lines


@pytest.fixture(scope="session")
def classifier_model(classifier_run) -> Path:
    return classifier_run / "model.pt"


@pytest.fixture(scope="session")
def crops_emb(tmp_path_factory, ccp_crops, classifier_model, ccp_dir) -> Path:
    """The 52 CCP crops embedded by the tiny classifier's backbone (via the CLI)."""
    out = tmp_path_factory.mktemp("emb") / "crops"
    invoke("embed", ccp_crops, "--model", classifier_model, "--out", out, "--images", ccp_dir / "images",
           "--device", "cpu")
    return out


@pytest.fixture(scope="session")
def truth_jsonl(tmp_path_factory, ccp_dir) -> Path:
    """A `tag`-format JSON Lines file of the 24 CCP photos (each labelled garment with its true
    mask, box, part and labels as predictions; tests/store's ``tag_lines``) plus a failed line."""
    coco, _ = convert_kfashion(ccp_dir / "labels", ccp_dir / "images")
    lines = [*tag_lines(coco), {"path": "gone.jpg", "width": None, "height": None, "garments": [],
                                "error": "cannot read image"}]
    out = tmp_path_factory.mktemp("truth") / "tags.jsonl"
    out.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return out
