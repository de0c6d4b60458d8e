"""The detectron2 backend for real (CPU, tiny): `train detector` on our COCO files through a local
detectron2 YAML, our pycocotools evaluation (at the end of training and via `eval detector`),
`predict`, `tag` on one photo, `--resume`; config mapping for the shipped model-zoo configs; the
offline error when zoo weights cannot be downloaded. Skips only where detectron2 cannot be
imported (`make setup` installs the vendored wheel when it matches this venv)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import urllib.error

import pytest

from garmentparse.checkpoint import load_checkpoint
from garmentparse.imageio import load_rgb
from garmentparse.parsing import load_detector_config, load_segmenter
from garmentparse.structures import Detections

from tests.conftest import REPO, invoke


def _importable() -> str | None:
    if importlib.util.find_spec("detectron2") is None:
        return "detectron2 is not installed (no matching wheel in ../shared/vendor/detectron2; see README)"
    try:
        import detectron2.model_zoo  # noqa: F401  (needs pkg_resources: setuptools<81)
        import detectron2.engine  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - any import failure is a reason to skip, shown as such
        return f"detectron2 cannot be imported here: {type(exc).__name__}: {exc}"
    return None


pytestmark = pytest.mark.skipif(_importable() is not None, reason=str(_importable()))

D2_TINY = REPO / "configs" / "detection" / "d2_tiny.yaml"
ZOO_CONFIGS = {"d2_mask_rcnn_r50_fpn": "StandardROIHeads", "d2_cascade_mask_rcnn_r50_fpn": "CascadeROIHeads"}


@pytest.fixture(scope="module")
def d2_run(tmp_path_factory, ccp_coco) -> dict:
    """d2_tiny.yaml (R-18-FPN from a local detectron2 YAML, random init) trained 3 iterations on
    the 20 CCP train photos through the CLI, evaluated by our evaluator on the 4 others."""
    run = tmp_path_factory.mktemp("d2") / "run"
    stdout = invoke("train", "detector", "--config", D2_TINY, "--train", ccp_coco["train"],
                    "--images", ccp_coco["images"], "--out", run, "--val", ccp_coco["val"],
                    "--device", "cpu", "--no-progress", "--json")
    return {"run": run, "model": run / "model.pt", "summary": json.loads(stdout)}


@pytest.mark.slow
def test_train_writes_our_checkpoint_with_the_detectron2_config(d2_run):
    run, summary = d2_run["run"], d2_run["summary"]
    assert summary["iterations"] == 3 and summary["final_loss"] is not None
    assert {"config.yaml", "metrics.jsonl", "model.pt", "eval.json", "detectron2"} <= {p.name for p in run.iterdir()}
    assert (run / "detectron2" / "last_checkpoint").is_file()
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows and "total_loss" in rows[-1]
    ckpt = load_checkpoint(d2_run["model"], expect_kind="detector")
    assert ckpt.extra["backend"] == "detectron2" and ckpt.vocabulary["part"] == ["outer", "top", "bottom", "onepiece"]
    d2_yaml = ckpt.extra["detectron2_config"]
    assert "RES2_OUT_CHANNELS: 64" in d2_yaml and "NUM_CLASSES: 4" in d2_yaml
    assert "NORM: BN" in d2_yaml  # random init: trainable BN
    assert ckpt.config["model"]["backend"] == "detectron2"


@pytest.mark.slow
def test_our_evaluator_scores_it_same_numbers_as_eval_detector(d2_run, ccp_coco, tmp_path):
    at_train_end = d2_run["summary"]["eval"]
    assert {"bbox", "segm"} <= set(at_train_end)
    assert set(at_train_end["bbox"]["per_category"]) == {"outer", "top", "bottom", "onepiece"}
    out = tmp_path / "metrics.json"
    stdout = invoke("eval", "detector", d2_run["model"], "--coco", ccp_coco["val"], "--images",
                    ccp_coco["images"], "--device", "cpu", "--json", "--out", out)
    metrics = json.loads(stdout)
    assert metrics["images"] == 4
    for iou in ("bbox", "segm"):
        assert metrics[iou]["AP"] == pytest.approx(at_train_end[iou]["AP"], abs=1e-6)
        assert 0.0 <= metrics[iou]["AP"] <= 100.0


@pytest.mark.slow
def test_loaded_without_the_yaml_predicts_in_original_pixels(d2_run, ccp_dir, monkeypatch):
    from garmentparse.parsing.backends import detectron2 as backend

    def no_lookup(name):  # the checkpoint carries the whole detectron2 config
        raise AssertionError(f"looked up {name}")

    monkeypatch.setattr(backend, "config_file", no_lookup)
    seg = load_segmenter(d2_run["model"], device="cpu")
    photo = load_rgb(ccp_dir / "images" / "0003.jpg")
    det = seg.predict([photo], score_threshold=0.0)[0]
    assert isinstance(det, Detections) and det.image_size == photo.shape[:2]
    assert len(det) > 0  # candidates exist at threshold 0, even after 3 iterations
    assert set(det.labels) <= {"outer", "top", "bottom", "onepiece"}
    assert (det.boxes[:, 2] <= photo.shape[1] + 1).all() and (det.boxes[:, 3] <= photo.shape[0] + 1).all()
    assert all(m["size"] == list(photo.shape[:2]) for m in det.masks)
    again = seg.predict([photo, load_rgb(ccp_dir / "images" / "0004.jpg")], score_threshold=0.0)[0]
    assert len(again) == len(det)  # a batch neighbour of another size changes nothing


@pytest.mark.slow
def test_predict_and_tag_one_photo(d2_run, classifier_run, ccp_dir, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(ccp_dir / "images" / "0002.jpg", photos)
    summary = json.loads(invoke("predict", d2_run["model"], photos, "--out", tmp_path / "pred.json",
                                "--score-threshold", "0", "--device", "cpu", "--json"))
    assert summary["images"] == 1 and summary["detections"] > 0
    out = tmp_path / "tags.jsonl"
    invoke("tag", photos, "--detector", d2_run["model"], "--classifier", classifier_run / "model.pt",
           "--out", out, "--score-threshold", "0", "--device", "cpu")
    record = json.loads(out.read_text().splitlines()[0])
    assert record["path"].endswith("0002.jpg") and record["error"] is None
    assert record["garments"], "at threshold 0 the detector proposes garments"
    assert "category" in record["garments"][0]["attributes"]


@pytest.mark.slow
def test_resume_continues_detectron2_state(d2_run, ccp_coco, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(d2_run["run"], run)
    stdout = invoke("train", "detector", "--out", run, "--train", ccp_coco["train"], "--images",
                    ccp_coco["images"], "--resume", "--set", "solver.max_iter=5", "--device", "cpu",
                    "--no-progress", "--json")
    assert json.loads(stdout)["iterations"] == 5
    ckpt = load_checkpoint(run / "model.pt", expect_kind="detector")
    assert ckpt.extra["iteration"] == 5
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert max(r.get("iteration", -1) for r in rows) == 4  # detectron2 counts from 0: iterations 3 and 4 ran


def test_refuses_to_overwrite_and_to_resume_nothing(d2_run, ccp_coco, tmp_path):
    from garmentparse.parsing import train_detector

    cfg = load_detector_config(D2_TINY)
    with pytest.raises(FileExistsError, match="--resume"):
        train_detector(cfg, ccp_coco["train"], ccp_coco["images"], d2_run["run"], device="cpu")
    with pytest.raises(FileNotFoundError, match="nothing to continue"):
        train_detector(cfg, ccp_coco["train"], ccp_coco["images"], tmp_path / "empty", device="cpu", resume=True)


@pytest.mark.parametrize("name, heads", ZOO_CONFIGS.items())
def test_shipped_zoo_configs_map_our_keys_and_overrides(name, heads):
    from garmentparse.parsing.backends.detectron2 import detectron2_cfg

    cfg = load_detector_config(REPO / "configs" / "detection" / f"{name}.yaml", [
        "model.init=none", "input.min_size_train=[320, 352]", "solver.base_lr=0.003",
        "model.detectron2_overrides={MODEL.RPN.NMS_THRESH: 0.6, MODEL: {ROI_BOX_HEAD: {NUM_FC: 1}}}"])
    d2 = detectron2_cfg(cfg, 4)
    assert d2.MODEL.ROI_HEADS.NAME == heads and d2.MODEL.ROI_HEADS.NUM_CLASSES == 4 and d2.MODEL.MASK_ON
    assert d2.MODEL.WEIGHTS == "" and d2.MODEL.RESNETS.NORM == "BN" and d2.MODEL.BACKBONE.FREEZE_AT == 0
    assert tuple(d2.INPUT.MIN_SIZE_TRAIN) == (320, 352) and d2.SOLVER.BASE_LR == 0.003
    assert d2.MODEL.RPN.NMS_THRESH == 0.6 and d2.MODEL.ROI_BOX_HEAD.NUM_FC == 1  # overrides last
    coco = detectron2_cfg(load_detector_config(REPO / "configs" / "detection" / f"{name}.yaml"), 4)
    assert coco.MODEL.WEIGHTS.startswith("https://") and coco.MODEL.RESNETS.NORM == "FrozenBN"


def test_zoo_weights_offline_name_the_offline_inits(monkeypatch):
    from detectron2.utils.file_io import PathManager

    from garmentparse.engine.pretrained import OfflineWeightsError
    from garmentparse.parsing.backends.detectron2 import detectron2_cfg, fetch_weights

    def offline(url, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(PathManager, "get_local_path", offline)
    d2 = detectron2_cfg(load_detector_config(REPO / "configs" / "detection" / "d2_mask_rcnn_r50_fpn.yaml"), 4)
    with pytest.raises(OfflineWeightsError, match="offline initialisations") as err:
        fetch_weights(d2)
    assert "detectron2's model zoo" in str(err.value) and "local file" in str(err.value)


def test_unknown_detectron2_config_is_a_clear_error():
    from garmentparse.parsing.backends.detectron2 import detectron2_cfg

    cfg = load_detector_config(D2_TINY, ["model.detectron2_config=COCO-InstanceSegmentation/nope.yaml"])
    with pytest.raises(ValueError, match="neither a file nor a detectron2 model-zoo config"):
        detectron2_cfg(cfg, 4)
    typo = load_detector_config(D2_TINY, ["model.detectron2_overrides={MODEL.RPN.NMS_THRES: 0.6}"])
    with pytest.raises(ValueError, match="detectron2_overrides.*NMS_THRES"):
        detectron2_cfg(typo, 4)


@pytest.mark.slow
def test_suppresses_duplicates_and_fills_holes_like_torchvision(d2_run, ccp_dir):
    from garmentparse.parsing.config import DUPLICATE_IOU, FILL_HOLES

    photo = load_rgb(ccp_dir / "images" / "0003.jpg")
    default = load_segmenter(d2_run["model"], device="cpu")
    off = load_segmenter(d2_run["model"], device="cpu", duplicate_iou=0.0, fill_holes=0.0)
    assert (default.duplicate_iou, default.fill_holes) == (DUPLICATE_IOU, FILL_HOLES)
    assert (off.duplicate_iou, off.fill_holes) == (0.0, 0.0)
    raw = off.predict([photo], score_threshold=0.0)[0]
    kept = default.predict([photo], score_threshold=0.0)[0]
    filled = Detections.from_binary(raw.boxes, raw.scores, raw.labels, raw.binary_masks(), raw.image_size,
                                    FILL_HOLES)
    expected = filled.suppress_duplicates(DUPLICATE_IOU)
    assert raw.duplicate_pairs(DUPLICATE_IOU) > 0, "nothing to suppress in the fixture"
    assert kept.labels == expected.labels and kept.masks == expected.masks and len(kept) < len(raw)
    assert kept.duplicate_pairs(DUPLICATE_IOU) == 0


@pytest.mark.slow
def test_two_processes_train_on_detectron2s_loop_and_evaluate_as_one(ccp_coco, tmp_path):
    """`--nproc 2` (gloo on CPU): detectron2's DefaultTrainer wraps DDP and shards its sampler
    through its comm helpers; rank 0 writes; the end evaluation, split over both ranks, equals
    `eval detector` in one process on the saved model."""
    run = tmp_path / "run"
    summary = json.loads(invoke("train", "detector", "--config", D2_TINY, "--train", ccp_coco["train"],
                                "--images", ccp_coco["images"], "--out", run, "--val", ccp_coco["val"],
                                "--device", "cpu", "--no-progress", "--json", "--nproc", "2"))
    assert summary["iterations"] == 3 and summary["final_loss"] is not None
    assert {p.name for p in run.iterdir()} == {"config.yaml", "metrics.jsonl", "model.pt", "eval.json", "detectron2"}
    ckpt = load_checkpoint(run / "model.pt", expect_kind="detector")
    assert ckpt.extra["world_size"] == 2 and not any(k.startswith("module.") for k in ckpt.state_dict)
    alone = json.loads(invoke("eval", "detector", run / "model.pt", "--coco", ccp_coco["val"], "--images",
                              ccp_coco["images"], "--device", "cpu", "--json"))
    assert alone == summary["eval"]
