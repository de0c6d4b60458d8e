"""The detectron2 backend (optional): any detectron2 config, our data, commands and checkpoints.

A config with ``model.backend: detectron2`` names a detectron2 config in
``model.detectron2_config``: a model-zoo path (``COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x.yaml``,
``Misc/cascade_mask_rcnn_R_50_FPN_3x.yaml``) or a local detectron2 YAML; ``""`` picks the zoo
config of ``model.backbone`` (:data:`D2_ZOO`). The architecture comes from that file; our
``input``, ``solver``, ``data`` and ``train`` keys and the post-processing keys of ``model`` are
mapped onto it (:func:`detectron2_cfg`), then ``model.detectron2_overrides`` (detectron2 keys,
dotted or nested) are applied last.

Weights (``model.init``): ``coco`` = the zoo checkpoint of that config, ``imagenet`` = the
backbone weights the config itself names (both downloads; offline the error lists what works
without internet), a local ``.pkl``/``.pth`` file, or ``none``: random initialisation, where
frozen BatchNorm would keep every normalisation at identity and the activations explode, so
``none`` switches the ResNet to trainable BN (``norm: auto``) and freezes nothing.

``train detector`` registers our COCO file as a detectron2 dataset and runs detectron2's
``DefaultTrainer`` (TensorBoard-free writers; ``train.time_budget_s`` fits the schedule as the
torchvision backend does). The run folder gets ``config.yaml``, ``metrics.jsonl`` and
``model.pt``: our single-file checkpoint, with the full detectron2 config inside, so ``eval
detector``, ``predict`` and ``tag`` need neither the YAML nor the zoo. detectron2's own
resumable checkpoints live in ``RUN_DIR/detectron2/`` (``--resume`` continues them). With
``--val`` the end-of-training evaluation is ours (pycocotools), as ``eval detector`` is.

Several processes (``torchrun`` or ``--nproc``): our engine joins the process group, then
detectron2's own ``comm`` helpers take over (its local process group is created as its ``launch``
would), so ``DefaultTrainer`` wraps the model in DDP and its ``TrainingSampler`` shards the data;
``data.batch_size`` is ``SOLVER.IMS_PER_BATCH``, the global batch, as in detectron2. Rank 0 writes,
the time budget is fitted to the slowest rank, the end evaluation is split over the ranks.
``train.sync_bn`` turns trainable BN into detectron2's ``SyncBN`` (CUDA); ``train.accumulate``
has no detectron2 counterpart and must stay 1.

detectron2 has no PyPI release: ``make setup`` installs a vendored wheel when it matches the
venv; users install it from its repository. Without it, choosing this backend is a clear error.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from garmentparse.checkpoint import Checkpoint, save_checkpoint
from garmentparse.config import dump_yaml, to_dict
from garmentparse.engine.distributed import (World, all_max, broadcast_buffers, peer_errors, setup, split_batch,
                                             unwrap)
from garmentparse.engine.pretrained import fetch_or_explain
from garmentparse.engine.seeding import rank_seed, seed_everything
from garmentparse.parsing.cocoapi import coco_api, part_classes
from garmentparse.parsing.config import DetectorConfig
from garmentparse.parsing.model import resolved_norm
from garmentparse.parsing.registry import BACKENDS
from garmentparse.parsing.segmenter import check_image
from garmentparse.parsing.train import TrainResult
from garmentparse.progress import ProgressCallback, report_progress
from garmentparse.structures import Detections

logger = logging.getLogger(__name__)

D2_ZOO = {  # our backbone names -> detectron2 model-zoo configs with the same architecture
    "resnet50_fpn": "COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x.yaml",
    "resnet101_fpn": "COCO-InstanceSegmentation/mask_rcnn_R_101_FPN_3x.yaml",
}
CONFIGS_DIR = Path(__file__).resolve().parents[3] / "configs" / "detection"  # a source checkout's
INSTALL_HINT = ("detectron2 has no PyPI release: install it from its repository, "
                "`pip install 'git+https://github.com/facebookresearch/detectron2.git'` (see its "
                "INSTALL.md), or use model.backend=torchvision")


def available() -> bool:
    return importlib.util.find_spec("detectron2") is not None


def config_file(name: str) -> str:
    """The detectron2 YAML ``name`` means: a file (as given, or under ``configs/detection/``),
    else a model-zoo path."""
    for candidate in (Path(name).expanduser(), CONFIGS_DIR / name):
        if candidate.is_file():
            return str(candidate)
    from detectron2 import model_zoo

    try:
        return model_zoo.get_config_file(name)
    except RuntimeError:
        raise ValueError(f"model.detectron2_config {name!r} is neither a file nor a detectron2 "
                         f"model-zoo config (e.g. COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x.yaml)"
                         ) from None


def flatten_overrides(overrides: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``{"MODEL": {"RPN": {"NMS_THRESH": 0.6}}, "SOLVER.GAMMA": 0.5}`` ->
    ``[("MODEL.RPN.NMS_THRESH", 0.6), ("SOLVER.GAMMA", 0.5)]``."""
    out: list[tuple[str, Any]] = []
    for key, value in overrides.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out += flatten_overrides(value, dotted + ".")
        else:
            out.append((dotted, value))
    return out


