"""Training on the engine: crops manifest -> multi-head classifier checkpoint in RUN_DIR.

Epoch based (SGDR stepped per iteration, validation each epoch, early stopping, best
checkpoint). RUN_DIR (:class:`~garmentparse.engine.run.RunFolder`) gets ``config.yaml``
(resolved), ``metrics.jsonl`` (one line per epoch), ``report.json`` (skipped rows and why),
``last.pt`` (for ``--resume``) and ``model.pt`` (weights + config + vocabulary; the best epoch
on validation, or the last one without validation).

Several processes (``torchrun`` or ``--nproc``, :mod:`garmentparse.engine.distributed`):
``solver.batch_size`` is the global batch of one step; each rank takes its share of every epoch's
order (:class:`~garmentparse.engine.distributed.ShardSampler`), validation crops are split over
the ranks and the counts summed, and rank 0 writes RUN_DIR."""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, RandomSampler, Subset, WeightedRandomSampler

from garmentparse.checkpoint import Checkpoint, load_checkpoint
from garmentparse.classifiers.config import ClassifierConfig
from garmentparse.classifiers.data import (CropDataset, CropRecord, background_fill, build_vocabulary,
                                           infer_crop_size, load_crops, read_manifest, readable_crops,
                                           sample_weights, split_by_image, train_transform)
from garmentparse.classifiers.model import MultiHeadClassifier, masked_losses
from garmentparse.config import to_dict
from garmentparse.engine.amp import autocast, bf16_enabled
from garmentparse.engine.distributed import ShardSampler, gather_objects, setup, shard, split_batch, wrap_model
from garmentparse.engine.hooks import (BestCheckpoint, EarlyStopping, Evaluation, MetricsWriter,
                                       PeriodicCheckpoint, ProgressHook, TimeBudget)
from garmentparse.engine.loop import HookBase, Trainer, TrainResult
from garmentparse.engine.optim import make_optimizer, param_groups
from garmentparse.engine.run import RunFolder
from garmentparse.engine.seeding import rank_seed, seed_everything, seed_worker
from garmentparse.progress import ProgressCallback
from garmentparse.report import Report

logger = logging.getLogger(__name__)


def _to_device(targets: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in targets.items()}


@torch.no_grad()
def validate(model: MultiHeadClassifier, loader: DataLoader, device: torch.device, amp: bool,
             multi_label: dict[str, bool], thresholds: dict[str, float] | None = None) -> dict[str, Any]:
    """Masked loss and accuracy per head on a validation loader, over labelled samples only (a
    batch's mean loss is weighted by its labelled count, so batch size does not change it).
    Multi-label heads count a sample right when every value is on/off at the head's threshold.
    Several processes: each rank passes its share of the crops and the sums are gathered, so every
    rank returns the result of the whole set."""
    model.eval()
    thresholds = thresholds or {}
    loss_sum: dict[str, float] = {}
    correct: dict[str, int] = {}
    count: dict[str, int] = {}
    for x, targets in loader:
        x = model.normalise(x.to(device, non_blocking=True))
        if device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        targets = _to_device(targets, device)
        with autocast(device, amp):
            logits = model(x)
        losses = masked_losses(logits, targets, multi_label)
        for name, logit in logits.items():
            t = targets[name]
            if multi_label[name]:
                labelled = t[:, 0] >= 0
                pred = (torch.sigmoid(logit.float()) >= thresholds.get(name, 0.5))[labelled]
                right = int((pred == (t[labelled] > 0.5)).all(dim=1).sum())
            else:
                labelled = t >= 0
                right = int((logit.argmax(1) == t)[labelled].sum())
            n = int(labelled.sum())
            correct[name] = correct.get(name, 0) + right
            count[name] = count.get(name, 0) + n
            loss_sum[name] = loss_sum.get(name, 0.0) + float(losses[name]) * n
    shards = gather_objects((loss_sum, correct, count))
    if len(shards) > 1:
        loss_sum, correct, count = ({k: sum(part[i].get(k, 0) for part in shards) for k in shards[0][i]}
                                    for i in range(3))
    return {
        "loss": {k: v / count[k] for k, v in loss_sum.items() if count[k]},
        "accuracy": {k: correct[k] / count[k] for k in correct if count[k]},
        "n": count,
    }


