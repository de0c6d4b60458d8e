"""Backbones and initialisation: every registered backbone builds and runs (init none),
weights load offline from local files in every layout we accept, bf16 patching keeps float32
outputs, and the detectron2 backend is registered but refuses clearly without detectron2."""

from __future__ import annotations

import importlib.util

import pytest
import torch
import torchvision
from torchvision.models.detection import maskrcnn_resnet50_fpn, maskrcnn_resnet50_fpn_v2

from garmentparse.parsing import BACKBONES, BACKENDS, available_backends, load_detector_config
from garmentparse.parsing.model import build_model, enable_bf16, initialise, set_input_size

from tests.conftest import DET_TINY

PREDICTOR_KEYS = {"roi_heads.box_predictor.cls_score.weight", "roi_heads.box_predictor.cls_score.bias",
                  "roi_heads.box_predictor.bbox_pred.weight", "roi_heads.box_predictor.bbox_pred.bias",
                  "roi_heads.mask_predictor.mask_fcn_logits.weight",
                  "roi_heads.mask_predictor.mask_fcn_logits.bias"}


def tiny_cfg(backbone: str, *extra: str):
    return load_detector_config(DET_TINY, [f"model.backbone={backbone}", "input.min_size_train=[64]",
                                       "input.max_size_train=96", "input.min_size_test=64",
                                       "input.max_size_test=96", *extra])


@pytest.mark.parametrize("name", BACKBONES.names())
def test_every_backbone_builds_and_runs(name):
    cfg = tiny_cfg(name, "model.fpn_channels=256")  # the real layout, tiny input
    model = build_model(cfg, num_classes=5)
    assert initialise(model, cfg.model).source == "none"
    image = torch.rand(3, 80, 60)
    target = {"boxes": torch.tensor([[10.0, 10.0, 50.0, 70.0]]), "labels": torch.tensor([2]),
              "masks": torch.zeros(1, 80, 60, dtype=torch.uint8)}
    target["masks"][0, 10:70, 10:50] = 1
    model.train()
    losses = model([image], [target])
    assert {"loss_classifier", "loss_box_reg", "loss_mask", "loss_objectness", "loss_rpn_box_reg"} == set(losses)
    assert all(torch.isfinite(v) for v in losses.values())
    model.eval()
    set_input_size(model, cfg, train=False)
    with torch.inference_mode():
        out = model([image])[0]
    assert out["masks"].shape[-2:] == (80, 60)
    assert out["boxes"].shape[1] == 4


def test_coco_layout_loads_from_local_file(tmp_path):
    """torchvision's own Mask R-CNN state dicts (the layout of the COCO weights) load by key
    into resnet50_fpn / resnet50_fpn_v2; only the class-specific predictors differ."""
    for name, builder in (("resnet50_fpn", maskrcnn_resnet50_fpn),
                          ("resnet50_fpn_v2", maskrcnn_resnet50_fpn_v2)):
        reference = builder(weights=None, weights_backbone=None, num_classes=91)
        path = tmp_path / f"{name}.pth"
        torch.save(reference.state_dict(), path)
        cfg = tiny_cfg(name, "model.fpn_channels=256", "model.box_head_dim=1024",
                       "model.mask_head_layers=[256, 256, 256, 256]", f"model.init={path}")
        model = build_model(cfg, num_classes=5)
        report = initialise(model, cfg.model)
        assert set(report.skipped_shape) == PREDICTOR_KEYS
        assert report.loaded >= len(model.state_dict()) - len(PREDICTOR_KEYS) - 60  # BN counters
        key = "backbone.body.layer3.0.conv1.weight"
        assert torch.equal(model.state_dict()[key], reference.state_dict()[key])
        key = "roi_heads.mask_head.0.0.weight"
        assert torch.equal(model.state_dict()[key], reference.state_dict()[key])