def _zoo_name(cfg: DetectorConfig) -> str:
    m = cfg.model
    name = m.detectron2_config or D2_ZOO.get(m.backbone, "")
    if not name:
        raise ValueError(f"model.backbone {m.backbone!r} has no detectron2 model-zoo config; set "
                         f"model.detectron2_config (a zoo path or a detectron2 YAML) or use one of "
                         f"{', '.join(D2_ZOO)}")
    return name


def detectron2_cfg(cfg: DetectorConfig, num_classes: int, out_dir: Path | None = None,
                   train_name: str | None = None) -> Any:
    """A detectron2 ``CfgNode``: the named detectron2 config, our keys mapped onto it, then
    ``model.detectron2_overrides``. Weights are left as ``init`` says (a URL is not fetched here)."""
    from detectron2.config import get_cfg

    m, s = cfg.model, cfg.solver
    name = _zoo_name(cfg)
    d2 = get_cfg()
    d2.merge_from_file(config_file(name))  # as strict as detectron2: unknown keys are errors
    d2.MODEL.ROI_HEADS.NUM_CLASSES = num_classes
    d2.MODEL.MASK_ON = True
    if m.init == "none":
        d2.MODEL.WEIGHTS = ""
    elif m.init == "coco":
        from detectron2 import model_zoo

        try:
            d2.MODEL.WEIGHTS = model_zoo.get_checkpoint_url(name)
        except RuntimeError:
            raise ValueError(f"model.init=coco: {name!r} is not a model-zoo config with a published "
                             f"checkpoint; use a local weights file") from None
    elif m.init == "imagenet":
        pass  # the backbone weights the detectron2 config itself names (MODEL.WEIGHTS)
    elif m.init == "lite0":
        raise ValueError("model.init=lite0 is for the torchvision backend's lite0_fpn backbone; "
                         "detectron2 configs take coco, imagenet, none or a local weights file")
    else:
        d2.MODEL.WEIGHTS = str(Path(m.init).expanduser())
    norm = resolved_norm(m)
    if d2.MODEL.BACKBONE.NAME in ("build_resnet_fpn_backbone", "build_resnet_backbone",
                                  "build_retinanet_resnet_fpn_backbone"):
        if m.norm != "auto" or m.init == "none":
            d2.MODEL.RESNETS.NORM = {"frozen_bn": "FrozenBN", "bn": "BN", "gn": "GN"}[norm]
        if m.trainable_layers is not None:
            d2.MODEL.BACKBONE.FREEZE_AT = max(0, 5 - m.trainable_layers)
        elif m.init == "none":
            d2.MODEL.BACKBONE.FREEZE_AT = 0  # nothing pretrained to keep
    d2.MODEL.RPN.PRE_NMS_TOPK_TRAIN = m.rpn_pre_nms_top_n_train
    d2.MODEL.RPN.POST_NMS_TOPK_TRAIN = m.rpn_post_nms_top_n_train
    d2.MODEL.RPN.PRE_NMS_TOPK_TEST = m.rpn_pre_nms_top_n_test
    d2.MODEL.RPN.POST_NMS_TOPK_TEST = m.rpn_post_nms_top_n_test
    d2.MODEL.RPN.BATCH_SIZE_PER_IMAGE = m.rpn_batch_size_per_image
    d2.MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE = m.roi_batch_size_per_image
    d2.MODEL.ROI_HEADS.SCORE_THRESH_TEST = m.box_score_thresh
    d2.MODEL.ROI_HEADS.NMS_THRESH_TEST = m.box_nms_thresh
    d2.TEST.DETECTIONS_PER_IMAGE = m.detections_per_img
    d2.INPUT.MIN_SIZE_TRAIN = tuple(cfg.input.min_size_train)
    d2.INPUT.MIN_SIZE_TRAIN_SAMPLING = "choice"
    d2.INPUT.MAX_SIZE_TRAIN = cfg.input.max_size_train
    d2.INPUT.MIN_SIZE_TEST = cfg.input.min_size_test
    d2.INPUT.MAX_SIZE_TEST = cfg.input.max_size_test
    d2.INPUT.RANDOM_FLIP = "horizontal" if cfg.augment.hflip > 0 else "none"
    d2.SOLVER.IMS_PER_BATCH = cfg.data.batch_size
    d2.SOLVER.OPTIMIZER = "ADAMW" if s.optimizer == "adamw" else "SGD"  # ours: detectron2 knows SGD only
    d2.SOLVER.BETAS = tuple(s.betas)
    d2.SOLVER.BASE_LR = s.base_lr
    d2.SOLVER.MOMENTUM = s.momentum
    d2.SOLVER.WEIGHT_DECAY = s.weight_decay
    d2.SOLVER.WEIGHT_DECAY_NORM = s.weight_decay_norm
    d2.SOLVER.MAX_ITER = s.max_iter
    d2.SOLVER.WARMUP_ITERS = s.warmup_iters
    d2.SOLVER.WARMUP_FACTOR = s.warmup_factor
    d2.SOLVER.LR_SCHEDULER_NAME = "WarmupCosineLR" if s.schedule == "cosine" else "WarmupMultiStepLR"
    d2.SOLVER.BASE_LR_END = s.base_lr * s.min_lr_factor
    d2.SOLVER.STEPS = tuple(s.steps)
    d2.SOLVER.GAMMA = s.gamma
    d2.SOLVER.CHECKPOINT_PERIOD = cfg.train.checkpoint_period
    d2.SOLVER.CLIP_GRADIENTS.ENABLED = cfg.train.grad_clip > 0
    d2.SOLVER.CLIP_GRADIENTS.CLIP_TYPE = "norm"  # detectron2 clips each parameter's norm
    d2.SOLVER.CLIP_GRADIENTS.CLIP_VALUE = cfg.train.grad_clip or 1.0
    d2.SOLVER.AMP.ENABLED = cfg.train.amp  # fp16 autocast + grad scaler; only used on CUDA
    d2.DATALOADER.NUM_WORKERS = cfg.data.workers
    d2.DATALOADER.FILTER_EMPTY_ANNOTATIONS = not cfg.data.keep_empty_images
    if cfg.data.sampler == "repeat_factor":
        d2.DATALOADER.SAMPLER_TRAIN = "RepeatFactorTrainingSampler"
        d2.DATALOADER.REPEAT_THRESHOLD = cfg.data.repeat_threshold
    d2.TEST.EVAL_PERIOD = 0  # our evaluator runs at the end (--val), as for torchvision
    d2.SEED = cfg.train.seed
    d2.DATASETS.TRAIN = (train_name,) if train_name else ()
    d2.DATASETS.TEST = ()
    if out_dir is not None:
        d2.OUTPUT_DIR = str(out_dir / "detectron2")
    flat = flatten_overrides(m.detectron2_overrides)
    if flat:
        try:
            d2.merge_from_list([x for kv in flat for x in kv])
        except (AssertionError, KeyError, ValueError) as exc:
            raise ValueError(f"model.detectron2_overrides: {exc}") from None
    return d2


