"""The class mapping (classes.py): every target exists in the vocabulary, every source class is listed."""

from __future__ import annotations

import pytest

from garmentparse import vocab
from garmentparse.converters.datasets import DEEPFASHION2, FASHIONPEDIA, MODANET, output_categories
from garmentparse.converters.datasets.classes import normalise

from .checks import FASHIONPEDIA as FASHIONPEDIA_FILE, MODANET as MODANET_FILE, fixture

ALL = [*DEEPFASHION2, *FASHIONPEDIA.values(), *MODANET.values()]


@pytest.mark.parametrize("source", ALL, ids=lambda c: c.name)
def test_targets_are_vocabulary_ids(source):
    if source.part is None:
        assert source.category is None and not source.attributes
        return
    assert source.part in vocab.PARTS
    if source.category is not None:
        assert vocab.part_of(source.category) == source.part
    for attr, value in source.attributes.items():
        assert value in vocab.ATTRIBUTES[attr].values


def test_deepfashion2_ids_and_mapping():
    """category_id k is the k-th class of DeepFashion2's README; sleeve length comes with the class."""
    got = {i: (c.name, c.part, c.category, c.attributes.get("sleeve_length")) for i, c in enumerate(DEEPFASHION2, 1)}
    assert got == {
        1: ("short sleeve top", "top", None, "short"), 2: ("long sleeve top", "top", None, "long"),
        3: ("short sleeve outwear", "outer", None, "short"), 4: ("long sleeve outwear", "outer", None, "long"),
        5: ("vest", "top", "top", "sleeveless"), 6: ("sling", "top", "top", "sleeveless"),
        7: ("shorts", "bottom", "pants", None), 8: ("trousers", "bottom", "pants", None),
        9: ("skirt", "bottom", "skirt", None), 10: ("short sleeve dress", "onepiece", "dress", "short"),
        11: ("long sleeve dress", "onepiece", "dress", "long"), 12: ("vest dress", "onepiece", "dress", "sleeveless"),
        13: ("sling dress", "onepiece", "dress", "sleeveless"),
    }


def test_fashionpedia_whole_garments_map_parts_and_accessories_do_not():
    names = [c["name"] for c in fixture(FASHIONPEDIA_FILE)["categories"] if c["name"] != "cravat"]
    assert len(names) == 46 and all(normalise(n) in FASHIONPEDIA for n in names)  # the 2020 release's 46
    mapped = {n: (FASHIONPEDIA[n].part, FASHIONPEDIA[n].category) for n in names if FASHIONPEDIA[n].mapped}
    assert mapped == {
        "shirt, blouse": ("top", None), "top, t-shirt, sweatshirt": ("top", None), "sweater": ("top", "knitwear"),
        "cardigan": ("outer", "cardigan"), "jacket": ("outer", "jacket"), "vest": ("outer", "vest"),
        "pants": ("bottom", "pants"), "shorts": ("bottom", "pants"), "skirt": ("bottom", "skirt"),
        "coat": ("outer", "coat"), "dress": ("onepiece", "dress"), "jumpsuit": ("onepiece", "jumpsuit"),
        "cape": ("outer", None),
    }
    for part in ("sleeve", "neckline", "pocket", "zipper", "shoe", "bag, wallet", "glasses", "tassel"):
        assert not FASHIONPEDIA[part].mapped
    assert {"earmuffs", "garment belt"} <= set(FASHIONPEDIA)  # the 2019 sample's two extra classes


def test_modanet_labels():
    names = [c["name"] for c in fixture(MODANET_FILE)["categories"]]
    got = {n: (MODANET[n].part, MODANET[n].category) for n in names}
    assert got == {
        "bag": (None, None), "belt": (None, None), "boots": (None, None), "footwear": (None, None),
        "outer": ("outer", None), "dress": ("onepiece", "dress"), "sunglasses": (None, None),
        "pants": ("bottom", "pants"), "top": ("top", None), "shorts": ("bottom", "pants"),
        "skirt": ("bottom", "skirt"), "headwear": (None, None), "scarf & tie": (None, None),
    }


def test_output_categories_append_unmapped_after_ours():
    cats, ids = output_categories("part", ["bag", "top", "bag"])
    assert [c["name"] for c in cats] == ["outer", "top", "bottom", "onepiece", "bag", "source:top"]
    assert ids == {"bag": 5, "top": 6} and cats[4]["supercategory"] == "unmapped"
    cats, ids = output_categories("category")
    assert len(cats) == 21 and ids == {}
