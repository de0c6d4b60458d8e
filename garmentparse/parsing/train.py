"""The torchvision training loop: iteration based, warm-up + cosine/step lr, AdamW or SGD,
gradient clipping, bf16 on CUDA, periodic checkpoints with exact ``--resume``.

A run folder holds ``config.yaml`` (resolved config), ``metrics.jsonl`` (one JSON line per
``train.log_period`` iterations: loss parts, lr, images/s; plus eval lines), ``last.pt``
(weights + optimiser + scheduler + iteration, for resume), ``model.pt`` (weights, config,
vocabulary: the file every other command takes) and, with ``--val``, ``eval.json``.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.optim.lr_scheduler import LambdaLR
from torch.utils.data import DataLoader, get_worker_info

from garmentparse.checkpoint import Checkpoint, load_checkpoint, resolve_device, save_checkpoint
from garmentparse.config import dump_yaml, to_dict
from garmentparse.parsing.config import DetectorConfig, SolverConfig
from garmentparse.parsing.data import (InfiniteSampler, collate, load_coco, make_train_dataset,
                                       repeat_factors)
from garmentparse.parsing.loading import Bar
from garmentparse.parsing.model import build_model, enable_bf16, initialise, set_input_size
from garmentparse.report import Report

LOSS_KEYS = ("loss_classifier", "loss_box_reg", "loss_mask", "loss_objectness", "loss_rpn_box_reg")


@dataclass
class TrainResult:
    """What a training run produced."""

    run_dir: Path
    model_path: Path
    iterations: int  # the last iteration reached
    images_per_s: float  # training throughput of this session (data loading included)
    final_loss: float | None
    eval: dict[str, Any] | None  # metrics on --val, when given
    report: Report | None = None
    losses: list[float] = field(default_factory=list)  # mean loss of each logged window
    start_iteration: int = 0


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


def build_optimizer(model: torch.nn.Module, s: SolverConfig) -> torch.optim.Optimizer:
    """SGD or AdamW; norm weights and biases (1-d tensors) get ``weight_decay_norm``."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    groups = [{"params": decay, "weight_decay": s.weight_decay},
              {"params": no_decay, "weight_decay": s.weight_decay_norm}]
    cuda = any(p.is_cuda for g in groups for p in g["params"])
    fast = {"fused": True} if cuda else {"foreach": True}  # multi-tensor kernels, not a Python loop
    if s.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=s.base_lr, betas=tuple(s.betas), **fast)
    return torch.optim.SGD(groups, lr=s.base_lr, momentum=s.momentum, **fast)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _seed_worker(_: int) -> None:
    """Give each DataLoader worker its own augmentation stream (albumentations 2 keeps a
    generator per Compose, which forked workers would otherwise share)."""
    info = get_worker_info()
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)
    transform = getattr(info.dataset, "transform", None) if info else None
    if transform is not None and hasattr(transform, "set_random_seed"):
        transform.set_random_seed(seed)


def _to_device(images: list[torch.Tensor], targets: list[dict], device: torch.device
               ) -> tuple[list[torch.Tensor], list[dict]]:
    nb = device.type == "cuda"
    images = [im.to(device, non_blocking=nb).float().div_(255.0) for im in images]
    targets = [{k: v.to(device, non_blocking=nb) for k, v in t.items()} for t in targets]
    return images, targets


