"""The torchvision detector on the training engine: iteration based, warm-up + cosine/step lr,
AdamW or SGD, bf16 on CUDA, a time budget fitted after warm-up, exact ``--resume``.

The run folder (:class:`~garmentparse.engine.run.RunFolder`) holds ``config.yaml``,
``metrics.jsonl`` (one line per ``train.log_period`` iterations: loss parts, lr, images/s; plus
eval lines), ``last.pt`` (weights + optimiser + scheduler + iteration, for resume), ``model.pt``
(weights, config, vocabulary: the file every other command takes) and, with ``--val``,
``eval.json``.

Several processes (``torchrun`` or ``--nproc``, :mod:`garmentparse.engine.distributed`):
``data.batch_size`` is the global batch of one step, each rank trains on its share of one sample
stream (:class:`~garmentparse.engine.distributed.ShardedBatchSampler`), the validation images are
split over the ranks and their results gathered before COCOeval, and rank 0 writes the run folder.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from functools import reduce
from pathlib import Path
from typing import Any

import torch
from torch.optim.lr_scheduler import LambdaLR
from torch.utils.data import DataLoader

from garmentparse.checkpoint import Checkpoint
from garmentparse.config import to_dict
from garmentparse.engine.amp import bf16_enabled
from garmentparse.engine.distributed import ShardedBatchSampler, World, setup, split_batch, wrap_model
from garmentparse.engine.hooks import (EarlyStopping, Evaluation, MetricsWriter, PeriodicCheckpoint,
                                       ProgressHook, TimeBudget)
from garmentparse.engine.loop import HookBase, Trainer, TrainResult
from garmentparse.engine.optim import make_optimizer, param_groups
from garmentparse.engine.run import RunFolder
from garmentparse.engine.seeding import rank_seed, seed_everything, seed_worker
from garmentparse.parsing.cocoapi import coco_api
from garmentparse.parsing.config import DetectorConfig, SolverConfig
from garmentparse.parsing.data import (CocoInstances, InfiniteSampler, collate, make_train_dataset,
                                       repeat_factors)
from garmentparse.parsing.evaluate import evaluate_segmenter
from garmentparse.parsing.model import build_model, enable_bf16, initialise, set_input_size
from garmentparse.parsing.segmenter import TorchvisionSegmenter
from garmentparse.progress import ProgressCallback
from garmentparse.report import Report

logger = logging.getLogger(__name__)
__all__ = ["TrainResult", "lr_factor", "train_torchvision"]


def lr_factor(it: int, s: SolverConfig, max_iter: int) -> float:
    """Multiplier of ``base_lr`` at iteration ``it``: linear warm-up, then cosine or steps."""
    if s.warmup_iters and it < s.warmup_iters:
        alpha = it / s.warmup_iters
        warm = s.warmup_factor * (1 - alpha) + alpha
    else:
        warm = 1.0
    if s.schedule == "step":
        return warm * s.gamma ** sum(1 for step in s.steps if it >= step)
    span = max(1, max_iter - s.warmup_iters)
    t = min(1.0, max(0.0, (it - s.warmup_iters) / span))
    return warm * (s.min_lr_factor + (1 - s.min_lr_factor) * 0.5 * (1 + math.cos(math.pi * t)))


def _batches(dataset: CocoInstances, cfg: DetectorConfig, device: torch.device, start: int,
             world: World) -> Iterator[Any]:
    """Endless non-empty batches of this rank, sampled from seed ``train.seed + start`` (the same
    stream on every rank) and augmented from this rank's seed."""
    factors = repeat_factors(dataset, cfg.data.repeat_threshold) if cfg.data.sampler == "repeat_factor" else None
    if hasattr(dataset.transform, "set_random_seed"):
        dataset.transform.set_random_seed(rank_seed(cfg.train.seed + start))
    workers = cfg.data.workers
    groups = [int(r.width >= r.height) for r in dataset.records] if cfg.data.aspect_grouping else None
    sampler = ShardedBatchSampler(InfiniteSampler(len(dataset), cfg.train.seed + start, factors),
                                  cfg.data.batch_size, world, accumulate=cfg.train.accumulate, group_ids=groups)
    loader = DataLoader(dataset, batch_sampler=sampler,
                        num_workers=workers, collate_fn=collate, pin_memory=device.type == "cuda",
                        worker_init_fn=seed_worker if workers else None,
                        prefetch_factor=4 if workers else None)
    nb = device.type == "cuda"
    for images, targets in loader:
        if images:
            yield ([im.to(device, non_blocking=nb).float().div_(255.0) for im in images],
                   [{k: v.to(device, non_blocking=nb) for k, v in t.items()} for t in targets])


def _monitor(key: str):
    """``"segm.AP"`` -> a function reading ``metrics["segm"]["AP"]``."""
    return lambda metrics: float(reduce(lambda d, k: d[k], key.split("."), metrics))


