"""Exports are training data as they are: COCO that loads and validates, a manifest the
classifier reads, labels from the review, nothing reviewed yet -> valid empty files."""

from __future__ import annotations

import json

import pytest

from garmentparse.classifiers.data import read_manifest
from garmentparse.converters import validate_coco
from garmentparse.converters.coco import load_coco
from garmentparse.converters.crop import MANIFEST_COLUMNS
from garmentparse.report import Report
from garmentparse.store import CONFIRMED, CORRECTED, REJECTED, Decision, Store
from garmentparse.store.export import MANIFEST_COLUMNS as STORE_COLUMNS


@pytest.fixture
def reviewed(db_url, tag_output):
    """Three garments reviewed: one corrected, one confirmed, one rejected; the rest untouched."""
    with Store.upgrade(db_url) as s:
        s.ingest(tag_output)
        s.add_user("mina", "mina's password", "reviewer")
        a, b, c = s.queue(limit=3).items
        s.review(a.id, version=a.version, user="mina", decisions=[
            Decision("part", CONFIRMED), Decision("colour", CORRECTED, "navy"), Decision("category", CONFIRMED)])
        s.review(b.id, version=b.version, user="mina", decisions=[Decision("part", CONFIRMED)])
        s.review(c.id, version=c.version, user="mina", decisions=[Decision("part", REJECTED)])
        yield s, (a, b, c)


def test_coco_export_loads_validates_and_carries_the_reviewed_labels(reviewed, tmp_path, ccp_dir):
    store, (a, b, c) = reviewed
    rep = store.export(tmp_path / "out", "coco")
    coco = load_coco(tmp_path / "out" / "coco.json")
    assert rep.counts["annotations"] == 2 and {x["id"] for x in coco["annotations"]} == {a.id, b.id}
    check = validate_coco(tmp_path / "out" / "coco.json", ccp_dir / "images")
    assert check.ok, check.problems
    ann = next(x for x in coco["annotations"] if x["id"] == a.id)
    detail = store.garment(a.id)
    assert ann["attributes"] == {"colour": "navy", "category": detail.heads["category"].value}
    assert ann["segmentation"] == detail.mask and ann["area"] > 0
    assert coco["categories"][ann["category_id"] - 1]["name"] == detail.garment.part
    # garments nobody reviewed can be exported on request, never rejected ones
    everything = store.export(tmp_path / "all", "coco", states=["predicted", "confirmed", "corrected"])
    assert everything.counts["annotations"] == store.dashboard().garments - 1
    with pytest.raises(ValueError, match="rejected"):
        store.export(tmp_path / "x", "coco", states=["rejected"])


def test_manifest_export_is_read_by_the_classifier(reviewed, tmp_path, ccp_dir):
    store, (a, b, _) = reviewed
    assert STORE_COLUMNS == MANIFEST_COLUMNS
    rep = store.export(tmp_path / "crops", "manifest", images_root=ccp_dir / "images", size=64)
    assert rep.ok and rep.counts["crops"] == 2
    problems = Report("read")
    records = read_manifest(tmp_path / "crops" / "manifest.csv", problems)
    assert problems.ok and len(records) == 2
    by_id = {int(r.annotation_id): r for r in records}
    assert by_id[a.id].labels["colour"] == ["navy"]
    assert by_id[b.id].labels["colour"] == []  # only confirmed by part: its labels stay missing
    assert all(r.path.is_file() and r.part in ("outer", "top", "bottom", "onepiece") for r in records)


def test_nothing_reviewed_writes_valid_empty_files(db_url, tag_output, tmp_path, ccp_dir):
    with Store.upgrade(db_url) as s:
        s.ingest(tag_output)
        assert s.export(tmp_path / "c", "coco").counts["annotations"] == 0
        assert s.export(tmp_path / "m", "manifest", images_root=ccp_dir / "images").counts["crops"] == 0
    coco = load_coco(tmp_path / "c" / "coco.json")
    assert coco["images"] == [] and coco["annotations"] == [] and len(coco["categories"]) == 4
    assert validate_coco(tmp_path / "c" / "coco.json").ok
    assert read_manifest(tmp_path / "m" / "manifest.csv") == []
    assert json.loads((tmp_path / "c" / "coco.json").read_text())["info"]["states"] == [CONFIRMED, CORRECTED]
