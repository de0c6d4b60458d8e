"""The training loop: :class:`Trainer` runs optimisation steps; :class:`HookBase` subclasses
(:mod:`garmentparse.engine.hooks`) do everything else at ``before_train`` / ``after_step`` /
``after_train``. A stage supplies its model, data, optimiser and a ``step`` function.

Several processes (:mod:`garmentparse.engine.distributed`): the stage passes its DDP-wrapped
model and its rank's batches; the trainer keeps the steps in lock-step (one agreed decision to
skip a non-finite step), averages the logged losses over the ranks and counts samples globally."""

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
from garmentparse.engine.distributed import all_sum, any_rank, get_world, no_sync, peer_errors, unwrap
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
    every save starts from (kind, config, vocabulary, fixed extras).

    ``accumulate``: each step runs that many batches (forward and backward, the loss divided by
    ``accumulate``, gradients synchronised on the last only) before one optimiser step.
    ``global_batch``: the samples of one step over all processes; recorded in checkpoints, and a
    resume with another one is refused (iterations count steps of that batch, so they carry over
    to any number of processes unchanged). ``model`` may be DDP-wrapped: checkpoints hold the
    inner model's state (no ``module.`` prefixes, nothing of the world size)."""

    def __init__(self, *, model: nn.Module, optimizer: torch.optim.Optimizer, step: Step,
                 data: Callable[[int], Iterator[Any]], max_iter: int, template: Checkpoint,
                 scheduler: Any = None, loss_weights: dict[str, float] | None = None,
                 grad_clip: float = 0.0, epoch_length: int | None = None,
                 hooks: Sequence[HookBase] = (), accumulate: int = 1, global_batch: int | None = None) -> None:
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.module = unwrap(model)  # what checkpoints hold
        self.world = get_world()
        self.accumulate, self.global_batch = accumulate, global_batch
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
        self.samples = 0  # samples trained on in this session (all ranks, once training ends)
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
        if self.global_batch:
            info.update(global_batch=self.global_batch, world_size=self.world.size)  # the latter: a note
        if resume_state:
            info.update(optimizer=self.optimizer.state_dict(), max_iter=self.max_iter,
                        hooks={type(h).__name__: h.state_dict() for h in self.hooks})
            if self.scheduler is not None:
                info["scheduler"] = self.scheduler.state_dict()
        return dataclasses.replace(self.template, state_dict=cpu_state(self.module), extra={**info, **extra})

    def resume(self, ckpt: Checkpoint) -> None:
        """Continue from a checkpoint written with ``resume_state``: weights, optimiser,
        scheduler, iteration, training time and hook states, on any number of processes."""
        saved = ckpt.extra.get("global_batch")
        if saved and self.global_batch and int(saved) != self.global_batch:
            raise ValueError(f"--resume: the run was trained with a global batch of {saved} samples per step, "
                             f"this config gives {self.global_batch}; resume with the same batch size (on any "
                             "number of processes: it is the global batch)")
        self.module.load_state_dict(ckpt.state_dict)
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
        window's ``seconds`` and ``samples_per_s``; starts a new window. Several processes: means
        over all ranks and their samples together (every rank must call it at the same step)."""
        now = time.perf_counter()
        n = max(self._window_n, 1)
        keys = list(self._window)  # the same order on every rank: the step's loss names
        sums = all_sum([float(self._window[k]) for k in keys] + [self._window_samples])
        means = {k: v / (n * self.world.size) for k, v in zip(keys, sums)}
        means["seconds"] = now - self._t_window
        means["samples_per_s"] = sums[-1] / max(means["seconds"], 1e-9)
        if "loss" in means:
            self.losses.append(means["loss"])
        self._window, self._window_n, self._window_samples, self._t_window = {}, 0, 0, now
        return means

    # ------------------------------------------------------------------ loop
    def train(self) -> None:
        """Run from ``self.iter`` to ``max_iter`` (or until a hook stops it)."""
        self._t_start = self._t_window = time.perf_counter()
        with peer_errors():
            for h in self.hooks:
                h.before_train()
            try:
                batches = self.data(self.iter)
                while self.iter < self.max_iter and self.stop_reason is None:
                    self.run_step(batches)
                    self.iter += 1
                    for h in self.hooks:
                        h.after_step()
            finally:
                for h in self.hooks:
                    h.after_train()
            self.samples = int(all_sum([self.samples])[0])

    def _forward(self, batch: Any, last: bool) -> tuple[dict[str, torch.Tensor], torch.Tensor, int, bool]:
        """One batch's losses, weighted total, samples and whether every rank's total is finite;
        when it is, the total (divided by ``accumulate``) is back-propagated."""
        with no_sync(self.model, not last):
            losses, n = self.step(batch)
            loss = sum(self.loss_weights.get(k, 1.0) * v for k, v in losses.items())
            finite = bool(torch.isfinite(loss))
            if self.world.distributed:
                finite = not any_rank(not finite)
            if finite:
                (loss / self.accumulate if self.accumulate > 1 else loss).backward()
            elif self.world.distributed and last:
                (loss * 0.0).backward()  # completes DDP's gradient reduction; the step is skipped
        return losses, loss, n, finite

    def run_step(self, batches: Iterator[Any]) -> None:
        """One optimiser step on ``accumulate`` batches from ``batches``."""
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        parts: dict[str, torch.Tensor] = {}
        n = 0
        finite = True
        for j in range(self.accumulate):
            losses, loss, count, finite = self._forward(next(batches), j == self.accumulate - 1)
            if not finite:
                break
            for k, v in {**losses, "loss": loss}.items():
                parts[k] = parts.get(k, 0.0) + v.detach().float() / self.accumulate
            n += count
        if not finite:
            self.optimizer.zero_grad(set_to_none=True)
            self.skipped_steps += 1
            self._bad_in_row += 1
            if self._bad_in_row >= MAX_NONFINITE_IN_ROW:
                raise FloatingPointError(f"loss is {loss.item()} for {MAX_NONFINITE_IN_ROW} iterations in a "
                                         f"row at iteration {self.iter}; lower the learning rate or "
                                         "set train.grad_clip")
        else:
            self._bad_in_row = 0
            if self.grad_clip > 0:
                params = [p for p in self.module.parameters() if p.requires_grad]
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
