"""``garmentparse retrain``: fine-tune the detector and/or classifier on the catalogue's reviewed
garments, from a release model or a checkpoint, and measure both on the held-back reviewed photos.

``RETRAIN/`` holds ``data/`` (:mod:`.data`), ``detector/`` and ``classifier/`` (ordinary run
folders of ``train``: config.yaml, metrics.jsonl, last.pt, model.pt; ``--resume`` continues them)
and ``retrain.json`` (sources, split counts, settings, held-back metrics before and after).
"""

from __future__ import annotations

import copy
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from garmentparse.checkpoint import load_checkpoint
from garmentparse.config import apply_overrides, from_dict
from garmentparse.progress import ProgressCallback
from garmentparse.release import identify
from garmentparse.report import Report
from garmentparse.retraining.data import ReviewedSplit, TrainingData, split_reviewed, write_training_data
from garmentparse.store import Store

logger = logging.getLogger(__name__)
TASKS = ("detector", "classifier")


class RetrainError(ValueError):
    """Retraining cannot start (too few reviewed garments, a model of the wrong kind): nothing written."""


@dataclass(frozen=True)
class RetrainSettings:
    held_back: float = 0.2  # share of reviewed photos kept out of training (stable per photo path)
    seed: int = 0
    min_garments: int = 20  # fewer reviewed training garments than this for a stage: refuse
    detector_iterations: int = 300
    classifier_epochs: int = 10
    time_budget_s: float = 0.0  # per stage (0: off)
    detector_overrides: tuple[str, ...] = ()  # --set style, applied last
    classifier_overrides: tuple[str, ...] = ()
    device: str = "auto"
    resume: bool = False
    evaluate: bool = True  # held-back metrics of the source and the new model


@dataclass
class RetrainResult:
    out_dir: Path
    sources: dict[str, str]  # task -> the model it started from (name or path)
    models: dict[str, Path]  # task -> the new model.pt
    counts: dict[str, dict[str, int]]  # side -> counts (ReviewedSplit.counts)
    heldback: dict[str, dict[str, Any]] = field(default_factory=dict)  # task -> {"before": m, "after": m}
    seconds: dict[str, float] = field(default_factory=dict)
    report: Report = field(default_factory=lambda: Report("retrain"))

    def to_json(self) -> dict[str, Any]:
        return {"out_dir": str(self.out_dir), "sources": self.sources,
                "models": {t: str(p) for t, p in self.models.items()}, "counts": self.counts,
                "heldback": self.heldback, "seconds": self.seconds, "report": self.report.to_dict()}


def sources_by_task(refs: list[str]) -> dict[str, str]:
    """Each model reference (release name or checkpoint path) keyed by its kind, read from it."""
    out: dict[str, str] = {}
    for ref in refs:
        try:
            kind = load_checkpoint(ref).kind
        except (FileNotFoundError, ValueError, LookupError) as exc:
            raise RetrainError(str(exc)) from None
        if kind not in TASKS:
            raise RetrainError(f"{ref}: a {kind} model; retrain fine-tunes detectors and classifiers")
        if kind in out:
            raise RetrainError(f"two {kind}s given ({out[kind]} and {ref}): give one of each at most")
        out[kind] = ref
    return out


def check_enough(split: ReviewedSplit, tasks: list[str], minimum: int) -> None:
    """:class:`RetrainError` when a stage has fewer reviewed training garments than ``minimum``."""
    have = {"detector": split.detector_garments("train"), "classifier": split.garments("train")}
    short = [t for t in tasks if have[t] < minimum]
    if short:
        what = "; ".join(f"{t}: {have[t]} reviewed garment(s) to train on"
                         + (" (on photos whose garments are all reviewed)" if t == "detector" else "")
                         for t in short)
        raise RetrainError(f"too few reviewed garments ({what}; at least {minimum} needed, "
                           f"{split.held_back:.0%} of reviewed photos held back): review more, or lower --min-garments")


def _finetune_config(cls: type, ckpt_config: dict[str, Any], ref: str, changes: dict[str, Any],
                     overrides: tuple[str, ...]) -> Any:
    data = copy.deepcopy(ckpt_config)
    items = [f"{k}={json.dumps(v)}" for k, v in changes.items()] + list(overrides)
    return from_dict(cls, apply_overrides(data, items, {}), source=f"{ref} (retrain)")