def fetch_weights(d2: Any) -> None:
    """Download ``MODEL.WEIGHTS`` when it is a URL (``detectron2://`` / ``https://``) and point the
    config at the local copy; offline, an error that lists the initialisations that need no internet."""
    url = str(d2.MODEL.WEIGHTS)
    if not url or "://" not in url:
        if url and not Path(url).is_file():
            raise FileNotFoundError(f"model.init: weights file not found: {url}")
        return
    from detectron2.utils.file_io import PathManager

    local = fetch_or_explain(lambda: PathManager.get_local_path(url),
                             asked=f"MODEL.WEIGHTS={url}", source="detectron2's model zoo")
    d2.MODEL.WEIGHTS = local


def _dataset_name(train_json: Path) -> str:
    from detectron2.data import DatasetCatalog, MetadataCatalog

    name = f"garmentparse_{abs(hash(str(train_json.resolve()))):x}"
    if name in DatasetCatalog.list():  # a second run in one process: register afresh
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)
    return name


def _mask_format(coco: Any) -> str:
    """``bitmask`` when any segmentation is RLE (detectron2's polygon path takes polygons only)."""
    anns = coco.dataset.get("annotations", [])
    return "bitmask" if any(isinstance(a.get("segmentation"), dict) for a in anns) else "polygon"


