"""The classifier config schema, validated by the shared :func:`garmentparse.config.load_config`.

YAML files live in ``configs/classification/``; variants name a ``_base_`` and hold only
their changes, and any key can be overridden with ``--set section.key=value``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from garmentparse import vocab
from garmentparse.config import ConfigError, Renamed, load_config
from garmentparse.engine.config import TrainConfig

COLOUR_HEADS = ("colour", "sub_colour")
TTA_MODES = ("hflip", "crops")


@dataclass
class HeadConfig:
    """One output head: an attribute of :data:`garmentparse.vocab.ATTRIBUTES`."""

    attribute: str
    multi_label: bool | None = None  # None: as the vocabulary says (print/material/detail: multi)
    type: str = "linear"  # a name in HEADS: linear | mlp
    hidden: int = 256  # mlp only
    dropout: float = 0.2
    loss_weight: float = 1.0
    threshold: float = 0.5  # multi-label: a value is "on" at or above this probability

    def __post_init__(self) -> None:
        if self.attribute not in vocab.ATTRIBUTES:
            raise ValueError(f"head attribute {self.attribute!r} is not one of {list(vocab.ATTRIBUTES)}")
        if self.multi_label is None:
            self.multi_label = vocab.ATTRIBUTES[self.attribute].multi_label


@dataclass
class ModelConfig:
    backbone: str = "resnet50"  # a name in BACKBONES
    init: str = "none"  # none | imagenet (downloads torchvision weights) | lite0 (offline: efficientnet_lite0) | path to a local file
    bn_momentum: float | None = None  # override the backbone's BatchNorm momentum (None: torchvision's)
    split: Literal["pooled", "shared_dense"] = "pooled"  # where the heads branch off
    shared_dim: int = 512  # width of the shared dense block (split: shared_dense)
    shared_dropout: float = 0.3
    classes: Literal["seen", "all"] = "seen"  # class lists: values seen in training, or the whole vocabulary
    # model.init is a classifier checkpoint: start from all of it (trunk and the heads it has, with
    # its class lists) instead of its trunk only: continued training, as `retrain` does
    warm_start: bool = False
    heads: list[HeadConfig] = field(default_factory=lambda: [
        HeadConfig("category"), HeadConfig("colour"), HeadConfig("sleeve_length"),
        HeadConfig("neckline"), HeadConfig("fit"), HeadConfig("print"),
    ])

    def __post_init__(self) -> None:
        names = [h.attribute for h in self.heads]
        if not names:
            raise ValueError("model.heads is empty: configure at least one attribute")
        if len(set(names)) != len(names):
            raise ValueError(f"model.heads names an attribute twice: {names}")


@dataclass
class DataConfig:
    input_size: int = 224  # network input (crops are letterboxed to this square)
    # input normalisation (RGB in 0..1); None: the backbone's (ImageNet's, or 0.5/0.5 for Lite0).
    # Training writes the resolved values into the run's config and checkpoint, so `tag` uses them.
    mean: list[float] | None = None
    std: list[float] | None = None
    crop_size: int | None = None  # size the crops were cut at; None: read from the crop files
    crop_background: Literal["white", "black", "keep"] = "white"  # what the crops were cut with (crop --background)
    crop_region: Literal["garment", "photo", "person"] = "garment"  # what a crop shows (crop --level/--region)
    val_fraction: float = 0.1  # held out by image when no --val-manifest is given (0: none)
    balance_head: str | None = "category"  # oversample rare classes of this head (None: off)
    balance_power: float = 0.5  # sample weight = 1 / count**power (1: fully balanced)
    cache: bool = True  # decode every crop once into memory at input size
    workers: int = 2  # DataLoader worker processes (0: main process)


@dataclass
class AugmentConfig:
    hflip: float = 0.5  # probability
    rotate: float = 10.0  # max degrees
    scale_min: float = 0.7  # random resized crop: smallest area fraction (1: off)
    brightness: float = 0.1  # colour jitter kept small so black/gray/white stay themselves
    contrast: float = 0.1
    saturation: float = 0.0  # must be 0 while a colour head is trained
    hue: float = 0.0  # must be 0 while a colour head is trained
    jitter_p: float = 0.5


@dataclass
class SolverConfig:
    lr: float = 1e-3
    backbone_lr_mult: float = 1.0  # e.g. 0.1 for a pretrained backbone
    weight_decay: float = 0.05
    t0_epochs: int = 10  # SGDR: first cycle length (epochs)
    t_mult: int = 2  # SGDR: each cycle this many times longer
    eta_min: float = 1e-6
    batch_size: int = 64
    label_smoothing: float = 0.0


MONITORS = ("accuracy", "loss")


@dataclass
class ClassifierTrainConfig(TrainConfig):
    """The shared ``train:`` section (:class:`garmentparse.engine.config.TrainConfig`) with the
    classifier's defaults (periods 0: once per epoch; validation every epoch) and its own keys."""

    epochs: int = 60
    grad_clip: float | None = 5.0
    patience: int = 10  # epochs (validations) without improvement
    monitor: str = "accuracy"  # accuracy: mean head accuracy | loss: total loss, on validation
    channels_last: bool = True  # CUDA only

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.monitor not in MONITORS:
            raise ValueError(f"key 'train.monitor': {self.monitor!r} is not one of {list(MONITORS)}")
        if self.epochs < 1:
            raise ValueError("key 'train.epochs': must be >= 1")