def detector_config(ref: str, s: RetrainSettings) -> Any:
    """The source detector's own config, initialised from it, tuned for a short fine-tune."""
    from garmentparse.parsing import DetectorConfig

    ckpt = load_checkpoint(ref, "detector")
    changes = {"model.init": str(ref), "data.keep_empty_images": True, "solver.max_iter": s.detector_iterations,
               "solver.base_lr": 0.0002 if ckpt.config["solver"]["optimizer"] == "adamw" else 0.002,
               "solver.warmup_iters": min(20, s.detector_iterations - 1), "solver.schedule": "cosine",
               "solver.steps": [], "train.time_budget_s": s.time_budget_s}
    return _finetune_config(DetectorConfig, ckpt.config, ref, changes, s.detector_overrides)


def classifier_config(ref: str, s: RetrainSettings) -> Any:
    """The source classifier's own config, warm-started from all of it (trunk and heads)."""
    from garmentparse.classifiers import ClassifierConfig

    ckpt = load_checkpoint(ref, "classifier")
    changes = {"model.init": str(ref), "model.warm_start": True, "train.epochs": s.classifier_epochs,
               "solver.lr": ckpt.config["solver"]["lr"] * 0.3, "solver.t0_epochs": s.classifier_epochs,
               "train.time_budget_s": s.time_budget_s, "train.patience": max(3, s.classifier_epochs)}
    return _finetune_config(ClassifierConfig, ckpt.config, ref, changes, s.classifier_overrides)


def retrain(store: Store, sources: dict[str, str], images_root: str | Path, out_dir: str | Path,
            settings: RetrainSettings = RetrainSettings(), *,
            on_progress: ProgressCallback | None = None) -> RetrainResult:
    """Fine-tune each model of ``sources`` (task -> release name or checkpoint) on the reviewed
    garments of ``store`` (photos under ``images_root``); see the module doc for ``out_dir``.
    Raises :class:`RetrainError` before writing anything when there is too little to learn from."""
    s = settings
    tasks = [t for t in TASKS if t in sources]
    if not tasks:
        raise RetrainError("nothing to retrain: give a detector and/or a classifier to start from")
    split = split_reviewed(store, s.held_back, s.seed)
    check_enough(split, tasks, s.min_garments)
    configs = {"detector": detector_config, "classifier": classifier_config}
    cfgs = {t: configs[t](sources[t], s) for t in tasks}  # config errors before anything is written
    out = Path(out_dir)
    data = write_training_data(store, split, images_root, out / "data", crops="classifier" in tasks)
    result = RetrainResult(out, dict(sources), {}, split.counts())
    result.report.extend(data.report.problems)
    for task in tasks:
        start = time.perf_counter()
        result.models[task] = _train(task, cfgs[task], data, images_root, out / task, s, on_progress)
        result.seconds[task] = round(time.perf_counter() - start, 1)
        if s.evaluate:
            result.heldback[task] = _heldback(task, sources[task], result.models[task], data, split,
                                              images_root, s.device)
    _save(result, s)
    return result


def _train(task: str, cfg: Any, data: TrainingData, images_root: str | Path, run_dir: Path,
           s: RetrainSettings, on_progress: ProgressCallback | None) -> Path:
    if task == "detector":
        from garmentparse.parsing import train_detector

        return train_detector(cfg, data.coco["train"], images_root, run_dir, device=s.device, resume=s.resume,
                              on_progress=on_progress).model_path
    from garmentparse.classifiers import train_classifier

    return train_classifier(cfg, data.manifest["train"], run_dir, device=s.device, resume=s.resume,
                            on_progress=on_progress).model_path


def _heldback(task: str, source: str, model: Path, data: TrainingData, split: ReviewedSplit,
              images_root: str | Path, device: str) -> dict[str, Any]:
    """Held-back metrics of the source model and the new one (empty when nothing is held back)."""
    if task == "detector":
        if not split.detector_garments("heldback"):
            return {}
        from garmentparse.parsing import evaluate_detector

        def metrics(m: str | Path) -> dict[str, Any]:
            r = evaluate_detector(m, data.coco["heldback"], images_root, device=device)
            return {"box_AP": r["bbox"]["AP"], "mask_AP": r["segm"]["AP"], "images": split.counts()["heldback"]["complete_photos"]}
    else:
        if not split.garments("heldback"):
            return {}
        from garmentparse.classifiers import evaluate_classifier

        def metrics(m: str | Path) -> dict[str, Any]:
            r = evaluate_classifier(m, data.manifest["heldback"], device=device)
            return {head: {"n": v["n"], "accuracy": v["accuracy"]} for head, v in r.metrics.items()}
    return {"before": metrics(source), "after": metrics(model)}


def _save(result: RetrainResult, s: RetrainSettings) -> None:
    record = result.to_json()
    record["settings"] = {k: list(v) if isinstance(v, tuple) else v for k, v in vars(s).items()}
    record["source_sha256"] = {t: identify(ref)[1] for t, ref in result.sources.items()}
    path = result.out_dir / "retrain.json"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=1, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)
