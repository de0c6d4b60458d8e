"""Every cleaning case of `convert kfashion`, on real labels and photos broken on purpose.

Each test copies real examples/ccp labels + photos (0001 stays good, 0003 gets broken), converts,
and checks the reason code, the file it names, the action, the repaired output, and that the good
neighbour is converted untouched.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import shapely
from PIL import Image
from pycocotools.coco import COCO
from shapely.geometry import Polygon

from garmentparse.converters import convert_kfashion
from garmentparse.converters.kfashion import decode_label

from .conftest import CCP, labelling_of, polygon_of, read_label, write_label


def problems(report, reason):
    return [p for p in report.problems if p.reason == reason]


def images_by_label(coco):
    return {im["source_label"]: im for im in coco["images"]}


def anns_of(coco, label):
    image = images_by_label(coco)[label]
    return [a for a in coco["annotations"] if a["image_id"] == image["id"]]


def assert_good_neighbour(coco):
    """0001 is converted in full: vest, skirt, blouse with their exact source points."""
    anns = anns_of(coco, "0001.json")
    assert sorted(a["attributes"]["category"] for a in anns) == ["blouse", "skirt", "vest"]
    src = read_label("0001")
    poly = polygon_of(src, "아우터")
    n = len(poly) // 2
    expected = [v for k in range(1, n + 1) for v in (poly[f"X좌표{k}"], poly[f"Y좌표{k}"])]
    vest = next(a for a in anns if a["part"] == "outer")
    assert vest["segmentation"] == [expected]


def loads_in_pycocotools(coco, tmp_path):
    path = tmp_path / "check.json"
    path.write_text(json.dumps(coco))
    return COCO(str(path))


def test_clean_input_has_no_problems(make_dataset):
    labels, images = make_dataset(["0001", "0002", "0003"])
    coco, report = convert_kfashion(labels, images)
    assert report.problems == []
    assert report.counts["images"] == 3 and len(coco["images"]) == 3
    assert_good_neighbour(coco)


def test_invalid_json(make_dataset):
    labels, images = make_dataset(["0001", "0003"])
    text = (labels / "0003.json").read_text(encoding="utf-8")
    (labels / "0003.json").write_text(text[: len(text) // 2], encoding="utf-8")
    coco, report = convert_kfashion(labels, images)
    [p] = problems(report, "invalid_json")
    assert p.file.endswith("0003.json") and p.action == "skipped"
    assert "0003.json" not in images_by_label(coco)
    assert_good_neighbour(coco)


def test_invalid_schema(make_dataset):
    labels, images = make_dataset(["0001", "0003"])
    (labels / "0003.json").write_text(json.dumps({"something": "else"}), encoding="utf-8")
    coco, report = convert_kfashion(labels, images)
    [p] = problems(report, "invalid_schema")
    assert p.file.endswith("0003.json")
    assert_good_neighbour(coco)


def test_label_without_image_and_image_without_label(make_dataset):
    labels, images = make_dataset(["0001", "0003"])
    data = read_label("0003")
    data["이미지 정보"]["이미지 파일명"] = "does-not-exist.jpg"
    (labels / "0003.json").unlink()
    write_label(labels / "orphan.json", data)  # stem and 이미지 파일명 match no photo
    coco, report = convert_kfashion(labels, images)
    [p] = problems(report, "label_without_image")
    assert p.file.endswith("orphan.json") and p.action == "skipped"
    [q] = problems(report, "image_without_label")
    assert q.file.endswith("0003.jpg")
    assert_good_neighbour(coco)


def test_match_by_image_file_name_when_stem_differs(make_dataset):
    """Real K-Fashion: the label's own name can differ from the photo's; 이미지 파일명 then decides."""
    labels, images = make_dataset(["0001", "0003"])
    (labels / "0003.json").rename(labels / "label-of-three.json")
    coco, report = convert_kfashion(labels, images)
    assert report.problems == []
    image = images_by_label(coco)["label-of-three.json"]
    assert image["file_name"] == "0003.jpg"  # the photo that exists, relative to IMAGES


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


@pytest.mark.parametrize("how", ["truncated", "not_an_image"])
def test_image_undecodable(make_dataset, how):
    labels, images = make_dataset(["0001", "0003"])
    photo = images / "0003.jpg"
    raw = photo.read_bytes()
    photo.write_bytes(raw[: len(raw) // 2] if how == "truncated" else b"<html>not a photo</html>")
    coco, report = convert_kfashion(labels, images)
    [p] = problems(report, "image_undecodable")
    assert p.file.endswith("0003.jpg") and p.action == "skipped"
    assert "0003.json" not in images_by_label(coco)
    assert_good_neighbour(coco)


def test_size_mismatch_rescaled(make_dataset):
    labels, images = make_dataset(["0001", "0003"])
    with Image.open(images / "0003.jpg") as im:
        w, h = im.size
        im.resize((w // 2, h // 2)).save(images / "0003.jpg", quality=95)
    coco, report = convert_kfashion(labels, images)
    [p] = problems(report, "size_mismatch_rescaled")
    assert p.action == "rescaled" and p.file.endswith("0003.json")
    image = images_by_label(coco)["0003.json"]
    assert (image["width"], image["height"]) == (w // 2, h // 2)
    src = polygon_of(read_label("0003"), "하의")
    pants = next(a for a in anns_of(coco, "0003.json") if a["part"] == "bottom")
    sx, sy = (w // 2) / w, (h // 2) / h
    assert pants["segmentation"][0][:2] == pytest.approx([src["X좌표1"] * sx, src["Y좌표1"] * sy], abs=0.01)
    assert_good_neighbour(coco)


def test_size_mismatch_skipped(make_dataset):
    labels, images = make_dataset(["0001", "0003"])
    with Image.open(images / "0003.jpg") as im:
        im.crop((0, 0, im.width, im.height // 2)).save(images / "0003.jpg", quality=95)
    coco, report = convert_kfashion(labels, images)
    [p] = problems(report, "size_mismatch_skipped")
    assert p.action == "skipped" and "aspect" in p.detail
    assert "0003.json" not in images_by_label(coco)
    assert_good_neighbour(coco)


def test_polygon_too_few_points(make_dataset):
    labels, images = make_dataset(["0001", "0003"])
    data = read_label("0003")
    pants = polygon_of(data, "하의")
    for key in [k for k in pants if int(k[3:]) > 2]:
        del pants[key]
    write_label(labels / "0003.json", data)
    coco, report = convert_kfashion(labels, images)
    [p] = problems(report, "polygon_too_few_points")
    assert "하의" in p.detail and p.action == "skipped"
    parts = sorted(a["part"] for a in anns_of(coco, "0003.json"))
    assert parts == ["outer", "top"]  # the other garments of the same label survive
    assert_good_neighbour(coco)


def test_unpaired_coordinates(make_dataset):
    labels, images = make_dataset(["0001", "0003"])
    data = read_label("0003")
    coat = polygon_of(data, "아우터")
    n = len(coat) // 2
    del coat["Y좌표5"]
    write_label(labels / "0003.json", data)
    coco, report = convert_kfashion(labels, images)
    [p] = problems(report, "unpaired_coordinates")
    assert p.action == "point dropped" and "[5]" in p.detail
    outer = next(a for a in anns_of(coco, "0003.json") if a["part"] == "outer")
    assert len(outer["segmentation"][0]) == 2 * (n - 1)
    assert_good_neighbour(coco)


def test_unordered_keys_are_read_in_numeric_order(make_dataset):
    labels, images = make_dataset(["0003"])
    data = read_label("0003")
    part = data["데이터셋 정보"]["데이터셋 상세설명"]["폴리곤좌표"]["아우터"]
    original = part[0]
    part[0] = dict(sorted(original.items(), key=lambda kv: kv[0][::-1]))  # scrambled order: 1, 10, 11, ...
    write_label(labels / "0003.json", data)
    coco, report = convert_kfashion(labels, images)
    outer = next(a for a in anns_of(coco, "0003.json") if a["part"] == "outer")
    n = len(original) // 2
    assert outer["segmentation"][0] == [v for k in range(1, n + 1)
                                        for v in (original[f"X좌표{k}"], original[f"Y좌표{k}"])]


def test_self_intersection_repaired(make_dataset, tmp_path):
    labels, images = make_dataset(["0001", "0003"])
    data = read_label("0003")
    top = polygon_of(data, "상의")
    n = len(top) // 2
    # swap two far-apart points: a bow-tie crossing
    i, j = 2, n // 2 + 2
    top[f"X좌표{i}"], top[f"X좌표{j}"] = top[f"X좌표{j}"], top[f"X좌표{i}"]
    top[f"Y좌표{i}"], top[f"Y좌표{j}"] = top[f"Y좌표{j}"], top[f"Y좌표{i}"]
    write_label(labels / "0003.json", data)
    coco, report = convert_kfashion(labels, images)
    [p] = problems(report, "self_intersection_repaired")
    assert p.action == "repaired" and "상의" in p.detail
    garment = next(a for a in anns_of(coco, "0003.json") if a["part"] == "top")  # kept
    for poly in garment["segmentation"]:
        assert Polygon(np.reshape(poly, (-1, 2))).is_valid
    api = loads_in_pycocotools(coco, tmp_path)
    assert api.annToMask(api.loadAnns(garment["id"])[0]).sum() > 0
    assert_good_neighbour(coco)


def test_points_clipped(make_dataset):
    labels, images = make_dataset(["0001", "0003"])
    data = read_label("0003")
    coat = polygon_of(data, "아우터")
    coat["X좌표3"] = -40.0
    coat["Y좌표4"] = 5000.0
    write_label(labels / "0003.json", data)
    coco, report = convert_kfashion(labels, images)
    [p] = problems(report, "points_clipped")
    assert p.action == "clipped"
    image = images_by_label(coco)["0003.json"]
    outer = next(a for a in anns_of(coco, "0003.json") if a["part"] == "outer")
    xs = np.concatenate([np.asarray(s[0::2]) for s in outer["segmentation"]])
    ys = np.concatenate([np.asarray(s[1::2]) for s in outer["segmentation"]])
    assert xs.min() >= 0 and ys.max() <= image["height"] and xs.max() <= image["width"]
    x, y, w, h = outer["bbox"]
    assert x >= 0 and y + h <= image["height"]
    assert_good_neighbour(coco)


def test_numeric_strings_convert_to_the_same_output(make_dataset):
    labels, images = make_dataset(["0001", "0003"])
    clean, _ = convert_kfashion(labels, images)
    data = read_label("0003")
    data["이미지 정보"]["이미지 너비"] = str(data["이미지 정보"]["이미지 너비"])
    data["이미지 정보"]["이미지 식별자"] = str(data["이미지 정보"]["이미지 식별자"])
    for poly in data["데이터셋 정보"]["데이터셋 상세설명"]["폴리곤좌표"].values():
        for p in poly:
            for k in p:
                p[k] = f"{p[k]:g}"
    write_label(labels / "0003.json", data)
    coco, report = convert_kfashion(labels, images)
    [p] = problems(report, "numeric_string")
    assert p.action == "converted" and p.file.endswith("0003.json")
    assert coco["annotations"] == clean["annotations"]
    assert coco["images"] == clean["images"]


@pytest.mark.parametrize("encoding", ["cp949", "euc-kr", "utf-8-sig", "utf-16"])
def test_korean_text_encodings(make_dataset, encoding):
    labels, images = make_dataset(["0001", "0003"])
    clean, _ = convert_kfashion(labels, images)
    write_label(labels / "0003.json", read_label("0003"), encoding=encoding)
    coco, report = convert_kfashion(labels, images)
    [p] = problems(report, "encoding")
    assert p.action == "decoded" and p.file.endswith("0003.json")
    assert ("cp949" if encoding in ("cp949", "euc-kr") else encoding) in p.detail
    assert coco["annotations"] == clean["annotations"]  # Korean values decoded, not mangled


def test_undecodable_text_is_invalid_json():
    with pytest.raises(Exception) as err:
        decode_label(b"\xff\xfe\xfa\x00\xd8\x00\xff\xff{")
    assert getattr(err.value, "reason", "") == "invalid_json"


def test_duplicate_image_id_keeps_coco_ids_unique(make_dataset):
    labels, images = make_dataset(["0001", "0003"])
    data = read_label("0003")
    data["이미지 정보"]["이미지 식별자"] = read_label("0001")["이미지 정보"]["이미지 식별자"]
    write_label(labels / "0003.json", data)
    coco, report = convert_kfashion(labels, images)
    [p] = problems(report, "duplicate_image_id")
    assert p.file.endswith("0003.json") and p.action.startswith("kept")
    ids = [im["id"] for im in coco["images"]]
    assert len(ids) == 2 == len(set(ids))
    assert {im["kfashion_id"] for im in coco["images"]} == {500001}


def test_duplicate_photo(make_dataset):
    labels, images = make_dataset(["0001", "0003"])
    shutil.copy(labels / "0003.json", labels / "0003-copy.json")  # matches 0003.jpg by 이미지 파일명
    coco, report = convert_kfashion(labels, images)
    [p] = problems(report, "duplicate_photo")
    assert p.file.endswith("0003-copy.json")
    assert [im["file_name"] for im in coco["images"]].count("0003.jpg") == 1


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


def test_many_problems_in_one_run_and_workers(make_dataset, tmp_path):
    """All at once, in 2 worker processes: same output and report as one process."""
    labels, images = make_dataset(["0001", "0002", "0003", "0004"])
    (labels / "0002.json").write_text("{", encoding="utf-8")
    write_label(labels / "0003.json", read_label("0003"), encoding="cp949")
    data = read_label("0004")
    polygon_of(data, "하의")["X좌표2"] = -10.0
    write_label(labels / "0004.json", data)
    one, rep1 = convert_kfashion(labels, images)
    two, rep2 = convert_kfashion(labels, images, workers=2)
    assert one == two
    assert [p.to_dict() for p in rep1.problems] == [p.to_dict() for p in rep2.problems]
    # 0002.jpg is not "without label": its label exists but is broken (invalid_json names it)
    assert {p.reason for p in rep1.problems} == {"invalid_json", "encoding", "points_clipped"}
    api = loads_in_pycocotools(one, tmp_path)
    assert len(api.getImgIds()) == 3
    for ann in one["annotations"]:
        for poly in ann["segmentation"]:
            assert shapely.is_valid(Polygon(np.reshape(poly, (-1, 2))))


def test_without_images_sizes_come_from_json(tmp_path):
    shutil.copytree(CCP / "labels", tmp_path / "labels")
    coco, report = convert_kfashion(tmp_path / "labels")
    assert len(coco["images"]) == 24
    first = coco["images"][0]
    src = read_label("0001")["이미지 정보"]
    assert (first["file_name"], first["width"], first["height"]) == ("0001.jpg", src["이미지 너비"],
                                                                     src["이미지 높이"])


def test_without_images_real_labels_name_the_photo_by_stem(tmp_path, kfashion_real_dir):
    """Real K-Fashion photos carry the label's stem, not its 이미지 파일명 (which is kept for tracing)."""
    (tmp_path / "labels" / "a").mkdir(parents=True)
    (tmp_path / "labels" / "b").mkdir(parents=True)
    shutil.copy(kfashion_real_dir / "100026.json", tmp_path / "labels" / "a" / "100026.json")
    shutil.copy(kfashion_real_dir / "1070263.json", tmp_path / "labels" / "b" / "100026.json")  # same stem
    coco, _ = convert_kfashion(tmp_path / "labels")
    names = {(im["file_name"], im["label_file_name"]) for im in coco["images"]}
    assert names == {("a/100026.jpg", "Ave29th_160_02.jpg"), ("b/100026.jpg", "nt2157k07-nt2157k07-s_3.jpg")}