def test_classification_and_own_checkpoints_load(tmp_path):
    net = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18_imagenet_layout.pth"
    torch.save({"model": {"module." + k: v for k, v in net.state_dict().items()}}, path)  # DDP-style
    cfg = tiny_cfg("resnet18_fpn", f"model.init={path}")
    model = build_model(cfg, num_classes=5)
    report = initialise(model, cfg.model)
    assert report.loaded == sum(1 for k in net.state_dict() if not k.startswith("fc.") and
                                not k.endswith("num_batches_tracked"))
    assert torch.equal(model.state_dict()["backbone.body.conv1.weight"], net.state_dict()["conv1.weight"])

    mb = torchvision.models.mobilenet_v3_large(weights=None)
    path = tmp_path / "mobilenet.pth"
    torch.save(mb.state_dict(), path)
    cfg = tiny_cfg("mobilenet_v3_large_fpn", f"model.init={path}")
    model = build_model(cfg, num_classes=5)
    assert initialise(model, cfg.model).loaded > 200
    assert torch.equal(model.state_dict()["backbone.body.0.0.weight"], mb.state_dict()["features.0.0.weight"])


def test_bad_weight_files_are_clear_errors(tmp_path):
    cfg = tiny_cfg("resnet18_fpn", f"model.init={tmp_path / 'missing.pth'}")
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        initialise(build_model(cfg, 5), cfg.model)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a torch file")
    cfg = tiny_cfg("resnet18_fpn", f"model.init={junk}")
    with pytest.raises(ValueError, match="junk.pth"):
        initialise(build_model(cfg, 5), cfg.model)
    other = tmp_path / "other.pth"
    torch.save({"foo.weight": torch.zeros(3)}, other)
    cfg = tiny_cfg("resnet18_fpn", f"model.init={other}")
    with pytest.raises(ValueError, match="no tensor matches"):
        initialise(build_model(cfg, 5), cfg.model)


def test_coco_init_unavailable_for_backbones_without_published_weights():
    cfg = tiny_cfg("resnet18_fpn", "model.init=coco")
    with pytest.raises(ValueError, match="no COCO detection weights"):
        initialise(build_model(cfg, 5), cfg.model)  # raises before any download


def test_bf16_patch_keeps_float32_outputs():
    """The CUDA bf16 code path, exercised with CPU autocast: features run in bf16, boxes,
    scores and masks come out float32 and match the float32 model closely."""
    cfg = tiny_cfg("resnet18_fpn")
    torch.manual_seed(0)
    model = build_model(cfg, 5).eval()
    set_input_size(model, cfg, train=False)
    image = torch.rand(3, 90, 70)
    with torch.inference_mode():
        ref = model.backbone(image[None])
        enable_bf16(model, "cpu")
        enable_bf16(model, "cpu")  # idempotent
        feats = model.backbone(image[None])
        out = model([image])[0]
    assert all(v.dtype == torch.float32 for v in feats.values())
    assert torch.allclose(feats["0"], ref["0"], atol=0.1, rtol=0.1)
    assert out["boxes"].dtype == torch.float32 and out["masks"].dtype == torch.float32
    assert set(model.state_dict()) == set(build_model(cfg, 5).state_dict())  # no renamed keys


def test_backends_registry():
    assert {"torchvision", "detectron2"} <= set(BACKENDS.names())
    assert "torchvision" in available_backends()
    if importlib.util.find_spec("detectron2") is None:
        assert "detectron2" not in available_backends()
        with pytest.raises(RuntimeError, match="detectron2"):
            BACKENDS.get("detectron2").train(None, None, None, None)


@pytest.mark.parametrize("name, norm", [("resnet18_fpn", "gn"), ("mobilenet_v3_large_fpn", "gn"),
                                        ("resnet18_fpn", "frozen_bn")])
def test_norm_choices_train(name, norm):
    cfg = tiny_cfg(name, f"model.norm={norm}")
    model = build_model(cfg, num_classes=5).train()
    kinds = {type(m).__name__ for m in model.modules()}
    assert {"gn": "GroupNorm", "frozen_bn": "FrozenBatchNorm2d"}[norm] in kinds
    assert "BatchNorm2d" not in kinds
    target = {"boxes": torch.tensor([[4.0, 4.0, 40.0, 60.0]]), "labels": torch.tensor([1]),
              "masks": torch.ones(1, 64, 48, dtype=torch.uint8)}
    losses = model([torch.rand(3, 64, 48)], [target])
    sum(losses.values()).backward()
