"""Headless backbones by name: conv features + global average pooling.

``BACKBONES.get(name)(init)`` returns a :class:`Backbone` whose forward gives pooled
``(B, out_dim)`` features. ``init`` is ``none`` (random), ``imagenet`` (torchvision weights:
downloads once, only when asked for; offline the error names the offline initialisations),
``lite0`` (ImageNet EfficientNet-Lite0 from an installed package, no download: backbone
``efficientnet_lite0``) or the path of a local state-dict file.

Each backbone carries the input normalisation its pretrained weights expect
(:func:`normalization`): torchvision's ImageNet mean/std, or Lite0's 0.5/0.5.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
import torchvision
from torch import nn

from garmentparse.engine.pretrained import LITE0_MEAN, LITE0_STD, fetch_or_explain
from garmentparse.engine.state import unwrap_state
from garmentparse.registry import Registry
from garmentparse.release import resolve_model

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision's ImageNet preprocessing
IMAGENET_STD = (0.229, 0.224, 0.225)
LITE0_NAMES = ("efficientnet_lite0", "lite0")
INIT_CHOICES = ("none", "imagenet", "lite0")


def normalization(name: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) on RGB in 0..1 that backbone ``name``'s pretrained weights were trained with."""
    if name in LITE0_NAMES:
        return tuple(LITE0_MEAN), tuple(LITE0_STD)
    return IMAGENET_MEAN, IMAGENET_STD


class Backbone(nn.Module):
    """``features`` (a conv trunk) then global average pooling to ``out_dim`` numbers."""

    def __init__(self, features: nn.Module, out_dim: int, name: str) -> None:
        super().__init__()
        self.features = features
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.out_dim = out_dim
        self.name = name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.pool(self.features(x)), 1)


BackboneFactory = Callable[[str], Backbone]
BACKBONES: Registry[BackboneFactory] = Registry("backbone")


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    path = resolve_model(path, "classifier", what="backbone init file")  # or a release classifier by name
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)  # no pickled code runs
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same clear error
        raise ValueError(f"{path}: cannot read backbone weights: {exc}") from None
    return unwrap_state(data, str(path))


def _fits(own: dict[str, torch.Tensor], state: dict[str, torch.Tensor], keys: list[str]) -> list[str]:
    """Keys of ``keys`` that are missing from ``state`` or have another shape there."""
    return [k for k in keys if k not in state or state[k].shape != own[k].shape]


def _initialise(model: nn.Module, backbone: Backbone, path: Path,
                in_trunk: Callable[[str], bool]) -> None:
    """Load a local file: a torchvision state dict of the full model (its classifier is
    ignored), a headless :class:`Backbone` state dict, or a garmentparse classifier checkpoint."""
    state = _read_state_dict(path)
    if any(k.startswith("backbone.") for k in state):  # a garmentparse classifier's weights
        state = {k.removeprefix("backbone."): v for k, v in state.items() if k.startswith("backbone.")}
    own = backbone.state_dict()
    if not _fits(own, state, list(own)):
        backbone.load_state_dict({k: state[k] for k in own})
        return
    full = model.state_dict()
    trunk_keys = [k for k in full if in_trunk(k)]
    bad = _fits(full, state, trunk_keys)
    if bad:
        raise ValueError(f"{path}: weights do not fit backbone {backbone.name!r} "
                         f"({len(bad)} of {len(trunk_keys)} keys missing or of another shape, "
                         f"e.g. {bad[:3]})")
    model.load_state_dict({k: state[k] for k in trunk_keys}, strict=False)


def _torchvision(name: str, init: str, weights_enum: str) -> nn.Module:
    if init == "lite0":
        raise ValueError(f"model.init=lite0 is ImageNet EfficientNet-Lite0: use it with backbone "
                         f"efficientnet_lite0, not {name!r}")
    if init == "imagenet":
        weights = getattr(torchvision.models, weights_enum).DEFAULT
        return fetch_or_explain(lambda: torchvision.models.get_model(name, weights=weights),
                                asked=f"model.init=imagenet (backbone {name})")
    return torchvision.models.get_model(name, weights=None)