def test_nested_folders_with_repeated_stems_match_their_own_folder(tmp_path):
    """Real dumps nest labels and photos in parallel folders; a repeated stem matches its own folder."""
    for folder, stem in (("a", "0001"), ("b", "0003")):
        (tmp_path / "labels" / folder).mkdir(parents=True)
        (tmp_path / "images" / folder).mkdir(parents=True)
        shutil.copy(CCP / "labels" / f"{stem}.json", tmp_path / "labels" / folder / "photo.json")
        shutil.copy(CCP / "images" / f"{stem}.jpg", tmp_path / "images" / folder / "photo.jpg")
    coco, report = convert_kfashion(tmp_path / "labels", tmp_path / "images")
    assert report.problems == []
    assert {im["source_label"]: im["file_name"] for im in coco["images"]} == {
        "a/photo.json": "a/photo.jpg", "b/photo.json": "b/photo.jpg"}
    heights = {im["file_name"]: im["height"] for im in coco["images"]}
    assert heights == {"a/photo.jpg": read_label("0001")["이미지 정보"]["이미지 높이"],
                       "b/photo.jpg": read_label("0003")["이미지 정보"]["이미지 높이"]}


def test_one_pathological_label_never_ends_the_run(make_dataset, tmp_path):
    """An identifier beyond 64 bits and a coordinate beyond float range: reported, run goes on."""
    from garmentparse.converters import convert_kfashion_to_file

    labels, images = make_dataset(["0001", "0002", "0003"])
    data = read_label("0003")
    data["이미지 정보"]["이미지 식별자"] = "20200810083318000123456"  # longer than int64
    write_label(labels / "0003.json", data)
    (labels / "0002.json").write_text((labels / "0002.json").read_text(encoding="utf-8").replace(
        '"X좌표1": ', '"X좌표1": 1' + "0" * 400 + ', "unused": ', 1), encoding="utf-8")
    report = convert_kfashion_to_file(labels, tmp_path / "out.json", images)
    coco = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert images_by_label(coco)["0003.json"]["kfashion_id"] == "20200810083318000123456"
    assert "0002.json" in images_by_label(coco)  # the huge coordinate is one dropped point
    assert any(p.file.endswith("0002.json") for p in problems(report, "invalid_coordinate"))
    assert_good_neighbour(coco)


