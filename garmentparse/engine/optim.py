"""Parameter groups and optimisers shared by the stages."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn


def param_groups(model: nn.Module, *, lr: float, weight_decay: float, weight_decay_norm: float = 0.0,
                 backbone_lr_mult: float = 1.0, backbone_prefix: str = "backbone.") -> list[dict]:
    """Trainable parameters in groups: norm weights and biases (tensors of <= 1 dimension) get
    ``weight_decay_norm``; with ``backbone_lr_mult != 1`` parameters under ``backbone_prefix``
    get ``lr * backbone_lr_mult``. Empty groups are left out."""
    groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    split = backbone_lr_mult != 1.0
    for name, p in model.named_parameters():
        if p.requires_grad:
            key = (split and name.startswith(backbone_prefix), p.ndim > 1)
            groups.setdefault(key, []).append(p)
    return [{"params": ps, "lr": lr * (backbone_lr_mult if backbone else 1.0),
             "weight_decay": weight_decay if decay else weight_decay_norm}
            for (backbone, decay), ps in sorted(groups.items(), key=lambda kv: (not kv[0][1], kv[0][0]))]


def make_optimizer(name: Literal["sgd", "adamw"], groups: list[dict], *, lr: float, momentum: float = 0.9,
                   betas: tuple[float, float] = (0.9, 0.999)) -> torch.optim.Optimizer:
    """SGD (with momentum) or AdamW with multi-tensor kernels (fused on CUDA)."""
    cuda = any(p.is_cuda for g in groups for p in g["params"])
    fast = {"fused": True} if cuda else {"foreach": True}
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=tuple(betas), **fast)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, **fast)
    raise ValueError(f"unknown optimizer {name!r}: use sgd or adamw")
