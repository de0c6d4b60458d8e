"""The converter end to end (convert.py, writing.py): clean input, duplicates, many problems in workers."""

from __future__ import annotations

import json
import shutil

import numpy as np
import shapely
from shapely.geometry import Polygon

from garmentparse.converters import convert_kfashion

from ..conftest import polygon_of, read_label, write_label
from .checks import assert_good_neighbour, loads_in_pycocotools, problems


def test_clean_input_has_no_problems(make_dataset):
    labels, images = make_dataset(["0001", "0002", "0003"])
    coco, report = convert_kfashion(labels, images)
    assert report.problems == []
    assert report.counts["images"] == 3 and len(coco["images"]) == 3
    assert_good_neighbour(coco)


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
