"""The multi-output model: a headless backbone, an optional shared dense block, one head per
attribute in an ``nn.ModuleDict``; ``forward`` returns logits keyed by attribute."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from garmentparse.classifiers.backbones import IMAGENET_MEAN, IMAGENET_STD, Backbone, build_backbone
from garmentparse.classifiers.config import ClassifierConfig
from garmentparse.registry import Registry

HeadFactory = Callable[..., nn.Module]
HEADS: Registry[HeadFactory] = Registry("head")


@HEADS.register("linear")
def linear_head(in_dim: int, n_classes: int, *, dropout: float = 0.2, hidden: int = 0) -> nn.Module:
    """Dropout then one linear layer."""
    return nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, n_classes))


@HEADS.register("mlp")
def mlp_head(in_dim: int, n_classes: int, *, dropout: float = 0.2, hidden: int = 256) -> nn.Module:
    """A small branch of its own: linear -> ReLU -> dropout -> linear."""
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
                         nn.Linear(hidden, n_classes))


class MultiHeadClassifier(nn.Module):
    """``backbone -> [shared dense block] -> {attribute: head}``.

    ``split="pooled"`` puts every head directly on the pooled features; ``"shared_dense"``
    puts a shared Linear-BN-ReLU-Dropout block between them (the two K-Fashion variants).
    ``mean``/``std``: the input normalisation callers apply before ``forward``
    (:func:`garmentparse.classifiers.data.normalise`); plain attributes, not state.
    """

    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD

    def __init__(self, backbone: Backbone, head_sizes: dict[str, int], *,
                 split: str = "pooled", shared_dim: int = 512, shared_dropout: float = 0.3,
                 head_types: dict[str, str] | None = None, head_kwargs: dict[str, dict] | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        if split == "shared_dense":
            self.shared: nn.Module = nn.Sequential(
                nn.Linear(backbone.out_dim, shared_dim), nn.BatchNorm1d(shared_dim),
                nn.ReLU(inplace=True), nn.Dropout(shared_dropout))
            in_dim = shared_dim
        elif split == "pooled":
            self.shared = nn.Identity()
            in_dim = backbone.out_dim
        else:
            raise ValueError(f"unknown split {split!r}: use 'pooled' or 'shared_dense'")
        head_types = head_types or {}
        head_kwargs = head_kwargs or {}
        self.heads = nn.ModuleDict({
            name: HEADS.get(head_types.get(name, "linear"))(in_dim, n, **head_kwargs.get(name, {}))
            for name, n in head_sizes.items()
        })

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 (B, 3, H, W) -> the float input this network expects."""
        from garmentparse.classifiers.data import normalise

        return normalise(x, self.mean, self.std)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        shared = self.shared(self.backbone(x))
        return {name: head(shared) for name, head in self.heads.items()}

    @classmethod
    def from_config(cls, config: ClassifierConfig, vocabulary: dict[str, list[str]],
                    init: str | None = None) -> MultiHeadClassifier:
        """Build from a config and the class lists; ``init`` overrides ``model.init``."""
        m = config.model
        backbone = build_backbone(m.backbone, m.init if init is None else init)
        if m.bn_momentum is not None:
            for module in backbone.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.momentum = m.bn_momentum
        model = cls(
            backbone, {h.attribute: len(vocabulary[h.attribute]) for h in m.heads},
            split=m.split, shared_dim=m.shared_dim, shared_dropout=m.shared_dropout,
            head_types={h.attribute: h.type for h in m.heads},
            head_kwargs={h.attribute: {"dropout": h.dropout, "hidden": h.hidden} for h in m.heads},
        )
        model.mean, model.std = config.normalization()
        return model


def masked_losses(logits: dict[str, torch.Tensor], targets: dict[str, torch.Tensor],
                  multi_label: dict[str, bool], label_smoothing: float = 0.0) -> dict[str, torch.Tensor]:
    """Per-head mean loss over the samples that carry a label; 0 for a head with none.

    Single-label targets are class indices with ``-1`` for a missing label (cross-entropy
    with ``ignore_index``); multi-label targets are multi-hot rows, all ``-1`` when missing
    (binary cross-entropy on the labelled rows only). Missing labels never add to the loss.
    """
    out: dict[str, torch.Tensor] = {}
    for name, logit in logits.items():
        target = targets[name]
        logit = logit.float()
        if multi_label[name]:
            labelled = target[:, 0] >= 0
            if labelled.any():
                out[name] = F.binary_cross_entropy_with_logits(logit[labelled], target[labelled].float())
            else:
                out[name] = logit.sum() * 0.0
        else:
            if (target >= 0).any():
                out[name] = F.cross_entropy(logit, target, ignore_index=-1, label_smoothing=label_smoothing)
            else:
                out[name] = logit.sum() * 0.0
    return out
