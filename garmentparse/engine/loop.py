"""The training loop: :class:`Trainer` runs optimisation steps; :class:`HookBase` subclasses
(:mod:`garmentparse.engine.hooks`) do everything else at ``before_train`` / ``after_step`` /
``after_train``. A stage supplies its model, data, optimiser and a ``step`` function."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from garmentparse.checkpoint import Checkpoint
from garmentparse.engine.state import cpu_state
from garmentparse.report import Report

Step = Callable[[Any], "tuple[dict[str, torch.Tensor], int]"]  # batch -> (losses by name, samples)
MAX_NONFINITE_IN_ROW = 20


class HookBase:
    """A hook sees the trainer (``self.trainer``) before training, after each step and after
    training. ``state_dict``/``load_state_dict`` carry what it needs across ``--resume``."""

    trainer: Trainer

    def before_train(self) -> None: ...

    def after_step(self) -> None: ...

    def after_train(self) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class Trainer:
    """Iteration-based loop (an epoch-based stage passes ``epoch_length``, the iterations per
    epoch, which the hooks' periods use).

    Each step: ``losses, n = step(batch)``; the total ``sum(loss_weights[k] * v)`` is skipped
    when non-finite (an error after 20 in a row), else back-propagated, the gradient norm clipped
    at ``grad_clip`` (0 = off), the optimiser and scheduler stepped. ``data(start)`` returns an
    endless batch iterator that begins at iteration ``start``. ``template`` is the checkpoint
    every save starts from (kind, config, vocabulary, fixed extras)."""

    def __init__(self, *, model: nn.Module, optimizer: torch.optim.Optimizer, step: Step,
                 data: Callable[[int], Iterator[Any]], max_iter: int, template: Checkpoint,
                 scheduler: Any = None, loss_weights: dict[str, float] | None = None,
                 grad_clip: float = 0.0, epoch_length: int | None = None,
                 hooks: Sequence[HookBase] = ()) -> None:
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.step, self.data, self.template = step, data, template
        self.max_iter = max_iter
        self.loss_weights = loss_weights or {}
        self.grad_clip = grad_clip
        self.epoch_length = epoch_length
        self.hooks = list(hooks)
        for h in self.hooks:
            h.trainer = self
        self.iter = self.start_iter = 0
        self.stop_reason: str | None = None
        self.seconds_before = 0.0  # training time of earlier sessions (resume)
        self.samples = 0  # samples trained on in this session
        self.skipped_steps = 0
        self.losses: list[float] = []  # mean total loss of each closed window
        self.history: list[dict[str, Any]] = []  # metrics rows written
        self._window: dict[str, torch.Tensor] = {}
        self._window_n = self._window_samples = self._bad_in_row = 0
        self._t_start = self._t_window = time.perf_counter()

    # ------------------------------------------------------------------ state
    @property
    def epoch(self) -> int:
        """Epochs completed (0 without ``epoch_length``)."""
        return self.iter // self.epoch_length if self.epoch_length else 0

    @property
    def is_last(self) -> bool:
        """The step just done ends training (schedule done or a hook asked to stop)."""
        return self.iter >= self.max_iter or self.stop_reason is not None

    def at_period(self, period: int) -> bool:
        """Every ``period`` iterations; ``0``: at each epoch end (never without epochs)."""
        every = period or self.epoch_length
        return bool(every) and self.iter % every == 0

    def stop(self, reason: str) -> None:
        """End training after this step (the hooks after the caller still run)."""
        self.stop_reason = self.stop_reason or reason

    def elapsed(self) -> float:
        """Training seconds, earlier sessions included."""
        return self.seconds_before + time.perf_counter() - self._t_start

    def session_seconds(self) -> float:
        return time.perf_counter() - self._t_start

    def checkpoint(self, *, resume_state: bool = False, **extra: Any) -> Checkpoint:
        """The template with the current weights; ``resume_state`` adds what ``--resume`` needs."""
        info: dict[str, Any] = {**self.template.extra, "iteration": self.iter,
                                "train_seconds": round(self.elapsed(), 2)}
        if self.epoch_length:
            info["epoch"] = self.epoch
        if resume_state:
            info.update(optimizer=self.optimizer.state_dict(), max_iter=self.max_iter,
                        hooks={type(h).__name__: h.state_dict() for h in self.hooks})
            if self.scheduler is not None:
                info["scheduler"] = self.scheduler.state_dict()
        return dataclasses.replace(self.template, state_dict=cpu_state(self.model), extra={**info, **extra})

    def resume(self, ckpt: Checkpoint) -> None:
        """Continue from a checkpoint written with ``resume_state``: weights, optimiser,
        scheduler, iteration, training time and hook states."""
        self.model.load_state_dict(ckpt.state_dict)
        self.optimizer.load_state_dict(ckpt.extra["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(ckpt.extra["scheduler"])
        self.iter = self.start_iter = int(ckpt.extra["iteration"])
        self.seconds_before = float(ckpt.extra.get("train_seconds", 0.0))
        hooks = ckpt.extra.get("hooks", {})
        for h in self.hooks:
            if type(h).__name__ in hooks:
                h.load_state_dict(hooks[type(h).__name__])

    def pop_window(self) -> dict[str, float]:
        """Mean of each loss part (and ``loss``, ``grad_norm``) since the last call, plus the
        window's ``seconds`` and ``samples_per_s``; starts a new window."""
        now = time.perf_counter()
        n = max(self._window_n, 1)
        means = {k: float(v) / n for k, v in self._window.items()}
        means["seconds"] = now - self._t_window
        means["samples_per_s"] = self._window_samples / max(means["seconds"], 1e-9)
        if "loss" in means:
            self.losses.append(means["loss"])
        self._window, self._window_n, self._window_samples, self._t_window = {}, 0, 0, now
        return means

    # ------------------------------------------------------------------ loop
    def train(self) -> None:
        """Run from ``self.iter`` to ``max_iter`` (or until a hook stops it)."""
        self._t_start = self._t_window = time.perf_counter()
        for h in self.hooks:
            h.before_train()
        try:
            batches = self.data(self.iter)
            while self.iter < self.max_iter and self.stop_reason is None:
                self.run_step(next(batches))
                self.iter += 1
                for h in self.hooks:
                    h.after_step()
        finally:
            for h in self.hooks:
                h.after_train()

    def run_step(self, batch: Any) -> None:
        self.model.train()
        losses, n = self.step(batch)
        loss = sum(self.loss_weights.get(k, 1.0) * v for k, v in losses.items())
        self.optimizer.zero_grad(set_to_none=True)
        if not torch.isfinite(loss):
            self.skipped_steps += 1
            self._bad_in_row += 1
            if self._bad_in_row >= MAX_NONFINITE_IN_ROW:
                raise FloatingPointError(f"loss is {loss.item()} for {MAX_NONFINITE_IN_ROW} iterations in a "
                                         f"row at iteration {self.iter}; lower the learning rate or "
                                         "set train.grad_clip")
        else:
            self._bad_in_row = 0
            loss.backward()
            parts = {**losses, "loss": loss}
            if self.grad_clip > 0:
                params = [p for p in self.model.parameters() if p.requires_grad]
                parts["grad_norm"] = torch.nn.utils.clip_grad_norm_(params, self.grad_clip)
            self.optimizer.step()
            for k, v in parts.items():
                self._window[k] = self._window.get(k, 0.0) + v.detach().float()
            self._window_n += 1
            self._window_samples += n
            self.samples += n
        if self.scheduler is not None:
            self.scheduler.step()


@dataclass
class TrainResult:
    """What a training run produced (both stages)."""

    run_dir: Path
    model_path: Path
    iterations: int  # the last iteration reached
    images_per_s: float  # training throughput of this session (data loading included)
    final_loss: float | None
    eval: dict[str, Any] | None  # the last validation metrics, when validated
    report: Report | None = None
    losses: list[float] = field(default_factory=list)  # mean loss of each logged window
    start_iteration: int = 0
    seconds: float = 0.0  # wall time of this session
    epochs: int = 0  # epochs reached (epoch-based stages)
    best_epoch: int = 0  # the epoch model.pt holds (epoch-based stages)
    best_score: float | None = None  # the monitored validation value of model.pt (higher is better)
    history: list[dict[str, Any]] = field(default_factory=list)  # metrics rows of this session
    extra: dict[str, Any] = field(default_factory=dict)  # stage-specific (e.g. untrained_heads)
