"""Embedding fixtures: folders made once per module from the session's real CCP crops and tiny
classifier (its backbone embeds 52 crops in a second), and a tag output written from the CCP
labels (every garment with its true mask), so the JSON Lines source needs no detector run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from garmentparse import masks
from garmentparse.converters import convert_kfashion
from tests.conftest import invoke


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
    """A `tag`-format JSON Lines file of the 24 CCP photos: each labelled garment with its mask
    (COCO RLE), box, part and labels as predictions, plus one line that failed."""
    coco, _ = convert_kfashion(ccp_dir / "labels", ccp_dir / "images")
    by_image: dict[int, list[dict]] = {}
    for ann in coco["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    lines = []
    for image in coco["images"]:
        h, w = image["height"], image["width"]
        garments = []
        for ann in by_image.get(image["id"], []):
            x, y, bw, bh = ann["bbox"]
            attrs = {name: {"label": value if isinstance(value, str) else value[0], "probability": 0.9,
                            "top_k": [], **({"labels": value} if isinstance(value, list) else {})}
                     for name, value in ann["attributes"].items() if name in ("category", "colour", "print")}
            garments.append({"part": ann["part"], "score": 0.9, "box": [x, y, x + bw, y + bh],
                             "mask": masks.segmentation_to_rle(ann["segmentation"], h, w), "attributes": attrs})
        lines.append({"path": image["file_name"], "width": w, "height": h, "garments": garments, "error": None})
    lines.append({"path": "gone.jpg", "width": None, "height": None, "garments": [], "error": "cannot read image"})
    out = tmp_path_factory.mktemp("truth") / "tags.jsonl"
    out.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return out