class Detectron2Segmenter:
    """A detectron2 model (``GeneralizedRCNN``) as a :class:`~garmentparse.structures.Segmenter`:
    RGB uint8 arrays in, :class:`Detections` in original pixels out. Images whose resized shape
    differs go to separate model calls, so a result does not depend on the other images."""

    def __init__(self, model: Any, d2cfg: Any, class_names: list[str], config: DetectorConfig,
                 device: torch.device, batch_size: int | None = None) -> None:
        import detectron2.data.transforms as T

        self.model = model.to(device).eval()
        self.d2cfg = d2cfg
        self.class_names = list(class_names)
        self.config = config
        self.device = device
        self.batch_size = batch_size or config.test.batch_size
        self.input_format = d2cfg.INPUT.FORMAT
        self.resize = T.ResizeShortestEdge([d2cfg.INPUT.MIN_SIZE_TEST] * 2, d2cfg.INPUT.MAX_SIZE_TEST)
        self.mask_threshold = config.model.mask_threshold

    @property
    def score_threshold(self) -> float:
        return self.config.test.score_threshold

    @property
    def duplicate_iou(self) -> float:
        """As :attr:`TorchvisionSegmenter.duplicate_iou` (``test.duplicate_iou``)."""
        return self.config.test.duplicate_iou

    @property
    def fill_holes(self) -> float:
        """As :attr:`TorchvisionSegmenter.fill_holes` (``test.fill_holes``)."""
        return self.config.test.fill_holes

    def _input(self, image: np.ndarray) -> dict[str, Any]:
        arr = image[:, :, ::-1] if self.input_format == "BGR" else image
        resized = self.resize.get_transform(arr).apply_image(np.ascontiguousarray(arr))
        tensor = torch.as_tensor(np.ascontiguousarray(resized.transpose(2, 0, 1))).float()
        return {"image": tensor.to(self.device), "height": image.shape[0], "width": image.shape[1]}

    def predict(self, images: list[np.ndarray], score_threshold: float | None = None) -> list[Detections]:
        threshold = self.score_threshold if score_threshold is None else score_threshold
        inputs = []
        for i, image in enumerate(images):
            check_image(image, i)
            inputs.append(self._input(image))
        groups: dict[tuple[int, int], list[int]] = {}
        for i, inp in enumerate(inputs):
            groups.setdefault(tuple(inp["image"].shape[-2:]), []).append(i)
        results: list[Detections | None] = [None] * len(images)
        was_training = self.model.training
        self.model.eval()
        try:
            for members in groups.values():
                for start in range(0, len(members), self.batch_size):
                    chunk = members[start:start + self.batch_size]
                    with torch.inference_mode():
                        outputs = self.model([inputs[i] for i in chunk])
                    for i, out in zip(chunk, outputs):
                        results[i] = self._detections(out["instances"].to("cpu"), images[i].shape[:2],
                                                      threshold)
        finally:
            self.model.train(was_training)
        return results  # type: ignore[return-value]  # every slot is filled above

    def _detections(self, inst: Any, shape: tuple[int, int], threshold: float) -> Detections:
        inst = inst[inst.scores >= threshold]
        masks = inst.pred_masks.numpy() if inst.has("pred_masks") else np.zeros((0, *shape), bool)
        if masks.dtype != bool:  # probabilities (a config that pastes soft masks)
            masks = masks >= self.mask_threshold
        det = Detections.from_binary(inst.pred_boxes.tensor.numpy().astype(np.float32),
                                     inst.scores.numpy().astype(np.float32),
                                     [self.class_names[int(c)] for c in inst.pred_classes.tolist()],
                                     masks, shape, self.fill_holes)
        return det.suppress_duplicates(self.duplicate_iou)  # after the score threshold, as torchvision's


