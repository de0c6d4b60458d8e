"""``crop --level photo``: one crop per photo (whole or the person region) with the outfit's styles."""

from __future__ import annotations

import csv
import json

import numpy as np

from garmentparse import masks
from garmentparse.converters import convert_kfashion, crop_dataset
from garmentparse.imageio import load_rgb
from tests.conftest import STYLES, invoke


def read_rows(manifest):
    with open(manifest, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_real_kfashion_style_reaches_the_photo_manifest(kfashion_real_dir, tmp_path):
    coco, _ = convert_kfashion(kfashion_real_dir, kfashion_real_dir)
    report = crop_dataset(coco, kfashion_real_dir, tmp_path / "photos", size=64, level="photo")
    rows = {r["source_image"]: r for r in read_rows(tmp_path / "photos" / "manifest.csv")}
    assert len(rows) == report.counts["crops"] == 3 and report.counts["photos_with_style"] == 1
    romantic = next(r for r in rows.values() if r["style"])
    assert romantic["style"] == "romantic" and romantic["sub_style"] == "" and romantic["annotation_id"] == ""
    assert romantic["part"] == "" and romantic["crop_path"].startswith("photos/")
    assert load_rgb(tmp_path / "photos" / romantic["crop_path"]).shape == (64, 64, 3)


def test_styles_and_person_region(styled_kfashion, tmp_path):
    coco = json.loads(styled_kfashion["coco"].read_text())
    invoke("crop", styled_kfashion["coco"], "--images", styled_kfashion["images"], "--out", tmp_path / "whole",
           "--level", "photo", "--size", "96")
    invoke("crop", styled_kfashion["coco"], "--images", styled_kfashion["images"], "--out", tmp_path / "person",
           "--level", "photo", "--region", "person", "--size", "96")
    whole, person = read_rows(tmp_path / "whole" / "manifest.csv"), read_rows(tmp_path / "person" / "manifest.csv")
    assert len(whole) == len(person) == 24
    ko = {"로맨틱": "romantic", "섹시": "sexy", "스트리트": "street", "힙합": "hiphop", "클래식": "classic"}
    expected = ["|".join(ko[s] for s in pair if s) for pair in STYLES]
    assert [r["style"] for r in whole] == [expected[i % 3] for i in range(24)]  # main style first, then sub
    assert whole[0]["sub_style"] == "sexy" and whole[2]["sub_style"] == ""
    # the person region is the box around the photo's garments, so it differs from the whole photo
    first = coco["images"][0]
    boxes = [[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in coco["annotations"] if a["image_id"] == first["id"])]
    x0, y0, x1, y1 = masks.region_box(boxes, first["width"], first["height"])
    assert x1 - x0 < first["width"] or y1 - y0 < first["height"]
    a = load_rgb(tmp_path / "whole" / whole[0]["crop_path"]).astype(int)
    b = load_rgb(tmp_path / "person" / person[0]["crop_path"]).astype(int)
    assert np.abs(a - b).mean() > 5


def test_region_box_and_photo_region():
    assert masks.region_box([], 100, 50) == [0.0, 0.0, 100.0, 50.0]
    assert masks.region_box([[10, 10, 30, 20], [20, 5, 40, 40]], 100, 50, pad=0.0) == [10, 5, 40, 40]
    assert masks.region_box([[0, 0, 100, 50]], 100, 50) == [0.0, 0.0, 100.0, 50.0]  # kept inside the photo
    image = np.zeros((50, 100, 3), np.uint8)
    assert masks.photo_region(image, [[10, 10, 30, 20]], "person").shape == (12, 22, 3)  # grown 5% a side
    assert masks.photo_region(image, [], "photo", size=32).shape == (32, 32, 3)
