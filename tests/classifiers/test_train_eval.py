"""Train the tiny config on real CCP crops (CPU), then evaluate, predict and reload it."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from garmentparse import vocab
from garmentparse.checkpoint import load_checkpoint, save_checkpoint
from garmentparse.classifiers import (evaluate_classifier, load_classifier, load_classifier_config,
                                      restrict_to_parts, train_classifier)
from garmentparse.classifiers.data import read_manifest, split_manifest
from garmentparse.imageio import load_rgb
from garmentparse.structures import AttributePrediction

from tests.conftest import CROP_SIZE, CLS_TINY, invoke, runner


@pytest.fixture(scope="module")
def clf(classifier_run):
    return load_classifier(classifier_run / "model.pt", device="cpu")


@pytest.fixture(scope="module")
def crops(ccp_crops):
    records = read_manifest(ccp_crops)
    return records, [load_rgb(r.path) for r in records]


def test_run_dir_contents(classifier_run):
    for name in ("config.yaml", "metrics.jsonl", "report.json", "model.pt"):
        assert (classifier_run / name).is_file(), name
    rows = [json.loads(line) for line in (classifier_run / "metrics.jsonl").read_text().splitlines()]
    cfg = load_classifier_config(CLS_TINY)
    assert len(rows) == cfg.train.epochs
    first, last = sum(rows[0]["train_loss"].values()), sum(rows[-1]["train_loss"].values())
    assert last < first
    assert rows[0]["train_loss"]["print"] == 0.0  # no print label anywhere: masked, not invented


def test_training_accuracy_beats_majority_class(clf, ccp_crops):
    calls = []
    result = evaluate_classifier(clf, ccp_crops,
                                 on_progress=lambda done, total=None, message="": calls.append((done, total)))
    n = len(read_manifest(ccp_crops))
    assert calls[0] == (0, n) and calls[-1] == (n, n)  # progress through the plain callback
    for head in ("category", "colour"):
        m = result.metrics[head]
        assert m["n"] == len(read_manifest(ccp_crops))
        assert m["accuracy"] > m["majority_rate"] + 0.15, (head, m["accuracy"], m["majority_rate"])


def test_heads_vocabulary_and_crop_geometry(clf, classifier_run):
    # heads without a single training label are kept in the model but never answer
    assert clf.heads == ["category", "colour"]
    assert set(clf.untrained) == {"sleeve_length", "print"}
    assert clf.crop_size == CROP_SIZE and clf.crop_background == "white"
    ckpt = load_checkpoint(classifier_run / "model.pt", expect_kind="classifier")
    assert set(ckpt.vocabulary) == {"category", "colour", "sleeve_length", "print"}
    assert ckpt.config["data"]["crop_size"] == CROP_SIZE
    assert all(c in vocab.CATEGORY_PART for c in ckpt.vocabulary["category"])


def test_predict_api_and_korean(clf, crops):
    records, images = crops
    parts = [r.part for r in records]
    preds = clf.predict(images[:6], parts=parts[:6], top_k=3)
    assert len(preds) == 6
    for p in preds:
        assert set(p) == {"category", "colour"}
        cat = p["category"]
        assert isinstance(cat, AttributePrediction)
        assert len(cat.top_k) == 3 and cat.top_k[0] == (cat.label, cat.probability)
        assert [q for _, q in cat.top_k] == sorted((q for _, q in cat.top_k), reverse=True)
        ko = cat.to_dict("category", "ko")
        assert ko["label"] == vocab.korean_name("category", cat.label)
    assert clf.predict([], parts=[]) == []
    with pytest.raises(ValueError, match="parts"):
        clf.predict(images[:2], parts=["top"])


def test_part_restriction(clf, crops):
    records, images = crops
    for part in vocab.PARTS:
        probs = clf.probabilities(images[:8], parts=[part] * 8)["category"]
        allowed = np.array([vocab.CATEGORY_PART[c] == part for c in clf.vocabulary["category"]])
        if not allowed.any():
            continue
        assert np.all(probs[:, ~allowed] == 0)
        assert np.allclose(probs.sum(1), 1.0, atol=1e-5)
        for p in clf.predict(images[:8], parts=[part] * 8):
            assert vocab.part_of(p["category"].label) == part
    # unknown part: untouched
    free = clf.probabilities(images[:3])["category"]
    assert np.allclose(restrict_to_parts(free, clf.vocabulary["category"], [None, "hat", None]), free)


def test_checkpoint_round_trip_gives_same_predictions(clf, crops, classifier_run, tmp_path):
    _, images = crops
    ckpt = load_checkpoint(classifier_run / "model.pt")
    save_checkpoint(ckpt, tmp_path / "copy.pt")
    again = load_classifier(tmp_path / "copy.pt", device="cpu")
    a = clf.probabilities(images[:10])
    b = again.probabilities(images[:10])
    for head in clf.heads:
        np.testing.assert_allclose(a[head], b[head], rtol=0, atol=1e-6)
    assert [p["colour"].label for p in clf.predict(images[:10])] == [
        p["colour"].label for p in again.predict(images[:10])]


def test_tta_predict_and_grayscale(clf, crops):
    _, images = crops
    plain = clf.probabilities(images[:4])["colour"]
    flipped = clf.probabilities([im[:, ::-1] for im in images[:4]])["colour"]
    both = clf.probabilities(images[:4], tta=True)["colour"]
    np.testing.assert_allclose(both, (plain + flipped) / 2, atol=1e-5)
    crops5 = clf.probabilities(images[:2], tta=["crops", "hflip"])["colour"]
    assert crops5.shape == (2, len(clf.vocabulary["colour"]))
    gray = cv2.cvtColor(images[0], cv2.COLOR_RGB2GRAY)
    assert clf.predict([gray], tta=True)[0]["colour"].label in clf.vocabulary["colour"]


def test_eval_cli_writes_report(classifier_run, ccp_crops, tmp_path):
    out = tmp_path / "eval"
    stdout = invoke("eval", "classifier", classifier_run / "model.pt", "--manifest", ccp_crops, "--json", "--tta",
                    "--out", out, "--device", "cpu")
    heads = json.loads(stdout)
    assert set(heads) == {"category", "colour"}
    for head, m in heads.items():
        assert 0 <= m["accuracy"] <= 1 and 0 <= m["macro_f1"] <= 1 and m["top3_accuracy"] >= m["accuracy"]
        assert "accuracy_without_tta" in m
        assert m["per_class_recall"]
        with open(out / f"confusion_{head}.csv", newline="") as fh:
            rows = list(csv.reader(fh))
        assert sum(int(v) for row in rows[1:] for v in row[1:]) == m["n"]
        png = cv2.imread(str(out / f"confusion_{head}.png"))
        assert png is not None and png.shape[0] > 100 and png.std() > 0
    assert heads["category"]["accuracy"] >= 0 and "accuracy_unrestricted" in heads["category"]
    report = json.loads((out / "report.json").read_text())
    assert report["timing"]["ms_per_crop"] > 0 and report["timing"]["ms_per_crop_tta"] > 0
    assert report["crops"] == heads["category"]["n"]


def test_eval_ignores_missing_labels(clf, ccp_crops, tmp_path):
    shutil.copytree(ccp_crops.parent, tmp_path / "c")
    manifest = tmp_path / "c" / "manifest.csv"
    with open(manifest, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows[::2]:
        row["colour"] = ""
    with open(manifest, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    (tmp_path / "c" / rows[1]["crop_path"]).write_bytes(b"broken")  # an unreadable crop
    result = evaluate_classifier(clf, manifest)
    assert result.crops == len(rows) - 1
    assert result.metrics["category"]["n"] == len(rows) - 1
    assert result.metrics["colour"]["n"] == len(rows) // 2 - 1
    assert result.report.reason_counts()["crop_unreadable"] == 1


def test_train_with_validation_shared_dense_and_multilabel(ccp_crops, tmp_path):
    """Validation + early stopping, oversampling, a shared dense block and a multi-label head
    (material: jeans are denim, knitwear is knit; every other crop leaves it blank)."""
    shutil.copytree(ccp_crops.parent, tmp_path / "c")
    manifest = tmp_path / "c" / "manifest.csv"
    with open(manifest, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        row["material"] = {"jeans": "denim|cotton", "knitwear": "knit"}.get(row["category"], "")
    with open(manifest, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    splits = split_manifest(manifest, tmp_path / "splits", {"train": 0.75, "val": 0.25}, seed=1)
    cfg = load_classifier_config(CLS_TINY, [
        "model.split=shared_dense", "model.shared_dim=32", "data.balance_head=category",
        "model.heads=[{attribute: category}, {attribute: colour, type: mlp, hidden: 16}, {attribute: material}]",
        "train.epochs=6", "train.patience=2", "train.monitor=loss", "train.amp=true", "model.classes=all"])
    result = train_classifier(cfg, splits["train"], tmp_path / "run", val_manifest=splits["val"],
                              device="cpu")
    assert result.extra["untrained_heads"] == []
    assert result.best_score is not None and 1 <= result.best_epoch <= result.epochs <= 6
    ckpt = load_checkpoint(result.model_path)
    assert ckpt.extra["epoch"] == result.best_epoch
    assert len(ckpt.vocabulary["category"]) == 21  # classes: all
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert all("val_loss" in r and r["train_loss"]["material"] > 0 for r in rows)
    clf = load_classifier(result.model_path, device="cpu")
    pred = clf.predict([load_rgb(r.path) for r in read_manifest(splits["val"])[:3]])
    assert pred[0]["material"].labels is not None  # multi-label: every value over the threshold
    metrics = evaluate_classifier(clf, splits["val"]).metrics["material"]
    assert metrics["n"] == sum(1 for r in read_manifest(splits["val"]) if r.labels["material"])


def test_cli_errors_are_clear(tmp_path, classifier_run):
    result = runner.invoke(_app(), ["train", "classifier", "--config", str(CLS_TINY), "--manifest",
                                    str(tmp_path / "none.csv"), "--out", str(tmp_path / "r"), "--device", "cpu"])
    assert result.exit_code == 1 and "none.csv" in result.output
    fake = tmp_path / "det.pt"
    ckpt = load_checkpoint(classifier_run / "model.pt")
    ckpt.kind = "detector"
    save_checkpoint(ckpt, fake)
    result = runner.invoke(_app(), ["eval", "classifier", str(fake), "--manifest", str(tmp_path / "m.csv")])
    assert result.exit_code == 2 and "detector" in result.output
    result = runner.invoke(_app(), ["train", "classifier", "--config", str(CLS_TINY), "--manifest",
                                    str(tmp_path / "none.csv"), "--out", str(classifier_run), "--device", "cpu"])
    assert result.exit_code == 2 and "already holds a trained classifier" in " ".join(result.output.split())
    assert torch.is_tensor(next(iter(ckpt.state_dict.values())))


def _app():
    from garmentparse.cli import build_app

    return build_app()


def _copy_manifest(ccp_crops: Path, out: Path, edit=None) -> Path:
    """A copy of the crop manifest (crop paths made absolute), rows changed by ``edit(rows)``."""
    with open(ccp_crops, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        row["crop_path"] = str((ccp_crops.parent / row["crop_path"]).resolve())
    rows = edit(rows) if edit else rows
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return out


def test_unreadable_crops_are_dropped_before_class_lists_without_cache(tmp_path, ccp_crops):
    """With data.cache off, a junk crop is reported (not a crash mid-epoch), and a class whose
    only example is that crop does not enter the model."""
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not a crop")

    def add_junk(rows):
        return rows + [dict(rows[0], crop_path=str(junk), category="hoodie", sleeve_length="long")]

    manifest = _copy_manifest(ccp_crops, tmp_path / "m.csv", add_junk)
    cfg = load_classifier_config(CLS_TINY, ["train.epochs=1", "data.cache=false", "data.val_fraction=0",
                                        "model.heads=[{attribute: category}, {attribute: sleeve_length}]"])
    result = train_classifier(cfg, manifest, tmp_path / "run", device="cpu")
    assert [p.file for p in result.report.problems if p.reason == "crop_unreadable"] == [str(junk)]
    ckpt = load_checkpoint(result.model_path)
    assert "hoodie" not in ckpt.vocabulary["category"]
    assert result.extra["untrained_heads"] == ["sleeve_length"]


def test_validation_without_labels_is_no_validation(tmp_path, ccp_crops):
    """A validation manifest whose category/colour cells are blank cannot pick a best epoch:
    training runs to the end and keeps the last epoch instead of freezing epoch 1."""
    def blank(rows):
        return [dict(r, category="", colour="") for r in rows]

    val = _copy_manifest(ccp_crops, tmp_path / "val.csv", blank)
    cfg = load_classifier_config(CLS_TINY, ["train.epochs=3", "train.patience=1",
                                        "model.heads=[{attribute: category}, {attribute: colour}]"])
    result = train_classifier(cfg, ccp_crops, tmp_path / "run", val_manifest=val, device="cpu")
    assert result.epochs == 3 and result.best_epoch == 3
    assert any(p.reason == "validation_unlabelled" for p in result.report.problems)


def test_manifest_quirks_and_crop_dtypes(tmp_path, ccp_crops, classifier_run):
    """Excel's BOM; a two-value cell of a single-label head is missing, not its first value;
    float crops are refused instead of silently cast to black."""
    from garmentparse.classifiers.data import encode_targets

    manifest = _copy_manifest(ccp_crops, tmp_path / "m.csv")
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + manifest.read_bytes())
    assert len(read_manifest(bom)) == len(read_manifest(manifest))
    record = read_manifest(manifest)[0]
    record.labels["category"] = ["blouse", "hoodie"]
    targets = encode_targets(record, {"category": ["blouse", "skirt"]}, {"category": False})
    assert int(targets["category"]) == -1
    clf = load_classifier(classifier_run / "model.pt", device="cpu")
    crop = load_rgb(record.path)
    with pytest.raises(ValueError, match="uint8"):
        clf.predict([crop.astype(np.float32) / 255])
    with pytest.raises(ValueError, match="top_k"):
        clf.predict([crop], top_k=0)


def test_resume_continues_from_last_epoch(tmp_path, ccp_crops):
    """`train classifier --resume` continues RUN_DIR/last.pt (weights, optimiser, scheduler,
    epoch) with a longer schedule; without --resume the run is not overwritten."""
    run = tmp_path / "run"
    args = ["train", "classifier", "--manifest", ccp_crops, "--out", run, "--device", "cpu", "--no-progress"]
    invoke(*args, "--config", CLS_TINY, "--set", "train.epochs=1")
    last = load_checkpoint(run / "last.pt", expect_kind="classifier")
    assert last.extra["epoch"] == 1 and {"optimizer", "scheduler"} <= set(last.extra)
    result = runner.invoke(_app(), [str(a) for a in args] + ["--config", str(CLS_TINY)])
    assert result.exit_code == 2 and "--resume" in result.output
    invoke(*args, "--resume", "--set", "train.epochs=2")  # config from RUN_DIR/config.yaml
    last = load_checkpoint(run / "last.pt")
    iters = last.extra["iteration"] // 2
    assert last.extra["epoch"] == 2 and last.extra["scheduler"]["last_epoch"] == 2 * iters
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    assert load_checkpoint(run / "model.pt").extra["epoch"] == 2
