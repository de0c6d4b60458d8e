"""The torchvision Mask R-CNN backend: the default, tested on CPU in CI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from garmentparse.checkpoint import Checkpoint
from garmentparse.parsing.config import DetectorConfig
from garmentparse.parsing.model import build_model
from garmentparse.parsing.registry import BACKENDS
from garmentparse.parsing.segmenter import TorchvisionSegmenter
from garmentparse.parsing.train import TrainResult, train_torchvision


class TorchvisionBackend:
    """Trains with :func:`~garmentparse.parsing.train.train_torchvision`; loads a
    :class:`~garmentparse.parsing.segmenter.TorchvisionSegmenter`."""

    name = "torchvision"

    def available(self) -> bool:
        return True

    def train(self, cfg: DetectorConfig, train_json: Path, images_dir: Path, out_dir: Path,
              **kwargs: Any) -> TrainResult:
        return train_torchvision(cfg, train_json, images_dir, out_dir, **kwargs)

    def load(self, ckpt: Checkpoint, cfg: DetectorConfig, device: torch.device, amp: bool,
             batch_size: int | None) -> TorchvisionSegmenter:
        class_names = list(ckpt.vocabulary["part"])
        model = build_model(cfg, len(class_names) + 1)
        model.load_state_dict(ckpt.state_dict)
        return TorchvisionSegmenter(model, class_names, cfg, device, amp, batch_size)


BACKENDS.register("torchvision")(TorchvisionBackend())
