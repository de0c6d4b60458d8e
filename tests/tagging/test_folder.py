"""``tag`` end to end on real CCP photos (CPU) with the session's tiny detector and classifier:
the output contract, broken files, resume, plugins."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import jsonschema
import pytest
from PIL import Image

from garmentparse.cli import build_app
from garmentparse.imageio import load_rgb
from garmentparse.tagging import (SCHEMA_PATH, ResumeError, Tagger, file_sha256, read_done,
                                  run_record_path, tag_folder)
from tests.conftest import REPO, invoke, runner

SCORE = "0.01"  # tiny models trained for seconds score low; keep their detections


@pytest.fixture(scope="module")
def models(detector_run, classifier_run) -> dict[str, Path]:
    """The session's tiny detector and classifier (trained once, in tests/conftest.py)."""
    return {"detector": detector_run["model"], "classifier": classifier_run / "model.pt"}


@pytest.fixture()
def photo_folder(tmp_path, ccp_dir) -> Path:
    """Six real photos in nested folders, odd modes and suffixes, plus three broken files."""
    root = tmp_path / "photos"
    (root / "street" / "day").mkdir(parents=True)
    for name in ["0021", "0022"]:
        shutil.copy(ccp_dir / "images" / f"{name}.jpg", root / f"{name}.jpg")
    shutil.copy(ccp_dir / "images" / "0023.jpg", root / "street" / "0023.JPG")
    Image.open(ccp_dir / "images" / "0024.jpg").convert("L").save(root / "street" / "day" / "gray.png")
    Image.open(ccp_dir / "images" / "0001.jpg").convert("RGBA").save(root / "alpha.webp")
    Image.open(ccp_dir / "images" / "0002.jpg").convert("CMYK").save(root / "cmyk.jpg")
    data = (ccp_dir / "images" / "0003.jpg").read_bytes()
    (root / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (root / "notes.jpg").write_text("this is not a photo")
    (root / "empty.png").write_bytes(b"")
    (root / "readme.txt").write_text("ignored: not an image suffix")
    return root


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_tag_end_to_end(models, photo_folder, tmp_path):
    out, csv_path = tmp_path / "results.jsonl", tmp_path / "results.csv"
    invoke("tag", photo_folder, "--detector", models["detector"], "--classifier", models["classifier"],
           "--out", out, "--csv", csv_path, "--overlays", tmp_path / "overlays", "--crops", tmp_path / "crops",
           "--score-threshold", SCORE, "--batch-size", "3", "--workers", "2", "--device", "cpu")
    records = read_jsonl(out)
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))
    for rec in records:
        validator.validate(rec)
    by_path = {r["path"]: r for r in records}
    assert sorted(by_path) == sorted([
        "0021.jpg", "0022.jpg", "street/0023.JPG", "street/day/gray.png", "alpha.webp", "cmyk.jpg",
        "truncated.jpg", "notes.jpg", "empty.png"])
    for broken in ["truncated.jpg", "notes.jpg", "empty.png"]:
        assert by_path[broken]["error"] and by_path[broken]["garments"] == []
    good = [r for r in records if r["error"] is None]
    assert len(good) == 6
    for rel in ["0021.jpg", "street/0023.JPG", "street/day/gray.png"]:
        with Image.open(photo_folder / rel) as im:
            assert (by_path[rel]["width"], by_path[rel]["height"]) == im.size
    garments = [g for r in good for g in r["garments"]]
    assert garments, "the tiny detector found nothing at all"
    heads = set(garments[0]["attributes"])
    assert {"category", "colour"} <= heads
    for g in garments:
        assert g["part"] in {"outer", "top", "bottom", "onepiece"}
        assert g["mask"]["size"] == [by_h(records, g), by_w(records, g)]
        assert 1 <= len(g["attributes"]["category"]["top_k"]) <= 3
    with open(csv_path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(garments)
    assert {"path", "part", "score", "x0", "category", "category_probability"} <= set(rows[0])
    overlays = list((tmp_path / "overlays").rglob("*.png"))
    assert len(overlays) == 6
    assert len(list((tmp_path / "crops").rglob("*.png"))) == len(garments)


def by_h(records, garment):
    return next(r["height"] for r in records if garment in r["garments"])


def by_w(records, garment):
    return next(r["width"] for r in records if garment in r["garments"])


def test_tag_resume_after_interruption(models, photo_folder, tmp_path):
    out = tmp_path / "results.jsonl"
    tagger = Tagger.from_checkpoints(models["detector"], models["classifier"], device="cpu",
                                     score_threshold=float(SCORE))
    seen = []

    def interrupt_after_four(result):
        seen.append(result.path)
        if len(seen) == 4:
            raise KeyboardInterrupt  # what Ctrl-C does mid-run

    with pytest.raises(KeyboardInterrupt):
        tag_folder(photo_folder, tagger, out, batch_size=2, workers=0, on_image=interrupt_after_four)
    first = read_jsonl(out)
    assert 1 <= len(first) <= 4  # what was written survives
    with open(out, "a", encoding="utf-8") as fh:
        fh.write('{"path": "torn line from a crash')  # a half-written last line
    summary = tag_folder(photo_folder, tagger, out, csv_path=tmp_path / "r.csv", batch_size=2,
                         workers=2, resume=True)
    records = read_jsonl(out)
    paths = [r["path"] for r in records]
    assert len(paths) == len(set(paths)) == 9  # every image once, no duplicates
    assert summary.skipped == len(first) and summary.images == 9 - len(first)
    failed = {r["path"] for r in records if r["error"]}
    assert failed == {"truncated.jpg", "notes.jpg", "empty.png"}
    # a later resume tries the failed images again (their old lines go) and skips the rest
    again = tag_folder(photo_folder, tagger, out, resume=True, workers=0)
    assert (again.images, again.errors, again.skipped) == (3, 3, 6)
    final = read_jsonl(out)
    assert sorted(r["path"] for r in final) == sorted(paths)  # still once each
    with open(tmp_path / "r.csv", newline="", encoding="utf-8") as fh:
        assert len(list(csv.DictReader(fh))) == sum(len(r["garments"]) for r in records)
    record = json.loads(run_record_path(out).read_text(encoding="utf-8"))
    assert [r["finished"] is None for r in record["runs"]] == [True, False, False]  # the interrupted one
    assert record["runs"][1]["images"] == 9 - len(first) and record["runs"][2]["skipped"] == 6
    assert record["settings"]["models"]["detector"] == file_sha256(models["detector"])
    assert record["model_files"]["detector"] == str(models["detector"].resolve())
    assert record["settings"]["score_threshold"] == float(SCORE)
    # resuming with other settings would mix two kinds of results in one file: refused, file untouched
    before = out.read_bytes()
    stricter = Tagger.from_checkpoints(models["detector"], models["classifier"], device="cpu", score_threshold=0.9)
    with pytest.raises(ResumeError, match="score_threshold: 0.01 -> 0.9"):
        tag_folder(photo_folder, stricter, out, resume=True, workers=0)
    result = runner.invoke(build_app(), ["tag", str(photo_folder), "--detector", str(models["detector"]),
                                         "--out", str(out), "--resume", "--score-threshold", SCORE, "--workers", "0"])
    said = " ".join(result.output.split())  # Rich wraps long lines
    assert result.exit_code == 2 and "model files differ" in said and "heads" in said
    assert out.read_bytes() == before


def test_tag_korean_labels_and_library_api(models, ccp_dir, tmp_path):
    tagger = Tagger.from_checkpoints(models["detector"], models["classifier"], device="cpu",
                                     score_threshold=float(SCORE), top_k=2)
    tagged = tagger.tag_arrays([load_rgb(ccp_dir / "images" / "0021.jpg")])
    assert len(tagged) == 1 and tagged[0].garments
    garment = tagged[0].garments[0]
    assert set(garment.attributes) == set(tagger.heads)
    ko = garment.to_dict(lang="ko")
    assert ko["part"] in {"아우터", "상의", "하의", "원피스"}
    out = tmp_path / "ko.jsonl"
    invoke("tag", ccp_dir / "images" / "0021.jpg", "--detector", models["detector"], "--classifier",
           models["classifier"], "--out", out, "--lang", "ko", "--score-threshold", SCORE, "--workers", "0")
    rec = read_jsonl(out)[0]
    assert rec["path"] == "0021.jpg"
    assert {g["part"] for g in rec["garments"]} <= {"아우터", "상의", "하의", "원피스"}


def test_tag_detector_only_and_bad_checkpoint(models, ccp_dir, tmp_path):
    out = tmp_path / "det_only.jsonl"
    invoke("tag", ccp_dir / "images", "--detector", models["detector"], "--out", out,
           "--score-threshold", SCORE, "--workers", "0", "--batch-size", "8")
    records = read_jsonl(out)
    assert len(records) == 24 and all(g["attributes"] == {} for r in records for g in r["garments"])
    default = Tagger.from_checkpoints(models["detector"], device="cpu")  # no threshold given
    config_threshold = default.segmenter.config.test.score_threshold
    found = default.tag_arrays([load_rgb(ccp_dir / "images" / "0021.jpg")])[0].garments
    assert all(g.score >= config_threshold for g in found)
    assert config_threshold == 0.3  # configs/detection/tiny.yaml, not the old fixed 0.5
    result = runner.invoke(build_app(), ["tag", str(ccp_dir / "images"), "--detector",
                                         str(models["classifier"]), "--out", str(tmp_path / "x.jsonl")])
    assert result.exit_code == 2 and "expected a detector" in result.output
    (tmp_path / "empty").mkdir()
    result = runner.invoke(build_app(), ["tag", str(tmp_path / "empty"), "--detector", str(models["detector"]),
                                         "--out", str(tmp_path / "e.jsonl")])
    assert result.exit_code == 2 and "no images" in result.output  # nothing to do is not a success


def test_tag_benchmarks_run(models, tmp_path):
    """Both tag benchmarks run on the tiny models and report what the docs quote."""
    import subprocess
    import sys

    common = ["--detector", str(models["detector"]), "--classifier", str(models["classifier"]),
              "--device", "cpu", "--workers", "0", "--score-threshold", SCORE]
    for script, extra, key in [("bench_tag.py", ["--repeats", "1", "--limit", "4"], "speedup"),
                               ("bench_tag_memory.py", ["--n", "12"], "rss_ratio_end_vs_warm")]:
        out = tmp_path / f"{script}.json"
        subprocess.run([sys.executable, str(REPO / "benchmarks" / script), *common, *extra, "--json", str(out)],
                       check=True, capture_output=True, cwd=REPO / "benchmarks")
        result = json.loads(out.read_text())
        assert result[key] > 0 and result["images"] in (4, 12)


def test_resume_refuses_an_output_broken_in_the_middle(tmp_path):
    """A torn *last* line is a crash artefact and is cut; a broken line with good lines after it
    is not, and resuming would hide it: refused, naming the line, file untouched."""
    out = tmp_path / "r.jsonl"
    good = [json.dumps({"path": f"{i}.jpg", "width": 1, "height": 1, "garments": [], "error": None})
            for i in range(3)]
    out.write_text(good[0] + "\n" + "\0" * 40 + "\n" + good[1] + "\n" + good[2] + "\n", encoding="utf-8")
    before = out.read_bytes()
    with pytest.raises(ResumeError, match="line 2 is not a result line"):
        read_done(out)
    assert out.read_bytes() == before
    out.write_text("\n".join(good) + "\n" + "\0" * 40 + "\n" + '{"path": "3.j', encoding="utf-8")
    assert read_done(out) == {"0.jpg", "1.jpg", "2.jpg"}
    assert out.read_text(encoding="utf-8") == "\n".join(good) + "\n"


def test_awkward_files_and_names(models, tmp_path, ccp_dir):
    """A non-UTF-8 file name, a 16-bit grayscale PNG, and a.jpg next to a.png (overlays and crops
    must not overwrite each other)."""
    import os

    import numpy as np

    root = tmp_path / "photos"
    root.mkdir()
    photo = ccp_dir / "images" / "0021.jpg"
    shutil.copy(photo, root / "a.jpg")
    Image.open(photo).save(root / "a.png")
    gray16 = (np.asarray(Image.open(photo).convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    Image.fromarray(gray16).save(root / "deep.png")
    shutil.copy(photo, os.path.join(os.fsencode(root), b"caf\xe9.jpg"))  # Latin-1 bytes, not UTF-8
    out = tmp_path / "r.jsonl"
    invoke("tag", root, "--detector", models["detector"], "--classifier", models["classifier"], "--out", out,
           "--overlays", tmp_path / "ov", "--crops", tmp_path / "cr", "--score-threshold", SCORE,
           "--workers", "0", "--csv", tmp_path / "r.csv")
    records = {r["path"]: r for r in read_jsonl(out)}
    assert set(records) == {"a.jpg", "a.png", "deep.png", "caf\\xe9.jpg"}
    assert all(r["error"] is None for r in records.values())
    assert records["deep.png"]["garments"], "a 16-bit photo must not turn white"
    overlays = sorted(p.name for p in (tmp_path / "ov").iterdir())
    assert overlays == sorted(["a.jpg.png", "a.png.png", "deep.png.png", "caf\\xe9.jpg.png"])
    crops = list((tmp_path / "cr").iterdir())
    assert len(crops) == sum(len(r["garments"]) for r in records.values())


class CentreSegmenter:
    """A third party's segmenter plugged into the tagger: no garmentparse base class, no
    checkpoint. It calls the middle of each photo, where darker than the photo's median
    brightness, a top."""

    class_names = ["top"]
    score_threshold = 0.5

    def predict(self, images, score_threshold=None):
        import numpy as np
        from pycocotools import mask as coco_mask

        from garmentparse.structures import Detections

        out = []
        for image in images:
            h, w = image.shape[:2]
            gray = image.mean(axis=2)
            mask = np.zeros((h, w), np.uint8)
            mask[h // 4:3 * h // 4, w // 4:3 * w // 4] = 1
            mask &= (gray <= np.median(gray)).astype(np.uint8)
            ys, xs = np.nonzero(mask)
            rle = coco_mask.encode(np.asfortranarray(mask))
            rle["counts"] = rle["counts"].decode("ascii")
            out.append(Detections([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], [0.9], ["top"], [rle], (h, w)))
        return out


def test_models_follow_the_protocols_and_a_plugin_segmenter_tags(models, photo_folder, tmp_path):
    import garmentparse as gp
    from garmentparse.classifiers import load_classifier
    from garmentparse.parsing import load_segmenter

    assert isinstance(load_segmenter(models["detector"], device="cpu"), gp.Segmenter)
    classifier = load_classifier(models["classifier"], device="cpu")
    assert isinstance(classifier, gp.AttributeClassifier)
    plugin = CentreSegmenter()
    assert isinstance(plugin, gp.Segmenter) and not isinstance(object(), gp.Segmenter)

    out = tmp_path / "plugin.jsonl"
    calls = []
    summary = gp.tag_folder(photo_folder, gp.Tagger(plugin, classifier), out, workers=0,
                            on_progress=lambda done, total=None, message="": calls.append((done, total)))
    assert (summary.images, summary.errors) == (9, 3) and calls[0] == (0, 9) and calls[-1] == (9, 9)
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))
    good = [r for r in read_jsonl(out) if r["error"] is None]
    assert len(good) == 6
    for rec in good:
        validator.validate(rec)
        (garment,) = rec["garments"]
        assert garment["part"] == "top" and garment["score"] == 0.9
        assert garment["mask"]["size"] == [rec["height"], rec["width"]]
        assert set(garment["attributes"]) == set(classifier.heads)
    settings = json.loads(run_record_path(out).read_text(encoding="utf-8"))["settings"]
    assert settings["classes"] == ["top"] and settings["score_threshold"] == 0.5


def test_tiff_photos_and_a_dangling_link(models, ccp_dir, tmp_path):
    """A 16-bit RGB TIFF and an 8-bit TIFF are tagged like the JPEG they came from; a link to a
    deleted photo is an error line naming the link, not a photo silently missing from the run."""
    import cv2
    import numpy as np

    root = tmp_path / "photos"
    root.mkdir()
    photo = ccp_dir / "images" / "0021.jpg"
    shutil.copy(photo, root / "a.jpg")
    rgb = np.asarray(Image.open(photo).convert("RGB"))
    Image.fromarray(rgb).save(root / "studio.tif", compression="tiff_lzw")
    cv2.imwrite(str(root / "studio16.TIFF"), (rgb[:, :, ::-1].astype(np.uint16) * 257))  # 16 bits/channel
    (root / "gone.jpg").symlink_to(root / "deleted.jpg")
    out = tmp_path / "r.jsonl"
    invoke("tag", root, "--detector", models["detector"], "--out", out, "--score-threshold", SCORE,
           "--workers", "0")
    records = {r["path"]: r for r in read_jsonl(out)}
    assert set(records) == {"a.jpg", "studio.tif", "studio16.TIFF", "gone.jpg"}
    assert "broken link" in records["gone.jpg"]["error"] and records["gone.jpg"]["garments"] == []
    assert records["a.jpg"]["garments"]
    for tiff in ("studio.tif", "studio16.TIFF"):  # same pixels as the JPEG: same garments
        assert records[tiff]["error"] is None
        assert records[tiff]["garments"] == records["a.jpg"]["garments"]


def test_resume_exit_code_judges_the_whole_output(models, ccp_dir, tmp_path):
    """A finished run whose only failed photo fails again on --resume exits 0: the output file
    holds every other photo tagged. Exit 1 only when nothing in the output is tagged."""
    root = tmp_path / "photos"
    root.mkdir()
    for name in ["0021", "0022"]:
        shutil.copy(ccp_dir / "images" / f"{name}.jpg", root / f"{name}.jpg")
    (root / "broken.jpg").write_text("not a photo")
    out = tmp_path / "r.jsonl"
    args = ["tag", str(root), "--detector", str(models["detector"]), "--out", str(out),
            "--score-threshold", SCORE, "--workers", "0", "--json"]
    assert runner.invoke(build_app(), args).exit_code == 0
    resumed = runner.invoke(build_app(), [*args, "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["errors"] == 1 and json.loads(resumed.stdout)["skipped"] == 2
    assert runner.invoke(build_app(), [*args, "--resume", "--strict"]).exit_code == 1
    assert len(read_jsonl(out)) == 3
    only_broken = tmp_path / "only_broken"
    only_broken.mkdir()
    (only_broken / "x.jpg").write_text("not a photo")
    args[1], args[5] = str(only_broken), str(tmp_path / "b.jsonl")
    assert runner.invoke(build_app(), args).exit_code == 1
    assert runner.invoke(build_app(), [*args, "--resume"]).exit_code == 1


def test_duplicate_iou_reaches_the_run_record_and_resume_checks_it(detector_run, ccp_dir, tmp_path):
    photo = ccp_dir / "images" / "0021.jpg"
    out = tmp_path / "dedupe.jsonl"
    invoke("tag", photo, "--detector", detector_run["model"], "--out", out, "--score-threshold", SCORE,
           "--duplicate-iou", "0.7", "--workers", "0")
    settings = json.loads(run_record_path(out).read_text(encoding="utf-8"))["settings"]
    assert settings["duplicate_iou"] == 0.7 and settings["fill_holes"] == 0.02
    result = runner.invoke(build_app(), ["tag", str(photo), "--detector", str(detector_run["model"]), "--out",
                                         str(out), "--score-threshold", SCORE, "--workers", "0", "--resume"])
    assert result.exit_code == 2 and "duplicate_iou: 0.7 -> 0.5" in " ".join(result.output.split())
    default = Tagger.from_checkpoints(detector_run["model"], device="cpu")
    assert default.settings()["duplicate_iou"] == 0.5 == default.segmenter.duplicate_iou
