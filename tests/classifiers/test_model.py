"""Backbones, heads and the masked multi-head loss, built tiny (no downloads)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torchvision

from garmentparse.classifiers import BACKBONES, HEADS, MultiHeadClassifier, build_backbone, masked_losses

from tests.conftest import CLS_TINY


@pytest.mark.parametrize("name", BACKBONES.names())
def test_every_backbone_builds_headless_and_runs(name):
    torch.manual_seed(0)
    backbone = build_backbone(name, "none").eval()
    with torch.no_grad():
        out = backbone(torch.rand(2, 3, 32, 32))
    assert out.shape == (2, backbone.out_dim)
    assert torch.isfinite(out).all()
    assert not any(k.startswith(("fc.", "classifier.")) for k in backbone.state_dict())


@pytest.mark.parametrize("name", HEADS.names())
def test_every_head_builds(name):
    head = HEADS.get(name)(16, 5, dropout=0.1, hidden=8)
    assert head(torch.rand(3, 16)).shape == (3, 5)


def test_unknown_backbone_and_head_names_are_listed():
    with pytest.raises(KeyError, match="resnet50"):
        build_backbone("resnet51")
    with pytest.raises(KeyError, match="linear"):
        HEADS.get("transformer")


def test_local_file_init_loads_torchvision_weights(tmp_path):
    """`init: path`: a torchvision state dict (with its classifier) fills the trunk exactly."""
    torch.manual_seed(1)
    reference = torchvision.models.mobilenet_v3_small()
    path = tmp_path / "mobilenet.pth"
    torch.save(reference.state_dict(), path)
    backbone = build_backbone("mobilenet_v3_small", str(path))
    for key, value in backbone.features.state_dict().items():
        assert torch.equal(value, reference.features.state_dict()[key]), key
    # a headless Backbone's own state dict works too
    path2 = tmp_path / "headless.pt"
    torch.save(backbone.state_dict(), path2)
    again = build_backbone("mobilenet_v3_small", str(path2))
    assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(), backbone.state_dict().values()))


def test_local_file_init_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.pth"):
        build_backbone("resnet18", str(tmp_path / "nothere.pth"))
    wrong = tmp_path / "wrong.pth"
    torch.save(torchvision.models.mobilenet_v3_small().state_dict(), wrong)
    with pytest.raises(ValueError, match="wrong.pth"):
        build_backbone("resnet18", str(wrong))
    junk = tmp_path / "junk.pth"
    junk.write_text("not weights")
    with pytest.raises(ValueError, match="junk.pth"):
        build_backbone("resnet18", str(junk))


@pytest.mark.parametrize("split", ["pooled", "shared_dense"])
def test_model_gives_logits_per_head(split):
    from garmentparse.classifiers import load_classifier_config

    cfg = load_classifier_config(CLS_TINY, [f"model.split={split}"])
    vocabulary = {"category": ["blouse", "skirt", "coat"], "colour": ["black", "white"],
                  "sleeve_length": ["short", "long"], "print": ["dot", "stripe", "solid"]}
    model = MultiHeadClassifier.from_config(cfg, vocabulary).eval()
    assert isinstance(model.heads, torch.nn.ModuleDict)
    with torch.no_grad():
        logits = model(torch.rand(2, 3, 64, 64))
    assert {k: tuple(v.shape) for k, v in logits.items()} == {
        "category": (2, 3), "colour": (2, 2), "sleeve_length": (2, 2), "print": (2, 3)}
    assert isinstance(model.shared, torch.nn.Identity) == (split == "pooled")


def test_missing_labels_are_masked_out_of_the_loss():
    torch.manual_seed(0)
    logits = {"category": torch.randn(4, 3, requires_grad=True), "print": torch.randn(4, 3, requires_grad=True),
              "fit": torch.randn(4, 2, requires_grad=True)}
    multi = {"category": False, "print": True, "fit": False}
    targets = {
        "category": torch.tensor([0, -1, 2, -1]),
        "print": torch.tensor([[1.0, 0, 1], [-1, -1, -1], [-1, -1, -1], [0, 1, 0]]),
        "fit": torch.tensor([-1, -1, -1, -1]),  # a head with no label in the batch
    }
    losses = masked_losses(logits, targets, multi)
    assert torch.allclose(losses["category"], F.cross_entropy(logits["category"][[0, 2]], torch.tensor([0, 2])))
    assert torch.allclose(losses["print"], F.binary_cross_entropy_with_logits(
        logits["print"][[0, 3]], targets["print"][[0, 3]]))
    assert losses["fit"].item() == 0.0
    sum(losses.values()).backward()
    assert torch.all(logits["fit"].grad == 0)  # zero loss, zero gradient, no NaN
    assert torch.all(logits["category"].grad[[1, 3]] == 0)  # unlabelled rows pull nothing
    assert torch.isfinite(logits["print"].grad).all()
