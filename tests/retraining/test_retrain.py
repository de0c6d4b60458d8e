"""The closed loop on real data: the tiny session models tag the 24 bundled CCP photos, the run is
ingested, reviewed with the photos' true labels, and ``retrain`` fine-tunes both models on it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pycocotools.coco import COCO

from garmentparse.checkpoint import load_checkpoint
from garmentparse.retraining import (RetrainError, RetrainSettings, retrain, review_with_truth, side_of,
                                     split_reviewed)
from garmentparse.store import PART_HEAD, REJECTED, Store
from tests.conftest import invoke, runner

from garmentparse.cli import build_app


@pytest.fixture(scope="module")
def truth(ccp_dir) -> dict:
    from garmentparse.converters import convert_kfashion

    coco, _ = convert_kfashion(ccp_dir / "labels", ccp_dir / "images")
    return coco


@pytest.fixture(scope="module")
def tagged(tmp_path_factory, detector_run, classifier_run, ccp_dir) -> Path:
    out = tmp_path_factory.mktemp("loop") / "v1.jsonl"
    invoke("tag", ccp_dir / "images", "--detector", detector_run["model"], "--classifier",
           classifier_run / "model.pt", "--out", out, "--score-threshold", "0.05", "--device", "cpu")
    return out


def _catalogue(tmp_path: Path, tagged: Path, ccp_dir: Path) -> str:
    url = f"sqlite:///{tmp_path / 'loop.db'}"
    with Store.upgrade(url) as store:
        store.ingest(tagged, ccp_dir / "images")
        store.add_user("sim", "a long enough password", "reviewer")
    return url


@pytest.fixture
def reviewed(tmp_path, tagged, ccp_dir, truth) -> tuple[str, dict]:
    url = _catalogue(tmp_path, tagged, ccp_dir)
    with Store.open(url) as store:
        counts = review_with_truth(store, store.runs()[0].id, truth, user="sim", heads=["category", "colour"])
    return url, counts


def test_review_with_truth_decides_every_garment_like_a_reviewer(reviewed):
    url, counts = reviewed
    with Store.open(url) as store:
        board = store.dashboard()
        assert board.by_state.get("predicted", 0) == 0  # every garment decided
        assert counts["garments"] == board.garments and counts["photos"] == 24
        assert counts[f"{PART_HEAD}_{REJECTED}"] == board.by_state.get("rejected", 0) > 0
        photos = store.reviewed_photos()
        assert len(photos) == 24 and all(p.complete for p in photos)
        assert sum(len(p.kept) + len(p.rejected) for p in photos) == board.garments


def test_side_of_is_stable_and_close_to_the_share():
    paths = [f"{i:04d}.jpg" for i in range(2000)]
    sides = [side_of(p, 0.2) for p in paths]
    assert 0.17 < sides.count("heldback") / len(paths) < 0.23
    assert sides == [side_of(p, 0.2) for p in paths]  # a photo never changes side
    assert side_of("0001.jpg", 0.2, seed=1) in ("train", "heldback")


def test_too_few_reviewed_garments_exit_2_and_write_nothing(tmp_path, tagged, ccp_dir, detector_run):
    url = _catalogue(tmp_path, tagged, ccp_dir)  # nothing reviewed yet
    out = tmp_path / "v2"
    result = runner.invoke(build_app(), ["retrain", "--db", url, "--images", str(ccp_dir / "images"),
                                         "--out", str(out), "--from", str(detector_run["model"]),
                                         "--task", "detector"])
    assert result.exit_code == 2, result.output
    assert "too few reviewed garments" in result.output and "detector: 0" in result.output
    assert not out.exists()


def test_a_task_without_its_model_is_refused(tmp_path, ccp_dir, detector_run):
    result = runner.invoke(build_app(), ["retrain", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--images",
                                         str(ccp_dir / "images"), "--out", str(tmp_path / "o"),
                                         "--from", str(detector_run["model"])])  # --task classifier by default
    assert result.exit_code == 2 and "--task classifier, but --from gave only a detector" in result.output


def test_a_model_of_another_kind_is_refused(tmp_path, ccp_dir):
    weights = tmp_path / "junk.pt"
    weights.write_bytes(b"not a checkpoint")
    result = runner.invoke(build_app(), ["retrain", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--images",
                                         str(ccp_dir / "images"), "--out", str(tmp_path / "o"), "--from", str(weights)])
    assert result.exit_code == 2 and "not a garmentparse checkpoint" in result.output


def test_retrain_both_models_from_reviews(reviewed, tmp_path, ccp_dir, detector_run, classifier_run):
    url, _ = reviewed
    sources = {"detector": str(detector_run["model"]), "classifier": str(classifier_run / "model.pt")}
    settings = RetrainSettings(held_back=0.3, min_garments=5, detector_iterations=4, classifier_epochs=2,
                               device="cpu")
    out = tmp_path / "v2"
    with Store.open(url) as store:
        split = split_reviewed(store, 0.3)
        result = retrain(store, sources, ccp_dir / "images", out, settings)
    # the split: disjoint, every reviewed photo on one side, recorded
    record = json.loads((out / "data" / "split.json").read_text())
    train, held = set(record["photos"]["train"]), set(record["photos"]["heldback"])
    assert train and held and not train & held and len(train | held) == 24
    assert held == {p.path for p in split.photos["heldback"]}
    # training data: COCO that pycocotools loads, rejected-only photos kept as negatives
    for side in ("train", "heldback"):
        coco = COCO(str(out / "data" / side / "coco.json"))
        assert {im["file_name"] for im in coco.dataset["images"]} == (train if side == "train" else held)
        assert len(coco.dataset["annotations"]) == result.counts[side]["detector_garments"]
        rows = (out / "data" / side / "manifest.csv").read_text().splitlines()
        assert len(rows) - 1 == result.counts[side]["garments"]
    assert sorted(p.name for p in (out / "data" / "heldback" / "photos").iterdir()) == sorted(held)
    # models: ordinary checkpoints, the classifier warm-started with the source's class lists
    det = load_checkpoint(result.models["detector"], "detector")
    cls = load_checkpoint(result.models["classifier"], "classifier")
    source = load_checkpoint(sources["classifier"], "classifier")
    assert det.config["model"]["init"] == sources["detector"] and det.config["data"]["keep_empty_images"]
    assert cls.config["model"]["warm_start"] and cls.vocabulary == {h: source.vocabulary[h] for h in cls.vocabulary}
    # measured on the held-back reviewed photos, before and after, and recorded
    saved = json.loads((out / "retrain.json").read_text())
    assert saved["heldback"]["classifier"]["before"]["category"]["n"] == result.counts["heldback"]["garments"]
    assert set(saved["heldback"]["detector"]["after"]) == {"box_AP", "mask_AP", "images"}
    assert saved["source_sha256"]["detector"] and saved["settings"]["held_back"] == 0.3
