"""The `efficientnet_lite0` classifier backbone: ImageNet weights offline (`init: lite0`), its own
preprocessing (mean/std 0.5) used in training and prediction and recorded in the checkpoint so
`tag` normalises the same way; old checkpoints keep torchvision's ImageNet mean/std; torchvision
downloads that cannot happen say which initialisations work offline."""

from __future__ import annotations

import urllib.error

import pytest
import torch
import torchvision
import yaml

from garmentparse.checkpoint import load_checkpoint
from garmentparse.classifiers import MultiHeadClassifier, build_backbone, load_classifier, load_classifier_config
from garmentparse.classifiers.backbones import IMAGENET_MEAN, IMAGENET_STD, normalization
from garmentparse.config import from_dict, to_dict
from garmentparse.classifiers.config import ClassifierConfig
from garmentparse.engine.pretrained import LITE0_MEAN, LITE0_STD, OfflineWeightsError, lite0_state_dict

from tests.conftest import REPO, invoke

LITE0_CFG = REPO / "configs" / "classification" / "lite0.yaml"


def test_lite0_backbone_is_the_packaged_imagenet_network():
    backbone = build_backbone("efficientnet_lite0", "lite0").eval()
    assert backbone.out_dim == 1280
    ref = lite0_state_dict()
    own = backbone.features.net.state_dict()
    assert set(own) == {k for k in ref if not k.startswith("classifier.")}
    assert all(torch.equal(v, ref[k]) for k, v in own.items())
    assert build_backbone("lite0", "imagenet").out_dim == 1280  # alias; imagenet = the offline weights here
    assert normalization("efficientnet_lite0") == (LITE0_MEAN, LITE0_STD)
    assert normalization("resnet50") == (IMAGENET_MEAN, IMAGENET_STD)


def test_lite0_local_file_in_package_or_timm_layout(tmp_path):
    from garmentparse.engine.pretrained import lite0_checkpoint_path

    a = build_backbone("efficientnet_lite0", str(lite0_checkpoint_path()))  # _conv_stem / _blocks layout
    path = tmp_path / "timm.pth"
    torch.save(a.state_dict(), path)  # our own Backbone's keys
    b = build_backbone("efficientnet_lite0", str(path))
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_lite0_init_refused_for_torchvision_backbones():
    with pytest.raises(ValueError, match="efficientnet_lite0"):
        build_backbone("resnet18", "lite0")


def test_torchvision_download_offline_names_the_offline_inits(monkeypatch):
    def offline(*args, **kwargs):
        if kwargs.get("weights") is not None:
            raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")
        return real(*args, **kwargs)

    real = torchvision.models.get_model
    monkeypatch.setattr(torchvision.models, "get_model", offline)
    with pytest.raises(OfflineWeightsError) as err:
        build_backbone("resnet18", "imagenet")
    assert "`lite0`" in str(err.value) and "resnet18" in str(err.value)


def test_model_normalises_with_its_backbones_preprocessing():
    cfg = load_classifier_config(LITE0_CFG, ["model.init=none"])
    model = MultiHeadClassifier.from_config(cfg, {h.attribute: ["a", "b"] for h in cfg.model.heads})
    assert model.mean == LITE0_MEAN and model.std == LITE0_STD
    x = torch.full((1, 3, 4, 4), 255, dtype=torch.uint8)
    assert torch.allclose(model.normalise(x), torch.ones(1, 3, 4, 4))
    explicit = load_classifier_config(LITE0_CFG, ["data.mean=[0.1, 0.2, 0.3]", "data.std=[1, 1, 1]"])
    assert explicit.normalization() == ((0.1, 0.2, 0.3), (1.0, 1.0, 1.0))
    with pytest.raises(Exception, match="data.std"):
        load_classifier_config(LITE0_CFG, ["data.std=[0, 1, 1]"])


def test_old_config_without_mean_keeps_imagenet_normalisation():
    data = to_dict(load_classifier_config(REPO / "configs" / "classification" / "tiny.yaml"))
    del data["data"]["mean"], data["data"]["std"]  # a checkpoint written before these keys existed
    cfg = from_dict(ClassifierConfig, data, source="old checkpoint")
    assert cfg.normalization() == (IMAGENET_MEAN, IMAGENET_STD)


@pytest.mark.slow
def test_training_records_preprocessing_and_prediction_uses_it(ccp_crops, tmp_path):
    run = tmp_path / "run"
    invoke("train", "classifier", "--config", LITE0_CFG, "--manifest", ccp_crops, "--out", run,
           "--device", "cpu", "--no-progress", "--set", "data.input_size=64", "train.epochs=1",
           "data.workers=0", "data.val_fraction=0", "data.balance_head=null",
           "model.heads=[{attribute: category}, {attribute: colour}]")
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["data"]["mean"] == [0.5, 0.5, 0.5] and saved["data"]["std"] == [0.5, 0.5, 0.5]
    ckpt = load_checkpoint(run / "model.pt", expect_kind="classifier")
    assert ckpt.config["data"]["mean"] == [0.5, 0.5, 0.5]
    clf = load_classifier(run / "model.pt", device="cpu")
    assert clf.model.mean == LITE0_MEAN and clf.model.std == LITE0_STD
    crop = torch.randint(0, 255, (80, 60, 3), dtype=torch.uint8).numpy()
    pred = clf.predict([crop], parts=["top"])[0]
    assert set(pred) == {"category", "colour"}
