"""Fashionpedia and ModaNet -> COCO (cocostyle.py) on the fixtures: output sound, classes mapped,
attributes kept by name, unmapped classes counted (and kept on request), polygon and RLE input, every
bad input reported with its file and reason while good data is kept, workers give the same file."""

from __future__ import annotations

import json
import shutil

import pytest

from garmentparse.cli import build_app
from garmentparse.converters import (convert_fashionpedia, convert_fashionpedia_to_file, convert_modanet,
                                     convert_modanet_to_file)

from tests.conftest import runner

from .checks import FASHIONPEDIA, FIXTURES, IMAGES, MODANET, assert_sound_coco, fixture, problems


def by_source(coco):
    return {a["source_annotation_id"]: a for a in coco["annotations"]}


def found(report):
    return {(p.reason, p.action) for p in report.problems}


@pytest.fixture(scope="module")
def fashionpedia():
    return convert_fashionpedia(FASHIONPEDIA, IMAGES)


def test_fashionpedia_output_is_sound_coco(fashionpedia, tmp_path):
    coco, report = fashionpedia
    assert [c["name"] for c in coco["categories"]] == ["outer", "top", "bottom", "onepiece"]
    assert [im["source_image_id"] for im in coco["images"]] == [11, 12, 13]
    assert coco["images"][0]["original_url"].endswith("0001.jpg") and coco["images"][0]["license"] == 1
    assert coco["licenses"] == fixture(FASHIONPEDIA)["licenses"]  # the images' own licences
    assert "CC BY 4.0" in coco["info"]["licence"]
    assert report.counts["annotations"] == 8 and report.counts["images_skipped"] == 1
    assert_sound_coco(coco, tmp_path)


def test_fashionpedia_classes_attributes_and_rle(fashionpedia):
    coco, _ = fashionpedia
    anns = by_source(coco)
    got = {i: (a["source_category"], a["part"], a["attributes"].get("category")) for i, a in anns.items()}
    assert got == {
        100: ("shirt, blouse", "top", None), 101: ("skirt", "bottom", "skirt"), 102: ("vest", "outer", "vest"),
        105: ("jacket", "outer", "jacket"), 106: ("dress", "onepiece", "dress"),
        110: ("top, t-shirt, sweatshirt", "top", None), 111: ("pants", "bottom", "pants"),
        112: ("coat", "outer", "coat")}
    assert anns[100]["attribute_ids"] == [113, 298]
    assert anns[100]["source_attributes"] == ["symmetrical", "plain (pattern)"]
    assert anns[111]["attribute_ids"] == [35, 9999] and anns[111]["source_attributes"] == ["jeans"]
    src = {a["id"]: a for a in fixture(FASHIONPEDIA)["annotations"]}
    assert anns[105]["segmentation"] == src[105]["segmentation"]  # compressed RLE as given
    assert isinstance(src[106]["segmentation"]["counts"], list)  # uncompressed in, compressed str out
    assert isinstance(anns[106]["segmentation"]["counts"], str)
    assert anns[106]["area"] == sum(src[106]["segmentation"]["counts"][1::2])
    assert anns[100]["area"] != src[100]["area"]  # recomputed from the mask


def test_fashionpedia_bad_inputs_reported_good_data_kept(fashionpedia):
    coco, report = fashionpedia
    assert found(report) == {
        ("unknown_class", "unmapped"), ("duplicate_image_id", "skipped"), ("annotation_without_image", "skipped"),
        ("unknown_category", "skipped"), ("invalid_rle", "skipped"), ("points_clipped", "clipped"),
        ("unknown_value", "id kept, no name"), ("polygon_too_few_points", "skipped"), ("image_missing", "skipped")}
    assert len(report.problems) == 9 and all(p.file == str(FASHIONPEDIA) for p in report.problems)
    [p] = problems(report, "image_missing")
    assert "0099.jpg" in p.detail
    [p] = problems(report, "invalid_rle")
    assert "annotation 108" in p.detail and "830x550" in p.detail
    clipped = by_source(coco)[110]
    assert min(clipped["segmentation"][0][0::2]) == 0 and clipped["bbox"][0] == 0
    assert 12 in {im["source_image_id"] for im in coco["images"]}  # the first entry of a repeated id stays


