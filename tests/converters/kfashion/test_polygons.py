"""Polygon reading, repair and clipping (polygons.py), on real labels broken on purpose."""

from __future__ import annotations

import json

import numpy as np
from shapely.geometry import Polygon

from garmentparse.converters import convert_kfashion

from ..conftest import polygon_of, read_label, write_label
from .checks import anns_of, assert_good_neighbour, images_by_label, loads_in_pycocotools, problems


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


def test_repair_never_writes_collapsed_slivers():
    """A tiny loop near the start of a polygon: make_valid splits off slivers that collapse to
    one point when rounded; they are dropped and the output passes validate."""
    from garmentparse.converters.kfashion import IssueLog, label_garments
    from garmentparse.converters.validate import validate_coco

    pts = [(463.0, 89.888), (463.004, 89.891), (463.001, 89.886), (404.248, 289.448), (271.111, 192.255),
           (434.631, 386.443), (501.207, 270.703)]
    poly = {k: v for i, (x, y) in enumerate(pts, 1) for k, v in ((f"X좌표{i}", x), (f"Y좌표{i}", y))}
    data = {"이미지 정보": {"이미지 식별자": 1, "이미지 높이": 600, "이미지 너비": 800},
            "데이터셋 정보": {"데이터셋 상세설명": {"폴리곤좌표": {"상의": [poly]}, "라벨링": {}}}}
    log = IssueLog("f")
    anns = label_garments(data, 800, 600, log=log)
    assert [p.reason for p in log.finish()] == ["self_intersection_repaired"]
    for poly_out in anns[0]["segmentation"]:
        assert len({tuple(pt) for pt in np.reshape(poly_out, (-1, 2))}) >= 3
    for i, a in enumerate(anns, 1):
        a.update(id=i, image_id=1)
    coco = {"images": [{"id": 1, "file_name": "x.jpg", "width": 800, "height": 600}], "annotations": anns,
            "categories": [{"id": i, "name": n} for i, n in enumerate(["outer", "top", "bottom", "onepiece"], 1)]}
    assert validate_coco(coco).problems == []


def test_repaired_outline_keeps_its_hole():
    """An outline drawn around the gap between arm and body (a keyhole ring) repairs to a
    polygon with a hole; COCO polygons cannot hold one, so it is cut into hole-free pieces whose
    mask (pycocotools unions them) leaves the gap empty and whose area excludes it."""
    from pycocotools import mask as mask_api

    from garmentparse.converters.kfashion import IssueLog, label_garments

    ring = [(0, 0), (100, 0), (100, 100), (0, 100), (0, 50), (30, 50), (30, 70), (70, 70), (70, 30), (30, 30),
            (30, 50), (0, 50)]
    poly = {k: v for i, (x, y) in enumerate(ring, 1) for k, v in ((f"X좌표{i}", x), (f"Y좌표{i}", y))}
    data = {"이미지 정보": {"이미지 식별자": 1, "이미지 높이": 120, "이미지 너비": 120},
            "데이터셋 정보": {"데이터셋 상세설명": {"폴리곤좌표": {"상의": [poly]}, "라벨링": {}}}}
    [ann] = label_garments(data, 120, 120, log=IssueLog("f"))
    assert ann["area"] == 100 * 100 - 40 * 40 and len(ann["segmentation"]) >= 2
    mask = mask_api.decode(mask_api.merge(mask_api.frPyObjects(ann["segmentation"], 120, 120)))
    assert mask[50, 50] == 0 and mask[10, 10] == 1 and mask[90, 50] == 1
    assert abs(int(mask.sum()) - ann["area"]) < 0.05 * ann["area"]
