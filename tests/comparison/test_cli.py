"""``garmentparse compare`` end to end: JSON on stdout, the report folder, exit 2 with the reason
when nothing is in common, and the truth taken from a real SQLite catalogue's reviews."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from garmentparse.cli import build_app
from garmentparse.imageio import load_rgb
from garmentparse.store import CONFIRMED, CORRECTED, Decision, GalleryFilter, Store
from tests.comparison.conftest import tag_lines, write_tag_output

runner = CliRunner()


def compare(*args: object):
    return runner.invoke(build_app(), ["compare", *(str(a) for a in args)])


def test_compare_prints_json_and_writes_the_report(outputs, ccp_dir, tmp_path):
    out = tmp_path / "report"
    result = compare(outputs.a, outputs.b, "--truth", outputs.truth, "--out", out, "--images", ccp_dir / "images",
                     "--json", "--bootstrap", "200", "--seed", "1", "--top", "2")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["overlap"] == {"in_a": 25, "in_b": 24, "in_both": 24, "failed_a": 1, "failed_b": 1, "compared": 23}
    assert [g["agree"] for g in data["agreement"]] == [48, 48, 48, 49, 49]
    colour = data["truth"]["accuracy"][2]
    assert (colour["correct_a"], colour["correct_b"], colour["paired"]) == (49, 48, 49)
    assert colour["lo"] <= colour["diff"] <= colour["hi"]
    assert data["truth"]["ap_a"]["segm"] == 1.0 and len(data["changed"]) == 2
    assert data["report"]["problems"][0]["reason"] == "not_json"
    assert data["a"]["models"][0]["role"] == "detector" and len(data["b"]["models"][0]["sha256"]) == 64
    assert load_rgb(out / "changed.png").shape[0] > 2 * 360 and (out / "index.html").is_file()
    said = " ".join(result.stderr.split())
    assert "agreement" in said and "detection AP" in said and "not_json" in said


def test_no_common_photo_exits_2_with_the_reason(outputs, ccp_coco_dict, tmp_path):
    lines = tag_lines(ccp_coco_dict)[:2]
    for line in lines:
        line["path"] = "elsewhere/" + line["path"]
    other = write_tag_output(tmp_path / "other.jsonl", lines)
    result = compare(outputs.a, other, "--out", tmp_path / "r")
    said = " ".join(result.output.split())
    assert result.exit_code == 2, said
    assert "error:" in said and "no photo path is in both" in said and "Traceback" not in said
    missing = compare(outputs.a, tmp_path / "nope.jsonl", "--out", tmp_path / "r")
    assert missing.exit_code == 2 and "tag output not found" in missing.output


def test_truth_from_a_reviewed_catalogue(outputs, ccp_dir, tmp_path):
    """A reviewer confirms photo 0001's garments, correcting the vest's colour to red (B's
    answer), and confirms the parts on 0002: the truth is those 5 garments."""
    url = f"sqlite:///{tmp_path / 'catalogue.db'}"
    with Store.upgrade(url) as store:
        store.ingest(outputs.a, ccp_dir / "images")
        store.add_user("mina", "mina's long password", "reviewer")
        for path in ("0001.jpg", "0002.jpg"):
            photo = store.photo_by_path(path)
            garments = sorted(store.gallery(GalleryFilter(photo_id=photo.id)).items, key=lambda g: g.id)
            for k, g in enumerate(garments):
                decisions = [Decision("part", CONFIRMED)]
                if path == "0001.jpg":
                    decisions.append(Decision("colour", CORRECTED, "red") if k == 0 else Decision("colour", CONFIRMED))
                store.review(g.id, version=g.version, user="mina", decisions=decisions)
    result = compare(outputs.a, outputs.b, "--db", url, "--out", tmp_path / "r", "--json", "--bootstrap", "300")
    assert result.exit_code == 0, result.output
    truth = json.loads(result.stdout)["truth"]
    assert (truth["photos"], truth["garments"], truth["missed_a"], truth["missed_b"]) == (2, 5, 0, 1)
    acc = {x["head"]: x for x in truth["accuracy"]}
    assert list(acc) == ["part", "colour"]  # category was never reviewed
    assert (acc["part"]["labelled"], acc["part"]["paired"], acc["part"]["correct_a"], acc["part"]["correct_b"]) \
        == (5, 4, 4, 4)
    colour = acc["colour"]
    assert (colour["labelled"], colour["paired"], colour["correct_a"], colour["correct_b"]) == (3, 3, 2, 3)
    assert colour["diff"] == 1 / 3 and colour["lo"] <= 1 / 3 <= colour["hi"]
    assert truth["ap_a"]["segm"] == 1.0 and truth["ap_b"]["segm"] < 1.0
    both = compare(outputs.a, outputs.b, "--db", url, "--truth", outputs.truth, "--out", tmp_path / "r")
    assert both.exit_code == 2 and "not both" in both.output
