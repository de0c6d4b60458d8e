"""K-Fashion -> COCO -> masks round trip, pycocotools COCO/COCOeval on the output, CCP vs .mat masks."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as coco_mask
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from garmentparse import vocab
from garmentparse.converters import convert_ccp, convert_kfashion
from garmentparse.converters.ccp import CCP_CATEGORY, load_label_list, load_pixel_labels

from .conftest import CCP, read_label


def to_api(coco: dict, tmp_path: Path, name: str = "coco.json") -> COCO:
    path = tmp_path / name
    path.write_text(json.dumps(coco))
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(path))


def self_eval_ap(coco: dict, tmp_path: Path, iou_type: str) -> float:
    """AP of the dataset scored against itself (every annotation as a detection with score 1)."""
    gt = to_api(coco, tmp_path)
    dets = []
    for a in coco["annotations"]:
        d = {"image_id": a["image_id"], "category_id": a["category_id"], "score": 1.0, "bbox": a["bbox"]}
        if iou_type == "segm":
            d["segmentation"] = gt.annToRLE(a)
        dets.append(d)
    with contextlib.redirect_stdout(io.StringIO()):
        dt = gt.loadRes(dets)
        ev = COCOeval(gt, dt, iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[0])


def source_polygons(label: dict) -> dict[tuple[str, int], list[float]]:
    """(part, index) -> flat polygon straight from the label JSON, keys sorted numerically."""
    out = {}
    polys = label["데이터셋 정보"]["데이터셋 상세설명"]["폴리곤좌표"]
    for part, part_ko in vocab.PARTS.items():
        for i, poly in enumerate(polys.get(part_ko, [])):
            if poly:
                n = len(poly) // 2
                out[(part, i)] = [v for k in range(1, n + 1) for v in (poly[f"X좌표{k}"], poly[f"Y좌표{k}"])]
    return out


@pytest.mark.parametrize("classes", ["part", "category"])
def test_roundtrip_masks_match_source_polygons(ccp_dir, tmp_path, classes):
    coco, report = convert_kfashion(ccp_dir / "labels", ccp_dir / "images", classes=classes)
    api = to_api(coco, tmp_path)
    repaired = {p.file.split("/")[-1] for p in report.problems if p.reason == "self_intersection_repaired"}
    checked = 0
    for image in coco["images"]:
        label = json.loads((ccp_dir / "labels" / image["source_label"]).read_text(encoding="utf-8"))
        sources = source_polygons(label)
        anns = api.loadAnns(api.getAnnIds(imgIds=image["id"]))
        assert len(anns) == len(sources)
        h, w = image["height"], image["width"]
        for ann in anns:
            # garments come in part order; the i-th of a part is the i-th polygon of that part
            same_part = [a for a in anns if a["part"] == ann["part"]]
            src = sources[(ann["part"], same_part.index(ann))]
            want = coco_mask.decode(coco_mask.frPyObjects([src], h, w))[:, :, 0]
            got = api.annToMask(ann)
            iou = (want & got).sum() / (want | got).sum()
            if image["source_label"] in repaired:
                assert iou > 0.98
            else:
                assert iou == 1.0
                xs, ys = np.asarray(src[0::2]), np.asarray(src[1::2])
                shoelace = 0.5 * abs(np.dot(xs, np.roll(ys, 1)) - np.dot(ys, np.roll(xs, 1)))
                assert ann["area"] == pytest.approx(shoelace)  # true polygon area, not the box
                assert ann["bbox"] == pytest.approx([xs.min(), ys.min(), xs.max() - xs.min(), ys.max() - ys.min()])
            if classes == "category":
                cat = api.loadCats(ann["category_id"])[0]
                assert cat["name"] == ann["attributes"]["category"] and cat["supercategory"] == ann["part"]
            checked += 1
    assert checked == len(coco["annotations"]) > 40


def test_categories_contract():
    from garmentparse.converters import coco_categories

    parts = coco_categories("part")
    assert [(c["id"], c["name"], c["supercategory"]) for c in parts] == [
        (1, "outer", "garment"), (2, "top", "garment"), (3, "bottom", "garment"), (4, "onepiece", "garment")]
    fine = coco_categories("category")
    assert [c["name"] for c in fine] == list(vocab.CATEGORY_PART) and fine[0]["id"] == 1 and len(fine) == 21


@pytest.mark.parametrize("iou_type", ["segm", "bbox"])
def test_kfashion_output_scores_ap_1_against_itself(ccp_dir, kfashion_real_dir, tmp_path, iou_type):
    coco, _ = convert_kfashion(ccp_dir / "labels", ccp_dir / "images")
    assert self_eval_ap(coco, tmp_path, iou_type) == pytest.approx(1.0)
    real, _ = convert_kfashion(kfashion_real_dir, kfashion_real_dir, classes="category")
    assert self_eval_ap(real, tmp_path, iou_type) == pytest.approx(1.0)


def test_ccp_instances_equal_the_mat_pixel_masks(ccp_dir, tmp_path):
    coco, report = convert_ccp(ccp_dir)
    assert report.problems == [] and report.counts["images"] == 24
    names = load_label_list(ccp_dir / "label_list.mat")
    api = to_api(coco, tmp_path)
    for image in coco["images"]:
        gt = load_pixel_labels(ccp_dir / "pixel-level" / (Path(image["file_name"]).stem + ".mat"))
        assert gt.shape == (image["height"], image["width"])
        anns = api.loadAnns(api.getAnnIds(imgIds=image["id"]))
        present = {names[v] for v in np.unique(gt)}
        garments = sorted(n for n in present if n in CCP_CATEGORY)
        assert sorted(a["ccp_label"] for a in anns) == garments  # one instance per garment label
        for ann in anns:
            value = names.index(ann["ccp_label"])
            assert np.array_equal(api.annToMask(ann), (gt == value).astype(np.uint8))  # every pixel, exactly
            assert ann["iscrowd"] == 0 and isinstance(ann["segmentation"]["counts"], str)
            assert ann["area"] == float((gt == value).sum())
            assert ann["attributes"]["category"] == CCP_CATEGORY[ann["ccp_label"]]
            assert ann["part"] == vocab.CATEGORY_PART[ann["attributes"]["category"]]
    assert self_eval_ap(coco, tmp_path, "segm") == pytest.approx(1.0)


def test_ccp_mapping_agrees_with_the_shared_kfashion_labels(ccp_dir):
    """The derived labels/ (largest contour, small pieces dropped) name a subset of the CCP instances."""
    coco, _ = convert_ccp(ccp_dir)
    by_file = {}
    for ann in coco["annotations"]:
        by_file.setdefault(ann["image_id"], set()).add((ann["part"], ann["attributes"]["category"]))
    for image in coco["images"]:
        label = read_label(Path(image["file_name"]).stem)
        lab = label["데이터셋 정보"]["데이터셋 상세설명"]["라벨링"]
        wanted = {(part, vocab.lookup("category", g["카테고리"])) for part, ko in vocab.PARTS.items()
                  for g in lab.get(ko, []) if g}
        assert wanted and wanted <= by_file[image["id"]]


def test_ccp_original_layout_and_min_area(ccp_dir, tmp_path):
    root = tmp_path / "ccp-original"
    (root / "annotations" / "pixel-level").mkdir(parents=True)
    (root / "photos").mkdir()
    shutil.copy(ccp_dir / "label_list.mat", root / "label_list.mat")
    for stem in ("0001", "0003"):
        shutil.copy(ccp_dir / "pixel-level" / f"{stem}.mat", root / "annotations" / "pixel-level" / f"{stem}.mat")
        shutil.copy(ccp_dir / "images" / f"{stem}.jpg", root / "photos" / f"{stem}.jpg")
    shutil.copy(ccp_dir / "images" / "0002.jpg", root / "photos" / "0002.jpg")  # image-level only in CCP
    coco, report = convert_ccp(root, classes="category")
    assert report.counts["images"] == 2 and report.counts["photos_without_pixel_labels"] == 1
    assert coco["images"][0]["file_name"] == "0001.jpg"
    full, _ = convert_ccp(ccp_dir, classes="category")
    def strip(anns):
        return [{k: v for k, v in a.items() if k not in ("id", "image_id")} for a in anns]

    assert strip(coco["annotations"]) == strip(a for a in full["annotations"] if a["image_id"] in (1, 3))
    small, rep = convert_ccp(root, min_area=5000)
    dropped = [p for p in rep.problems if p.reason == "garment_too_small"]
    assert dropped and all(a["area"] >= 5000 for a in small["annotations"])
    assert len(small["annotations"]) + len(dropped) == len(coco["annotations"])


def test_ccp_missing_pieces_are_reported(ccp_dir, tmp_path):
    root = tmp_path / "ccp"
    shutil.copytree(ccp_dir, root, ignore=shutil.ignore_patterns("labels"))
    (root / "images" / "0002.jpg").unlink()
    (root / "pixel-level" / "0003.mat").write_bytes(b"not a mat file")
    with __import__("PIL").Image.open(root / "images" / "0004.jpg") as im:
        im.resize((100, 100)).save(root / "images" / "0004.jpg")
    coco, report = convert_ccp(root)
    reasons = {p.reason: p.file for p in report.problems}
    assert reasons["label_without_image"].endswith("0002.mat")
    assert reasons["invalid_mask"].endswith("0003.mat")
    assert reasons["size_mismatch_skipped"].endswith("0004.mat")
    assert report.counts["images"] == 21
    with pytest.raises(FileNotFoundError, match="no photo folder"):
        convert_ccp(tmp_path / "nowhere")


def test_shared_ccp_full_set_if_present(shared_ccp_dir):
    coco, report = convert_kfashion(shared_ccp_dir / "labels", shared_ccp_dir / "images", workers=2)
    assert report.counts["images"] + report.counts["labels_skipped"] == 900
    assert {p.reason for p in report.problems} <= {"no_garments", "self_intersection_repaired"}
    assert CCP.is_dir()


def test_photo_header_sizes_match_pillow(tmp_path, ccp_dir):
    """The fast header reader agrees with Pillow: EXIF rotation, a large EXIF block, PNG, WebP."""
    from PIL import Image

    from garmentparse.converters.imagehead import check_photo, photo_size
    from garmentparse.imageio import ImageReadError, image_size

    src = ccp_dir / "images" / "0001.jpg"
    with Image.open(src) as im:
        exif = Image.Exif()
        exif[0x0112] = 6  # rotated 90 degrees: width and height swap
        im.save(tmp_path / "rot.jpg", exif=exif)
        exif[0x010E] = "x" * 40000  # frame header beyond the first read
        im.save(tmp_path / "big.jpg", exif=exif)
        im.save(tmp_path / "p.png")
        im.save(tmp_path / "p.webp")
        im.save(tmp_path / "prog.jpg", progressive=True)
    for name in ("rot.jpg", "big.jpg", "p.png", "p.webp", "prog.jpg"):
        assert photo_size(tmp_path / name) == image_size(tmp_path / name) == check_photo(tmp_path / name)
    assert photo_size(tmp_path / "rot.jpg") == (832, 550)
    raw = src.read_bytes()
    (tmp_path / "cut.jpg").write_bytes(raw[: len(raw) - 5000])
    with pytest.raises(ImageReadError):
        check_photo(tmp_path / "cut.jpg")
    assert photo_size(tmp_path / "cut.jpg") == (550, 832)  # the header alone is fine
    (tmp_path / "junk.jpg").write_bytes(raw + b"\0" * 200)  # trailing bytes after the end marker
    assert check_photo(tmp_path / "junk.jpg") == (550, 832)  # decoded to be sure, and kept
    png = (tmp_path / "p.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(png[: len(png) // 2])  # a half-downloaded PNG
    with pytest.raises(ImageReadError):
        check_photo(tmp_path / "cut.png")
    with Image.open(src) as im:  # PNG with an eXIf orientation chunk: Pillow rotates it
        exif = Image.Exif()
        exif[0x0112] = 6
        im.save(tmp_path / "rot.png", exif=exif)
    assert check_photo(tmp_path / "rot.png") == photo_size(tmp_path / "rot.png") == image_size(tmp_path / "rot.png")


def test_same_output_without_orjson(ccp_dir, monkeypatch):
    """orjson only makes it faster: the standard-library path gives the same dataset."""
    from garmentparse.converters import fastjson

    fast, fast_report = convert_kfashion(ccp_dir / "labels", ccp_dir / "images")
    monkeypatch.setattr(fastjson, "orjson", None)
    slow, slow_report = convert_kfashion(ccp_dir / "labels", ccp_dir / "images")
    assert slow == fast and slow_report.to_dict() == fast_report.to_dict()
