"""Training: crops manifest -> multi-head classifier checkpoint in RUN_DIR.

RUN_DIR gets ``config.yaml`` (resolved), ``metrics.jsonl`` (one line per epoch),
``report.json`` (skipped rows and why) and ``model.pt`` (weights + config + vocabulary; the
best epoch on validation, or the last one without validation)."""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, WeightedRandomSampler

from garmentparse.checkpoint import Checkpoint, resolve_device, save_checkpoint
from garmentparse.classifiers.config import ClassifierConfig
from garmentparse.classifiers.data import (CropDataset, CropRecord, background_fill, build_vocabulary,
                                           infer_crop_size, load_crops, normalise, read_manifest, readable_crops,
                                           sample_weights, split_by_image, train_transform)
from garmentparse.classifiers.model import MultiHeadClassifier, masked_losses
from garmentparse.classifiers.predict import autocast
from garmentparse.config import dump_yaml, to_dict
from garmentparse.report import Report


@dataclass
class TrainResult:
    checkpoint: Path
    best_epoch: int
    best_score: float | None  # the monitored validation value (None without validation)
    epochs: int
    seconds: float
    untrained_heads: list[str]
    history: list[dict[str, Any]] = field(default_factory=list)
    report: Report | None = None


def _console():
    from garmentparse.cli.common import console

    return console


def _param_groups(model: MultiHeadClassifier, lr: float, backbone_mult: float, wd: float) -> list[dict]:
    groups: dict[tuple[bool, bool], list] = {}
    for name, p in model.named_parameters():
        key = (name.startswith("backbone."), p.ndim > 1)
        groups.setdefault(key, []).append(p)
    return [{"params": ps, "lr": lr * (backbone_mult if bb else 1.0), "weight_decay": wd if decay else 0.0}
            for (bb, decay), ps in groups.items()]


def _to_device(targets: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in targets.items()}


@torch.no_grad()
def validate(model: MultiHeadClassifier, loader: DataLoader, device: torch.device, amp: bool,
             multi_label: dict[str, bool], thresholds: dict[str, float] | None = None) -> dict[str, Any]:
    """Masked loss and accuracy per head on a validation loader, over labelled samples only (a
    batch's mean loss is weighted by its labelled count, so batch size does not change it).
    Multi-label heads count a sample right when every value is on/off at the head's threshold."""
    model.eval()
    thresholds = thresholds or {}
    loss_sum: dict[str, float] = {}
    correct: dict[str, int] = {}
    count: dict[str, int] = {}
    for x, targets in loader:
        x = normalise(x.to(device, non_blocking=True))
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
                                config.data.seed)
    return (train, val) if train and val else (records, [])