def _make(name: str, weights_enum: str, trunk: Callable[[nn.Module], nn.Module],
          out_dim: int, trunk_prefix: Callable[[str], bool]) -> BackboneFactory:
    def build(init: str = "none") -> Backbone:
        model = _torchvision(name, init, weights_enum)
        backbone = Backbone(trunk(model), out_dim, name)
        if init not in ("none", "imagenet"):
            _initialise(model, backbone, Path(init), trunk_prefix)
        return backbone

    build.__doc__ = f"torchvision {name} without its classifier ({out_dim} pooled features)."
    BACKBONES.register(name)(build)
    return build


def _resnet_trunk(m: nn.Module) -> nn.Module:
    return nn.Sequential(m.conv1, m.bn1, m.relu, m.maxpool, m.layer1, m.layer2, m.layer3, m.layer4)


def _is_resnet_trunk(key: str) -> bool:
    return not key.startswith("fc.")


def _features_trunk(m: nn.Module) -> nn.Module:
    return m.features


def _is_features(key: str) -> bool:
    return key.startswith("features.")


# The K-Fashion experiments used VGG/ResNet; EfficientNet for accuracy per FLOP; the light
# ones (resnet18, mobilenet_v3_small) keep CPU tests fast.
_make("vgg16", "VGG16_Weights", _features_trunk, 512, _is_features)
_make("vgg16_bn", "VGG16_BN_Weights", _features_trunk, 512, _is_features)
_make("resnet18", "ResNet18_Weights", _resnet_trunk, 512, _is_resnet_trunk)
_make("resnet50", "ResNet50_Weights", _resnet_trunk, 2048, _is_resnet_trunk)
_make("efficientnet_b0", "EfficientNet_B0_Weights", _features_trunk, 1280, _is_features)
_make("efficientnet_b4", "EfficientNet_B4_Weights", _features_trunk, 1792, _is_features)
_make("mobilenet_v3_small", "MobileNet_V3_Small_Weights", _features_trunk, 576, _is_features)


class _TimmTrunk(nn.Module):
    """A timm classification network's ``forward_features`` (the last conv map, unpooled)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.forward_features(x)


def _lite0(init: str = "none") -> Backbone:
    """ImageNet EfficientNet-Lite0 (timm ``tf_efficientnet_lite0``, 1280 pooled features):
    ``lite0`` or ``imagenet`` load the packaged ImageNet weights offline (exact key mapping,
    :mod:`garmentparse.engine.pretrained`); inputs normalised with mean 0.5, std 0.5."""
    from garmentparse.engine.pretrained import build_lite0, lite0_key_mapping

    net = build_lite0(init in ("lite0", "imagenet"), num_classes=0)
    backbone = Backbone(_TimmTrunk(net), net.num_features, "efficientnet_lite0")
    if init not in INIT_CHOICES:
        path = Path(init)
        state = _read_state_dict(path)
        if any(k.startswith("_blocks.") for k in state):  # the package's EfficientNet-PyTorch layout
            mapping = lite0_key_mapping(state)
            state = {mapping[k]: v for k, v in state.items()}
        state = {k.removeprefix("backbone.").removeprefix("features.net."): v for k, v in state.items()}
        own = net.state_dict()
        bad = _fits(own, state, list(own))
        if bad:
            raise ValueError(f"{path}: weights do not fit backbone 'efficientnet_lite0' ({len(bad)} of "
                             f"{len(own)} keys missing or of another shape, e.g. {bad[:3]})")
        net.load_state_dict({k: state[k] for k in own})
    return backbone


for _name in LITE0_NAMES:
    BACKBONES.register(_name)(_lite0)


def build_backbone(name: str, init: str = "none") -> Backbone:
    """The registered backbone ``name``, initialised from ``init``."""
    return BACKBONES.get(name)(init)
