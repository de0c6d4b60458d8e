"""DeepFashion2 -> COCO (deepfashion2.py) on the fixture: output sound, fields kept, every bad input
reported with its file and reason while the good items are kept, workers give the same file."""

from __future__ import annotations

import json
import shutil

import pytest

from garmentparse.converters import convert_deepfashion2, convert_deepfashion2_to_file
from garmentparse.converters.datasets import InstanceOptions, deepfashion2_annotations
from garmentparse.converters.kfashion import IssueLog

from tests.conftest import invoke

from .checks import DF2_ANNOS, IMAGES, assert_sound_coco, fixture, problems


@pytest.fixture(scope="module")
def converted():
    return convert_deepfashion2(DF2_ANNOS, IMAGES)


def anns_of(coco, label):
    [image] = [im for im in coco["images"] if im["source_label"] == label]
    return image, [a for a in coco["annotations"] if a["image_id"] == image["id"]]


def test_output_is_sound_coco(converted, tmp_path):
    coco, report = converted
    assert [c["name"] for c in coco["categories"]] == ["outer", "top", "bottom", "onepiece"]
    assert report.counts["images"] == 3 and report.counts["annotations"] == 10
    assert report.counts["label_files"] == 6 and report.counts["labels_skipped"] == 3
    assert_sound_coco(coco, tmp_path)
    assert "non-commercial" in coco["licenses"][0]["name"]


def test_clean_file_keeps_everything(converted):
    coco, _ = converted
    image, anns = anns_of(coco, "0001.json")
    assert image["file_name"] == "0001.jpg" and (image["width"], image["height"]) == (550, 832)
    assert image["deepfashion2"] == {"source": "user", "pair_id": 1}
    src = fixture(DF2_ANNOS / "0001.json")
    for ann, key in zip(anns, ("item1", "item2", "item3")):
        item = src[key]
        assert ann["segmentation"] == item["segmentation"]  # valid, in-image polygons: exact points
        assert ann["landmarks"] == item["landmarks"] and ann["source_category"] == item["category_name"]
        assert ann["deepfashion2"] == {k: item[k] for k in ("style", "occlusion", "zoom_in", "viewpoint", "scale")}
        x0, y0, x1, y1 = item["bounding_box"]
        assert ann["area"] < (x1 - x0) * (y1 - y0)  # the mask's pixels, not DeepFashion2's box area
    assert [(a["part"], a["attributes"]) for a in anns] == [
        ("top", {"sleeve_length": "short"}), ("bottom", {"category": "skirt"}),
        ("outer", {"sleeve_length": "long"})]


def test_every_bad_input_is_reported_and_good_items_kept(converted):
    coco, report = converted
    got = {(p.file.rsplit("/", 1)[-1], p.reason, p.action) for p in report.problems}
    assert got == {
        ("0002.json", "polygon_too_few_points", "polygon dropped"),  # item2's second polygon
        ("0002.json", "unknown_category", "skipped"),  # item3: category_id 14
        ("0002.json", "category_name_mismatch", "kept by id"),  # item4
        ("0002.json", "polygon_too_few_points", "skipped"),  # item5: its only polygon
        ("0002.json", "points_clipped", "clipped"),  # item1 reaches past the right edge
        ("0003.json", "self_intersection_repaired", "repaired"),  # item1
        ("0003.json", "invalid_value", "field dropped"),  # item2's landmarks
        ("0003.json", "polygon_outside_image", "skipped"),  # item4
        ("0004.json", "label_without_image", "skipped"),
        ("0005.json", "invalid_json", "skipped"),
        ("0006.json", "invalid_schema", "skipped"),
    }
    assert all(p.file.startswith(str(DF2_ANNOS)) for p in report.problems)
    _, anns = anns_of(coco, "0002.json")
    assert [a["source_category"] for a in anns] == ["long sleeve outwear", "long sleeve dress", "skirt"]
    jacket, dress, _ = anns
    assert max(jacket["segmentation"][0][0::2]) == 550 and jacket["bbox"][0] + jacket["bbox"][2] <= 550
    assert len(dress["segmentation"]) == 1  # the 2-point polygon dropped, the garment kept
    _, anns = anns_of(coco, "0003.json")
    assert [a["source_category"] for a in anns] == ["short sleeve top", "trousers", "long sleeve outwear", "vest"]
    assert len(anns[0]["segmentation"]) == 2 and "landmarks" not in anns[1]
    assert anns[3]["attributes"] == {"category": "top", "sleeve_length": "sleeveless"}


def test_photo_without_annotations_and_category_classes(tmp_path):
    images = tmp_path / "image"
    shutil.copytree(IMAGES, images)
    shutil.copy(IMAGES / "0001.jpg", images / "0009.jpg")
    coco, report = convert_deepfashion2(DF2_ANNOS, images, classes="category")
    [p] = problems(report, "image_without_label")
    assert p.file.endswith("0009.jpg") and p.action == "not in output"
    assert len(coco["categories"]) == 21
    names = {c["id"]: c["name"] for c in coco["categories"]}
    assert {names[a["category_id"]] for a in coco["annotations"]} == {"skirt", "dress", "pants", "top"}
    missing = problems(report, "missing_category")  # tops and outerwear name no fine category
    assert len(missing) == 5 and all("sleeve" in p.detail for p in missing)


def test_pure_function_on_a_dict():
    data = {"item2": {"category_id": 9, "segmentation": [[0, 0, 40, 0, 40, 20, 0, 20]]},
            "item10": {"category_id": 13, "segmentation": [[50, 50, 90, 50, 90, 90]]},
            "item1": {"category_id": 0}}
    log = IssueLog("x.json")
    opts, _ = InstanceOptions.build("part")
    anns = deepfashion2_annotations(data, 100, 100, opts, log)
    assert [(a["source_category"], a["area"], a["bbox"]) for a in anns] == [
        ("skirt", 800.0, [0.0, 0.0, 40.0, 20.0]), ("sling dress", 780.0, [51.0, 50.0, 39.0, 39.0])]  # rasterised
    assert [p.reason for p in log.issues] == ["unknown_category"]


def test_workers_give_the_same_file(tmp_path):
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    r1 = convert_deepfashion2_to_file(DF2_ANNOS, one, IMAGES, workers=1, chunk_size=2)
    r2 = convert_deepfashion2_to_file(DF2_ANNOS, two, IMAGES, workers=2, chunk_size=2)
    assert one.read_bytes() == two.read_bytes()
    assert r1.to_dict() == r2.to_dict()


def test_cli_writes_file_and_report(tmp_path):
    out, rep = tmp_path / "coco.json", tmp_path / "report.json"
    stdout = invoke("convert", "deepfashion2", DF2_ANNOS, "--images", IMAGES, "--out", out, "--report", rep,
                    "--workers", 1, "--json")
    assert json.loads(stdout)["counts"]["annotations"] == 10
    assert json.loads(out.read_text())["annotations"][0]["landmarks"]
    assert json.loads(rep.read_text())["problem_counts"]["invalid_json"] == 1