def train_torchvision(cfg: DetectorConfig, train_json: str | Path, images_dir: str | Path,
                      out_dir: str | Path, *, val_json: str | Path | None = None,
                      val_images: str | Path | None = None, device: str = "auto",
                      resume: bool = False, on_progress: ProgressCallback | None = None) -> TrainResult:
    """Train a torchvision Mask R-CNN on a COCO file; see the module doc for the run folder."""
    world, dev = setup(device, cfg.train.dist_timeout_s)
    split_batch(cfg.data.batch_size, world.size, cfg.train.accumulate, "data.batch_size")
    run = RunFolder(out_dir, kind="detector", resume=resume)
    run.start(cfg)
    seed_everything(rank_seed(cfg.train.seed))  # rank 0 as one process; DDP gives all ranks its weights

    report = Report("train detector")
    dataset = make_train_dataset(cfg, train_json, images_dir, report)
    for p in report.problems:
        logger.warning("skipped %s: %s %s", p.file, p.reason, p.detail)
    if len(dataset) == 0:
        raise ValueError(f"{train_json}: no usable training image (annotated, readable) in {images_dir}")
    class_names = dataset.class_names
    model = build_model(cfg, len(class_names) + 1)
    last = run.load_last()
    if last is not None and list(last.vocabulary.get("part", [])) != class_names:
        raise ValueError(f"--resume: {run.last_path} was trained on classes {last.vocabulary.get('part')}, "
                         f"this data has {class_names}")
    if last is None:
        logger.info(initialise(model, cfg.model).summary())
    model.to(dev)
    set_input_size(model, cfg, train=True)
    bf16 = bf16_enabled(cfg.train.amp, dev)
    if dev.type == "cuda":
        torch.set_float32_matmul_precision("high")  # TF32 for the float32 parts
    if bf16:
        enable_bf16(model, "cuda")

    net = wrap_model(model, dev, sync_bn=cfg.train.sync_bn, find_unused=cfg.train.find_unused_parameters)
    s = cfg.solver
    optimizer = make_optimizer(s.optimizer, param_groups(model, lr=s.base_lr, weight_decay=s.weight_decay,
                                                         weight_decay_norm=s.weight_decay_norm),
                               lr=s.base_lr, momentum=s.momentum, betas=tuple(s.betas))

    def step(batch: Any) -> tuple[dict[str, torch.Tensor], int]:
        images, targets = batch
        return net(images, targets), len(images)

    hooks: list[HookBase] = []
    if cfg.train.time_budget_s > 0:
        hooks.append(TimeBudget(cfg.train.time_budget_s, calibrate_after=max(5, min(s.warmup_iters, 50)),
                                min_iter=s.warmup_iters + 1, run=run))
    evaluation = None
    if val_json:
        val_coco, val_dir = coco_api(val_json), Path(val_images or images_dir)

        def evaluate() -> dict[str, Any]:
            metrics = _evaluate(model, cfg, class_names, val_coco, val_dir, dev)
            set_input_size(model, cfg, train=True)
            return metrics

        evaluation = Evaluation(evaluate, cfg.train.eval_period, monitor=_monitor(cfg.train.monitor), run=run)
        hooks += [evaluation, EarlyStopping(evaluation, cfg.train.patience)]
    hooks += [MetricsWriter(run, cfg.train.log_period), PeriodicCheckpoint(run, cfg.train.checkpoint_period),
              ProgressHook(on_progress)]
    template = Checkpoint("detector", to_dict(cfg), {"part": class_names}, {}, {"category_ids": dataset.cat_ids})
    trainer = Trainer(model=net, optimizer=optimizer, step=step,
                      data=lambda start: _batches(dataset, cfg, dev, start, world), max_iter=s.max_iter,
                      template=template, grad_clip=cfg.train.grad_clip, hooks=hooks,
                      accumulate=cfg.train.accumulate, global_batch=cfg.data.batch_size)
    # the schedule follows trainer.max_iter, which the time budget may shorten
    trainer.scheduler = LambdaLR(optimizer, lambda it: lr_factor(it, s, trainer.max_iter))
    if last is not None:
        trainer.resume(last)
        logger.info("resuming %s at iteration %d", run.last_path, trainer.iter)
    logger.info("training %d images, %d classes %s on %s%s, iterations %d -> %d%s", len(dataset),
                len(class_names), class_names, dev, " (bf16)" if bf16 else "", trainer.iter, s.max_iter,
                f", {world.size} processes x {cfg.data.batch_size // world.size} images" if world.distributed else "")
    trainer.train()

    seconds = trainer.session_seconds()
    ips = trainer.samples / max(seconds, 1e-9)
    run.save(lambda: trainer.checkpoint(backend="torchvision", train_images=len(dataset),
                                        images_per_s=round(ips, 3)), run.model_path)
    logger.info("saved %s (iteration %d, %.2f images/s)", run.model_path, trainer.iter, ips)
    eval_metrics = evaluation.latest if evaluation else None
    if eval_metrics is not None:
        run.write_json("eval.json", eval_metrics)
    return TrainResult(run.path, run.model_path, trainer.iter, ips, trainer.losses[-1] if trainer.losses else None,
                       eval_metrics, report, trainer.losses, trainer.start_iter, seconds=seconds,
                       history=trainer.history)


def _evaluate(model: torch.nn.Module, cfg: DetectorConfig, class_names: list[str], coco: Any,
              images_dir: Path, device: torch.device) -> dict[str, Any]:
    """COCO metrics of the model being trained (put back in eval mode at test size)."""
    seg = TorchvisionSegmenter(model, class_names, cfg, device, amp=cfg.train.amp)
    return evaluate_segmenter(seg, coco, images_dir).metrics