def _trainer_class() -> type:
    """``DefaultTrainer`` without TensorBoard (metrics to our ``metrics.jsonl``), without its
    own evaluation hook, keeping two periodic checkpoints, plus a time budget."""
    from detectron2.engine import DefaultTrainer, HookBase, hooks
    from detectron2.utils.events import CommonMetricPrinter, JSONWriter

    class TimeBudget(HookBase):
        """After ``calibrate`` iterations past warm-up, fit the rest of the schedule (cosine
        or steps, via the scheduler's length) into what is left of ``budget_s``."""

        def __init__(self, budget_s: float, calibrate: int, min_iter: int) -> None:
            self.budget_s, self.calibrate, self.min_iter = budget_s, calibrate, min_iter
            self.t0 = 0.0
            self.fitted = False

        def before_train(self) -> None:
            self.t0 = time.perf_counter()
            self.fitted = self.budget_s <= 0

        def after_step(self) -> None:
            tr = self.trainer
            done = tr.iter + 1 - tr.start_iter
            if self.fitted or tr.iter + 1 < self.min_iter or done < self.calibrate:
                return
            pace = all_max([(time.perf_counter() - self.t0) / done])[0]  # the slowest rank's, for all
            new_max = min(tr.max_iter, max(tr.iter + 2, tr.start_iter + math.floor(self.budget_s / pace)))
            self.fitted = True
            if new_max < tr.max_iter:
                logger.info("time budget %.0f s at %.2f s/iteration: %d iterations instead of %d",
                            self.budget_s, pace, new_max, tr.max_iter)
                tr.max_iter = new_max
                if hasattr(tr.scheduler, "_max_iter"):  # detectron2's LRMultiplier
                    tr.scheduler._max_iter = new_max
                for h in tr._hooks:
                    if isinstance(h, hooks.PeriodicCheckpointer):
                        h.max_iter = new_max

    class MetricPrinter(CommonMetricPrinter):
        """detectron2's printer; its ETA divides by zero when a session runs fewer iterations
        than the timer's warm-up (a short resume) and writes twice at one iteration."""

        def _get_eta(self, storage: Any) -> str | None:
            try:
                return super()._get_eta(storage)
            except ZeroDivisionError:
                return None

    class Trainer(DefaultTrainer):
        metrics_path: Path
        budget: HookBase | None = None

        @classmethod
        def build_optimizer(cls, cfg: Any, model: torch.nn.Module) -> torch.optim.Optimizer:
            """SGD as detectron2 builds it, or AdamW (``SOLVER.OPTIMIZER: ADAMW``) with detectron2's
            parameter groups (no decay on norms when WEIGHT_DECAY_NORM is 0) and clipping."""
            if cfg.SOLVER.get("OPTIMIZER", "SGD") != "ADAMW":
                return super().build_optimizer(cfg, model)
            from detectron2.solver.build import get_default_optimizer_params, maybe_add_gradient_clipping

            params = get_default_optimizer_params(model, base_lr=cfg.SOLVER.BASE_LR,
                                                  weight_decay_norm=cfg.SOLVER.WEIGHT_DECAY_NORM)
            return maybe_add_gradient_clipping(cfg, torch.optim.AdamW(
                params, lr=cfg.SOLVER.BASE_LR, betas=tuple(cfg.SOLVER.get("BETAS", (0.9, 0.999))),
                weight_decay=cfg.SOLVER.WEIGHT_DECAY))

        def build_writers(self) -> list:
            return [MetricPrinter(self.max_iter), JSONWriter(str(self.metrics_path))]

        def build_hooks(self) -> list:
            out = []
            for h in super().build_hooks():
                if isinstance(h, hooks.EvalHook):
                    continue
                if isinstance(h, hooks.PeriodicCheckpointer):
                    h = hooks.PeriodicCheckpointer(self.checkpointer, self.cfg.SOLVER.CHECKPOINT_PERIOD,
                                                   max_to_keep=2)
                out.append(h)
            return ([self.budget] if self.budget is not None else []) + out

    Trainer.TimeBudget = TimeBudget  # type: ignore[attr-defined]
    return Trainer