def test_unmapped_counted_then_kept_by_name(fashionpedia, tmp_path):
    _, report = fashionpedia
    assert report.counts["unmapped_annotations"] == 3
    assert {k: v for k, v in report.counts.items() if k.startswith("unmapped/")} == {
        "unmapped/cravat": 1, "unmapped/shoe": 1, "unmapped/sleeve": 1}
    coco, report = convert_fashionpedia(FASHIONPEDIA, keep_unmapped=True)  # no --images: sizes trusted
    names = {c["id"]: c for c in coco["categories"]}
    assert len(names) == 4 + 33 + 1  # ours, Fashionpedia's 33 unmapped classes, the unknown 'cravat'
    kept = [a for a in coco["annotations"] if names[a["category_id"]]["supercategory"] == "unmapped"]
    assert sorted(a["source_category"] for a in kept) == ["cravat", "shoe", "sleeve"]
    assert all(names[a["category_id"]]["name"] == a["source_category"] and "part" not in a for a in kept)
    assert report.counts["unmapped_annotations"] == 3 and report.counts["images"] == 4  # 0099 now converted
    assert_sound_coco(coco, tmp_path)


def test_fashionpedia_category_classes_and_size_check(tmp_path):
    images = tmp_path / "images"
    shutil.copytree(IMAGES, images)
    shutil.copy(IMAGES / "0002.jpg", images / "0001.jpg")  # 550x830 where 550x832 is recorded
    coco, report = convert_fashionpedia(FASHIONPEDIA, images, classes="category")
    [p] = problems(report, "size_mismatch_skipped")
    assert p.file == str(images / "0001.jpg") and "550x832" in p.detail
    missing = [p.detail.split(": ", 1)[1] for p in problems(report, "missing_category")]
    assert missing == ["'top, t-shirt, sweatshirt' has no fine category in the vocabulary",
                       "'cape' has no fine category in the vocabulary"]
    names = {c["id"]: c["name"] for c in coco["categories"]}
    assert sorted(names[a["category_id"]] for a in coco["annotations"]) == ["coat", "dress", "jacket", "pants"]


def test_modanet(tmp_path):
    coco, report = convert_modanet(MODANET)
    assert found(report) == {("duplicate_photo", "skipped"), ("polygon_missing", "skipped"),
                             ("invalid_polygon", "skipped"), ("degenerate_polygon", "skipped"),
                             ("no_garments", "skipped")}
    assert all(p.file == str(MODANET) for p in report.problems)
    assert [p.detail for p in problems(report, "no_garments")] == ["image 4 ('0004.jpg'): no usable annotation"]
    assert report.counts["unmapped_annotations"] == 4 and report.counts["unmapped/bag"] == 2
    got = sorted((a["source_category"], a["part"], a["attributes"].get("category")) for a in coco["annotations"])
    assert got == [("dress", "onepiece", "dress"), ("outer", "outer", None), ("outer", "outer", None),
                   ("outer", "outer", None), ("pants", "bottom", "pants"), ("skirt", "bottom", "skirt"),
                   ("top", "top", None), ("top", "top", None)]
    src = {a["id"]: a for a in fixture(MODANET)["annotations"]}
    for ann in coco["annotations"]:
        assert ann["area"] < src[ann["source_annotation_id"]]["area"]  # ModaNet's file gives the box area
    assert_sound_coco(coco, tmp_path)
    kept, report = convert_modanet(MODANET, keep_unmapped=True)
    assert [c["name"] for c in kept["categories"][4:]] == ["bag", "belt", "boots", "footwear", "sunglasses",
                                                            "headwear", "scarf & tie"]
    assert len(kept["annotations"]) == 12 and "no_garments" not in {p.reason for p in report.problems}


@pytest.mark.parametrize(("name", "reason"), [("fashionpedia/broken.json", "invalid_json"),
                                              ("modanet/no_annotations.json", "invalid_schema")])
def test_unusable_file_is_reported_and_the_cli_exits_1(name, reason, tmp_path):
    path = FIXTURES / name
    coco, report = (convert_fashionpedia if "fashionpedia" in name else convert_modanet)(path)
    assert [(p.file, p.reason) for p in report.problems] == [(str(path), reason)]
    assert coco["images"] == [] and len(coco["categories"]) == 4
    result = runner.invoke(build_app(), ["convert", name.split("/")[0], str(path), "--out", str(tmp_path / "o.json")])
    assert result.exit_code == 1 and "nothing could be converted" in result.output


@pytest.mark.parametrize(("convert", "path"), [(convert_fashionpedia_to_file, FASHIONPEDIA),
                                               (convert_modanet_to_file, MODANET)])
def test_workers_give_the_same_file(convert, path, tmp_path):
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    r1 = convert(path, one, IMAGES, workers=1, keep_unmapped=True)
    r2 = convert(path, two, IMAGES, workers=2, keep_unmapped=True)
    assert one.read_bytes() == two.read_bytes() and json.loads(one.read_text())["annotations"]
    assert r1.to_dict() == r2.to_dict()