def train_classifier(config: ClassifierConfig, manifest: str | Path, out_dir: str | Path, *,
                     val_manifest: str | Path | None = None, device: str = "auto",
                     show_progress: bool = True) -> TrainResult:
    """Train the configured backbone + heads on a crop manifest; write RUN_DIR (see module doc).

    Missing labels are masked per head; a head with no label at all in the training data is
    kept in the model but marked untrained (the classifier will not answer for it)."""
    start_time = time.perf_counter()
    config = copy.deepcopy(config)
    out_dir = Path(out_dir)
    if (out_dir / "model.pt").exists():
        raise FileExistsError(f"{out_dir} already holds a trained classifier (model.pt): "
                              "choose another --out or remove it")
    out_dir.mkdir(parents=True, exist_ok=True)
    console = _console()
    torch.manual_seed(config.data.seed)
    np.random.seed(config.data.seed)
    dev = resolve_device(device)
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
    vocabulary, untrained = build_vocabulary(train_records, heads, config.model.classes)
    for head in untrained:
        console.print(f"[yellow]head {head!r} has no label in {manifest}: kept untrained, "
                      "left out of predictions[/yellow]")
    if len(train_records) < 2:
        raise ValueError(f"{manifest}: {len(train_records)} usable training crop(s); need at least 2")
    report.counts.update(train_crops=len(train_records), val_crops=len(val_records))
    label_counts = {h: sum(1 for r in train_records if r.labels.get(h)) for h in heads}
    (out_dir / "config.yaml").write_text(dump_yaml(config), encoding="utf-8")

    train_ds = CropDataset(train_records, vocabulary, multi_label, size, fill,
                           train_transform(config.augment, size, fill), train_cache)
    batch_size = min(config.solver.batch_size, len(train_ds))
    sampler = None
    bh = config.data.balance_head
    if bh is not None and bh not in untrained:
        weights = sample_weights(train_records, bh, config.data.balance_power)
        sampler = WeightedRandomSampler(weights, num_samples=len(weights), replacement=True,
                                        generator=torch.Generator().manual_seed(config.data.seed))
    workers = config.data.workers
    loader_kw: dict[str, Any] = {"num_workers": workers, "pin_memory": dev.type == "cuda"}
    if workers > 0:
        loader_kw.update(persistent_workers=True, prefetch_factor=4)
    train_loader = DataLoader(train_ds, batch_size=batch_size, sampler=sampler, shuffle=sampler is None,
                              drop_last=len(train_ds) % batch_size == 1, **loader_kw)
    val_loader = None
    if val_records:
        val_ds = CropDataset(val_records, vocabulary, multi_label, size, fill, None, val_cache)
        if val_ds.labelled():
            val_loader = DataLoader(val_ds, batch_size=config.eval.batch_size, shuffle=False, **loader_kw)
        else:
            console.print(f"[yellow]the {len(val_records)} validation crops carry no label of a trained "
                          "class: training without validation (no early stopping, last epoch kept)[/yellow]")
            report.add(str(val_manifest or manifest), "validation_unlabelled",
                       "no validation crop has a label of a trained class", action="validation_off")

    model = MultiHeadClassifier.from_config(config, vocabulary).to(dev)
    if dev.type == "cuda" and config.train.channels_last:
        model = model.to(memory_format=torch.channels_last)
    s = config.solver
    optimizer = torch.optim.AdamW(_param_groups(model, s.lr, s.backbone_lr_mult, s.weight_decay), lr=s.lr)
    iters = len(train_loader)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        optimizer, T_0=max(1, s.t0_epochs * iters), T_mult=s.t_mult, eta_min=s.eta_min)
    amp = config.train.amp and dev.type == "cuda"
    console.print(f"training {config.model.backbone} ({config.model.split}) on {len(train_ds)} crops "
                  f"({len(val_records)} for validation), heads {heads}, device {dev}, "
                  f"{'bf16' if amp else 'fp32'}")

    ckpt_path = out_dir / "model.pt"
    history: list[dict[str, Any]] = []
    best, best_epoch, stale = -math.inf, 0, 0
    saved_epoch = 0
    metrics_file = (out_dir / "metrics.jsonl").open("w", encoding="utf-8")

    def save(epoch: int, val: dict[str, Any] | None) -> None:
        nonlocal saved_epoch
        saved_epoch = epoch
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_checkpoint(Checkpoint("classifier", to_dict(config), vocabulary, state, {
            "untrained_heads": untrained, "epoch": epoch, "validation": val,
            "label_counts": label_counts, "train_manifest": str(manifest)}), ckpt_path)

    from garmentparse.cli.common import progress as make_progress

    bar = make_progress(transient=True) if show_progress else None
    epoch = 0
    try:
        if bar:
            bar.start()
        for epoch in range(1, config.train.epochs + 1):
            model.train()
            task = bar.add_task(f"epoch {epoch}", total=iters) if bar else None
            sums: dict[str, float] = {}
            t0 = time.perf_counter()
            for x, targets in train_loader:
                x = normalise(x.to(dev, non_blocking=True))
                if dev.type == "cuda" and config.train.channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                targets = _to_device(targets, dev)
                with autocast(dev, amp):
                    logits = model(x)
                losses = masked_losses(logits, targets, multi_label, s.label_smoothing)
                loss = sum(loss_weights[k] * v for k, v in losses.items())
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if config.train.grad_clip:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), config.train.grad_clip)
                optimizer.step()
                scheduler.step()
                for k, v in losses.items():
                    sums[k] = sums.get(k, 0.0) + float(v.detach())
                if bar:
                    bar.advance(task)
            if bar:
                bar.remove_task(task)
            row: dict[str, Any] = {"epoch": epoch, "lr": optimizer.param_groups[0]["lr"],
                                   "train_loss": {k: v / iters for k, v in sums.items()},
                                   "seconds": round(time.perf_counter() - t0, 3)}
            val = validate(model, val_loader, dev, amp, multi_label, thresholds) if val_loader else None
            if val is not None:
                row["val_loss"], row["val_accuracy"] = val["loss"], val["accuracy"]
                score = _monitor(val, config.train.monitor, loss_weights)
                row["monitor"] = score
                if score > best:
                    best, best_epoch, stale = score, epoch, 0
                    save(epoch, val)
                else:
                    stale += 1
            history.append(row)
            metrics_file.write(json.dumps(row) + "\n")
            metrics_file.flush()
            acc = ", ".join(f"{k} {v:.3f}" for k, v in (val or {}).get("accuracy", {}).items())
            console.print(f"epoch {epoch}: train loss {sum(row['train_loss'].values()):.3f}"
                          + (f", val acc {acc}" if acc else "") + f" ({row['seconds']:.1f}s)")
            if config.train.patience and val is not None and stale >= config.train.patience:
                console.print(f"early stop: no validation improvement for {stale} epochs (best: epoch {best_epoch})")
                break
            elapsed = (time.perf_counter() - start_time) / 60
            if config.train.max_minutes is not None and elapsed >= config.train.max_minutes:
                console.print(f"time limit: stopping after {elapsed:.1f} min (train.max_minutes)")
                break
    finally:
        if bar:
            bar.stop()
        metrics_file.close()
    if val_loader is None or not saved_epoch:  # no validation (or it never scored): keep the last
        best_epoch = epoch
        save(epoch, None)
    report.save(out_dir / "report.json")
    for p in report.problems:
        console.print(f"skipped {p.file}: {p.reason} {p.detail}")
    return TrainResult(ckpt_path, best_epoch, best if val_loader is not None else None, epoch,
                       time.perf_counter() - start_time, untrained, history, report)
