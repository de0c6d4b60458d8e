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

_EXPORTS: dict[str, str] = {
    "BACKBONES": "garmentparse.classifiers.backbones",
    "Backbone": "garmentparse.classifiers.backbones",
    "build_backbone": "garmentparse.classifiers.backbones",
    "EvalResult": "garmentparse.classifiers.evaluate",
    "evaluate_classifier": "garmentparse.classifiers.evaluate",
    "HEADS": "garmentparse.classifiers.model",
    "MultiHeadClassifier": "garmentparse.classifiers.model",
    "masked_losses": "garmentparse.classifiers.model",
    "TorchvisionClassifier": "garmentparse.classifiers.predict",
    "load_classifier": "garmentparse.classifiers.predict",
    "classifier_from_checkpoint": "garmentparse.classifiers.predict",
    "restrict_to_parts": "garmentparse.classifiers.predict",
    "train_classifier": "garmentparse.classifiers.train",
    "TrainResult": "garmentparse.engine.loop",
    "AttributeClassifier": "garmentparse.structures",
}


__all__ = sorted(["ClassifierConfig", "HeadConfig", "load_classifier_config", *_EXPORTS])

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
