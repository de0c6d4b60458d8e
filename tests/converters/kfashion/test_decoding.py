"""Label bytes in every encoding K-Fashion tools write (decoding.py), through the converter and alone."""

from __future__ import annotations

import json

import pytest

from garmentparse.converters import convert_kfashion
from garmentparse.converters.kfashion import decode_label

from ..conftest import read_label, write_label
from .checks import assert_good_neighbour, images_by_label, problems


def test_invalid_json(make_dataset):
    labels, images = make_dataset(["0001", "0003"])
    text = (labels / "0003.json").read_text(encoding="utf-8")
    (labels / "0003.json").write_text(text[: len(text) // 2], encoding="utf-8")
    coco, report = convert_kfashion(labels, images)
    [p] = problems(report, "invalid_json")
    assert p.file.endswith("0003.json") and p.action == "skipped"
    assert "0003.json" not in images_by_label(coco)
    assert_good_neighbour(coco)


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
