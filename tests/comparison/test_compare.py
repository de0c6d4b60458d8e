"""The library on two real-photo tag runs that differ in known ways: overlap counts, exact
agreement and accuracy, AP of a perfect run, the paired bootstrap, the report files."""

from __future__ import annotations

import hashlib
import math
import shutil

import pytest

from garmentparse.comparison import (CompareError, ModelRef, bootstrap_difference, compare_outputs, compare_runs,
                                     read_run, read_truth)
from garmentparse.imageio import load_rgb
from garmentparse.report import Report
from tests.comparison.conftest import set_record, tag_lines, write_tag_output

HEADS = ["part", "category", "colour", "sleeve_length", "print"]


def test_known_changes_give_exact_numbers(outputs, ccp_dir, tmp_path):
    c, report = compare_outputs(outputs.a, outputs.b, tmp_path / "report", truth=outputs.truth,
                                images=ccp_dir / "images", bootstrap=500)
    o = c.overlap  # 24 photos + broken.jpg in A; B lacks 0024.jpg; broken.jpg failed in both
    assert (o.in_a, o.in_b, o.in_both, o.failed_a, o.failed_b, o.compared) == (25, 24, 24, 1, 1, 23)
    assert (c.a.garments, c.b.garments) == (50, 49)  # 52 garments, 2 on 0024.jpg; B dropped a dress
    assert (c.matched, c.only_a, c.only_b) == (49, 1, 0)
    assert {g.head: (g.pairs, g.agree) for g in c.agreement} == {
        "part": (49, 48), "category": (49, 48), "colour": (49, 48), "sleeve_length": (49, 49), "print": (49, 49)}
    assert [g.head for g in c.agreement] == HEADS
    assert c.agreement[1].rate == pytest.approx(48 / 49)

    t = c.truth  # the labels of the 23 compared photos: part, category, colour
    assert (t.photos, t.garments, t.missed_a, t.missed_b) == (23, 50, 0, 1)
    assert [x.head for x in t.accuracy] == ["part", "category", "colour"]
    for x in t.accuracy:  # B missed the dress and got one label of each head wrong
        assert (x.labelled, x.paired, x.correct_a, x.correct_b, x.missed_a, x.missed_b) == (50, 49, 49, 48, 0, 1)
        assert (x.accuracy_a, x.accuracy_b) == (1.0, 48 / 49)
        assert x.diff == pytest.approx(-1 / 49)
        assert x.lo <= x.diff <= x.hi == 0.0 and x.lo < 0  # resampling without photo 0001 leaves no difference
    assert t.ap_a == {"bbox": 1.0, "bbox_50": 1.0, "segm": 1.0, "segm_50": 1.0}  # A is the truth itself
    assert all(0.5 < v < 1.0 for v in t.ap_b.values())  # a missed dress and a bottom called onepiece

    changed = {ch.path: ch for ch in c.changed}
    assert list(changed) == ["0001.jpg", "0002.jpg", "0003.jpg", "0004.jpg"]  # one change each, by path
    assert [(x.head, x.label_a, x.label_b) for x in changed["0001.jpg"].changes] == [("colour", "black", "red")]
    assert [(x.head, x.label_a, x.label_b) for x in changed["0004.jpg"].changes] == [("part", "bottom", "onepiece")]
    assert (changed["0002.jpg"].only_a, changed["0002.jpg"].changes) == ((1,), ())

    assert [(p.file, p.reason) for p in report.problems] == [(f"{outputs.b}:25", "not_json")]
    sheet = load_rgb(tmp_path / "report" / "changed.png")
    assert sheet.shape[0] > 4 * 360 and sheet.shape[2] == 3  # four rows: A | B overlays
    page = (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
    assert "b&lt;i&gt;.jsonl" in page and "<i>" not in page and 'src="changed.png"' in page
    assert "colour: black → red" in page and "-2.0%" in page
    data = c.to_dict()
    assert data["truth"]["accuracy"][2]["accuracy_b"] == pytest.approx(48 / 49)
    assert data["changed"][0]["size"] == 1 and data["overlap"]["compared"] == 23


def test_a_korean_run_of_the_same_garments_agrees_everywhere(outputs, ccp_coco_dict, tmp_path):
    ko = write_tag_output(tmp_path / "ko.jsonl", tag_lines(ccp_coco_dict, lang="ko"), lang="ko")
    c, report = compare_outputs(outputs.a, ko, tmp_path / "report")
    assert report.ok and c.overlap.compared == 24 and not c.changed
    assert all(g.rate == 1.0 for g in c.agreement) and [g.head for g in c.agreement] == HEADS
    assert (tmp_path / "report" / "index.html").is_file() and not (tmp_path / "report" / "changed.png").exists()


def test_models_come_from_the_run_records(outputs):
    set_record(outputs.a, model_files={"detector": "/models/det.pt", "classifier": "/models/cls.pt"})
    run = read_run(outputs.a, Report("t"))
    sha = hashlib.sha256(b"run-a-detector").hexdigest()  # what write_tag_output records
    assert run.models[0] == ModelRef("detector", sha, "/models/det.pt")
    assert [m.role for m in run.models] == ["detector", "classifier"]
    assert read_run(outputs.b, Report("t")).models[0].file is None


def test_no_photo_in_common_is_an_error(outputs, ccp_coco_dict, tmp_path):
    lines = tag_lines(ccp_coco_dict)
    for line in lines:
        line["path"] = "other/" + line["path"]
    other = write_tag_output(tmp_path / "other.jsonl", lines)
    report = Report("t")
    with pytest.raises(CompareError, match="no photo path is in both"):
        compare_runs(read_run(outputs.a, report), read_run(other, report))
    failed = write_tag_output(tmp_path / "failed.jsonl", [{"path": "broken.jpg", "width": None, "height": None,
                                                           "error": "gone", "garments": []}])
    with pytest.raises(CompareError, match="the 1 photos in both failed"):
        compare_runs(read_run(outputs.a, report), read_run(failed, report))


def test_photos_from_the_run_record_and_an_unreadable_one(outputs, ccp_dir, tmp_path):
    images = tmp_path / "photos"
    shutil.copytree(ccp_dir / "images", images)
    (images / "0003.jpg").write_bytes(b"not a photo")
    set_record(outputs.a, images_dir=images)
    c, report = compare_outputs(outputs.a, outputs.b, tmp_path / "report", top=3)
    assert [ch.path for ch in c.changed] == ["0001.jpg", "0002.jpg", "0003.jpg"]
    assert ("unreadable_photo", str(images / "0003.jpg")) in [(p.reason, p.file) for p in report.problems]
    assert 2 * 360 < load_rgb(tmp_path / "report" / "changed.png").shape[0] < 3 * 360  # two rows left


def test_truth_restricted_to_reviewed_photos(outputs, tmp_path):
    """Truth on 2 of the compared photos only: accuracy and AP over those."""
    coco = dict(outputs.coco)
    keep = {im["id"] for im in coco["images"] if im["file_name"] in ("0001.jpg", "0002.jpg", "0024.jpg")}
    coco = {**coco, "images": [im for im in coco["images"] if im["id"] in keep],
            "annotations": [a for a in coco["annotations"] if a["image_id"] in keep]}
    report = Report("t")
    truth = read_truth(coco, report)
    c = compare_runs(read_run(outputs.a, report), read_run(outputs.b, report), truth, bootstrap=200)
    assert (c.truth.photos, c.truth.garments, c.truth.missed_b) == (2, 5, 1)  # 0024.jpg is not in B
    colour = c.truth.accuracy[2]
    assert (colour.head, colour.paired, colour.correct_a, colour.correct_b) == ("colour", 4, 4, 3)


def test_bootstrap_difference_resamples_photos():
    """Photo 1: one garment, B right and A wrong; photo 2: three garments both get right. A
    resample holds photo 1 twice (diff 1), once (1/4) or never (0), each pair of draws a
    quarter of the time: the 95% interval is [0, 1] around the difference 1/4."""
    a, b, groups = [0, 1, 1, 1], [1, 1, 1, 1], ["p1", "p2", "p2", "p2"]
    diff, lo, hi = bootstrap_difference(a, b, groups, n=4000, seed=0)
    assert (diff, lo, hi) == (0.25, 0.0, 1.0)
    assert bootstrap_difference(a, b, groups, n=300, seed=3) == bootstrap_difference(a, b, groups, n=300, seed=3)
    same = bootstrap_difference([1, 0, 1], [1, 0, 1], [1, 2, 3], n=100)
    assert same == (0.0, 0.0, 0.0)
    assert all(math.isnan(v) for v in bootstrap_difference([], [], [], n=10))
    d, lo, hi = bootstrap_difference([1, 0], [1, 1], ["x", "y"], n=0)
    assert d == 0.5 and math.isnan(lo) and math.isnan(hi)


def test_truth_with_fine_categories_and_no_part_field(outputs):
    """A COCO whose categories are K-Fashion's categories (``convert --classes category``):
    the category name gives the part and the category label."""
    names = sorted({a["attributes"]["category"] for a in outputs.coco["annotations"]})
    ids = {n: i for i, n in enumerate(names, 1)}
    anns = [{**{k: v for k, v in a.items() if k != "part"}, "category_id": ids[a["attributes"]["category"]],
             "attributes": {"colour": a["attributes"]["colour"]}} for a in outputs.coco["annotations"]]
    coco = {**outputs.coco, "annotations": anns, "categories": [{"id": i, "name": n} for n, i in ids.items()]}
    truth = read_truth(coco, Report("t"))
    first = truth["0001.jpg"].garments[0]
    assert first.labels == {"part": "outer", "colour": "black", "category": "vest"}
    c = compare_runs(read_run(outputs.a, Report("t")), read_run(outputs.b, Report("t")), truth, bootstrap=0)
    assert {x.head: (x.correct_a, x.correct_b) for x in c.truth.accuracy} == {
        "part": (49, 48), "category": (49, 48), "colour": (49, 48)}


def test_truth_reviewed_from_one_run_is_flagged(tmp_path, ccp_coco_dict):
    """Reviews keep the reviewed run's masks: against such truth that run's AP is flattered."""
    import copy

    import numpy as np

    from garmentparse import masks
    from garmentparse.comparison import compare_runs
    from garmentparse.comparison.compare import bias_note
    from garmentparse.comparison.runs import read_run, read_truth
    from garmentparse.report import Report
    from tests.store.conftest import tag_lines, write_tag_output

    lines = tag_lines(ccp_coco_dict)
    shifted = copy.deepcopy(lines)  # run B: the same garments, masks moved 4 px
    for line in shifted:
        for g in line["garments"]:
            g["mask"] = masks.encode(np.roll(masks.decode(g["mask"]), 4, axis=1))
    a = read_run(write_tag_output(tmp_path / "a.jsonl", lines), Report("a"))
    b = read_run(write_tag_output(tmp_path / "b.jsonl", shifted), Report("b"))
    truth = read_truth(ccp_coco_dict, Report("t"))
    c = compare_runs(a, b, truth, bootstrap=50)
    assert c.truth.own_masks_a == c.truth.garments and c.truth.own_masks_b < c.truth.garments / 2
    assert c.truth.biased_towards == "a" and "run A's own" in bias_note(c.truth)
    assert c.to_dict()["truth"]["biased_towards"] == "a"
    same = compare_runs(a, a, truth, bootstrap=50)  # one detector in both runs: neither is favoured
    assert same.truth.biased_towards is None and bias_note(same.truth) is None
