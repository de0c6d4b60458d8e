"""Photo matching (matching.py): stems, 이미지 파일명, folders, sizes, undecodable photos."""

from __future__ import annotations

import json
import shutil

from PIL import Image
import pytest

from garmentparse.converters import convert_kfashion

from ..conftest import CCP, polygon_of, read_label, write_label
from .checks import anns_of, assert_good_neighbour, images_by_label, problems


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


def test_tiff_photos_match_and_their_headers_are_read(make_dataset):
    """A dump delivered as TIFF: labels match .tif photos by stem; sizes come from the TIFF
    header (through Pillow), so a TIFF of the label's size converts without a problem."""
    from garmentparse.converters.imagehead import check_photo, photo_size

    labels, images = make_dataset(["0001", "0003"])
    with Image.open(images / "0003.jpg") as im:
        size = im.size
        im.save(images / "0003.tif", compression="tiff_deflate")
    (images / "0003.jpg").unlink()
    assert photo_size(images / "0003.tif") == check_photo(images / "0003.tif") == size
    coco, report = convert_kfashion(labels, images)
    assert report.problems == []
    assert images_by_label(coco)["0003.json"]["file_name"] == "0003.tif"
