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

Modules import one way: ``registry`` (names only) <- ``backbones``, ``model``, ``segmenter``
<- ``backends/*`` (each registers itself; imports the segmenter and the train function)
and ``api`` (looks backends up) <- ``evaluate``, ``predict``.
"""

from __future__ import annotations

from garmentparse.parsing.api import load_segmenter, segmenter_from_checkpoint, train_detector
from garmentparse.parsing.backbones import BackboneSpec
from garmentparse.parsing.cocoapi import coco_api, part_classes
from garmentparse.parsing.config import (ConfigError, DetectorConfig, config_from_dict,
                                         load_detector_config)
from garmentparse.parsing.evaluate import coco_metrics, evaluate_detector, evaluate_segmenter
from garmentparse.parsing.model import build_model, enable_bf16, initialise
from garmentparse.parsing.predict import PredictSummary, predict_folder
from garmentparse.parsing.registry import BACKBONES, BACKENDS, available_backends
from garmentparse.parsing.segmenter import TorchvisionSegmenter
from garmentparse.parsing.train import TrainResult
from garmentparse.structures import Segmenter

__all__ = [
    "BACKBONES", "BACKENDS", "BackboneSpec", "ConfigError", "DetectorConfig", "PredictSummary",
    "Segmenter", "TorchvisionSegmenter", "TrainResult", "available_backends", "build_model",
    "coco_api", "coco_metrics", "config_from_dict", "enable_bf16", "evaluate_detector",
    "evaluate_segmenter", "initialise", "load_detector_config", "load_segmenter", "part_classes",
    "predict_folder", "segmenter_from_checkpoint", "train_detector",
]
