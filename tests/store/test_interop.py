"""Label Studio / CVAT / COCO interchange on the real bundled CCP photos: masks survive the trip
(read back by Label Studio's own brush decoder), a reviewer's edits come back as corrections by the
importing user, importing again changes nothing, bad input is reported by place and reason."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from garmentparse import masks, vocab
from garmentparse.cli import build_app
from garmentparse.store import CONFIRMED, CORRECTED, REJECTED, Store
from garmentparse.store.interop import brush
from tests.store.conftest import tag_lines, write_tag_output

REPO = Path(__file__).resolve().parents[2]


def _converter():
    return pytest.importorskip("label_studio_converter.brush",
                               reason="label-studio-converter not installed (pip install -e '.[dev]')")


def _ls_decode(result: dict) -> np.ndarray:
    """A brush result's mask by label-studio-converter's decoder (not ours)."""
    h, w = result["original_height"], result["original_width"]
    return _converter().decode_rle(result["value"]["rle"]).reshape(h, w, 4)[:, :, 3] > 0


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


@pytest.fixture
def cli():
    app, runner = build_app(), CliRunner()

    def run(*args: str, code: int = 0):
        result = runner.invoke(app, [str(a) for a in args])
        assert result.exit_code == code, result.output
        return result

    return run


def _report(result) -> dict:
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def catalogue(db_url, tag_output):
    with Store.upgrade(db_url) as s:
        s.ingest(tag_output)
        s.add_user("mina", "mina's password", "reviewer")
        s.add_user("ana", "ana's password", "viewer")
        yield s, db_url


def _annotate(task: dict, shape: str = "brush") -> list[dict]:
    """A reviewer's annotation that starts from the task's ``shape`` prediction (Label Studio copies it)."""
    prediction = next(p for p in task["predictions"] if p["model_version"].endswith(shape))
    result = copy.deepcopy(prediction["result"])
    task["annotations"] = [{"id": 1, "completed_by": {"email": "mina@example.com"}, "result": result,
                            "was_cancelled": False}]
    return result


def _gid(region_id: str) -> int:
    return int(region_id.split("-")[0][1:])


def test_brush_rle_agrees_with_label_studio_converter(ccp_coco_dict):
    lsc = _converter()
    n = 0
    for line in tag_lines(ccp_coco_dict):
        for g in line["garments"]:
            truth = masks.decode(g["mask"])
            h, w = truth.shape
            ours = brush.encode(truth)  # ours -> their decoder
            assert np.array_equal(lsc.decode_rle(ours).reshape(h, w, 4)[:, :, 3] > 0, truth > 0)
            theirs = lsc.mask2rle((truth * 255).astype(np.uint8))  # their encoder -> ours
            assert np.array_equal(brush.decode(theirs, h, w), truth)
            n += 1
    assert n == 52
    with pytest.raises(ValueError, match="values, but"):
        brush.decode(brush.encode(np.ones((4, 5), np.uint8)), 5, 4 + 1)


def test_labelstudio_tasks_from_tags_round_trip_the_masks(cli, tmp_path, ccp_coco_dict):
    tools = pytest.importorskip("label_studio_tools.core.label_config",
                                reason="label-studio-tools (with label-studio-converter) not installed")
    lines = tag_lines(ccp_coco_dict, lang="ko")  # Korean labels go out as English ids
    jsonl = write_tag_output(tmp_path / "tags.jsonl", lines, lang="ko")
    cli("export", "--from-tags", jsonl, "--format", "labelstudio", "--out", tmp_path / "ls",
        "--image-prefix", "/data/local-files/?d=ccp/")
    tasks = json.loads((tmp_path / "ls" / "tasks.json").read_text(encoding="utf-8"))
    config = tools.parse_config((tmp_path / "ls" / "labeling_config.xml").read_text(encoding="utf-8"))
    assert config["part_mask"]["type"] == "BrushLabels" and config["part_polygon"]["type"] == "PolygonLabels"
    assert config["part_mask"]["labels"] == list(vocab.PARTS) and config["colour"]["type"] == "Choices"
    assert len(tasks) == len(lines) == 24
    polygon_ious = []
    for task, line in zip(tasks, lines):
        assert task["data"]["path"] == line["path"]
        assert task["data"]["image"] == f"/data/local-files/?d=ccp/{line['path']}"
        kinds = {p["model_version"].rsplit("-", 1)[1]: p for p in task["predictions"]}
        assert set(kinds) == {"brush", "polygon"}
        lowest = [min([g["score"], *(a["probability"] for a in g["attributes"].values())]) for g in line["garments"]]
        assert kinds["brush"]["score"] == min([1.0, *lowest])
        for kind, prediction in kinds.items():
            regions = [r for r in prediction["result"] if r["type"] != "choices"]
            assert len(regions) == len(line["garments"])
            for r in prediction["result"]:  # every result is valid for the labeling config
                assert r["from_name"] in config and config[r["from_name"]]["to_name"] == ["image"]
                picked = r["value"].get("choices") or r["value"].get("brushlabels") or r["value"]["polygonlabels"]
                assert set(picked) <= set(config[r["from_name"]]["labels"])
            for region, g in zip(regions, line["garments"]):
                truth = masks.decode(g["mask"]) > 0
                part = vocab.PART_BY_KOREAN[g["part"]]
                assert region["score"] == g["score"]
                choices = {r["from_name"]: r["value"]["choices"] for r in prediction["result"]
                           if r["type"] == "choices" and r["id"] == region["id"]}
                assert choices == {head: [vocab.lookup(head, a["label"])] for head, a in g["attributes"].items()}
                if kind == "brush":
                    assert region["value"]["brushlabels"] == [part]
                    mask = _ls_decode(region)
                    assert _iou(mask, truth) >= 0.99 and np.array_equal(mask, truth)  # lossless in fact
                else:
                    assert region["value"]["polygonlabels"] == [part]
                    h, w = truth.shape
                    flat = [c for x, y in region["value"]["points"] for c in (x / 100 * w, y / 100 * h)]
                    polygon_ious.append(_iou(masks.decode(masks.polygons_to_rle([flat], h, w)) > 0, truth))
    # the polygon is the largest outline only: close, not exact (measured min 0.937, mean 0.981 on these photos)
    assert min(polygon_ious) >= 0.9 and np.mean(polygon_ious) >= 0.97


def test_labelstudio_edits_come_back_as_corrections_once(cli, catalogue, tmp_path):
    store, url = catalogue
    cli("export", "--db", url, "--format", "labelstudio", "--out", tmp_path / "ls")
    tasks = json.loads((tmp_path / "ls" / "tasks.json").read_text(encoding="utf-8"))
    multi = [t for t in tasks if sum(r["type"] == "brushlabels" for r in t["predictions"][0]["result"]) >= 2]
    a, b, c = multi[:3]
    # a: the reviewer changes the colour of one garment (the polygon prediction as the start)
    res = _annotate(a, "polygon")
    colour = next(r for r in res if r["type"] == "choices" and r["from_name"] == "colour")
    old_colour = colour["value"]["choices"][0]
    new_colour = next(v for v in vocab.ATTRIBUTES["colour"].values if v != old_colour)
    colour["value"]["choices"] = [new_colour]
    changed = _gid(colour["id"])
    # b: one garment's part is wrong
    res = _annotate(b)
    region = next(r for r in res if r["type"] == "brushlabels")
    new_part = next(p for p in vocab.PARTS if p != region["value"]["brushlabels"][0])
    region["value"]["brushlabels"] = [new_part]
    reparted = _gid(region["id"])
    # c: one garment deleted (not a garment), one square drawn where there is none
    res = _annotate(c)
    deleted = next(r["id"] for r in res if r["type"] == "brushlabels")
    res[:] = [r for r in res if r["id"] != deleted]
    h, w = res[0]["original_height"], res[0]["original_width"]
    square = np.zeros((h, w), np.uint8)
    square[:8, :8] = 1
    res.append({"id": "new", "type": "brushlabels", "from_name": "part_mask", "to_name": "image", "original_width": w,
                "original_height": h, "value": {"format": "rle", "rle": brush.encode(square), "brushlabels": ["top"]}})
    exported = tmp_path / "project.json"
    exported.write_text(json.dumps(tasks), encoding="utf-8")
    before = store.dashboard().corrections

    again = ("import", "labelstudio", exported, "--db", url, "--user", "mina", "--reject-missing", "--json")
    first = _report(cli(*again))
    counts = first["counts"]
    assert counts["photos"] == 3 and counts["tasks_unreviewed"] == len(tasks) - 3
    assert counts["rejected_missing"] == 1 and counts["unmatched_regions"] == 1
    unmatched = [p for p in first["problems"] if p["reason"] == "unmatched_region"]
    assert len(unmatched) == len(first["problems"]) == 1
    assert unmatched[0]["file"] == f"{exported}:tasks[{tasks.index(c)}].annotations[0].result[{len(res) - 1}]"
    assert "top at box [0, 0, 8, 8]" in unmatched[0]["detail"]

    g = store.garment(changed)
    assert (g.heads["colour"].value, g.heads["colour"].state) == (new_colour, CORRECTED)
    assert g.garment.state == CORRECTED and g.heads["part"].state == CONFIRMED
    entry = next(e for e in g.history if e.head == "colour")
    assert (entry.username, entry.old_value, entry.new_value) == ("mina", old_colour, new_colour)
    assert "labelstudio project.json" in entry.comment and "by mina@example.com" in entry.comment
    assert store.garment(reparted).garment.part == new_part
    assert store.garment(_gid(deleted)).garment.state == REJECTED
    reviewed_ids = {_gid(r["id"]) for t in (a, b, c) for r in t["predictions"][0]["result"]}
    assert all(store.garment(i).garment.state != "predicted" for i in reviewed_ids)
    logged = store.dashboard().corrections
    assert logged > before and set(store.dashboard().reviewers) == {"mina"}
    versions = {i: store.garment(i).version for i in reviewed_ids}

    second = _report(cli(*again))
    assert store.dashboard().corrections == logged  # nothing new in the log
    assert {i: store.garment(i).version for i in reviewed_ids} == versions
    assert "garments_changed" not in second["counts"] and second["counts"]["garments_unchanged"] == 7

    # a viewer may not import; nothing read
    denied = cli("import", "labelstudio", exported, "--db", url, "--user", "ana", code=2)
    assert "may not review" in denied.output


def test_cvat_coco_loads_and_imports_back(cli, catalogue, tmp_path, ccp_dir):
    from pycocotools.coco import COCO

    store, url = catalogue
    cli("export", "--db", url, "--format", "cvat", "--out", tmp_path / "cvat")
    cli("export", "--db", url, "--format", "cvat", "--segmentation", "rle", "--out", tmp_path / "rle")
    path = tmp_path / "cvat" / "annotations" / "instances_default.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    coco = COCO(str(path))
    assert [c["id"] for c in data["categories"]] == [1, 2, 3, 4]
    assert [c["name"] for c in data["categories"]] == list(vocab.PARTS)
    assert len(data["annotations"]) == store.dashboard().garments and len(coco.getImgIds()) == 24
    spec = json.loads((tmp_path / "cvat" / "cvat_labels.json").read_text(encoding="utf-8"))
    assert [s["name"] for s in spec] == list(vocab.PARTS)
    assert {a["name"]: a["input_type"] for a in spec[0]["attributes"]} == {
        "category": "select", "colour": "select", "sleeve_length": "select", "print": "text"}
    rle = json.loads((tmp_path / "rle" / "annotations" / "instances_default.json").read_text(encoding="utf-8"))
    for ann, ann_rle in zip(data["annotations"], rle["annotations"]):
        assert ann["iscrowd"] == 0 and all(len(p) >= 6 and len(p) % 2 == 0 for p in ann["segmentation"])
        assert ann_rle["iscrowd"] == 1 and isinstance(ann_rle["segmentation"]["counts"], str)
        assert _iou(coco.annToMask(ann) > 0, masks.decode(ann_rle["segmentation"]) > 0) >= 0.9
        assert set(ann["attributes"]) <= {"category", "colour", "sleeve_length", "print"}

    # unchanged, it only confirms; edited, it corrects; twice, nothing
    first = _report(cli("import", "cvat", path, "--db", url, "--user", "mina", "--json"))
    assert first["counts"]["matched"] == len(data["annotations"]) and not first["problems"]
    everything = [g.id for g in store.gallery(limit=1000).items]
    assert {e.new_state for i in everything for e in store.history(i)} == {CONFIRMED}
    ann = data["annotations"][0]
    ann["attributes"]["colour"] = "navy" if ann["attributes"]["colour"] != "navy" else "black"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert _report(cli("import", "cvat", path, "--db", url, "--user", "mina", "--json"))["counts"]["decisions"] == 1
    logged = store.dashboard().corrections
    assert "decisions" not in _report(cli("import", "cvat", path, "--db", url, "--user", "mina", "--json"))["counts"]
    # our own COCO export of the reviewed garments is the catalogue's state: importing it changes nothing
    cli("export", "--db", url, "--format", "coco", "--out", tmp_path / "coco")
    again = _report(cli("import", "coco", tmp_path / "coco" / "coco.json", "--db", url, "--user", "mina", "--json"))
    assert again["counts"]["matched"] == len(data["annotations"]) and store.dashboard().corrections == logged


def test_bad_input_is_reported_by_place_and_the_rest_imported(cli, catalogue, tmp_path):
    store, url = catalogue
    cli("export", "--db", url, "--format", "labelstudio", "--out", tmp_path / "ls", "--shapes", "brush")
    tasks = json.loads((tmp_path / "ls" / "tasks.json").read_text(encoding="utf-8"))
    good, unknown, wrong_size, elsewhere = tasks[:4]
    res = _annotate(good)
    colour = next(r for r in res if r["from_name"] == "colour")
    colour["value"]["choices"] = ["plaid"]  # not a colour: that value is skipped, the part still confirmed
    confirmed = _gid(colour["id"])
    next(r for r in _annotate(unknown) if r["type"] == "brushlabels")["value"]["brushlabels"] = ["hat"]
    for r in _annotate(wrong_size):
        if r["type"] == "brushlabels":
            r.update(original_width=10, original_height=10,
                     value={**r["value"], "rle": brush.encode(np.ones((10, 10)))})
    _annotate(elsewhere)
    elsewhere["data"]["path"] = "not/in/catalogue.jpg"
    tasks.append({"data": {"image": "https://example.com/x.jpg"}, "annotations": [{"result": []}]})
    tasks.append("not a task")
    exported = tmp_path / "project.json"
    exported.write_text(json.dumps(tasks), encoding="utf-8")
    rep = _report(cli("import", "labelstudio", exported, "--db", url, "--user", "mina", "--json"))
    found = {(p["reason"], p["file"].split(":", 1)[1].split(".result")[0]) for p in rep["problems"]}
    n = len(tasks)
    assert found == {("unknown_label", "tasks[0].annotations[0]"),  # plaid: that value skipped
                     ("unknown_label", "tasks[1].annotations[0]"),  # hat: that region skipped
                     ("mask_size", "tasks[2].annotations[0]"), ("photo_not_in_catalogue", "tasks[3].annotations[0]"),
                     ("no_path", f"tasks[{n - 2}]"), ("schema", f"tasks[{n - 1}]")}, rep["problems"]
    assert rep["counts"]["photos"] == 2  # the good task, and the one with a bad region (its other regions go in)
    g = store.garment(confirmed)
    assert g.heads["part"].state == CONFIRMED and g.heads["colour"].state == "predicted"
    cli("import", "labelstudio", exported, "--db", url, "--user", "mina", "--strict", code=1)
    broken = tmp_path / "broken.json"
    broken.write_text("[{", encoding="utf-8")
    assert "not_json" in cli("import", "coco", broken, "--db", url, "--user", "mina", code=1).output
    assert "unknown format" in cli("import", "yolo", broken, "--db", url, "--user", "mina", code=2).output
    assert "--from-tags" in cli("export", "--format", "coco", "--from-tags", broken, "--out", tmp_path / "x",
                                code=2).output


@pytest.fixture(scope="session")
def fiftyone_python() -> str:
    """A Python with FiftyOne: this one, or $GARMENTPARSE_FIFTYONE_PYTHON (its own venv)."""
    other = os.environ.get("GARMENTPARSE_FIFTYONE_PYTHON")
    if other:
        return other
    try:
        import fiftyone  # noqa: F401
    except ImportError:
        pytest.skip("fiftyone not installed here (its pins clash with ours: see docs/interop.md; "
                    "set GARMENTPARSE_FIFTYONE_PYTHON to a venv that has it)")
    return sys.executable


@pytest.mark.parametrize("fmt", ["coco", "cvat"])
def test_fiftyone_reads_our_coco_with_masks(fmt, cli, sqlite_url, tag_output, tmp_path, ccp_dir, fiftyone_python):
    url = sqlite_url
    store = Store.upgrade(url)
    store.ingest(tag_output)
    extra = ["--state", "predicted,confirmed,corrected"] if fmt == "coco" else []
    cli("export", "--db", url, "--format", fmt, "--out", tmp_path / fmt, *extra)
    labels = tmp_path / fmt / ("coco.json" if fmt == "coco" else "annotations/instances_default.json")
    env = {**os.environ, "FIFTYONE_DO_NOT_TRACK": "true", "FIFTYONE_DATABASE_DIR": str(tmp_path / "fo-db")}
    run = subprocess.run([fiftyone_python, str(REPO / "scripts" / "check_fiftyone.py"), str(labels),
                          str(ccp_dir / "images")], capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["samples"] == 24 and out["detections"] == out["annotations"] == store.dashboard().garments
    assert out["labels"] == sorted(vocab.PARTS) and out["min_iou"] >= 0.999
    # the detector score as confidence; attribute values as fields (coco carries reviewed values only: none yet)
    assert {"confidence", *(("colour", "category") if fmt == "cvat" else ())} <= set(out["fields"])
    store.close()
    shutil.rmtree(tmp_path / "fo-db", ignore_errors=True)
