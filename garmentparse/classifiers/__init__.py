"""Multi-output attribute classifiers on garment crops (category, colour, sleeve length, ...).

One headless backbone (VGG16(-BN), ResNet, EfficientNet, MobileNet from torchvision; see
:data:`BACKBONES`), optionally a shared dense block, then one head per attribute
(:data:`HEADS`), single-label (softmax) or multi-label (sigmoid).

- :func:`train_classifier` - crop manifest -> RUN_DIR with ``model.pt``.
- :func:`evaluate_classifier` - per-head metrics, confusion matrices, TTA cost.
- :func:`load_classifier` -> :class:`AttributeClassifier` with ``predict(crops, parts, top_k, tta)``.

Names are imported on first use, so ``garmentparse.classifiers.config`` needs no torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from garmentparse.classifiers.config import ClassifierConfig, HeadConfig, load_classifier_config

_LAZY = {
    "garmentparse.classifiers.backbones": ("BACKBONES", "Backbone", "build_backbone"),
    "garmentparse.classifiers.evaluate": ("EvalResult", "evaluate_classifier"),
    "garmentparse.classifiers.model": ("HEADS", "MultiHeadClassifier", "masked_losses"),
    "garmentparse.classifiers.predict": ("AttributeClassifier", "load_classifier", "restrict_to_parts"),
    "garmentparse.classifiers.train": ("train_classifier",),
    "garmentparse.engine.loop": ("TrainResult",),
}
_HOME = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(_HOME[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BACKBONES", "HEADS", "AttributeClassifier", "Backbone", "ClassifierConfig", "EvalResult",
    "HeadConfig", "MultiHeadClassifier", "TrainResult", "build_backbone", "evaluate_classifier",
    "load_classifier", "load_classifier_config", "masked_losses", "restrict_to_parts",
    "train_classifier",
]