class _QuietModelPrint(logging.Filter):
    """detectron2 logs the whole network at INFO when it builds a trainer: keep it out of the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Model:\n")


def _route_logs() -> None:
    """Send detectron2's log records through ours (stderr) instead of the stdout handler its
    ``setup_logger`` would add, so ``--json`` output stays one JSON object."""
    d2_logger = logging.getLogger("detectron2")
    if d2_logger.level == logging.NOTSET or d2_logger.level > logging.INFO:
        d2_logger.setLevel(logging.INFO)
    quiet = logging.getLogger("detectron2.engine.defaults")
    if not any(isinstance(f, _QuietModelPrint) for f in quiet.filters):
        quiet.addFilter(_QuietModelPrint())


def _join_comm(world: World) -> None:
    """detectron2's local (per-machine) process group, as its ``launch`` creates it, once."""
    from detectron2.utils import comm

    if world.distributed and comm._LOCAL_PROCESS_GROUP is None:
        comm.create_local_process_group(int(os.environ.get("LOCAL_WORLD_SIZE", world.size)))


def _build_trainer(trainer_class: type, d2: Any, device: Any) -> Any:
    """``trainer_class(d2)``. On CPU processes detectron2's ``create_ddp_model`` would pass
    ``device_ids=[local rank]``, which DDP refuses for CPU modules: give it none there."""
    import detectron2.engine.defaults as d2_defaults

    original = d2_defaults.create_ddp_model
    if device.type != "cuda":
        d2_defaults.create_ddp_model = lambda model, **kw: original(model, **{**kw, "device_ids": None})
    try:
        return trainer_class(d2)
    finally:
        d2_defaults.create_ddp_model = original


def _run(trainer: Any, on_progress: ProgressCallback | None) -> None:
    """``TrainerBase.train`` with a loop bound that a time budget may lower; ``trainer.iter``
    ends on the last iteration run, so a resumable checkpoint saved there continues exactly."""
    from detectron2.utils.events import EventStorage

    start = trainer.start_iter
    trainer.iter = start
    with EventStorage(start) as trainer.storage:
        try:
            trainer.before_train()
            it = start
            while it < trainer.max_iter:
                trainer.iter = it
                trainer.before_step()
                trainer.run_step()
                trainer.after_step()
                report_progress(on_progress, it + 1, trainer.max_iter)
                it += 1
        finally:
            trainer.after_train()