def _monitor(val: dict[str, Any], mode: str, weights: dict[str, float]) -> float:
    """Higher is better: mean accuracy of the labelled heads, or minus the weighted loss."""
    if mode == "accuracy" and val["accuracy"]:
        return float(np.mean(list(val["accuracy"].values())))
    return -float(sum(weights[k] * v for k, v in val["loss"].items()))


def _split_train_val(records: list[CropRecord], val_manifest: str | Path | None, config: ClassifierConfig,
                     report: Report, heads: list[str]) -> tuple[list[CropRecord], list[CropRecord]]:
    if val_manifest is not None:
        return records, read_manifest(val_manifest, report, heads)
    images = {r.source_image or r.image_id or str(r.path) for r in records}
    if config.data.val_fraction <= 0 or len(images) < 5:
        return records, []
    train, val = split_by_image(records, [1 - config.data.val_fraction, config.data.val_fraction],
                                config.train.seed)
    return (train, val) if train and val else (records, [])


def _row(trainer: Trainer, window: dict[str, float], evaluation: Evaluation | None) -> dict[str, Any]:
    """The epoch line of ``metrics.jsonl``: train loss per head, lr, seconds, validation."""
    row: dict[str, Any] = {"epoch": trainer.epoch, "iter": trainer.iter, "lr": trainer.optimizer.param_groups[0]["lr"],
                           "train_loss": {k: v for k, v in window.items()
                                          if k not in ("loss", "grad_norm", "seconds", "samples_per_s")},
                           "seconds": round(window["seconds"], 3)}
    if evaluation is not None and evaluation.latest_iter == trainer.iter:
        val = evaluation.latest
        row.update(val_loss=val["loss"], val_accuracy=val["accuracy"], monitor=evaluation.monitor(val))
    return row


def _describe(row: dict[str, Any]) -> str:
    acc = ", ".join(f"{k} {v:.3f}" for k, v in row.get("val_accuracy", {}).items())
    return (f"epoch {row['epoch']}: train loss {sum(row['train_loss'].values()):.3f}"
            + (f", val acc {acc}" if acc else "") + f" ({row['seconds']:.1f}s)")


def _warm_start(config: ClassifierConfig, heads: list[str]) -> Checkpoint:
    """The classifier checkpoint ``model.init`` names, checked to fit this config (``model.warm_start``)."""
    ckpt = load_checkpoint(config.model.init, "classifier")
    backbone = ckpt.config.get("model", {}).get("backbone")
    if backbone != config.model.backbone:
        raise ValueError(f"model.warm_start: {config.model.init} has backbone {backbone!r}, "
                         f"this config {config.model.backbone!r}")
    if not set(heads) & set(ckpt.vocabulary):
        raise ValueError(f"model.warm_start: {config.model.init} has none of the heads {heads}")
    return ckpt


