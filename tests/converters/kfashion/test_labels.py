"""Garment assembly (labels.py): schema, attributes, style, categories, garments -> annotations."""

from __future__ import annotations

import json

from garmentparse.converters import convert_kfashion

from ..conftest import labelling_of, polygon_of, read_label, write_label
from .checks import anns_of, assert_good_neighbour, problems


def test_invalid_schema(make_dataset):
    labels, images = make_dataset(["0001", "0003"])
    (labels / "0003.json").write_text(json.dumps({"something": "else"}), encoding="utf-8")
    coco, report = convert_kfashion(labels, images)
    [p] = problems(report, "invalid_schema")
    assert p.file.endswith("0003.json")
    assert_good_neighbour(coco)


def test_real_kfashion_photo_name_differs_from_label_file_name(kfashion_real_dir):
    coco, report = convert_kfashion(kfashion_real_dir, kfashion_real_dir)
    files = {im["file_name"] for im in coco["images"]}
    assert files == {"100026.jpg", "1070263.jpg", "1092253.jpg"}  # not the 이미지 파일명 values
    assert not problems(report, "label_without_image")
    # Real labels carry every attribute in English ids, style copied onto each garment.
    top = next(a for a in anns_of(coco, "100026.json") if a["part"] == "top")
    assert top["attributes"] == {
        "length": "normal", "colour": "white", "sub_colour": "silver", "category": "blouse", "collar": "bow",
        "sleeve_length": "cap", "material": ["woven", "lace"], "print": ["dot"], "neckline": "v-neck",
        "fit": "loose", "style": "romantic"}


def test_no_garments(make_dataset):
    labels, images = make_dataset(["0001", "0003"])
    data = read_label("0003")
    detail = data["데이터셋 정보"]["데이터셋 상세설명"]
    for key in ("폴리곤좌표", "렉트좌표", "라벨링"):
        for part in detail[key]:
            detail[key][part] = [{}]
    write_label(labels / "0003.json", data)
    coco, report = convert_kfashion(labels, images)
    [p] = problems(report, "no_garments")
    assert p.file.endswith("0003.json") and p.action == "skipped"
    assert not problems(report, "image_without_label")  # the photo had a label, just an empty one
    assert_good_neighbour(coco)


def test_polygon_missing(make_dataset):
    labels, images = make_dataset(["0001", "0003"])
    data = read_label("0003")
    data["데이터셋 정보"]["데이터셋 상세설명"]["폴리곤좌표"]["상의"] = [{}]
    write_label(labels / "0003.json", data)
    coco, report = convert_kfashion(labels, images)
    [p] = problems(report, "polygon_missing")
    assert "상의" in p.detail
    assert sorted(a["part"] for a in anns_of(coco, "0003.json")) == ["bottom", "outer"]


def test_unknown_value_keeps_the_garment(make_dataset):
    labels, images = make_dataset(["0001", "0003"])
    data = read_label("0003")
    labelling_of(data, "아우터")["색상"] = "형광연두"
    labelling_of(data, "상의")["프린트"] = ["도트", "우주무늬"]
    write_label(labels / "0003.json", data)
    coco, report = convert_kfashion(labels, images)
    found = problems(report, "unknown_value")
    assert {p.action for p in found} == {"value dropped"}
    assert any("형광연두" in p.detail for p in found) and any("우주무늬" in p.detail for p in found)
    anns = {a["part"]: a for a in anns_of(coco, "0003.json")}
    assert "colour" not in anns["outer"]["attributes"] and anns["outer"]["attributes"]["category"] == "coat"
    assert anns["top"]["attributes"]["print"] == ["dot"]


def test_missing_category_with_fine_classes(make_dataset):
    labels, images = make_dataset(["0001", "0003"])
    data = read_label("0003")
    del labelling_of(data, "하의")["카테고리"]
    write_label(labels / "0003.json", data)
    coco, report = convert_kfashion(labels, images, classes="category")
    [p] = problems(report, "missing_category")
    assert "하의" in p.detail
    names = {c["id"]: c["name"] for c in coco["categories"]}
    assert sorted(names[a["category_id"]] for a in anns_of(coco, "0003.json")) == ["blouse", "coat"]
    # with parts, the same garment is fine
    coco, report = convert_kfashion(labels, images)
    assert not problems(report, "missing_category") and len(anns_of(coco, "0003.json")) == 3


def test_silently_lost_data_is_now_reported(make_dataset):
    """An unknown part key, a second colour, a part with more polygons than labels."""
    labels, images = make_dataset(["0001", "0003"])
    data = read_label("0003")
    detail = data["데이터셋 정보"]["데이터셋 상세설명"]
    detail["폴리곤좌표"]["하의 "] = [polygon_of(data, "하의")]  # typo'd key: trailing space
    detail["라벨링"]["상의"][0]["색상"] = ["블랙", "화이트"]
    detail["폴리곤좌표"]["아우터"].append(polygon_of(data, "상의"))  # 2 polygons, 1 label
    write_label(labels / "0003.json", data)
    coco, report = convert_kfashion(labels, images)
    details = [p.detail for p in problems(report, "unknown_value")]
    assert any("unknown part '하의 '" in d for d in details)
    assert any("색상 takes one value; kept '블랙', dropped ['화이트']" in d for d in details)
    [mismatch] = problems(report, "polygon_label_mismatch")
    assert mismatch.file.endswith("0003.json") and mismatch.action == "kept"
    outers = [a for a in anns_of(coco, "0003.json") if a["part"] == "outer"]
    assert [a["attributes"].get("category") for a in outers] == ["coat", None]
    assert_good_neighbour(coco)