@pytest.mark.parametrize("text, value", [("10,5", 10.5), ("1,024.5", 1024.5), ("1,2,3", None), ("12,3456", None)])
def test_comma_numbers(text, value):
    from garmentparse.converters.kfashion import _Ctx

    assert _Ctx("f").number(text) == value


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


def test_repair_never_writes_collapsed_slivers():
    """A tiny loop near the start of a polygon: make_valid splits off slivers that collapse to
    one point when rounded; they are dropped and the output passes validate."""
    from garmentparse.converters.kfashion import _Ctx, label_garments
    from garmentparse.converters.validate import validate_coco

    pts = [(463.0, 89.888), (463.004, 89.891), (463.001, 89.886), (404.248, 289.448), (271.111, 192.255),
           (434.631, 386.443), (501.207, 270.703)]
    poly = {k: v for i, (x, y) in enumerate(pts, 1) for k, v in ((f"X좌표{i}", x), (f"Y좌표{i}", y))}
    data = {"이미지 정보": {"이미지 식별자": 1, "이미지 높이": 600, "이미지 너비": 800},
            "데이터셋 정보": {"데이터셋 상세설명": {"폴리곤좌표": {"상의": [poly]}, "라벨링": {}}}}
    ctx = _Ctx("f")
    anns = label_garments(data, 800, 600, ctx=ctx)
    assert [p.reason for p in ctx.finish()] == ["self_intersection_repaired"]
    for poly_out in anns[0]["segmentation"]:
        assert len({tuple(pt) for pt in np.reshape(poly_out, (-1, 2))}) >= 3
    for i, a in enumerate(anns, 1):
        a.update(id=i, image_id=1)
    coco = {"images": [{"id": 1, "file_name": "x.jpg", "width": 800, "height": 600}], "annotations": anns,
            "categories": [{"id": i, "name": n} for i, n in enumerate(["outer", "top", "bottom", "onepiece"], 1)]}
    assert validate_coco(coco).problems == []