def _minutes_to_seconds(minutes: Any) -> float:
    return 0.0 if minutes is None else float(minutes) * 60


@dataclass
class EvalConfig:
    batch_size: int = 64
    top_k: int = 3
    tta: list[str] = field(default_factory=lambda: ["hflip"])  # hflip and/or crops (5 crops)
    part_restrict: bool = True  # zero categories that do not belong to the crop's part

    def __post_init__(self) -> None:
        bad = [m for m in self.tta if m not in TTA_MODES]
        if bad:
            raise ValueError(f"eval.tta: unknown mode(s) {bad}; use {list(TTA_MODES)}")


@dataclass
class ClassifierConfig:
    """Everything that defines one classifier run; saved resolved in RUN_DIR and the checkpoint."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    solver: SolverConfig = field(default_factory=SolverConfig)
    train: ClassifierTrainConfig = field(default_factory=ClassifierTrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    RENAMED: ClassVar[Renamed] = {"data.seed": "train.seed",
                                  "train.max_minutes": ("train.time_budget_s", _minutes_to_seconds)}

    def __post_init__(self) -> None:
        colour_heads = [h.attribute for h in self.model.heads if h.attribute in COLOUR_HEADS]
        if colour_heads and (self.augment.hue or self.augment.saturation):
            raise ValueError(
                f"augment.hue/saturation must be 0 while a colour head is trained ({colour_heads}): "
                "a hue or saturation shift can change the colour class of the crop")
        names = [h.attribute for h in self.model.heads]
        if self.data.balance_head is not None and self.data.balance_head not in names:
            raise ValueError(f"data.balance_head {self.data.balance_head!r} is not a head ({names})")
        if not 0.0 <= self.data.val_fraction < 1.0:
            raise ValueError("data.val_fraction must be in [0, 1)")
        for key in ("mean", "std"):
            value = getattr(self.data, key)
            if value is not None and (len(value) != 3 or (key == "std" and min(value) <= 0)):
                raise ValueError(f"data.{key} must be three numbers (RGB, 0..1 scale)"
                                 + (", all > 0" if key == "std" else ""))

    def normalization(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """(mean, std) the network's inputs are normalised with: ``data.mean``/``data.std``, or
        the backbone's own (old checkpoints, which record neither, get torchvision's ImageNet
        values, what they were trained with)."""
        from garmentparse.classifiers.backbones import normalization

        mean, std = normalization(self.model.backbone)
        return (tuple(self.data.mean) if self.data.mean is not None else mean,
                tuple(self.data.std) if self.data.std is not None else std)

    def head(self, attribute: str) -> HeadConfig:
        return next(h for h in self.model.heads if h.attribute == attribute)


def load_classifier_config(path: str | Path | None = None,
                           overrides: list[str] | None = None) -> ClassifierConfig:
    """A :class:`ClassifierConfig` from YAML (``_base_`` chain) plus ``--set`` overrides."""
    return load_config(ClassifierConfig, path, overrides)


__all__ = ["ClassifierConfig", "ModelConfig", "HeadConfig", "DataConfig", "AugmentConfig",
           "SolverConfig", "ClassifierTrainConfig", "EvalConfig", "ConfigError", "load_classifier_config"]
