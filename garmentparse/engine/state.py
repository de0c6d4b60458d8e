"""State-dict helpers: find the tensors in a saved file, load the ones that fit, copy to CPU."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn


@dataclass
class LoadReport:
    """What a partial load took: tensors matched, skipped (other shape) and not used."""

    source: str
    loaded: int = 0
    total: int = 0
    skipped_shape: list[str] = field(default_factory=list)
    unexpected: int = 0

    def summary(self) -> str:
        if self.source == "none":
            return "init none: random weights"
        text = f"init {self.source}: loaded {self.loaded}/{self.total} tensors"
        if self.skipped_shape:
            text += f", skipped {len(self.skipped_shape)} with other shapes ({', '.join(self.skipped_shape[:4])}"
            text += ", ...)" if len(self.skipped_shape) > 4 else ")"
        if self.unexpected:
            text += f", {self.unexpected} unused"
        return text


def unwrap_state(obj: Any, source: str) -> dict[str, torch.Tensor]:
    """The tensor dict inside a loaded file: a garmentparse checkpoint, ``{"state_dict": ...}``,
    ``{"model": ...}``, a module or a bare state dict; ``module.`` prefixes (DDP) removed."""
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if isinstance(obj, nn.Module):
        obj = obj.state_dict()
    if not isinstance(obj, dict) or not any(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f"{source}: not a state dict (no tensors found)")
    return {k.removeprefix("module."): v for k, v in obj.items() if isinstance(v, torch.Tensor)}


def load_matching(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> LoadReport:
    """Copy every tensor of ``state`` whose key and shape match ``model``; report the rest."""
    own = model.state_dict()
    report = LoadReport(source, total=len(own))
    take = {}
    for key, value in state.items():
        if key not in own:
            report.unexpected += 1
        elif tuple(own[key].shape) != tuple(value.shape):
            report.skipped_shape.append(key)
        else:
            take[key] = value
    if not take:
        raise ValueError(f"{source}: no tensor matches this model (keys like "
                         f"{', '.join(list(state)[:3])} vs {', '.join(list(own)[:3])})")
    model.load_state_dict(take, strict=False)
    report.loaded = len(take)
    return report


def cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A detached, contiguous CPU copy of ``model``'s state dict (for saving)."""
    return {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