def test_repeated_stems_match_the_folder_that_ends_alike(tmp_path):
    """Label and photo trees with other roots (라벨링데이터/스트리트 vs 원천데이터/스트리트): each label
    takes the photo whose folder path ends like its own, not the first photo of that stem."""
    for style, stem in (("스트리트", "0001"), ("클래식", "0003")):
        labels = tmp_path / "labels" / "라벨링데이터" / style
        photos = tmp_path / "images" / "원천데이터" / style
        labels.mkdir(parents=True)
        photos.mkdir(parents=True)
        shutil.copy(CCP / "labels" / f"{stem}.json", labels / "photo.json")
        shutil.copy(CCP / "images" / f"{stem}.jpg", photos / "photo.jpg")
    coco, report = convert_kfashion(tmp_path / "labels", tmp_path / "images")
    assert report.problems == []
    assert {im["source_label"]: im["file_name"] for im in coco["images"]} == {
        "라벨링데이터/스트리트/photo.json": "원천데이터/스트리트/photo.jpg",
        "라벨링데이터/클래식/photo.json": "원천데이터/클래식/photo.jpg"}


def test_repaired_outline_keeps_its_hole():
    """An outline drawn around the gap between arm and body (a keyhole ring) repairs to a
    polygon with a hole; COCO polygons cannot hold one, so it is cut into hole-free pieces whose
    mask (pycocotools unions them) leaves the gap empty and whose area excludes it."""
    from pycocotools import mask as mask_api

    from garmentparse.converters.kfashion import _Ctx, label_garments

    ring = [(0, 0), (100, 0), (100, 100), (0, 100), (0, 50), (30, 50), (30, 70), (70, 70), (70, 30), (30, 30),
            (30, 50), (0, 50)]
    poly = {k: v for i, (x, y) in enumerate(ring, 1) for k, v in ((f"X좌표{i}", x), (f"Y좌표{i}", y))}
    data = {"이미지 정보": {"이미지 식별자": 1, "이미지 높이": 120, "이미지 너비": 120},
            "데이터셋 정보": {"데이터셋 상세설명": {"폴리곤좌표": {"상의": [poly]}, "라벨링": {}}}}
    [ann] = label_garments(data, 120, 120, ctx=_Ctx("f"))
    assert ann["area"] == 100 * 100 - 40 * 40 and len(ann["segmentation"]) >= 2
    mask = mask_api.decode(mask_api.merge(mask_api.frPyObjects(ann["segmentation"], 120, 120)))
    assert mask[50, 50] == 0 and mask[10, 10] == 1 and mask[90, 50] == 1
    assert abs(int(mask.sum()) - ann["area"]) < 0.05 * ann["area"]
