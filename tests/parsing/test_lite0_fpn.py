"""The `lite0_fpn` detector backbone wired in: registered, `model.init: lite0` loads the packaged
ImageNet Lite0 exactly (offline), the model normalises as the checkpoint expects, the shipped
config trains through the CLI and its checkpoint loads back without the package's weights; and
downloads that cannot happen say which initialisations work offline."""

from __future__ import annotations

import json
import urllib.error

import pytest
import torch

from garmentparse.engine.pretrained import LITE0_MEAN, LITE0_STD, OfflineWeightsError, lite0_state_dict
from garmentparse.parsing import BACKBONES, load_detector_config, load_segmenter
from garmentparse.parsing.model import build_model, initialise

from tests.conftest import REPO, invoke

LITE0_CFG = REPO / "configs" / "detection" / "lite0_fpn.yaml"
SMALL = ["input.min_size_train=[96]", "input.max_size_train=128", "input.min_size_test=96",
         "input.max_size_test=128"]


def test_registered_with_its_offline_init():
    spec = BACKBONES.get("lite0_fpn")
    assert spec.offline_init == "lite0" and spec.stages == 8 and spec.default_trainable == 5
    cfg = load_detector_config(LITE0_CFG)
    assert cfg.model.backbone == "lite0_fpn" and cfg.model.init == "lite0"


def test_init_lite0_loads_every_body_tensor_and_freezes_as_documented():
    cfg = load_detector_config(LITE0_CFG, SMALL)
    model = build_model(cfg, num_classes=5)
    assert model.transform.image_mean == list(LITE0_MEAN) and model.transform.image_std == list(LITE0_STD)
    report = initialise(model, cfg.model)
    ref = lite0_state_dict()
    body = model.backbone.body.state_dict()
    # 296 checkpoint tensors less the ImageNet head (8) and the 48 BN counters frozen BN has no use for
    assert report.source.startswith("lite0") and report.loaded == len(body) == 240
    for key, value in body.items():
        assert torch.equal(value, ref[key]), key  # every tensor of the body is the checkpoint's
    trainable = {n.split(".")[0] if not n.startswith("blocks.") else ".".join(n.split(".")[:2])
                 for n, p in model.backbone.body.named_parameters() if p.requires_grad}
    assert trainable == {"blocks.2", "blocks.3", "blocks.4", "blocks.5", "blocks.6"}
    kinds = {type(m).__name__ for m in model.backbone.body.modules()}
    assert "BatchNormAct2d" not in kinds  # frozen_bn (auto, pretrained)


def test_from_scratch_trains_everything_with_bn():
    cfg = load_detector_config(LITE0_CFG, [*SMALL, "model.init=none"])
    model = build_model(cfg, num_classes=5)
    assert initialise(model, cfg.model).source == "none"
    assert all(p.requires_grad for p in model.backbone.body.parameters())
    assert "BatchNormAct2d" in {type(m).__name__ for m in model.backbone.body.modules()}


def test_lite0_init_needs_the_lite0_backbone():
    cfg = load_detector_config(LITE0_CFG, ["model.backbone=resnet18_fpn"])
    with pytest.raises(ValueError, match="lite0_fpn"):
        initialise(build_model(cfg, 3), cfg.model)


def test_torchvision_download_offline_names_the_offline_inits(monkeypatch):
    from torchvision.models import ResNet18_Weights

    def offline(self, *args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(type(ResNet18_Weights.IMAGENET1K_V1), "get_state_dict", offline)
    cfg = load_detector_config(REPO / "configs" / "detection" / "tiny.yaml", ["model.init=imagenet"])
    with pytest.raises(OfflineWeightsError) as err:
        initialise(build_model(cfg, 3), cfg.model)
    text = str(err.value)
    assert "model.init=imagenet" in text and "`lite0`" in text and "local file" in text


@pytest.mark.slow
def test_shipped_config_trains_and_loads_back(ccp_coco, tmp_path):
    run = tmp_path / "run"
    stdout = invoke("train", "detector", "--config", LITE0_CFG, "--train", ccp_coco["train"], "--images",
                    ccp_coco["images"], "--out", run, "--device", "cpu", "--no-progress", "--json",
                    "--set", *SMALL, "solver.max_iter=2", "solver.warmup_iters=1", "data.workers=0")
    summary = json.loads(stdout)
    assert summary["iterations"] == 2 and summary["final_loss"] is not None
    seg = load_segmenter(run / "model.pt", device="cpu")
    assert seg.model.transform.image_mean == list(LITE0_MEAN)
    dets = seg.predict([torch.randint(0, 255, (120, 90, 3), dtype=torch.uint8).numpy()], score_threshold=0.0)
    assert dets[0].image_size == (120, 90)
