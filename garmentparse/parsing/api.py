"""Detector entry points that go through the backend registry: load a checkpoint as a
segmenter, train the backend a config names."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from garmentparse.checkpoint import Checkpoint, load_checkpoint, resolve_device
from garmentparse.parsing.config import DetectorConfig, config_from_dict, with_test_overrides
from garmentparse.parsing.registry import BACKENDS
from garmentparse.progress import ProgressCallback
from garmentparse.structures import Segmenter

if TYPE_CHECKING:
    from garmentparse.engine.loop import TrainResult


def segmenter_from_checkpoint(ckpt: Checkpoint, device: str | torch.device = "auto", amp: bool = True,
                              batch_size: int | None = None, duplicate_iou: float | None = None,
                              fill_holes: float | None = None) -> Segmenter:
    """Rebuild the segmenter a checkpoint describes, with the backend its config names.
    ``duplicate_iou`` / ``fill_holes`` replace the config's ``test.duplicate_iou`` /
    ``test.fill_holes`` (``None``: the checkpoint's, or the default for one saved before them)."""
    cfg = with_test_overrides(config_from_dict(ckpt.config), duplicate_iou=duplicate_iou, fill_holes=fill_holes)
    return BACKENDS.get(cfg.model.backend).load(ckpt, cfg, resolve_device(str(device)), amp, batch_size)


def load_segmenter(path: str | Path, device: str = "auto", amp: bool = True,
                   batch_size: int | None = None, duplicate_iou: float | None = None,
                   fill_holes: float | None = None) -> Segmenter:
    """Load ``model.pt`` (weights + config + vocabulary) as a ready segmenter (overrides as
    :func:`segmenter_from_checkpoint`)."""
    return segmenter_from_checkpoint(load_checkpoint(path, expect_kind="detector"), device, amp, batch_size,
                                     duplicate_iou, fill_holes)


def train_detector(cfg: DetectorConfig, train_json: str | Path, images_dir: str | Path,
                   out_dir: str | Path, *, val_json: str | Path | None = None,
                   val_images: str | Path | None = None, device: str = "auto", resume: bool = False,
                   on_progress: ProgressCallback | None = None) -> TrainResult:
    """Train the backend ``cfg.model.backend`` names; writes the run folder ``out_dir``
    (``config.yaml``, ``metrics.jsonl``, ``last.pt``, ``model.pt``, ``eval.json``)."""
    backend = BACKENDS.get(cfg.model.backend)
    return backend.train(cfg, Path(train_json), Path(images_dir), Path(out_dir), val_json=val_json,
                         val_images=val_images, device=device, resume=resume, on_progress=on_progress)
