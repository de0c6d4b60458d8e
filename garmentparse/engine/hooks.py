"""The hooks of :class:`~garmentparse.engine.loop.Trainer`: periodic and best checkpoints,
evaluation, early stopping, time budget, ``metrics.jsonl`` and progress.

A sensible order (each sees what the earlier ones decided at the same step):
``TimeBudget, Evaluation, BestCheckpoint, EarlyStopping, MetricsWriter, PeriodicCheckpoint,
ProgressHook``.

With several processes every hook runs on every rank and their decisions agree: the time budget
is one all-reduced decision, evaluation results are the same on all ranks, and only rank 0 writes
(:class:`~garmentparse.engine.run.RunFolder`)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

from garmentparse.engine.distributed import all_max, any_rank, broadcast_buffers
from garmentparse.engine.loop import HookBase, Trainer
from garmentparse.engine.run import RunFolder
from garmentparse.progress import ProgressCallback, report_progress

logger = logging.getLogger(__name__)


class PeriodicCheckpoint(HookBase):
    """``last.pt`` (weights, optimiser, scheduler, iteration, hook states) every ``period``
    iterations (0: each epoch) and at the end: what ``--resume`` continues from."""

    def __init__(self, run: RunFolder, period: int) -> None:
        self.run, self.period = run, period

    def after_step(self) -> None:
        if self.trainer.at_period(self.period) or self.trainer.is_last:
            self.run.save(lambda: self.trainer.checkpoint(resume_state=True), self.run.last_path)


class Evaluation(HookBase):
    """Calls ``evaluate()`` every ``period`` iterations (0: each epoch) and after the last step;
    ``monitor(result)`` scores it (higher is better) for :class:`BestCheckpoint` and
    :class:`EarlyStopping`. With ``run``, each result is also a ``{"iter", "eval"}`` line of
    ``metrics.jsonl``. Several processes: ``evaluate`` runs on every rank (on rank 0's model) and
    must return the same result on all (the stages split the data and gather)."""

    def __init__(self, evaluate: Callable[[], dict[str, Any]], period: int, *,
                 monitor: Callable[[dict[str, Any]], float] | None = None, run: RunFolder | None = None) -> None:
        self.evaluate, self.period, self.monitor, self.run = evaluate, period, monitor, run
        self.latest: dict[str, Any] | None = None
        self.latest_iter = -1
        self.best = -math.inf
        self.best_iter: int | None = None
        self.stale = 0  # evaluations since the best one

    @property
    def improved(self) -> bool:
        """The evaluation at this very step is the best so far."""
        return self.best_iter == self.trainer.iter == self.latest_iter

    def after_step(self) -> None:
        if self.trainer.at_period(self.period) or self.trainer.is_last:
            self._run()

    def after_train(self) -> None:
        if self.latest is None:  # nothing left to train (resume of a finished run)
            self._run()

    def _run(self) -> None:
        t = self.trainer
        broadcast_buffers(t.module)  # every rank evaluates rank 0's model (the one checkpoints hold)
        self.latest, self.latest_iter = self.evaluate(), t.iter
        t.model.train()
        if self.run is not None:
            self.run.log_metrics({"iter": t.iter, "eval": self.latest})
        if self.monitor is None:
            return
        score = self.monitor(self.latest)
        if score > self.best:
            self.best, self.best_iter, self.stale = score, t.iter, 0
        else:
            self.stale += 1

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_iter": self.best_iter, "stale": self.stale}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_iter, self.stale = state["best"], state["best_iter"], state["stale"]


class BestCheckpoint(HookBase):
    """``model.pt`` whenever ``evaluation`` finds a new best (with its result under
    ``validation``)."""

    def __init__(self, run: RunFolder, evaluation: Evaluation) -> None:
        self.run, self.evaluation = run, evaluation

    def after_step(self) -> None:
        if self.evaluation.improved:
            self.run.save(lambda: self.trainer.checkpoint(validation=self.evaluation.latest), self.run.model_path)


class EarlyStopping(HookBase):
    """Stops after ``patience`` evaluations without a new best (0 = off)."""

    def __init__(self, evaluation: Evaluation, patience: int) -> None:
        self.evaluation, self.patience = evaluation, patience

    def after_step(self) -> None:
        ev = self.evaluation
        if self.patience and ev.latest_iter == self.trainer.iter and ev.stale >= self.patience:
            logger.info("early stop: no validation improvement for %d evaluations (best at iteration %s)",
                        ev.stale, ev.best_iter)
            self.trainer.stop("early_stop")


class TimeBudget(HookBase):
    """Stops once training (earlier sessions included) has used ``seconds``: checked every
    iteration, or at epoch ends for an epoch-based stage.

    With ``calibrate_after`` (iterations from the start of this session, e.g. past warm-up),
    it times the next 10 iterations and shortens ``max_iter`` (never below ``min_iter``) so the
    schedule ends within the budget; a hard stop then comes only 5 % past it. With several
    processes the slowest rank's pace and the stop decision of any rank count for all."""

    CALIBRATION_ITERS = 10

    def __init__(self, seconds: float, *, calibrate_after: int | None = None, min_iter: int = 1,
                 run: RunFolder | None = None) -> None:
        self.seconds, self.calibrate_after, self.min_iter, self.run = seconds, calibrate_after, min_iter, run
        self._t0: float | None = None

    def after_step(self) -> None:
        t = self.trainer
        if self.calibrate_after is not None:
            done = t.iter - t.start_iter
            if done == self.calibrate_after:
                self._t0 = time.perf_counter()
            elif done == self.calibrate_after + self.CALIBRATION_ITERS and self._t0 is not None:
                self._fit((time.perf_counter() - self._t0) / self.CALIBRATION_ITERS)
        if t.epoch_length and not t.at_period(0):
            return
        limit = self.seconds * (1.05 if self.calibrate_after is not None else 1.0)
        if any_rank(t.elapsed() >= limit):
            logger.info("time budget %.0fs used up at iteration %d (train.time_budget_s)", self.seconds, t.iter)
            t.stop("time_budget")

    def _fit(self, per_iter: float) -> None:
        t = self.trainer
        per_iter, elapsed = all_max([per_iter, t.elapsed()])
        fit = t.iter + max(1, int((self.seconds - elapsed) / per_iter))
        if fit < t.max_iter:
            logger.info("time budget %.0fs at %.3fs/iteration: max_iter %d -> %d", self.seconds, per_iter,
                        t.max_iter, max(fit, self.min_iter))
            t.max_iter = max(fit, self.min_iter)
        if self.run is not None:
            self.run.log_metrics({"iter": t.iter, "budget_max_iter": t.max_iter, "s_per_iter": per_iter})


def default_row(trainer: Trainer, window: dict[str, float]) -> dict[str, Any]:
    """``{"iter", <loss parts>, "loss", "grad_norm", "lr", "images_per_s", "time"}``."""
    rate = window.pop("samples_per_s")
    del window["seconds"]
    row = {"iter": trainer.iter, **{k: round(v, 5) for k, v in window.items()},
           "lr": trainer.optimizer.param_groups[0]["lr"], "images_per_s": round(rate, 3),
           "time": round(trainer.elapsed(), 2)}
    if trainer.skipped_steps:
        row["skipped_nonfinite"] = trainer.skipped_steps
    return row


def describe_row(row: dict[str, Any]) -> str:
    """One log line of a :func:`default_row`."""
    return (f"iter {row['iter']}  loss {row.get('loss', math.nan):.4f}  lr {row['lr']:.3g}  "
            f"{row['images_per_s']:.1f} images/s  {row['time']:.0f}s")


class MetricsWriter(HookBase):
    """Every ``period`` iterations (0: each epoch) and at the end: ``row(trainer, window)``
    appended to ``metrics.jsonl`` and ``trainer.history``, and ``describe(row)`` logged."""

    def __init__(self, run: RunFolder, period: int, *,
                 row: Callable[[Trainer, dict[str, float]], dict[str, Any]] = default_row,
                 describe: Callable[[dict[str, Any]], str] = describe_row) -> None:
        self.run, self.period, self.row, self.describe = run, period, row, describe

    def after_step(self) -> None:
        t = self.trainer
        if t.at_period(self.period) or t.is_last:
            row = self.row(t, t.pop_window())
            self.run.log_metrics(row)
            t.history.append(row)
            logger.info(self.describe(row))


class ProgressHook(HookBase):
    """``on_progress(iteration, max_iter, "loss x.xxx")`` after every step."""

    def __init__(self, on_progress: ProgressCallback | None) -> None:
        self.on_progress = on_progress

    def before_train(self) -> None:
        report_progress(self.on_progress, self.trainer.iter, self.trainer.max_iter)

    def after_step(self) -> None:
        t = self.trainer
        report_progress(self.on_progress, t.iter, t.max_iter, f"loss {t.losses[-1]:.3f}" if t.losses else "")