class _Metrics:
    """Appends JSON lines to ``metrics.jsonl``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, row: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")


def _state_cpu(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def train_torchvision(cfg: DetectorConfig, train_json: str | Path, images_dir: str | Path,
                      out_dir: str | Path, *, val_json: str | Path | None = None,
                      val_images: str | Path | None = None, device: str = "auto",
                      resume: bool = False, progress: bool = True,
                      log: Callable[[str], None] | None = None) -> TrainResult:
    """Train a torchvision Mask R-CNN on a COCO file; see the module doc for the run folder."""
    log = log or (lambda msg: None)
    out_dir = Path(out_dir)
    last_path, model_path = out_dir / "last.pt", out_dir / "model.pt"
    if resume and not last_path.is_file():
        raise FileNotFoundError(f"--resume: {last_path} does not exist, nothing to continue")
    if not resume and last_path.is_file():
        raise FileExistsError(f"{out_dir} already holds a run (last.pt): pass --resume to continue "
                              "it, or choose another --out")
    dev = resolve_device(device)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.yaml").write_text(dump_yaml(cfg), encoding="utf-8")
    _seed_everything(cfg.train.seed)

    report = Report("train detector")
    dataset = make_train_dataset(cfg, train_json, images_dir, report)
    for p in report.problems:
        log(f"skipped {p.file}: {p.reason} {p.detail}")
    if len(dataset) == 0:
        raise ValueError(f"{train_json}: no usable training image (annotated, readable) in {images_dir}")
    class_names = dataset.class_names

    model = build_model(cfg, len(class_names) + 1)
    ckpt = None
    start = 0
    if resume:
        ckpt = load_checkpoint(last_path, expect_kind="detector")
        if list(ckpt.vocabulary.get("part", [])) != class_names:
            raise ValueError(f"--resume: {last_path} was trained on classes {ckpt.vocabulary.get('part')}, "
                             f"this data has {class_names}")
        model.load_state_dict(ckpt.state_dict)
        start = int(ckpt.extra["iteration"])
        log(f"resuming {last_path} at iteration {start}")
    else:
        log(initialise(model, cfg.model).summary())
    model.to(dev)
    set_input_size(model, cfg, train=True)
    bf16 = cfg.model.amp and dev.type == "cuda"
    if dev.type == "cuda":
        torch.set_float32_matmul_precision("high")  # TF32 for the float32 parts
    if bf16:
        enable_bf16(model, "cuda")

    s = cfg.solver
    budget = {"max_iter": s.max_iter}
    optimizer = build_optimizer(model, s)
    scheduler = LambdaLR(optimizer, lambda it: lr_factor(it, s, budget["max_iter"]))
    elapsed_before = 0.0
    if ckpt is not None:
        optimizer.load_state_dict(ckpt.extra["optimizer"])
        scheduler.load_state_dict(ckpt.extra["scheduler"])
        elapsed_before = float(ckpt.extra.get("train_seconds", 0.0))

    factors = repeat_factors(dataset, cfg.data.repeat_threshold) if cfg.data.sampler == "repeat_factor" else None
    if hasattr(dataset.transform, "set_random_seed"):
        dataset.transform.set_random_seed(cfg.train.seed + start)
    workers = cfg.data.workers
    loader = DataLoader(dataset, batch_size=cfg.data.batch_size,
                        sampler=InfiniteSampler(len(dataset), cfg.train.seed + start, factors),
                        num_workers=workers, collate_fn=collate, pin_memory=dev.type == "cuda",
                        worker_init_fn=_seed_worker if workers else None,
                        prefetch_factor=4 if workers else None)
    metrics = _Metrics(out_dir / "metrics.jsonl")
    log(f"training {len(dataset)} images, {len(class_names)} classes {class_names} on {dev}"
        f"{' (bf16)' if bf16 else ''}, iterations {start} -> {s.max_iter}")

    def save_last(it: int, seconds: float) -> None:
        save_checkpoint(Checkpoint("detector", to_dict(cfg), {"part": class_names}, _state_cpu(model), {
            "iteration": it, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "max_iter": budget["max_iter"], "train_seconds": seconds, "category_ids": dataset.cat_ids,
        }), last_path)

    val_coco = load_coco(val_json) if val_json else None
    val_dir = Path(val_images or images_dir)
    losses: list[float] = []
    window: dict[str, torch.Tensor] = {}
    window_n = 0
    window_images = 0
    skipped_steps = 0
    bad_in_row = 0
    images_seen = 0
    eval_metrics = None
    t_start = time.perf_counter()
    t_window = t_start
    calib_n = 10  # iterations timed to estimate the speed, after warm-up (or 50 iterations)
    calibrate_at = start + max(5, min(s.warmup_iters, 50)) + calib_n if s.time_budget_s > 0 else None
    t_calib0 = None
    it = start
    model.train()
    data_iter = iter(loader)
    with Bar(progress, "train", s.max_iter, transient=False) as bar:
        bar.update(completed=start)
        while it < budget["max_iter"]:
            images, targets = next(data_iter)
            if not images:
                continue
            images, targets = _to_device(images, targets, dev)
            loss_dict = model(images, targets)
            loss = sum(loss_dict.values())
            if not torch.isfinite(loss):
                skipped_steps += 1
                bad_in_row += 1
                optimizer.zero_grad(set_to_none=True)
                if bad_in_row >= 20:
                    raise FloatingPointError(f"loss is {loss.item()} for 20 iterations in a row at "
                                             f"iteration {it}; lower solver.base_lr or enable clipping")
                it += 1
                scheduler.step()
                bar.advance(1)
                continue
            bad_in_row = 0
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = None
            if s.clip_grad_norm > 0:
                grad_norm = torch.nn.utils.clip_grad_norm_(
                    [p for p in model.parameters() if p.requires_grad], s.clip_grad_norm)
            optimizer.step()
            scheduler.step()
            it += 1
            images_seen += len(images)
            window_images += len(images)
            window_n += 1
            for k, v in loss_dict.items():
                window[k] = window.get(k, 0.0) + v.detach().float()
            window["loss"] = window.get("loss", 0.0) + loss.detach().float()
            if grad_norm is not None:
                window["grad_norm"] = window.get("grad_norm", 0.0) + grad_norm.detach().float()

            # time budget: once the speed is steady, shorten max_iter so the run fits
            if calibrate_at is not None:
                if it == calibrate_at - calib_n:
                    t_calib0 = time.perf_counter()
                elif it == calibrate_at and t_calib0 is not None:
                    per_it = (time.perf_counter() - t_calib0) / calib_n
                    left = s.time_budget_s - elapsed_before - (time.perf_counter() - t_start)
                    fit = it + max(1, int(left / per_it))
                    if fit < budget["max_iter"]:
                        budget["max_iter"] = max(fit, s.warmup_iters + 1)
                        bar.update(total=budget["max_iter"])
                        log(f"time budget {s.time_budget_s:.0f}s at {per_it:.3f}s/iteration: "
                            f"max_iter {s.max_iter} -> {budget['max_iter']}")
                    metrics.write({"iter": it, "budget_max_iter": budget["max_iter"], "s_per_iter": per_it})
            over_budget = (s.time_budget_s > 0 and
                           elapsed_before + time.perf_counter() - t_start > s.time_budget_s * 1.05)

            last_iter = it >= budget["max_iter"] or over_budget
            if it % cfg.train.log_period == 0 or last_iter:
                now = time.perf_counter()
                row = {"iter": it, **{k: round(float(v) / window_n, 5) for k, v in window.items()},
                       "lr": optimizer.param_groups[0]["lr"],
                       "images_per_s": round(window_images / max(now - t_window, 1e-9), 3),
                       "time": round(elapsed_before + now - t_start, 2)}
                if skipped_steps:
                    row["skipped_nonfinite"] = skipped_steps
                metrics.write(row)
                losses.append(row["loss"])
                if not progress:
                    log(f"iter {it}/{budget['max_iter']}  loss {row['loss']:.4f}  lr {row['lr']:.3g}  "
                        f"{row['images_per_s']:.1f} images/s  {row['time']:.0f}s")
                bar.advance(0, description=f"train loss {row['loss']:.3f}")
                window, window_n, window_images, t_window = {}, 0, 0, now
            bar.advance(1)
            if it % cfg.train.checkpoint_period == 0 or last_iter:
                save_last(it, elapsed_before + time.perf_counter() - t_start)
            if val_coco is not None and cfg.train.eval_period and it % cfg.train.eval_period == 0 \
                    and not last_iter:
                metrics.write({"iter": it, "eval": _evaluate(model, cfg, class_names, val_coco, val_dir, dev)})
                model.train()
                set_input_size(model, cfg, train=True)
            if over_budget:
                log(f"time budget {s.time_budget_s:.0f}s used up at iteration {it}")
                break
    del data_iter
    train_seconds = time.perf_counter() - t_start
    ips = images_seen / max(train_seconds, 1e-9)
    if it == start:  # nothing left to train (resume of a finished run)
        train_seconds = 0.0

    save_checkpoint(Checkpoint("detector", to_dict(cfg), {"part": class_names}, _state_cpu(model), {
        "iteration": it, "category_ids": dataset.cat_ids, "backend": "torchvision",
        "train_images": len(dataset), "images_per_s": round(ips, 3),
        "train_seconds": round(elapsed_before + train_seconds, 2),
    }), model_path)
    log(f"saved {model_path} (iteration {it}, {ips:.2f} images/s)")
    if val_coco is not None:
        eval_metrics = _evaluate(model, cfg, class_names, val_coco, val_dir, dev)
        metrics.write({"iter": it, "eval": eval_metrics})
        (out_dir / "eval.json").write_text(json.dumps(eval_metrics, indent=1), encoding="utf-8")
    return TrainResult(out_dir, model_path, it, ips, losses[-1] if losses else None, eval_metrics,
                       report, losses, start)


def _evaluate(model: torch.nn.Module, cfg: DetectorConfig, class_names: list[str], coco: Any,
              images_dir: Path, device: torch.device) -> dict[str, Any]:
    """COCO metrics of the model being trained (put back in eval mode at test size)."""
    from garmentparse.parsing.evaluate import evaluate_segmenter
    from garmentparse.parsing.segmenter import TorchvisionSegmenter

    seg = TorchvisionSegmenter(model, class_names, cfg, device, amp=cfg.model.amp)
    return evaluate_segmenter(seg, coco, images_dir).metrics
