"""The detector config: nested dataclasses validated by :func:`garmentparse.config.load_config`.

Every key has a default, so a YAML file only names what it changes; ``_base_`` chains and
``--set section.key=value`` overrides come from the shared loader. Semantic checks (a
probability above 1, steps out of order, ...) raise errors naming the key; backend and
backbone names are checked when the model is built (their registries need torch).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from garmentparse.config import ConfigError, Renamed, dump_yaml, from_dict, load_config, to_dict
from garmentparse.engine.config import TrainConfig
from garmentparse.release import looks_like_name

INIT_CHOICES = ("none", "imagenet", "coco", "lite0")


def _check(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ValueError(f"key {key!r}: {message}")


@dataclass
class ModelConfig:
    """Architecture and post-processing."""

    backend: str = "torchvision"  # a name in BACKENDS
    backbone: str = "resnet50_fpn"  # a name in BACKBONES
    init: str = "none"  # none | imagenet | coco (downloads) | lite0 (offline, lite0_fpn) | a release model name | path/to/weights.pth
    norm: Literal["auto", "frozen_bn", "bn", "gn"] = "auto"  # auto: frozen_bn if pretrained else bn
    trainable_layers: int | None = None  # backbone stages trained; None: the backbone's default if pretrained (3; lite0_fpn 5), else all
    fpn_channels: int = 256  # FPN / RPN / RoI head feature width (256 = torchvision's layout)
    box_head_dim: int = 1024  # box head representation width
    mask_head_layers: list[int] = field(default_factory=lambda: [256, 256, 256, 256])
    rpn_pre_nms_top_n_train: int = 2000
    rpn_post_nms_top_n_train: int = 2000
    rpn_pre_nms_top_n_test: int = 1000
    rpn_post_nms_top_n_test: int = 1000
    rpn_batch_size_per_image: int = 256
    roi_batch_size_per_image: int = 512
    box_score_thresh: float = 0.05  # candidates kept by the model (eval wants them low)
    box_nms_thresh: float = 0.5
    detections_per_img: int = 50
    mask_threshold: float = 0.5
    detectron2_config: str = ""  # detectron2 backend: model-zoo path or local YAML ("" = by backbone)
    # detectron2 backend: extra detectron2 config keys, applied last (e.g. {"MODEL.RPN.IOU_THRESHOLDS": [0.3, 0.7]})
    detectron2_overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check(self.init in INIT_CHOICES or self.init.endswith((".pth", ".pt", ".pkl", ".bin")) or looks_like_name(self.init),
               "model.init", f"{self.init!r} is not none|imagenet|coco|lite0, a release model name or a weights file "
               "(.pth/.pt/.pkl/.bin)")
        _check(self.trainable_layers is None or 0 <= self.trainable_layers <= 8,
               "model.trainable_layers", "must be between 0 and 8 (resnets have 5 stages, lite0_fpn 8)")
        _check(len(self.mask_head_layers) >= 1 and all(c > 0 for c in self.mask_head_layers),
               "model.mask_head_layers", "needs at least one positive channel count")
        _check(self.fpn_channels >= 8, "model.fpn_channels", "must be >= 8")
        _check(0.0 <= self.box_score_thresh < 1.0, "model.box_score_thresh", "must be in [0, 1)")
        _check(0.0 < self.mask_threshold < 1.0, "model.mask_threshold", "must be in (0, 1)")
        _check(self.detections_per_img >= 1, "model.detections_per_img", "must be >= 1")


@dataclass
class InputConfig:
    """Resize done by the model (shortest side, capped longest side). Several train sizes =
    multi-scale training: one is drawn per batch."""

    min_size_train: list[int] = field(default_factory=lambda: [640, 672, 704, 736, 768, 800])
    max_size_train: int = 1333
    min_size_test: int = 800
    max_size_test: int = 1333

    def __post_init__(self) -> None:
        _check(len(self.min_size_train) >= 1 and min(self.min_size_train) >= 32,
               "input.min_size_train", "needs sizes >= 32")
        _check(self.max_size_train >= max(self.min_size_train), "input.max_size_train",
               "must be >= the largest input.min_size_train")
        _check(self.min_size_test >= 32, "input.min_size_test", "must be >= 32")
        _check(self.max_size_test >= self.min_size_test, "input.max_size_test",
               "must be >= input.min_size_test")


@dataclass
class AugmentConfig:
    """Albumentations applied to image, masks and boxes together (train only)."""

    hflip: float = 0.5  # probability
    scale_jitter: list[float] = field(default_factory=lambda: [0.8, 1.25])  # content zoom range
    scale_jitter_p: float = 0.5
    color_jitter_p: float = 0.8
    brightness: float = 0.2
    contrast: float = 0.2
    saturation: float = 0.2
    hue: float = 0.02
    min_mask_area: int = 16  # instances smaller than this (pixels) after augmentation are dropped

    def __post_init__(self) -> None:
        for name in ("hflip", "scale_jitter_p", "color_jitter_p"):
            _check(0.0 <= getattr(self, name) <= 1.0, f"augment.{name}", "probability must be in [0, 1]")
        _check(len(self.scale_jitter) == 2 and 0 < self.scale_jitter[0] <= self.scale_jitter[1],
               "augment.scale_jitter", "must be [low, high] with 0 < low <= high")
        _check(0.0 <= self.hue <= 0.5, "augment.hue", "must be in [0, 0.5]")


@dataclass
class DataConfig:
    """Loading and sampling of the training set."""

    batch_size: int = 2  # images per optimiser step over all processes (the global batch)
    workers: int = 2  # DataLoader worker processes (0 = main process), per training process
    sampler: Literal["uniform", "repeat_factor"] = "uniform"
    repeat_threshold: float = 0.3  # repeat-factor sampling (LVIS): t in r = max(1, sqrt(t / f_c))
    keep_empty_images: bool = False  # train on images without annotations (as negatives)
    # batches of landscape or of portrait photos only (less padding; detectron2's aspect-ratio grouping)
    aspect_grouping: bool = False

    def __post_init__(self) -> None:
        _check(self.batch_size >= 1, "data.batch_size", "must be >= 1")
        _check(self.workers >= 0, "data.workers", "must be >= 0")
        _check(0.0 < self.repeat_threshold <= 1.0, "data.repeat_threshold", "must be in (0, 1]")


@dataclass
class SolverConfig:
    """Optimiser and learning-rate schedule (iteration based)."""

    optimizer: Literal["sgd", "adamw"] = "sgd"
    base_lr: float = 0.02
    momentum: float = 0.9  # sgd
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])  # adamw
    weight_decay: float = 1e-4
    weight_decay_norm: float = 0.0  # for norm weights and biases
    max_iter: int = 1000
    warmup_iters: int = 100
    warmup_factor: float = 0.001  # lr multiplier at iteration 0, rising linearly to 1
    schedule: Literal["cosine", "step"] = "cosine"
    steps: list[int] = field(default_factory=list)  # step schedule: iterations where lr *= gamma
    gamma: float = 0.1
    min_lr_factor: float = 0.0  # cosine: final lr = base_lr * min_lr_factor

    def __post_init__(self) -> None:
        _check(self.base_lr > 0, "solver.base_lr", "must be > 0")
        _check(self.max_iter >= 1, "solver.max_iter", "must be >= 1")
        _check(self.warmup_iters >= 0, "solver.warmup_iters", "must be >= 0")
        _check(0.0 < self.warmup_factor <= 1.0, "solver.warmup_factor", "must be in (0, 1]")
        _check(list(self.steps) == sorted(self.steps) and all(s > 0 for s in self.steps),
               "solver.steps", "must be increasing positive iterations")
        _check(len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas), "solver.betas",
               "must be two numbers in [0, 1)")
        _check(self.weight_decay >= 0 and self.weight_decay_norm >= 0, "solver.weight_decay",
               "must be >= 0")
        _check(0.0 <= self.min_lr_factor <= 1.0, "solver.min_lr_factor", "must be in [0, 1]")


MONITORS = ("bbox.AP", "bbox.AP50", "bbox.AP75", "segm.AP", "segm.AP50", "segm.AP75")


@dataclass
class DetectorTrainConfig(TrainConfig):
    """The shared ``train:`` section (:class:`garmentparse.engine.config.TrainConfig`) with
    the detector's defaults. ``amp`` also applies to evaluation and prediction; ``patience``
    counts evaluations on ``--val`` (every ``eval_period`` iterations)."""

    checkpoint_period: int = 500
    log_period: int = 20
    monitor: str = "segm.AP"  # bbox|segm . AP|AP50|AP75 on --val

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.checkpoint_period >= 1, "train.checkpoint_period", "must be >= 1")
        _check(self.log_period >= 1, "train.log_period", "must be >= 1")
        _check(self.monitor in MONITORS, "train.monitor", f"must be one of {list(MONITORS)}")


DUPLICATE_IOU = 0.5  # test.duplicate_iou default (to be chosen by measurement)
FILL_HOLES = 0.02  # test.fill_holes default


@dataclass
class TestConfig:
    """Inference defaults (evaluate / predict / Segmenter). A checkpoint saved before a key
    existed gets its default here."""

    batch_size: int = 4
    workers: int = 2  # image decoding processes for eval and predict
    score_threshold: float = 0.5  # Segmenter.predict / predict default; eval keeps all candidates
    # class-agnostic duplicate suppression after the model's per-class NMS: a detection whose
    # mask IoU with a higher-scoring one (any part) exceeds this is dropped; 0 = off
    duplicate_iou: float = DUPLICATE_IOU
    fill_holes: float = FILL_HOLES  # fill enclosed mask holes up to this fraction of the mask's area; 0 = off

    def __post_init__(self) -> None:
        _check(self.batch_size >= 1, "test.batch_size", "must be >= 1")
        _check(self.workers >= 0, "test.workers", "must be >= 0")
        _check(0.0 <= self.score_threshold <= 1.0, "test.score_threshold", "must be in [0, 1]")
        _check(0.0 <= self.duplicate_iou <= 1.0, "test.duplicate_iou", "must be in [0, 1] (0 = off)")
        _check(0.0 <= self.fill_holes <= 1.0, "test.fill_holes", "must be in [0, 1] (0 = off)")


@dataclass
class DetectorConfig:
    """The whole detector config (``configs/detection/*.yaml``)."""

    model: ModelConfig = field(default_factory=ModelConfig)
    input: InputConfig = field(default_factory=InputConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    data: DataConfig = field(default_factory=DataConfig)
    solver: SolverConfig = field(default_factory=SolverConfig)
    train: DetectorTrainConfig = field(default_factory=DetectorTrainConfig)
    test: TestConfig = field(default_factory=TestConfig)

    RENAMED: ClassVar[Renamed] = {"model.amp": "train.amp", "solver.clip_grad_norm": "train.grad_clip",
                                  "solver.time_budget_s": "train.time_budget_s"}

    def __post_init__(self) -> None:
        s = self.solver
        _check(not s.steps or s.steps[-1] < s.max_iter or s.schedule != "step", "solver.steps",
               f"last step {s.steps[-1] if s.steps else ''} must be < solver.max_iter ({s.max_iter})")


def load_detector_config(path: str | Path | None = None,
                         overrides: list[str] | None = None) -> DetectorConfig:
    """Load a detector YAML (``_base_`` chain, ``--set`` overrides) into :class:`DetectorConfig`."""
    return load_config(DetectorConfig, path, overrides)


def config_from_dict(data: dict, source: str = "checkpoint") -> DetectorConfig:
    """Validate a plain dict (e.g. the config stored in a checkpoint)."""
    return from_dict(DetectorConfig, data, source)


def with_test_overrides(cfg: DetectorConfig, **values: float | None) -> DetectorConfig:
    """``cfg`` with the ``test:`` keys given (not ``None``) replaced and checked, e.g.
    ``with_test_overrides(cfg, duplicate_iou=0.7)``; ``cfg`` itself is left as it was."""
    given = {k: v for k, v in values.items() if v is not None}
    return dataclasses.replace(cfg, test=dataclasses.replace(cfg.test, **given)) if given else cfg


def is_weights_path(init: str) -> bool:
    return init not in INIT_CHOICES


__all__ = ["DetectorConfig", "ModelConfig", "InputConfig", "AugmentConfig", "DataConfig",
           "SolverConfig", "DetectorTrainConfig", "TestConfig", "DUPLICATE_IOU", "FILL_HOLES", "load_detector_config", "config_from_dict", "with_test_overrides",
           "ConfigError", "dump_yaml", "to_dict", "is_weights_path"]
