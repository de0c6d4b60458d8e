"""validate, split, stats, crop, visualize on real converted data, and the CLI over all of them."""

from __future__ import annotations

import copy
import csv
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from garmentparse import vocab
from garmentparse.cli import build_app
from garmentparse.converters import (MANIFEST_COLUMNS, coco_stats, convert_ccp, convert_kfashion, crop_dataset,
                                     split_coco, validate_coco, visualize_coco)
from garmentparse.converters.split import stratum_labels
from garmentparse.imageio import load_rgb
from garmentparse.masks import decode, segmentation_to_rle


@pytest.fixture(scope="module")
def ccp_coco(ccp_dir) -> dict:
    coco, _ = convert_kfashion(ccp_dir / "labels", ccp_dir / "images")
    return coco


# ----------------------------------------------------------------------------------- validate

def test_validate_clean_output(ccp_coco, ccp_dir, kfashion_real_dir):
    report = validate_coco(ccp_coco, ccp_dir / "images")
    assert report.ok and report.counts["photos_checked"] == 24
    rle, _ = convert_ccp(ccp_dir)
    assert validate_coco(rle, ccp_dir / "images").ok
    real, _ = convert_kfashion(kfashion_real_dir, kfashion_real_dir)
    assert validate_coco(real, kfashion_real_dir).ok


def test_validate_finds_every_kind_of_problem(ccp_coco, ccp_dir, tmp_path):
    bad = copy.deepcopy(ccp_coco)
    anns = bad["annotations"]
    anns[1]["id"] = anns[0]["id"]  # duplicate id
    anns[2]["image_id"] = 9999  # missing image
    anns[3]["category_id"] = 77  # missing category
    anns[4]["bbox"] = [500.0, 10.0, 200.0, 50.0]  # outside a 550-wide image
    anns[5]["segmentation"] = [[10.0, 10.0, 20.0, 20.0]]  # 2 points
    anns[6]["segmentation"] = [[0.0, 0.0, 100.0, 100.0, 100.0, 0.0, 0.0, 100.0]]  # bow-tie
    anns[7]["segmentation"] = {"size": [10, 10], "counts": "abc"}  # wrong size RLE
    anns[8]["area"] = 0
    anns[9]["bbox"] = [1, 2, 3]
    anns[10]["segmentation"] = [[-50.0, 10.0, 20.0, 20.0, 30.0, 5.0]]
    bad["images"][1]["file_name"] = "missing.jpg"
    bad["images"].append({**bad["images"][0], "id": 9998})  # duplicate file_name
    images = tmp_path / "images"
    images.mkdir()
    for im in ccp_coco["images"]:
        (images / im["file_name"]).write_bytes((ccp_dir / "images" / im["file_name"]).read_bytes())
    raw = (images / "0003.jpg").read_bytes()
    (images / "0003.jpg").write_bytes(raw[: len(raw) // 3])  # truncated
    with Image.open(images / "0004.jpg") as im:
        im.resize((100, 100)).save(images / "0004.jpg")
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    report = validate_coco(path, images)
    reasons = Counter(p.reason for p in report.problems)
    for reason in ("duplicate_id", "missing_reference", "box_outside_image", "polygon_too_few_points",
                   "invalid_polygon", "invalid_rle", "invalid_area", "invalid_bbox", "polygon_outside_image",
                   "image_missing", "image_undecodable", "image_size_mismatch", "duplicate_file_name"):
        assert reasons[reason] >= 1, reason
    assert reasons["missing_reference"] == 2 and reasons["duplicate_id"] == 1
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"images": {}}))
    assert {p.reason for p in validate_coco(broken).problems} == {"invalid_schema"}


# ----------------------------------------------------------------------------------- split

def test_split_is_stratified_reproducible_and_complete(tmp_path, shared_ccp_dir):
    coco, _ = convert_kfashion(shared_ccp_dir / "labels", shared_ccp_dir / "images", workers=2)
    parts = split_coco(coco, tmp_path / "s", val=0.1, test=0.1, seed=0)
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["test.json", "train.json", "val.json"]
    ids = {name: {im["id"] for im in p["images"]} for name, p in parts.items()}
    assert not (ids["train"] & ids["val"]) and not (ids["train"] & ids["test"]) and not (ids["val"] & ids["test"])
    assert set().union(*ids.values()) == {im["id"] for im in coco["images"]}
    n = len(coco["images"])
    assert abs(len(ids["val"]) - 0.1 * n) <= 0.03 * n and abs(len(ids["test"]) - 0.1 * n) <= 0.03 * n
    labels = stratum_labels(coco)
    totals = Counter(lab for labs in labels.values() for lab in labs)
    for name, image_ids in ids.items():
        seen = Counter(lab for i in image_ids for lab in labels[i])
        for lab, total in totals.items():
            if total >= 3:  # rare classes too (jumpsuit: 20, cardigan: 11, hoodie: 2 only goes where it can)
                assert seen[lab] >= 1, (name, lab)
            if total >= 50:
                frac = 0.8 if name == "train" else 0.1
                assert abs(seen[lab] / total - frac) < 0.07, (name, lab)
    for name, p in parts.items():  # annotations follow their images
        assert {a["image_id"] for a in p["annotations"]} <= ids[name]
    assert sum(len(p["annotations"]) for p in parts.values()) == len(coco["annotations"])
    again = split_coco(coco, None, val=0.1, test=0.1, seed=0)
    assert {k: [im["id"] for im in v["images"]] for k, v in again.items()} == \
        {k: [im["id"] for im in v["images"]] for k, v in parts.items()}
    other = split_coco(coco, None, val=0.1, test=0.1, seed=1)
    assert [im["id"] for im in other["val"]["images"]] != [im["id"] for im in parts["val"]["images"]]


