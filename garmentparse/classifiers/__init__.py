"""Multi-output attribute classifiers on garment crops (category, colour, sleeve length, ...).

One headless backbone (VGG16(-BN), ResNet, EfficientNet, MobileNet from torchvision; see
:data:`BACKBONES`), optionally a shared dense block, then one head per attribute
(:data:`HEADS`), single-label (softmax) or multi-label (sigmoid).

- :func:`train_classifier` - crop manifest -> RUN_DIR with ``model.pt``.
- :func:`evaluate_classifier` - per-head metrics, confusion matrices, TTA cost.
- :func:`load_classifier` -> :class:`TorchvisionClassifier`, an :class:`AttributeClassifier`
  (the protocol in :mod:`garmentparse.structures`) with ``predict(crops, parts, top_k, tta)``.
"""

from garmentparse.classifiers.backbones import BACKBONES, Backbone, build_backbone
from garmentparse.classifiers.config import ClassifierConfig, HeadConfig, load_classifier_config
from garmentparse.classifiers.evaluate import EvalResult, evaluate_classifier
from garmentparse.classifiers.model import HEADS, MultiHeadClassifier, masked_losses
from garmentparse.classifiers.predict import TorchvisionClassifier, load_classifier, restrict_to_parts
from garmentparse.classifiers.train import TrainResult, train_classifier
from garmentparse.structures import AttributeClassifier

__all__ = [
    "BACKBONES", "HEADS", "AttributeClassifier", "Backbone", "ClassifierConfig", "EvalResult",
    "HeadConfig", "MultiHeadClassifier", "TorchvisionClassifier", "TrainResult", "build_backbone",
    "evaluate_classifier", "load_classifier", "load_classifier_config", "masked_losses",
    "restrict_to_parts", "train_classifier",
]
