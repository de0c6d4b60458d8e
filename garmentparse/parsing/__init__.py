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

_EXPORTS: dict[str, str] = {
    "load_segmenter": "garmentparse.parsing.api",
    "segmenter_from_checkpoint": "garmentparse.parsing.api",
    "train_detector": "garmentparse.parsing.api",
    "BackboneSpec": "garmentparse.parsing.backbones",
    "coco_api": "garmentparse.parsing.cocoapi",
    "part_classes": "garmentparse.parsing.cocoapi",
    "coco_metrics": "garmentparse.parsing.evaluate",
    "evaluate_detector": "garmentparse.parsing.evaluate",
    "evaluate_segmenter": "garmentparse.parsing.evaluate",
    "build_model": "garmentparse.parsing.model",
    "enable_bf16": "garmentparse.parsing.model",
    "initialise": "garmentparse.parsing.model",
    "PredictSummary": "garmentparse.parsing.predict",
    "predict_folder": "garmentparse.parsing.predict",
    "BACKBONES": "garmentparse.parsing.registry",
    "BACKENDS": "garmentparse.parsing.registry",
    "available_backends": "garmentparse.parsing.registry",
    "TorchvisionSegmenter": "garmentparse.parsing.segmenter",
    "TrainResult": "garmentparse.engine.loop",
    "Segmenter": "garmentparse.structures",
}

__all__ = sorted(["ConfigError", "DetectorConfig", "config_from_dict", "load_detector_config", *_EXPORTS])

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