def test_split_rare_class_reaches_every_split(ccp_coco):
    # in the 24 examples jumpsuit appears in few images; with val+test each gets one when possible
    parts = split_coco(ccp_coco, None, val=0.2, test=0.2, seed=3)
    labels = stratum_labels(ccp_coco)
    totals = Counter(lab for labs in labels.values() for lab in labs)
    for lab, total in totals.items():
        if total >= 3:
            for name, p in parts.items():
                assert any(lab in labels[im["id"]] for im in p["images"]), (lab, name)


# ----------------------------------------------------------------------------------- stats

def test_stats_counts(ccp_coco):
    s = coco_stats(ccp_coco)
    assert s["images"] == 24 and s["annotations"] == len(ccp_coco["annotations"])
    parts = Counter(a["part"] for a in ccp_coco["annotations"])
    assert s["parts"] == dict(parts.most_common())
    assert s["attributes"]["category"] == dict(Counter(a["attributes"]["category"]
                                                       for a in ccp_coco["annotations"]).most_common())
    assert s["attributes"]["colour"]["black"] == sum(a["attributes"].get("colour") == "black"
                                                     for a in ccp_coco["annotations"])
    assert s["missing_attribute_rate"]["category"] == 0.0 and s["missing_attribute_rate"]["style"] == 1.0
    assert sum(s["garments_per_image"].values()) == 24
    assert s["image_width"]["median"] == 550
    assert 0 < s["relative_area"]["min"] <= s["relative_area"]["max"] < 1


# ----------------------------------------------------------------------------------- crop

