"""The parsing stage's extension points, by name: detector backends and backbones.

Implementations register themselves in their own modules (``parsing/backends/*.py``,
``parsing/backbones.py``), which the registries import on their first lookup; naming an entry
imports nothing heavy, and this module imports no implementation (no import cycle).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from garmentparse.registry import Registry

if TYPE_CHECKING:
    import torch

    from garmentparse.checkpoint import Checkpoint
    from garmentparse.parsing.backbones import BackboneSpec
    from garmentparse.parsing.config import DetectorConfig
    from garmentparse.structures import Segmenter


class Backend(Protocol):
    """Trains a detector from a config into a garmentparse checkpoint, and loads one back."""

    name: str

    def available(self) -> bool: ...

    def train(self, cfg: DetectorConfig, train_json: Path, images_dir: Path, out_dir: Path,
              **kwargs: Any) -> Any: ...

    def load(self, ckpt: Checkpoint, cfg: DetectorConfig, device: torch.device, amp: bool,
             batch_size: int | None) -> Segmenter: ...


BACKENDS: Registry[Backend] = Registry("backend", providers=[
    "garmentparse.parsing.backends.torchvision", "garmentparse.parsing.backends.detectron2"])
BACKBONES: Registry[BackboneSpec] = Registry("backbone", providers=["garmentparse.parsing.backbones"])


def available_backends() -> list[str]:
    """Registered backends that can run in this environment."""
    return [n for n in BACKENDS.names() if BACKENDS.get(n).available()]
