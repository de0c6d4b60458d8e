"""End to end on real CCP photos (CPU, tiny config): train through the CLI, loss falls, the
checkpoint loads back as a Segmenter and predicts, `eval detector --json` prints COCO AP,
`--resume` continues from the saved iteration, `predict` writes a loadable results file."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
import yaml
from pycocotools.coco import COCO

from garmentparse import masks as mask_utils
from garmentparse.checkpoint import load_checkpoint
from garmentparse.config import to_dict
from garmentparse.imageio import load_rgb
from garmentparse.parsing import (Segmenter, coco_metrics, load_detector_config, load_segmenter,
                                  train_detector)
from garmentparse.parsing.train import lr_factor
from garmentparse.structures import Detections

from tests.conftest import DET_TINY, invoke

AP_KEYS = {"AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "per_category"}


def test_run_folder_and_loss_falls(detector_run):
    run = detector_run["run"]
    assert {"config.yaml", "metrics.jsonl", "last.pt", "model.pt", "eval.json"} <= {p.name for p in run.iterdir()}
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    train_rows = [r for r in rows if "loss" in r]
    assert [r["iter"] for r in train_rows] == [5, 10, 15, 20, 25, 30]
    for r in train_rows:
        assert {"loss_classifier", "loss_box_reg", "loss_mask", "loss_objectness", "loss_rpn_box_reg",
                "lr", "images_per_s", "grad_norm"} <= set(r)
    first, last = train_rows[0]["loss"], train_rows[-1]["loss"]
    assert last < 0.8 * first, f"loss did not fall: {first} -> {last}"
    assert any("eval" in r for r in rows)
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved == to_dict(load_detector_config(DET_TINY))
    summary = detector_run["summary"]
    assert summary["iterations"] == 30 and summary["images_per_s"] > 0
    assert set(summary["eval"]["bbox"]) >= AP_KEYS


def test_checkpoint_is_one_self_contained_file(detector_run):
    ckpt = load_checkpoint(detector_run["model"], expect_kind="detector")
    assert ckpt.vocabulary == {"part": ["outer", "top", "bottom", "onepiece"]}
    assert ckpt.config["model"]["backbone"] == "resnet18_fpn"
    assert ckpt.extra["iteration"] == 30 and "optimizer" not in ckpt.extra


def test_segmenter_predicts_detections_in_original_pixels(detector_run, ccp_dir):
    seg = load_segmenter(detector_run["model"], device="cpu", amp=True)  # amp is a no-op on CPU
    assert isinstance(seg, Segmenter) and seg.device.type == "cpu"
    assert seg.class_names == ["outer", "top", "bottom", "onepiece"]
    photos = [load_rgb(ccp_dir / "images" / f"00{n}.jpg") for n in (21, 22, 23)]
    photos.append(np.ascontiguousarray(photos[0][:300, :200]))  # another size in the same batch
    dets = seg.predict(photos, score_threshold=0.0)
    assert len(dets) == 4 and all(isinstance(d, Detections) for d in dets)
    assert sum(len(d) for d in dets) > 0
    for photo, det in zip(photos, dets):
        h, w = photo.shape[:2]
        assert det.image_size == (h, w)
        assert set(det.labels) <= set(seg.class_names)
        if len(det):
            assert det.binary_masks().shape[1:] == (h, w)
            assert isinstance(det.masks[0]["counts"], str)
            assert (det.boxes[:, 2] <= w + 1).all() and (det.boxes[:, 3] <= h + 1).all()
    strict = seg.predict(photos[:1], score_threshold=0.99)[0]
    assert len(strict) <= len(dets[0]) and (strict.scores >= 0.99).all()
    with pytest.raises(ValueError, match="RGB uint8"):
        seg.predict([photos[0].astype(np.float32)])


def test_results_do_not_depend_on_batch_neighbours(detector_run, ccp_dir):
    """A portrait photo gets the same detections alone as next to a landscape one (which would
    otherwise pad both to a square), and an image too thin to resize fails only itself."""
    from garmentparse.engine.batching import batch_then_each

    seg = load_segmenter(detector_run["model"], device="cpu")
    portrait = load_rgb(ccp_dir / "images" / "0021.jpg")
    landscape = np.ascontiguousarray(np.rot90(load_rgb(ccp_dir / "images" / "0022.jpg")))
    alone = seg.predict([portrait], score_threshold=0.0)[0]
    mixed = seg.predict([landscape, portrait, landscape], score_threshold=0.0)
    assert np.array_equal(alone.boxes, mixed[1].boxes) and np.array_equal(alone.scores, mixed[1].scores)
    assert alone.masks == mixed[1].masks
    thin = np.zeros((2, 3000, 3), np.uint8)
    with pytest.raises(ValueError, match="too thin"):
        seg.predict([thin])
    out = batch_then_each(lambda images: seg.predict(images, score_threshold=0.0), [portrait, thin])
    assert isinstance(out[1], ValueError) and np.array_equal(out[0].boxes, alone.boxes)


def test_eval_detector_json(detector_run, ccp_coco, tmp_path):
    out = tmp_path / "metrics.json"
    stdout = invoke("eval", "detector", detector_run["model"], "--coco", ccp_coco["val"], "--images",
                    ccp_coco["images"], "--json", "--device", "cpu", "--out", out)
    metrics = json.loads(stdout)
    for iou in ("bbox", "segm"):
        assert set(metrics[iou]) >= AP_KEYS
        assert 0.0 <= metrics[iou]["AP"] <= 100.0
        assert set(metrics[iou]["per_category"]) == {"outer", "top", "bottom", "onepiece"}
    assert metrics["images"] == 4 and metrics["skipped"] == []
    assert json.loads(out.read_text()) == metrics


def test_evaluate_detector_library_reports_progress(detector_run, ccp_coco):
    from garmentparse.parsing import evaluate_detector

    calls = []
    metrics = evaluate_detector(detector_run["model"], ccp_coco["val"], ccp_coco["images"], device="cpu", workers=0,
                                on_progress=lambda done, total=None, message="": calls.append((done, total)))
    assert metrics["images"] == 4 and calls[0] == (0, 4) and calls[-1] == (4, 4)


def test_coco_metrics_edge_cases(ccp_coco):
    gt = COCO(str(ccp_coco["val"]))
    empty, _ = coco_metrics(gt, [])  # an empty result list still evaluates: AP 0
    assert empty["bbox"]["AP"] == 0.0 and empty["segm"]["AP"] == 0.0
    perfect = []  # the ground truth itself as results scores 100
    for ann in gt.dataset["annotations"]:
        img = gt.imgs[ann["image_id"]]
        rle = mask_utils.segmentation_to_rle(ann["segmentation"], img["height"], img["width"])
        perfect.append({"image_id": ann["image_id"], "category_id": ann["category_id"],
                        "bbox": ann["bbox"], "score": 1.0, "segmentation": rle})
    metrics, _ = coco_metrics(gt, perfect)
    assert metrics["bbox"]["AP"] == pytest.approx(100.0) and metrics["segm"]["AP"] == pytest.approx(100.0)
    with pytest.raises(ValueError, match="not in the ground truth"):
        coco_metrics(gt, [dict(perfect[0], image_id=999)])


def test_resume_continues_from_saved_iteration(ccp_coco, tmp_path):
    run = tmp_path / "run"
    cfg = load_detector_config(DET_TINY, ["solver.max_iter=4", "train.checkpoint_period=2", "train.log_period=2"])
    first = train_detector(cfg, ccp_coco["train"], ccp_coco["images"], run, device="cpu")
    assert first.iterations == 4 and load_checkpoint(run / "last.pt").extra["iteration"] == 4
    with pytest.raises(FileExistsError, match="--resume"):
        train_detector(cfg, ccp_coco["train"], ccp_coco["images"], run, device="cpu")
    # longer schedule from the command line, config taken from RUN_DIR/config.yaml
    invoke("train", "detector", "--train", ccp_coco["train"], "--images", ccp_coco["images"], "--out", run,
           "--resume", "--set", "solver.max_iter=6", "--device", "cpu", "--no-progress")
    last = load_checkpoint(run / "last.pt")
    assert last.extra["iteration"] == 6
    assert {"optimizer", "scheduler"} <= set(last.extra)
    assert last.extra["scheduler"]["last_epoch"] == 6
    iters = [json.loads(line)["iter"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert iters == [2, 4, 6]  # continued at 5-6, not restarted at 1
    with pytest.raises(FileNotFoundError, match="nothing to continue"):
        train_detector(cfg, ccp_coco["train"], ccp_coco["images"], tmp_path / "empty", resume=True,
                       device="cpu")


def test_lr_schedule():
    s = load_detector_config(DET_TINY, ["solver.warmup_iters=10", "solver.warmup_factor=0.1",
                                    "solver.max_iter=110"]).solver
    assert lr_factor(0, s, 110) == pytest.approx(0.1)
    assert lr_factor(5, s, 110) == pytest.approx(0.55)
    assert lr_factor(10, s, 110) == pytest.approx(1.0)
    assert lr_factor(60, s, 110) == pytest.approx(0.5)
    assert lr_factor(110, s, 110) == pytest.approx(0.0, abs=1e-9)
    step = load_detector_config(DET_TINY, ["solver.schedule=step", "solver.steps=[50, 80]", "solver.warmup_iters=0",
                                       "solver.max_iter=100"]).solver
    assert [lr_factor(i, step, 100) for i in (0, 49, 50, 80)] == pytest.approx([1, 1, 0.1, 0.01])


def test_predict_cli_writes_loadable_results(detector_run, ccp_coco, ccp_dir, tmp_path):
    # with the ground truth: its ids, loadable by COCO.loadRes
    preds = tmp_path / "preds.json"
    invoke("predict", detector_run["model"], ccp_coco["images"], "--out", preds, "--coco", ccp_coco["val"],
           "--score-threshold", "0.0", "--device", "cpu")
    results = json.loads(preds.read_text())
    assert isinstance(results, list) and results
    gt = COCO(str(ccp_coco["val"]))
    dt = gt.loadRes(results)
    assert set(dt.getImgIds()) <= set(gt.getImgIds())
    assert all(isinstance(r["segmentation"]["counts"], str) and len(r["bbox"]) == 4 for r in results)

    # without: ids assigned, an images file written; a broken photo is skipped with its reason
    folder = tmp_path / "photos" / "street"
    folder.mkdir(parents=True)
    for n in ("0021", "0022"):
        shutil.copy(ccp_dir / "images" / f"{n}.jpg", folder / f"{n}.jpg")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    out = tmp_path / "out" / "preds.json"
    stdout = invoke("predict", detector_run["model"], tmp_path / "photos", "--out", out, "--score-threshold", "0.0",
                    "--device", "cpu", "--json")
    summary = json.loads(stdout)
    assert summary["images"] == 2
    assert [p["reason"] for p in summary["problems"]] == ["unreadable_image"]
    assert summary["problems"][0]["file"].endswith("broken.jpg")
    index = json.loads((tmp_path / "out" / "preds.images.json").read_text())
    assert {im["file_name"] for im in index["images"]} == {"street/0021.jpg", "street/0022.jpg"}
    assert [c["name"] for c in index["categories"]] == ["outer", "top", "bottom", "onepiece"]
    own_gt = COCO()
    own_gt.dataset = {**index, "annotations": []}
    own_gt.createIndex()
    results = json.loads(out.read_text())
    if results:
        own_gt.loadRes(results)  # ids consistent with the images file


def test_model_pt_as_init_for_fine_tuning(detector_run, tmp_path):
    from garmentparse.parsing.model import build_model, initialise

    cfg = load_detector_config(DET_TINY, [f"model.init={detector_run['model']}"])
    model = build_model(cfg, 5)
    report = initialise(model, cfg.model)
    assert report.loaded == len(model.state_dict()) and not report.skipped_shape
    ref = torch.load(detector_run["model"], weights_only=False)["state_dict"]
    assert torch.equal(model.state_dict()["roi_heads.box_predictor.cls_score.weight"],
                       ref["roi_heads.box_predictor.cls_score.weight"])


def test_time_budget_shortens_training(ccp_coco, tmp_path):
    import time

    cfg = load_detector_config(DET_TINY, ["solver.max_iter=1000", "train.time_budget_s=6",
                                      "train.checkpoint_period=1000"])
    t = time.perf_counter()
    result = train_detector(cfg, ccp_coco["train"], ccp_coco["images"], tmp_path / "run", device="cpu")
    assert result.iterations < 1000
    assert time.perf_counter() - t < 6 + 20  # budget plus start-up, save and one slow iteration
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["iter"] == result.iterations
    assert load_checkpoint(tmp_path / "run" / "last.pt").extra["iteration"] == result.iterations
