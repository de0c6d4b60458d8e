"""Multi-output attribute classifiers on garment crops (category, colour, sleeve length, ...).

One headless backbone (VGG16(-BN), ResNet, EfficientNet, MobileNet from torchvision; see
:data:`BACKBONES`), optionally a shared dense block, then one head per attribute
(:data:`HEADS`), single-label (softmax) or multi-label (sigmoid).

- :func:`train_classifier` - crop manifest -> RUN_DIR with ``model.pt``.
- :func:`evaluate_classifier` - per-head metrics, confusion matrices, TTA cost.
- :func:`load_classifier` -> :class:`TorchvisionClassifier`, an :class:`AttributeClassifier`
  (the protocol in :mod:`garmentparse.structures`) with ``predict(crops, parts, top_k, tta)``.

Names are imported on first use, so ``garmentparse.classifiers.config`` needs no torch.
"""

from __future__ import annotations

from garmentparse.classifiers.config import ClassifierConfig, HeadConfig, load_classifier_config
from garmentparse.lazy import lazy_exports

__getattr__ = lazy_exports(__name__, {
    "garmentparse.classifiers.backbones": ("BACKBONES", "Backbone", "build_backbone"),
    "garmentparse.classifiers.evaluate": ("EvalResult", "evaluate_classifier"),
    "garmentparse.classifiers.model": ("HEADS", "MultiHeadClassifier", "masked_losses"),
    "garmentparse.classifiers.predict": ("TorchvisionClassifier", "classifier_from_checkpoint", "load_classifier",
                                          "restrict_to_parts"),
    "garmentparse.classifiers.train": ("train_classifier",),
    "garmentparse.engine.loop": ("TrainResult",),
    "garmentparse.structures": ("AttributeClassifier",),
})


__all__ = [
    "BACKBONES", "HEADS", "AttributeClassifier", "Backbone", "ClassifierConfig", "EvalResult",
    "HeadConfig", "MultiHeadClassifier", "TorchvisionClassifier", "TrainResult", "build_backbone",
    "classifier_from_checkpoint", "evaluate_classifier", "load_classifier", "load_classifier_config", "masked_losses",
    "restrict_to_parts", "train_classifier",
]
