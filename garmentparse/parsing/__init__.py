"""Parsing (detection) stage: Mask R-CNN garment segmentation - train, evaluate, predict.

Public API::

    cfg = load_detector_config("configs/detection/tiny.yaml", ["solver.max_iter=50"])
    result = train_detector(cfg, "train.json", "images/", "runs/det")
    metrics = evaluate_detector(result.model_path, "val.json", "images/")
    seg = load_segmenter(result.model_path, device="auto", amp=True)
    detections = seg.predict([rgb_uint8_array], score_threshold=0.5)

Backends (:data:`BACKENDS`): ``torchvision`` (default) and ``detectron2`` (optional, used only
where ``import detectron2`` works; untested here). Backbones (:data:`BACKBONES`):
``resnet50_fpn``, ``resnet50_fpn_v2``, ``resnet101_fpn``, ``resnet18_fpn``,
``mobilenet_v3_large_fpn``.

Names are imported on first use, so ``garmentparse.parsing.config`` needs no torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from garmentparse.lazy import lazy_exports
from garmentparse.parsing.config import (ConfigError, DetectorConfig, config_from_dict,
                                         load_detector_config)
from garmentparse.progress import ProgressCallback

__getattr__ = lazy_exports(__name__, {
    "garmentparse.parsing.backbones": ("BACKBONES", "BackboneSpec"),
    "garmentparse.parsing.backends": ("BACKENDS", "available_backends"),
    "garmentparse.parsing.evaluate": ("coco_metrics", "evaluate_detector", "evaluate_segmenter"),
    "garmentparse.parsing.model": ("build_model", "enable_bf16", "initialise"),
    "garmentparse.parsing.predict": ("PredictSummary", "predict_folder"),
    "garmentparse.parsing.segmenter": ("Segmenter", "TorchvisionSegmenter", "load_segmenter",
                                       "segmenter_from_checkpoint"),
    "garmentparse.engine.loop": ("TrainResult",),
})


def train_detector(cfg: DetectorConfig, train_json: str | Path, images_dir: str | Path,
                   out_dir: str | Path, *, val_json: str | Path | None = None,
                   val_images: str | Path | None = None, device: str = "auto", resume: bool = False,
                   on_progress: ProgressCallback | None = None) -> Any:
    """Train the backend ``cfg.model.backend`` names; writes the run folder ``out_dir``
    (``config.yaml``, ``metrics.jsonl``, ``last.pt``, ``model.pt``, ``eval.json``) and returns
    a :class:`~garmentparse.engine.loop.TrainResult`."""
    from garmentparse.parsing.backends import BACKENDS

    backend = BACKENDS.get(cfg.model.backend)
    return backend.train(cfg, Path(train_json), Path(images_dir), Path(out_dir), val_json=val_json,
                         val_images=val_images, device=device, resume=resume, on_progress=on_progress)


__all__ = [
    "BACKBONES", "BACKENDS", "BackboneSpec", "ConfigError", "DetectorConfig", "PredictSummary",
    "Segmenter", "TorchvisionSegmenter", "TrainResult", "available_backends", "build_model",
    "coco_metrics", "config_from_dict", "enable_bf16", "evaluate_detector", "evaluate_segmenter",
    "initialise", "load_detector_config", "load_segmenter", "predict_folder",
    "segmenter_from_checkpoint", "train_detector",
]
