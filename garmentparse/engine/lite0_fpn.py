"""A feature pyramid over ImageNet EfficientNet-Lite0 stages, for torchvision's Mask R-CNN.

:func:`build_lite0_fpn` returns a module that maps a normalised image batch to the
``OrderedDict`` torchvision's detection heads read: levels ``"0"``-``"3"`` (strides 4, 8, 16, 32
from Lite0 stages ``blocks.1``, ``blocks.2``, ``blocks.4``, ``blocks.6``: 24, 40, 112, 320
channels) and ``"pool"`` (stride 64, :class:`LastLevelMaxPool`), all ``out_channels`` wide, so
it drops into ``torchvision.models.detection.MaskRCNN(backbone, num_classes,
**maskrcnn_normalization())`` with the default anchor generator and RoI poolers.
The Lite0 weights load offline (:mod:`garmentparse.engine.pretrained`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn
from torchvision.ops.feature_pyramid_network import FeaturePyramidNetwork, LastLevelMaxPool

from .pretrained import LITE0_HEAD_PREFIXES, LITE0_MEAN, LITE0_STD, build_lite0, lite0_state_dict, load_lite0_weights

Norm = Literal["frozen_bn", "bn"]

# Trainable units of the Lite0 body, input side first: the stem, then the seven block stages.
LITE0_UNITS: tuple[str, ...] = ("stem", *(f"blocks.{i}" for i in range(7)))
# Default when pretrained: freeze what runs at strides 2 and 4 (stem, blocks.0, blocks.1), as
# torchvision freezes conv1 + layer1 of a ResNet (its trainable_layers=3 of 5).
PRETRAINED_TRAINABLE_STAGES = 5
FEATURE_INDICES = (1, 2, 3, 4)  # timm out_indices: strides 4, 8, 16, 32


class Lite0FPN(nn.Module):
    """Lite0 feature stages + FPN; ``out_channels`` is what torchvision's ``MaskRCNN`` reads."""

    def __init__(self, body: nn.Module, in_channels: Sequence[int], fpn_channels: int) -> None:
        super().__init__()
        self.body = body
        self.fpn = FeaturePyramidNetwork(list(in_channels), fpn_channels, extra_blocks=LastLevelMaxPool())
        self.out_channels = fpn_channels

    def forward(self, images: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        features = self.body(images)
        return self.fpn(OrderedDict((str(i), f) for i, f in enumerate(features)))


def _unit(name: str) -> str:
    """The :data:`LITE0_UNITS` entry a body parameter belongs to."""
    if name.startswith("blocks."):
        return ".".join(name.split(".")[:2])
    return "stem"  # conv_stem, bn1


def freeze_units(body: nn.Module, trainable_stages: int) -> list[str]:
    """Stop gradients to all but the last ``trainable_stages`` of :data:`LITE0_UNITS`;
    returns the trainable units."""
    if not 0 <= trainable_stages <= len(LITE0_UNITS):
        raise ValueError(f"trainable_stages must be 0..{len(LITE0_UNITS)}, got {trainable_stages}")
    trainable = list(LITE0_UNITS[len(LITE0_UNITS) - trainable_stages:])
    for name, param in body.named_parameters():
        param.requires_grad_(_unit(name) in trainable)
    return trainable


def build_lite0_fpn(pretrained: bool = True, *, fpn_channels: int = 256,
                    trainable_stages: int | None = None, norm: Norm | None = None) -> Lite0FPN:
    """The Lite0-FPN backbone.

    ``trainable_stages``: how many of the 8 units (stem, blocks.0 .. blocks.6) train, counted
    from the output side; ``None`` = 5 if ``pretrained`` else all 8. ``norm``: ``frozen_bn``
    (BatchNorm statistics and affine fixed, the usual choice with pretrained weights and small
    detection batches) or ``bn``; ``None`` = ``frozen_bn`` if ``pretrained`` else ``bn``.
    """
    from timm.layers import freeze_batch_norm_2d

    norm = norm or ("frozen_bn" if pretrained else "bn")
    if norm not in ("frozen_bn", "bn"):
        raise ValueError(f"norm must be frozen_bn or bn, got {norm!r}")
    body = build_lite0(pretrained, features_only=True, out_indices=FEATURE_INDICES)
    in_channels = body.feature_info.channels()
    if trainable_stages is None:
        trainable_stages = PRETRAINED_TRAINABLE_STAGES if pretrained else len(LITE0_UNITS)
    freeze_units(body, trainable_stages)
    if norm == "frozen_bn":
        body = freeze_batch_norm_2d(body)
    return Lite0FPN(body, in_channels, fpn_channels)


def load_lite0_body(body: nn.Module) -> int:
    """Load the packaged ImageNet Lite0 weights into a Lite0-FPN ``body`` built without them
    (BatchNorm trainable or already frozen: frozen ones keep no ``num_batches_tracked``).
    Exact like :func:`~garmentparse.engine.pretrained.load_lite0_weights`: every tensor of
    ``body`` filled, nothing but the ImageNet head left over. Returns the tensors loaded."""
    own = body.state_dict()
    state = lite0_state_dict()
    if not any(k.endswith("num_batches_tracked") for k in own):
        state = OrderedDict((k, v) for k, v in state.items() if not k.endswith("num_batches_tracked"))
    load_lite0_weights(body, state)
    return sum(1 for k in state if not k.startswith(LITE0_HEAD_PREFIXES))


def maskrcnn_normalization() -> dict[str, list[float]]:
    """``image_mean`` / ``image_std`` for torchvision's ``MaskRCNN`` (its transform normalises)
    so a Lite0 backbone sees the preprocessing it was trained with."""
    return {"image_mean": list(LITE0_MEAN), "image_std": list(LITE0_STD)}


__all__ = ["FEATURE_INDICES", "LITE0_UNITS", "Lite0FPN", "PRETRAINED_TRAINABLE_STAGES", "build_lite0_fpn",
           "freeze_units", "load_lite0_body", "maskrcnn_normalization"]
