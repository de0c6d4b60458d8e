"""The detectron2 backend (optional): trains from a :class:`DetectorConfig` into a garmentparse
checkpoint and loads such a checkpoint as a segmenter. The adapter follows detectron2's
documented API (``get_cfg``, ``model_zoo``, ``register_coco_instances``, ``DefaultTrainer``,
``build_model``); detectron2 has no PyPI release and is **not installed or tested here**.
It is used only where ``import detectron2`` works.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import torch

from garmentparse import masks as mask_utils
from garmentparse.checkpoint import Checkpoint, save_checkpoint
from garmentparse.config import to_dict
from garmentparse.parsing.cocoapi import coco_api, part_classes
from garmentparse.parsing.config import DetectorConfig
from garmentparse.parsing.model import resolved_norm
from garmentparse.parsing.registry import BACKENDS
from garmentparse.parsing.segmenter import check_image
from garmentparse.parsing.train import TrainResult
from garmentparse.structures import Detections


D2_ZOO = {  # our backbone names -> detectron2 model-zoo configs with the same architecture
    "resnet50_fpn": "COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x.yaml",
    "resnet101_fpn": "COCO-InstanceSegmentation/mask_rcnn_R_101_FPN_3x.yaml",
}
D2_IMAGENET = {
    "resnet50_fpn": "detectron2://ImageNetPretrained/MSRA/R-50.pkl",
    "resnet101_fpn": "detectron2://ImageNetPretrained/MSRA/R-101.pkl",
}


def detectron2_cfg(cfg: DetectorConfig, num_classes: int, out_dir: Path | None = None,
                   train_name: str | None = None) -> Any:
    """A detectron2 ``CfgNode`` equivalent to ``cfg`` (detectron2 must be importable)."""
    from detectron2 import model_zoo
    from detectron2.config import get_cfg

    m, s = cfg.model, cfg.solver
    zoo_file = m.detectron2_config or D2_ZOO.get(m.backbone)
    if not zoo_file:
        raise ValueError(f"model.backbone {m.backbone!r} has no detectron2 model-zoo config; "
                         f"use one of {', '.join(D2_ZOO)} or set model.detectron2_config")
    d2 = get_cfg()
    d2.merge_from_file(model_zoo.get_config_file(zoo_file))
    d2.MODEL.ROI_HEADS.NUM_CLASSES = num_classes
    if m.init == "none":
        d2.MODEL.WEIGHTS = ""
    elif m.init == "coco":
        d2.MODEL.WEIGHTS = model_zoo.get_checkpoint_url(zoo_file)
    elif m.init == "imagenet":
        d2.MODEL.WEIGHTS = D2_IMAGENET.get(m.backbone, d2.MODEL.WEIGHTS)
    else:
        d2.MODEL.WEIGHTS = m.init
    d2.MODEL.RESNETS.NORM = {"frozen_bn": "FrozenBN", "bn": "BN", "gn": "GN"}[resolved_norm(m)]
    if m.trainable_layers is not None:
        d2.MODEL.BACKBONE.FREEZE_AT = max(0, 5 - m.trainable_layers)
    d2.MODEL.ROI_HEADS.SCORE_THRESH_TEST = m.box_score_thresh
    d2.MODEL.ROI_HEADS.NMS_THRESH_TEST = m.box_nms_thresh
    d2.MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE = m.roi_batch_size_per_image
    d2.MODEL.RPN.BATCH_SIZE_PER_IMAGE = m.rpn_batch_size_per_image
    d2.TEST.DETECTIONS_PER_IMAGE = m.detections_per_img
    d2.INPUT.MIN_SIZE_TRAIN = tuple(cfg.input.min_size_train)
    d2.INPUT.MAX_SIZE_TRAIN = cfg.input.max_size_train
    d2.INPUT.MIN_SIZE_TEST = cfg.input.min_size_test
    d2.INPUT.MAX_SIZE_TEST = cfg.input.max_size_test
    d2.INPUT.RANDOM_FLIP = "horizontal" if cfg.augment.hflip > 0 else "none"
    d2.SOLVER.IMS_PER_BATCH = cfg.data.batch_size
    d2.SOLVER.BASE_LR = s.base_lr
    d2.SOLVER.MOMENTUM = s.momentum
    d2.SOLVER.WEIGHT_DECAY = s.weight_decay
    d2.SOLVER.WEIGHT_DECAY_NORM = s.weight_decay_norm
    d2.SOLVER.MAX_ITER = s.max_iter
    d2.SOLVER.WARMUP_ITERS = s.warmup_iters
    d2.SOLVER.WARMUP_FACTOR = s.warmup_factor
    d2.SOLVER.LR_SCHEDULER_NAME = "WarmupCosineLR" if s.schedule == "cosine" else "WarmupMultiStepLR"
    d2.SOLVER.STEPS = tuple(s.steps)
    d2.SOLVER.GAMMA = s.gamma
    d2.SOLVER.CHECKPOINT_PERIOD = cfg.train.checkpoint_period
    d2.SOLVER.CLIP_GRADIENTS.ENABLED = cfg.train.grad_clip > 0
    d2.SOLVER.CLIP_GRADIENTS.CLIP_TYPE = "norm"
    d2.SOLVER.CLIP_GRADIENTS.CLIP_VALUE = cfg.train.grad_clip or 1.0
    d2.SOLVER.AMP.ENABLED = cfg.train.amp  # detectron2's AMP is fp16 autocast with a grad scaler
    d2.DATALOADER.NUM_WORKERS = cfg.data.workers
    d2.DATALOADER.FILTER_EMPTY_ANNOTATIONS = not cfg.data.keep_empty_images
    if cfg.data.sampler == "repeat_factor":
        d2.DATALOADER.SAMPLER_TRAIN = "RepeatFactorTrainingSampler"
        d2.DATALOADER.REPEAT_THRESHOLD = cfg.data.repeat_threshold
    d2.SEED = cfg.train.seed
    if train_name:
        d2.DATASETS.TRAIN = (train_name,)
        d2.DATASETS.TEST = ()
    if out_dir is not None:
        d2.OUTPUT_DIR = str(out_dir / "detectron2")
    return d2


class Detectron2Segmenter:
    """A detectron2 ``GeneralizedRCNN`` as a :class:`~garmentparse.structures.Segmenter`
    (untested here)."""

    def __init__(self, model: Any, d2cfg: Any, class_names: list[str], config: DetectorConfig,
                 device: torch.device, batch_size: int | None = None) -> None:
        import detectron2.data.transforms as T

        self.model = model.to(device).eval()
        self.class_names = list(class_names)
        self.config = config
        self.device = device
        self.batch_size = batch_size or config.test.batch_size
        self.input_format = d2cfg.INPUT.FORMAT
        self.resize = T.ResizeShortestEdge([d2cfg.INPUT.MIN_SIZE_TEST] * 2, d2cfg.INPUT.MAX_SIZE_TEST)

    @property
    def score_threshold(self) -> float:
        return self.config.test.score_threshold

    def predict(self, images: list[np.ndarray], score_threshold: float | None = None) -> list[Detections]:
        threshold = self.score_threshold if score_threshold is None else score_threshold
        results: list[Detections] = []
        for start in range(0, len(images), self.batch_size):
            batch = images[start:start + self.batch_size]
            inputs = []
            for i, image in enumerate(batch):
                check_image(image, start + i)
                arr = image[:, :, ::-1] if self.input_format == "BGR" else image
                resized = self.resize.get_transform(arr).apply_image(arr)
                tensor = torch.as_tensor(np.ascontiguousarray(resized).transpose(2, 0, 1)).float()
                inputs.append({"image": tensor, "height": image.shape[0], "width": image.shape[1]})
            with torch.inference_mode():
                outputs = self.model(inputs)
            for image, out in zip(batch, outputs):
                inst = out["instances"].to("cpu")
                keep = inst.scores >= threshold
                inst = inst[keep]
                masks = inst.pred_masks.numpy().astype(np.uint8)
                results.append(Detections(
                    inst.pred_boxes.tensor.numpy(), inst.scores.numpy(),
                    [self.class_names[int(c)] for c in inst.pred_classes.tolist()],
                    [mask_utils.encode(mk) for mk in masks], image.shape[:2]))
        return results


class Detectron2Backend:
    """detectron2's Mask R-CNN (``DefaultTrainer``); optional, untested in this repository."""

    name = "detectron2"

    def available(self) -> bool:
        return importlib.util.find_spec("detectron2") is not None

    def _require(self) -> None:
        if not self.available():
            raise RuntimeError("model.backend=detectron2 needs detectron2, which is not installed "
                               "(it has no PyPI release: build it from source, see "
                               "https://detectron2.readthedocs.io/en/latest/tutorials/install.html), "
                               "or use model.backend=torchvision")

    def train(self, cfg: DetectorConfig, train_json: Path, images_dir: Path, out_dir: Path, *,
              resume: bool = False, **kwargs: Any) -> Any:
        self._require()
        from detectron2.data.datasets import register_coco_instances
        from detectron2.engine import DefaultTrainer

        _, class_names = part_classes(coco_api(train_json))
        name = f"garmentparse_train_{abs(hash(str(Path(train_json).resolve())))}"
        register_coco_instances(name, {}, str(train_json), str(images_dir))
        out_dir.mkdir(parents=True, exist_ok=True)
        d2 = detectron2_cfg(cfg, len(class_names), out_dir, name)
        trainer = DefaultTrainer(d2)
        trainer.resume_or_load(resume=resume)
        trainer.train()
        state = {k: v.detach().cpu() for k, v in trainer.model.state_dict().items()}
        model_path = out_dir / "model.pt"
        save_checkpoint(Checkpoint("detector", to_dict(cfg), {"part": class_names}, state,
                                   {"backend": "detectron2", "detectron2_config": d2.dump(),
                                    "iteration": d2.SOLVER.MAX_ITER}), model_path)
        return TrainResult(out_dir, model_path, d2.SOLVER.MAX_ITER, 0.0, None, None)

    def load(self, ckpt: Checkpoint, cfg: DetectorConfig, device: torch.device, amp: bool,
             batch_size: int | None) -> Detectron2Segmenter:
        self._require()
        from detectron2.modeling import build_model as d2_build_model

        class_names = list(ckpt.vocabulary["part"])
        d2 = detectron2_cfg(cfg, len(class_names))
        d2.MODEL.WEIGHTS = ""
        d2.MODEL.DEVICE = str(device)
        model = d2_build_model(d2)
        model.load_state_dict(ckpt.state_dict)
        return Detectron2Segmenter(model, d2, class_names, cfg, device, batch_size)


BACKENDS.register("detectron2")(Detectron2Backend())
