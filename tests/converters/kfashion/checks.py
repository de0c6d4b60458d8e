"""Checks shared by the K-Fashion converter tests: each case copies real examples/ccp labels +
photos (0001 stays good, 0003 gets broken), converts, and checks the reason code, the file it
names, the action, the repaired output, and that the good neighbour is converted untouched."""

from __future__ import annotations

import json

from pycocotools.coco import COCO

from ..conftest import polygon_of, read_label


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