def train_classifier(config: ClassifierConfig, manifest: str | Path, out_dir: str | Path, *,
                     val_manifest: str | Path | None = None, device: str = "auto", resume: bool = False,
                     on_progress: ProgressCallback | None = None) -> TrainResult:
    """Train the configured backbone + heads on a crop manifest; write RUN_DIR (see module doc).
    ``resume`` continues RUN_DIR/last.pt (weights, optimiser, scheduler, epoch, best score).

    Missing labels are masked per head; a head with no label at all in the training data is
    kept in the model but marked untrained (the classifier will not answer for it)."""
    config = copy.deepcopy(config)
    world, dev = setup(device, config.train.dist_timeout_s)
    split_batch(config.solver.batch_size, world.size, config.train.accumulate, "solver.batch_size")
    run = RunFolder(out_dir, kind="classifier", resume=resume)
    seed_everything(rank_seed(config.train.seed))  # rank 0 as one process; DDP gives all ranks its weights
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input size: let cuDNN pick its fastest kernels
    heads = [h.attribute for h in config.model.heads]
    multi_label = {h.attribute: bool(h.multi_label) for h in config.model.heads}
    loss_weights = {h.attribute: h.loss_weight for h in config.model.heads}
    thresholds = {h.attribute: h.threshold for h in config.model.heads}
    report = Report("train classifier")

    records = read_manifest(manifest, report, heads)
    train_records, val_records = _split_train_val(records, val_manifest, config, report, heads)
    # unreadable crops go first, so class lists and untrained heads reflect what is trained on
    size, fill = config.data.input_size, background_fill(config.data.crop_background)
    train_cache = val_cache = None
    if config.data.cache:
        train_records, train_cache = load_crops(train_records, size, fill, report)
        val_records, val_cache = load_crops(val_records, size, fill, report)
    else:
        train_records, val_records = readable_crops(train_records, report), readable_crops(val_records, report)
    if config.data.crop_size is None:
        config.data.crop_size = infer_crop_size(train_records)
    # recorded in config.yaml and the checkpoint, so prediction normalises as training did
    mean, std = config.normalization()
    config.data.mean, config.data.std = list(mean), list(std)
    vocabulary, untrained = build_vocabulary(train_records, heads, config.model.classes)
    warm = _warm_start(config, heads) if config.model.warm_start else None
    if warm is not None:  # its class lists, so its heads fit; labels outside them count as missing
        vocabulary.update({h: warm.vocabulary[h] for h in heads if h in warm.vocabulary})
        untrained = [h for h in untrained if h not in warm.vocabulary]
    for head in untrained:
        logger.warning("head %r has no label in %s: kept untrained, left out of predictions", head, manifest)
    if len(train_records) < 2:
        raise ValueError(f"{manifest}: {len(train_records)} usable training crop(s); need at least 2")
    last = run.load_last()
    if last is not None and last.vocabulary != vocabulary:
        raise ValueError(f"--resume: {run.last_path} was trained on other class lists than {manifest} gives")
    report.counts.update(train_crops=len(train_records), val_crops=len(val_records))
    label_counts = {h: sum(1 for r in train_records if r.labels.get(h)) for h in heads}
    run.start(config)

    train_ds = CropDataset(train_records, vocabulary, multi_label, size, fill,
                           train_transform(config.augment, size, fill), train_cache)
    parts = world.size * config.train.accumulate  # a set smaller than the batch: the largest batch that splits
    batch_size = min(config.solver.batch_size, max(parts, len(train_ds) // parts * parts))
    micro = batch_size // parts
    bh = config.data.balance_head
    weights = sample_weights(train_records, bh, config.data.balance_power) if bh and bh not in untrained else None
    workers = config.data.workers
    loader_kw: dict[str, Any] = {"num_workers": workers, "pin_memory": dev.type == "cuda",
                                 "worker_init_fn": seed_worker if workers else None}
    if workers > 0:
        loader_kw.update(persistent_workers=True, prefetch_factor=4)

    def train_loader(seed: int) -> DataLoader:
        """Every rank draws the same order from ``seed`` and takes its share; one process: as ever."""
        generator = torch.Generator().manual_seed(seed)
        base = RandomSampler(train_ds, generator=generator) if weights is None else WeightedRandomSampler(
            weights, num_samples=len(weights), replacement=True, generator=generator)
        sampler = ShardSampler(base, world)
        return DataLoader(train_ds, batch_size=micro, sampler=sampler, generator=generator,
                          drop_last=len(sampler) % micro == 1, **loader_kw)

    def batches(start: int) -> Iterator[Any]:
        loader = train_loader(config.train.seed + start)
        epoch = start // iters
        while True:
            loader.sampler.set_epoch(epoch)
            yield from loader
            epoch += 1

    val_loader = None
    if val_records:
        val_ds = CropDataset(val_records, vocabulary, multi_label, size, fill, None, val_cache)
        if val_ds.labelled():
            val_share = val_ds if not world.distributed else Subset(val_ds, shard(len(val_ds)))
            val_loader = DataLoader(val_share, batch_size=config.eval.batch_size, shuffle=False, **loader_kw)
        else:
            logger.warning("the %d validation crops carry no label of a trained class: training without "
                           "validation (no early stopping, last epoch kept)", len(val_records))
            report.add(str(val_manifest or manifest), "validation_unlabelled",
                       "no validation crop has a label of a trained class", action="validation_off")

    model = MultiHeadClassifier.from_config(config, vocabulary).to(dev)
    if warm is not None:
        own = model.state_dict()
        fits = {k: v for k, v in warm.state_dict.items() if k in own and own[k].shape == v.shape}
        model.load_state_dict(fits, strict=False)
        logger.info("warm start from %s: %d of %d tensors", config.model.init, len(fits), len(own))
    channels_last = dev.type == "cuda" and config.train.channels_last
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    net = wrap_model(model, dev, sync_bn=config.train.sync_bn, find_unused=config.train.find_unused_parameters)
    s = config.solver
    optimizer = make_optimizer("adamw", param_groups(model, lr=s.lr, weight_decay=s.weight_decay,
                                                     backbone_lr_mult=s.backbone_lr_mult), lr=s.lr)
    iters = max(1, len(train_loader(0)) // config.train.accumulate)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        optimizer, T_0=max(1, s.t0_epochs * iters), T_mult=s.t_mult, eta_min=s.eta_min)
    amp = bf16_enabled(config.train.amp, dev)

    def step(batch: Any) -> tuple[dict[str, torch.Tensor], int]:
        x, targets = batch
        x = model.normalise(x.to(dev, non_blocking=True))
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(dev, amp):
            logits = net(x)
        return masked_losses(logits, _to_device(targets, dev), multi_label, s.label_smoothing), len(x)

    t = config.train
    hooks: list[HookBase] = [TimeBudget(t.time_budget_s)] if t.time_budget_s > 0 else []
    evaluation = None
    if val_loader is not None:
        evaluation = Evaluation(lambda: validate(model, val_loader, dev, amp, multi_label, thresholds),
                                t.eval_period, monitor=lambda val: _monitor(val, t.monitor, loss_weights))
        hooks += [evaluation, BestCheckpoint(run, evaluation), EarlyStopping(evaluation, t.patience)]
    hooks += [MetricsWriter(run, t.log_period, row=lambda tr, w: _row(tr, w, evaluation), describe=_describe),
              PeriodicCheckpoint(run, t.checkpoint_period), ProgressHook(on_progress)]
    template = Checkpoint("classifier", to_dict(config), vocabulary, {}, {
        "untrained_heads": untrained, "label_counts": label_counts, "train_manifest": str(manifest)})
    trainer = Trainer(model=net, optimizer=optimizer, scheduler=scheduler, step=step, data=batches,
                      max_iter=t.epochs * iters, template=template, loss_weights=loss_weights,
                      grad_clip=t.grad_clip, epoch_length=iters, hooks=hooks, accumulate=t.accumulate,
                      global_batch=batch_size)
    if last is not None:
        trainer.resume(last)
        logger.info("resuming %s at epoch %d", run.last_path, trainer.epoch)
    logger.info("training %s (%s) on %d crops (%d for validation), heads %s, device %s, %s%s",
                config.model.backbone, config.model.split, len(train_ds), len(val_records), heads, dev,
                "bf16" if amp else "fp32", f", {world.size} processes x {micro} crops" if world.distributed else "")
    trainer.train()

    best_iter = evaluation.best_iter if evaluation is not None else None
    if best_iter is None:  # no validation (or it never scored): keep the last epoch
        run.save(lambda: trainer.checkpoint(validation=None), run.model_path)
        best_iter = trainer.iter
    if run.main:
        report.save(run.path / "report.json")
    for p in report.problems:
        logger.warning("skipped %s: %s %s", p.file, p.reason, p.detail)
    seconds = trainer.session_seconds()
    return TrainResult(run.path, run.model_path, trainer.iter, trainer.samples / max(seconds, 1e-9),
                       trainer.losses[-1] if trainer.losses else None,
                       evaluation.latest if evaluation else None, report, trainer.losses, trainer.start_iter,
                       seconds=seconds, epochs=trainer.epoch, best_epoch=best_iter // iters,
                       best_score=evaluation.best if evaluation is not None and evaluation.best_iter is not None
                       else None, history=trainer.history, extra={"untrained_heads": untrained})
