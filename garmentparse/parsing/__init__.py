"""Parsing (detection) stage: Mask R-CNN garment segmentation - train, evaluate, predict.

Public API::

    cfg = load_detector_config("configs/detection/tiny.yaml", ["solver.max_iter=50"])
    result = train_detector(cfg, "train.json", "images/", "runs/det")
    metrics = evaluate_detector(result.model_path, "val.json", "images/")
    seg = load_segmenter(result.model_path, device="auto", amp=True)
    detections = seg.predict([rgb_uint8_array], score_threshold=0.5)

Backends (:data:`BACKENDS`): ``torchvision`` (default) and ``detectron2`` (any detectron2
config; used where ``import detectron2`` works, tested where the vendored wheel is installed).
Backbones (:data:`BACKBONES`): ``resnet50_fpn``, ``resnet50_fpn_v2``, ``resnet101_fpn``,
``resnet18_fpn``, ``mobilenet_v3_large_fpn``, ``lite0_fpn`` (ImageNet weights offline:
``model.init: lite0``).

Modules import one way: ``registry`` (names only) <- ``backbones``, ``model``, ``segmenter``
<- ``backends/*`` (each registers itself; imports the segmenter and the train function)
and ``api`` (looks backends up) <- ``evaluate``, ``predict``.

Names are imported on first use, so ``garmentparse.parsing.config`` needs no torch.
"""

from __future__ import annotations

from garmentparse.lazy import lazy_exports
from garmentparse.parsing.config import (ConfigError, DetectorConfig, config_from_dict,
                                         load_detector_config)

__getattr__ = lazy_exports(__name__, {
    "garmentparse.parsing.api": ("load_segmenter", "segmenter_from_checkpoint", "train_detector"),
    "garmentparse.parsing.backbones": ("BackboneSpec",),
    "garmentparse.parsing.cocoapi": ("coco_api", "part_classes"),
    "garmentparse.parsing.evaluate": ("coco_metrics", "evaluate_detector", "evaluate_segmenter"),
    "garmentparse.parsing.model": ("build_model", "enable_bf16", "initialise"),
    "garmentparse.parsing.predict": ("PredictSummary", "predict_folder"),
    "garmentparse.parsing.registry": ("BACKBONES", "BACKENDS", "available_backends"),
    "garmentparse.parsing.segmenter": ("TorchvisionSegmenter",),
    "garmentparse.engine.loop": ("TrainResult",),
    "garmentparse.structures": ("Segmenter",),
})

__all__ = [
    "BACKBONES", "BACKENDS", "BackboneSpec", "ConfigError", "DetectorConfig", "PredictSummary",
    "Segmenter", "TorchvisionSegmenter", "TrainResult", "available_backends", "build_model",
    "coco_api", "coco_metrics", "config_from_dict", "enable_bf16", "evaluate_detector",
    "evaluate_segmenter", "initialise", "load_detector_config", "load_segmenter", "part_classes",
    "predict_folder", "segmenter_from_checkpoint", "train_detector",
]
