"""`convert photos`: one label per photo (CSV or a folder per class) -> COCO with image-level
labels, pseudo-masks of product photos, and every bad row reported with its reason."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO

from garmentparse import masks
from garmentparse.converters import (CLOTHING_DATASET_CLASSES, ClassLabels, add_pseudo_masks, convert_photo_labels,
                                     foreground_mask, load_class_map, split_coco)
from garmentparse.converters.photolabels import resolve_class
from garmentparse.imageio import load_rgb
from tests.conftest import EXAMPLES, invoke

PRODUCTS = EXAMPLES / "products"


def _rows() -> list[dict[str, str]]:
    with open(PRODUCTS / "labels.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_csv_of_the_clothing_dataset_converts_with_image_level_labels():
    coco, report = convert_photo_labels(PRODUCTS / "labels.csv", PRODUCTS / "images",
                                        class_map=CLOTHING_DATASET_CLASSES)
    assert report.ok, report.to_dict()
    assert len(coco["images"]) == 12 and coco["annotations"] == []
    by_class = {im["labels"]["class"]: im for im in coco["images"]}
    assert by_class["T-Shirt"]["labels"] == {"class": "T-Shirt", "part": "top",
                                             "attributes": {"category": "t-shirt", "sleeve_length": "short"}}
    assert by_class["Shorts"]["labels"]["attributes"] == {"category": "pants", "length": "mini"}
    assert by_class["Hat"]["labels"]["part"] is None and by_class["Shoes"]["labels"]["part"] is None
    assert by_class["Dress"]["sender_id"] == "353"  # the CSV's other columns stay on the image
    assert report.counts["garment_photos"] == 10 and report.counts["no_garment_photos"] == 2
    for im in coco["images"]:  # the real size from the photo, not trusted from anywhere
        h, w = load_rgb(PRODUCTS / "images" / im["file_name"]).shape[:2]
        assert (im["width"], im["height"]) == (w, h)


def test_bad_rows_are_reported_and_the_rest_converted(tmp_path: Path):
    images = tmp_path / "images"
    shutil.copytree(PRODUCTS / "images", images)
    (images / "notes.txt").write_text("not a photo")
    (images / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    rows = _rows()
    rows += [{"image": "missing-photo", "sender_id": "1", "label": "T-Shirt", "kids": "False"},
             {"image": rows[0]["image"], "sender_id": "1", "label": "Dress", "kids": "False"},
             {"image": rows[1]["image"], "sender_id": "1", "label": "Spaceship", "kids": "False"},
             {"image": "notes.txt", "sender_id": "1", "label": "Shirt", "kids": "False"},
             {"image": "broken", "sender_id": "1", "label": "Shirt", "kids": "False"},
             {"image": rows[2]["image"], "sender_id": "1", "label": "", "kids": "False"}]
    table = tmp_path / "labels.csv"
    with open(table, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    coco, report = convert_photo_labels(table, images, class_map=CLOTHING_DATASET_CLASSES)
    reasons = {p.reason: p.file for p in report.problems}
    assert set(reasons) == {"image_missing", "duplicate_image", "unknown_class", "not_an_image",
                            "image_undecodable", "label_missing"}
    assert "Spaceship" in next(p.detail for p in report.problems if p.reason == "unknown_class")
    assert len(coco["images"]) == 12  # every good photo kept, the first label of a listed-twice photo
    first = next(im for im in coco["images"] if im["file_name"].startswith(rows[0]["image"]))
    assert first["labels"]["class"] == "T-Shirt"


def test_a_folder_per_class_named_after_our_vocabulary_needs_no_map(tmp_path: Path):
    src = {r["label"]: PRODUCTS / "images" / f"{r['image']}.jpg" for r in _rows()}
    for folder, cls in (("t-shirt", "T-Shirt"), ("청바지", "Pants"), ("Dress", "Dress"), ("shoes", "Shoes"),
                        ("Mystery", "Skirt")):
        (tmp_path / "shop" / folder).mkdir(parents=True)
        shutil.copy(src[cls], tmp_path / "shop" / folder / "a.jpg")
    coco, report = convert_photo_labels(tmp_path / "shop")
    labels = {im["file_name"].split("/")[0]: im["labels"] for im in coco["images"]}
    assert labels["t-shirt"]["attributes"] == {"category": "t-shirt"}
    assert labels["청바지"] == {"class": "청바지", "part": "bottom", "attributes": {"category": "jeans"}}
    assert labels["Dress"]["part"] == "onepiece" and labels["shoes"]["part"] is None
    assert [p.reason for p in report.problems] == ["unknown_class"]  # Mystery/: reported, not guessed


def test_class_map_file_and_its_errors(tmp_path: Path):
    good = tmp_path / "map.yaml"
    good.write_text("Tee: {part: top, attributes: {category: t-shirt, sleeve_length: short}}\nBeanie: null\n")
    m = load_class_map(good)
    assert m["Tee"] == ClassLabels("top", {"category": "t-shirt", "sleeve_length": "short"})
    assert resolve_class("  tee ", m) == m["Tee"] and resolve_class("beanie", m).part is None
    for text, needle in (("Tee: {part: shoe}", "unknown part"), ("Tee: {part: top, attributes: {category: jeans}}",
                                                                  "is a bottom"),
                         ("Tee: {part: top, attributes: {sleeve: long}}", "unknown attribute"),
                         ("Tee: {part: top, colour: red}", "give 'part'")):
        bad = tmp_path / "bad.yaml"
        bad.write_text(text)
        with pytest.raises(ValueError, match=needle):
            load_class_map(bad)


def test_pseudo_masks_of_product_photos(tmp_path: Path):
    coco, _ = convert_photo_labels(PRODUCTS / "labels.csv", PRODUCTS / "images", class_map=CLOTHING_DATASET_CLASSES)
    out, report = add_pseudo_masks(coco, PRODUCTS / "images", workers=2)
    assert report.counts["pseudo_masks"] + len(report.problems) == 10
    assert report.counts["pseudo_masks"] >= 9
    names = {im["id"]: im for im in out["images"]}
    for ann in out["annotations"]:
        im = names[ann["image_id"]]
        assert ann["part"] == im["labels"]["part"] and ann["pseudo_mask"] == "grabcut"
        assert ann["attributes"] == im["labels"]["attributes"]
        area = masks.area(ann["segmentation"]) / (im["width"] * im["height"])
        assert 0.03 < area < 0.95
    assert {im["labels"]["class"] for im in out["images"] if im["id"] not in {a["image_id"] for a in out["annotations"]}} \
        >= {"Hat", "Shoes"}  # kept as garment-free photos
    path = tmp_path / "p.json"
    path.write_text(json.dumps(out))
    api = COCO(str(path))  # pycocotools reads it; the masks decode at the photo's size
    ann = api.loadAnns(api.getAnnIds())[0]
    assert api.annToMask(ann).shape == (names[ann["image_id"]]["height"], names[ann["image_id"]]["width"])


def test_foreground_mask_finds_a_garment_on_a_patterned_floor():
    rng = np.random.default_rng(0)
    photo = rng.integers(90, 140, size=(300, 240, 3), dtype=np.uint8)  # textured "carpet"
    photo[::8] = 60
    truth = np.zeros(photo.shape[:2], bool)
    truth[60:250, 50:190] = True
    photo[truth] = (200, 40, 40)
    mask = foreground_mask(photo)
    inter, union = (mask & truth).sum(), (mask | truth).sum()
    assert inter / union > 0.9


def test_split_by_sender_keeps_each_photographer_in_one_split():
    coco, _ = convert_photo_labels(PRODUCTS / "labels.csv", PRODUCTS / "images", class_map=CLOTHING_DATASET_CLASSES)
    parts = split_coco(coco, val=0.3, seed=0, group_by="sender_id")
    senders = {name: {im["sender_id"] for im in p["images"]} for name, p in parts.items()}
    assert not senders["train"] & senders["val"]
    assert sum(len(p["images"]) for p in parts.values()) == 12
    assert parts["val"]["info"]["split"]["group_by"] == "sender_id"


def test_cli_convert_photos_with_pseudo_masks(tmp_path: Path):
    out = tmp_path / "products.json"
    stdout = invoke("convert", "photos", PRODUCTS / "labels.csv", "--images", PRODUCTS / "images", "--pseudo-masks",
                    "--workers", "1", "--out", out, "--report", tmp_path / "report.json", "--json")
    counts = json.loads(stdout.strip().splitlines()[-1])["counts"]
    assert counts["rows"] == 12 and counts["pseudo_masks"] >= 9
    assert len(json.loads(out.read_text())["annotations"]) == counts["pseudo_masks"]
