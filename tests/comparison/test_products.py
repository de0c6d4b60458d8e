"""`eval products`: the product-photo contract scored on a real `tag` output of the bundled CC0
product photos, and each rule of the contract on garments built by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from garmentparse.comparison.products import CONTRACT, Rule, check, check_products, rule_for
from garmentparse.comparison.runs import Instance, Photo
from tests.conftest import EXAMPLES, invoke

PRODUCTS = EXAMPLES / "products"
RLE = {"size": [4, 4], "counts": "04000"}


def photo(*garments: tuple[float, dict]) -> Photo:
    return Photo("a.jpg", 4, 4, None, tuple(Instance(RLE, (0, 0, 4, 4), s, labels) for s, labels in garments))


@pytest.mark.parametrize("cls, garments, why", [
    ("T-Shirt", [(0.9, {"part": "top", "category": "t-shirt", "sleeve_length": "short"})], None),
    ("T-Shirt", [(0.9, {"part": "top", "category": "t-shirt", "sleeve_length": "long"})], "sleeve_length long"),
    ("T-Shirt", [(0.9, {"part": "top", "category": "t-shirt"})], "sleeve_length None"),  # no such head: fails
    ("T-Shirt", [(0.4, {"part": "top", "category": "top", "sleeve_length": "cap"}),
                 (0.8, {"part": "onepiece", "category": "dress"})], "part onepiece, not top"),  # the top score counts
    ("Pants", [(0.9, {"part": "bottom", "category": "jeans", "length": "ankle"})], None),
    ("Pants", [(0.9, {"part": "bottom", "category": "jeans", "length": "knee"})], "length knee"),
    ("Shorts", [(0.9, {"part": "bottom", "category": "pants", "length": "mini"})], None),
    ("Shorts", [(0.9, {"part": "bottom", "category": "skirt", "length": "mini"})], "category skirt"),
    ("Outwear", [(0.9, {"part": "outer", "category": "padding"})], None),
    ("Hat", [], None),
    ("Shoes", [(0.3, {"part": "bottom", "category": "pants"})], "1 garment(s) reported, e.g. bottom"),
    ("Dress", [], "no garment found"),
])
def test_contract_rows(cls, garments, why):
    assert check(photo(*garments), rule_for({"class": cls})) == why


def test_classes_outside_the_contract_use_their_class_map():
    rule = rule_for({"class": "Hoodie", "part": "top", "attributes": {"category": "hoodie", "sleeve_length": "long"}})
    assert rule == Rule("top", frozenset({"hoodie"}))
    assert set(CONTRACT) == {"t-shirt", "longsleeve", "shirt", "pants", "shorts", "skirt", "dress", "outwear",
                             "hat", "shoes"}
    assert check(None, rule) == "not in the tag output"


def test_eval_products_on_a_real_tag_output(tmp_path: Path):
    coco = tmp_path / "products.json"
    invoke("convert", "photos", PRODUCTS / "labels.csv", "--images", PRODUCTS / "images", "--out", coco)
    tags = tmp_path / "tags.jsonl"
    invoke("tag", PRODUCTS / "images", "--out", tags, "--device", "cpu")
    out = json.loads(invoke("eval", "products", tags, "--coco", coco, "--json").strip().splitlines()[-1])
    contract, everything = out["contract_classes"], out["all_classes"]
    assert contract["photos"] == 10 and everything["photos"] == 12 and out["missing_photos"] == 0
    assert sum(r["photos"] for r in contract["per_class"].values()) == 10
    held = sum(r["held"] for r in contract["per_class"].values())
    assert contract["held"] == pytest.approx(held / 10, abs=1e-4)
    assert len(out["failures"]) == 12 - sum(r["held"] for r in everything["per_class"].values())
    result = check_products(tags, coco)  # the library call gives the same figures
    assert result.to_dict()["contract_classes"] == contract