class Detectron2Backend:
    """detectron2 models through garmentparse's commands and checkpoints (see the module doc)."""

    name = "detectron2"

    def available(self) -> bool:
        return available()

    def _require(self) -> None:
        if not self.available():
            raise RuntimeError(f"model.backend=detectron2 needs detectron2, which is not installed: "
                               f"{INSTALL_HINT}")

    def train(self, cfg: DetectorConfig, train_json: Path, images_dir: Path, out_dir: Path, *,
              val_json: str | Path | None = None, val_images: str | Path | None = None,
              device: str = "auto", resume: bool = False, on_progress: ProgressCallback | None = None,
              **kwargs: Any) -> TrainResult:
        self._require()
        from detectron2.checkpoint import DetectionCheckpointer
        from detectron2.data.datasets import register_coco_instances

        if cfg.train.accumulate != 1:
            raise ValueError(f"train.accumulate={cfg.train.accumulate}: the detectron2 backend trains with "
                             "detectron2's own loop, which has no gradient accumulation; use 1")
        world, dev = setup(device, cfg.train.dist_timeout_s)
        split_batch(cfg.data.batch_size, world.size, key="data.batch_size")
        _join_comm(world)
        train_json, images_dir, out_dir = Path(train_json), Path(images_dir), Path(out_dir)
        model_path = out_dir / "model.pt"
        d2_dir = out_dir / "detectron2"
        if resume and not (d2_dir / "last_checkpoint").is_file():
            raise FileNotFoundError(f"--resume: {d2_dir / 'last_checkpoint'} does not exist, nothing to continue")
        if not resume and model_path.is_file():
            raise FileExistsError(f"{out_dir} already holds a trained detector (model.pt): pass --resume "
                                  "to continue it, or choose another --out")
        coco = coco_api(train_json)
        cat_ids, class_names = part_classes(coco)
        name = _dataset_name(train_json)
        register_coco_instances(name, {}, str(train_json), str(images_dir))
        d2_dir.mkdir(parents=True, exist_ok=True)
        if world.main:
            (out_dir / "config.yaml").write_text(dump_yaml(cfg), encoding="utf-8")
        d2 = detectron2_cfg(cfg, len(class_names), out_dir, name)
        d2.MODEL.DEVICE = str(dev)
        if cfg.train.sync_bn and world.distributed and d2.MODEL.RESNETS.NORM == "BN":
            if dev.type == "cuda":
                d2.MODEL.RESNETS.NORM = "SyncBN"
            else:
                logger.warning("train.sync_bn: SyncBN needs CUDA; on CPU each process normalises its own batch")
        d2.INPUT.MASK_FORMAT = _mask_format(coco)
        if not resume:
            fetch_weights(d2)
        seed_everything(rank_seed(cfg.train.seed))

        _route_logs()
        Trainer = _trainer_class()
        Trainer.metrics_path = out_dir / "metrics.jsonl"
        s = cfg.solver
        Trainer.budget = (Trainer.TimeBudget(cfg.train.time_budget_s, max(5, min(s.warmup_iters, 50)),
                                             s.warmup_iters + 1)
                          if cfg.train.time_budget_s > 0 else None)
        trainer = _build_trainer(Trainer, d2, dev)
        trainer.resume_or_load(resume=resume)
        if resume:
            logger.info("resuming %s at iteration %d", d2_dir, trainer.start_iter)
        logger.info("detectron2 %s: %d images, %d classes %s on %s, iterations %d -> %d",
                    _zoo_name(cfg), len(coco.getImgIds()), len(class_names), class_names, dev,
                    trainer.start_iter, trainer.max_iter)
        start_iter = trainer.start_iter
        t0 = time.perf_counter()
        with peer_errors():
            _run(trainer, on_progress)
        seconds = time.perf_counter() - t0
        done = max(0, trainer.iter + 1 - start_iter)
        if trainer.max_iter <= start_iter:
            done = 0
        last_iter = start_iter + done - 1
        if done and last_iter < trainer.max_iter - 1:  # stopped before the end: keep it resumable
            DetectionCheckpointer(trainer.model, d2.OUTPUT_DIR, trainer=trainer).save(
                "model_last", iteration=last_iter)
        ips = done * d2.SOLVER.IMS_PER_BATCH / max(seconds, 1e-9)
        losses = []
        try:
            losses = [float(v) for v, _ in trainer.storage.history("total_loss").values()]
        except KeyError:
            pass
        model = unwrap(trainer.model)
        broadcast_buffers(model)  # detectron2's DDP keeps its own per rank (broadcast_buffers=False)
        total_iters = last_iter + 1 if done else start_iter
        if world.main:
            state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
            save_checkpoint(Checkpoint("detector", to_dict(cfg), {"part": class_names}, state, {
                "backend": "detectron2", "detectron2_config": d2.dump(), "iteration": total_iters,
                "category_ids": cat_ids, "train_images": len(coco.getImgIds()),
                "images_per_s": round(ips, 3), "global_batch": cfg.data.batch_size,
                "world_size": world.size}), model_path)
            logger.info("saved %s (iteration %d, %.2f images/s)", model_path, total_iters, ips)
        metrics = None
        if val_json:
            from garmentparse.parsing.evaluate import evaluate_segmenter

            seg = Detectron2Segmenter(model, d2, class_names, cfg, dev)
            with peer_errors():
                metrics = evaluate_segmenter(seg, val_json, Path(val_images or images_dir)).metrics
            if world.main:
                (out_dir / "eval.json").write_text(json.dumps(metrics, indent=1), encoding="utf-8")
        return TrainResult(out_dir, model_path, total_iters, ips, losses[-1] if losses else None, metrics,
                           losses=losses, start_iteration=start_iter, seconds=seconds)

    def load(self, ckpt: Checkpoint, cfg: DetectorConfig, device: torch.device, amp: bool,
             batch_size: int | None) -> Detectron2Segmenter:
        self._require()
        from detectron2.config import CfgNode, get_cfg
        from detectron2.modeling import build_model as d2_build_model

        class_names = list(ckpt.vocabulary["part"])
        stored = ckpt.extra.get("detectron2_config")
        if stored:  # the exact config it was trained with: no YAML or zoo lookup needed
            d2 = get_cfg()
            d2.set_new_allowed(True)
            d2.merge_from_other_cfg(CfgNode.load_cfg(stored))
        else:
            d2 = detectron2_cfg(cfg, len(class_names))
        d2.MODEL.WEIGHTS = ""
        d2.MODEL.DEVICE = str(device)
        d2.MODEL.ROI_HEADS.SCORE_THRESH_TEST = cfg.model.box_score_thresh
        model = d2_build_model(d2)
        model.load_state_dict(ckpt.state_dict)
        return Detectron2Segmenter(model, d2, class_names, cfg, device, batch_size)


BACKENDS.register("detectron2")(Detectron2Backend())
