"""Numbers written as strings (numbers.py): converted to the same output, decimal commas."""

from __future__ import annotations

import json

import pytest

from garmentparse.converters import convert_kfashion

from ..conftest import read_label, write_label
from .checks import problems


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


@pytest.mark.parametrize("text, value", [("10,5", 10.5), ("1,024.5", 1024.5), ("1,2,3", None), ("12,3456", None)])
def test_comma_numbers(text, value):
    from garmentparse.converters.kfashion import IssueLog

    assert IssueLog("f").number(text) == value


@pytest.mark.parametrize("value, number", [(3, 3.0), (2.5, 2.5), (True, None), (None, None), ("4", None),
                                           (10**400, None), (float("nan"), None)])
def test_json_numbers(value, number):
    from garmentparse.converters.kfashion import json_number

    assert json_number(value) == number


def test_text_numbers_are_counted_once_per_label():
    from garmentparse.converters.kfashion import IssueLog, text_number

    assert text_number(" 12.5 ") == 12.5 and text_number("inf") is None and text_number("x") is None
    log = IssueLog("f")
    assert [log.number("1"), log.number(2), log.number("x")] == [1.0, 2.0, None]
    assert [(p.reason, p.detail, p.action) for p in log.finish()] == [
        ("numeric_string", "1 numbers written as strings", "converted")]