def test_crop_manifest_and_masked_pixels(ccp_coco, ccp_dir, tmp_path):
    out = tmp_path / "crops"
    report = crop_dataset(ccp_coco, ccp_dir / "images", out, size=64, background="white")
    assert report.counts["crops"] == len(ccp_coco["annotations"]) and report.problems == []
    with open(out / "manifest.csv", newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == MANIFEST_COLUMNS
        assert MANIFEST_COLUMNS[:5] == ["crop_path", "source_image", "image_id", "annotation_id", "part"]
        assert MANIFEST_COLUMNS[5:] == list(vocab.ATTRIBUTES)
        rows = list(reader)
    by_id = {a["id"]: a for a in ccp_coco["annotations"]}
    images = {im["id"]: im for im in ccp_coco["images"]}
    for row in rows:
        ann = by_id[int(row["annotation_id"])]
        assert row["part"] == ann["part"] and row["category"] == ann["attributes"]["category"]
        assert row["colour"] == ann["attributes"].get("colour", "") and row["style"] == ""
        assert row["source_image"] == images[int(row["image_id"])]["file_name"]
        crop = load_rgb(out / row["crop_path"])
        assert crop.shape == (64, 64, 3)
    # white background: the corner of a tall garment crop (letterbox + outside mask) is white
    assert (load_rgb(out / rows[0]["crop_path"])[0, 0] >= 250).all()


def test_crop_by_category_multilabel_and_workers(kfashion_real_dir, tmp_path):
    coco, _ = convert_kfashion(kfashion_real_dir, kfashion_real_dir)
    one = crop_dataset(coco, kfashion_real_dir, tmp_path / "a", size=48, background="black", by_category=True)
    two = crop_dataset(coco, kfashion_real_dir, tmp_path / "b", size=48, background="black", by_category=True,
                       workers=2)
    assert one.counts == two.counts
    a = (tmp_path / "a" / "manifest.csv").read_text(encoding="utf-8")
    assert a == (tmp_path / "b" / "manifest.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(a.splitlines()))
    blouse = next(r for r in rows if r["category"] == "blouse")
    assert blouse["crop_path"].startswith("blouse/") and blouse["material"] == "woven|lace"
    assert blouse["print"] == "dot" and blouse["style"] == "romantic"
    no_category = [r for r in rows if r["category"] == ""]
    assert no_category and all(r["crop_path"].startswith(r["part"] + "/") for r in no_category)
    assert (load_rgb(tmp_path / "a" / blouse["crop_path"])[0, 0] <= 5).all()  # black background


def test_crop_keeps_going_past_a_bad_photo(ccp_coco, ccp_dir, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for im in ccp_coco["images"][:3]:
        (images / im["file_name"]).write_bytes((ccp_dir / "images" / im["file_name"]).read_bytes())
    small = {**ccp_coco, "images": ccp_coco["images"][:4]}
    report = crop_dataset(small, images, tmp_path / "crops", size=32)
    assert [p.reason for p in report.problems] == ["image_undecodable"]
    assert report.counts["crops"] == sum(1 for a in ccp_coco["annotations"] if a["image_id"] in (1, 2, 3))


# ----------------------------------------------------------------------------------- visualize

def test_visualize_draws_masks(ccp_coco, ccp_dir, tmp_path):
    report = visualize_coco(ccp_coco, ccp_dir / "images", tmp_path / "vis", limit=2)
    pngs = sorted((tmp_path / "vis").glob("*.png"))
    assert [p.name for p in pngs] == ["0001.png", "0002.png"] and report.counts["pictures"] == 2
    drawn, photo = load_rgb(pngs[0]), load_rgb(ccp_dir / "images" / "0001.jpg")
    assert drawn.shape == photo.shape
    ann = ccp_coco["annotations"][0]
    mask = decode(segmentation_to_rle(ann["segmentation"], *photo.shape[:2])).astype(bool)
    changed = np.abs(drawn.astype(int) - photo.astype(int)).sum(axis=2) > 10
    assert changed[mask].mean() > 0.9 and changed[~mask].mean() < 0.2


# ----------------------------------------------------------------------------------- CLI

def test_cli_end_to_end(ccp_dir, kfashion_real_dir, tmp_path):
    app, runner = build_app(), CliRunner()
    out, rep = tmp_path / "coco.json", tmp_path / "report.json"
    r = runner.invoke(app, ["convert", "kfashion", str(ccp_dir / "labels"), "--images", str(ccp_dir / "images"),
                            "--out", str(out), "--report", str(rep), "--workers", "2"])
    assert r.exit_code == 0, r.output
    report = json.loads(rep.read_text(encoding="utf-8"))
    assert report["counts"]["images"] == 24 and report["problem_counts"] == {"self_intersection_repaired": 1}
    assert report["problems"][0]["file"].endswith("0014.json") and report["problems"][0]["action"] == "repaired"
    # --strict: exit 1 when something was wrong
    r = runner.invoke(app, ["convert", "kfashion", str(ccp_dir / "labels"), "--images", str(ccp_dir / "images"),
                            "--out", str(tmp_path / "x.json"), "--strict"])
    assert r.exit_code == 1
    # nothing convertible: exit 1
    empty = tmp_path / "empty"
    empty.mkdir()
    r = runner.invoke(app, ["convert", "kfashion", str(empty), "--out", str(tmp_path / "e.json")])
    assert r.exit_code == 1
    r = runner.invoke(app, ["convert", "kfashion", str(kfashion_real_dir), "--images", str(kfashion_real_dir),
                            "--out", str(tmp_path / "kf.json"), "--classes", "category", "--json"])
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert r.exit_code == 0 and result["counts"]["images"] == 1  # two real labels name no category
    assert result["problem_counts"]["missing_category"] == 4
    r = runner.invoke(app, ["convert", "ccp", str(ccp_dir), "--out", str(tmp_path / "ccp.json"), "--strict"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["validate", str(out), "--images", str(ccp_dir / "images"), "--strict"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["split", str(out), "--out-dir", str(tmp_path / "split"), "--val", "0.2",
                            "--test", "0.2", "--seed", "1"])
    assert r.exit_code == 0 and (tmp_path / "split" / "test.json").is_file()
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert sum(s["images"] for s in summary.values()) == 24
    r = runner.invoke(app, ["stats", str(out), "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["images"] == 24
    r = runner.invoke(app, ["stats", str(out)])
    assert r.exit_code == 0
    r = runner.invoke(app, ["crop", str(out), "--images", str(ccp_dir / "images"), "--out", str(tmp_path / "c"),
                            "--size", "32", "--background", "keep", "--by-category"])
    assert r.exit_code == 0 and (tmp_path / "c" / "manifest.csv").is_file()
    r = runner.invoke(app, ["visualize", str(out), "--images", str(ccp_dir / "images"), "--out",
                            str(tmp_path / "v"), "--limit", "1"])
    assert r.exit_code == 0 and len(list((tmp_path / "v").glob("*.png"))) == 1
    for cmd in (["convert", "kfashion"], ["convert", "ccp"], ["validate"], ["split"], ["stats"], ["crop"],
                ["visualize"]):
        r = runner.invoke(app, [*cmd, "--help"])
        assert r.exit_code == 0 and "--" in r.output


def test_cli_strict_validate_fails_on_a_bad_file(ccp_coco, tmp_path):
    bad = copy.deepcopy(ccp_coco)
    bad["annotations"][0]["bbox"] = [0, 0, -1, 5]
    path = Path(tmp_path / "bad.json")
    path.write_text(json.dumps(bad))
    r = CliRunner().invoke(build_app(), ["validate", str(path), "--strict", "--report", str(tmp_path / "r.json")])
    assert r.exit_code == 1
    assert json.loads((tmp_path / "r.json").read_text())["problem_counts"] == {"invalid_bbox": 1}
    assert CliRunner().invoke(build_app(), ["validate", str(path)]).exit_code == 0
