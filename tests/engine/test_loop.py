"""The training engine on a tiny deterministic model (CPU, random tensors): the loop, its hooks,
resume, the run folder and the small helpers."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from garmentparse.checkpoint import Checkpoint, load_checkpoint
from garmentparse.engine.config import TrainConfig
from garmentparse.engine.hooks import (BestCheckpoint, EarlyStopping, Evaluation, MetricsWriter,
                                       PeriodicCheckpoint, ProgressHook, TimeBudget)
from garmentparse.engine.loop import HookBase, Trainer
from garmentparse.engine.optim import param_groups
from garmentparse.engine.run import RunFolder
from garmentparse.engine.seeding import seed_everything
from garmentparse.engine.state import cpu_state, load_matching, unwrap_state

X = torch.linspace(-1, 1, 48).reshape(16, 3)
Y = X @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3
EPOCH = 4  # iterations per epoch (16 samples, batches of 4)


def batches(start: int):
    """Batch ``i`` depends only on ``i``: a resumed run sees what an uninterrupted one sees."""
    i = start
    while True:
        j = (i % EPOCH) * 4
        yield X[j:j + 4], Y[j:j + 4]
        i += 1


def make_trainer(run: RunFolder, hooks_for, *, max_iter: int = 12, lr: float = 0.1, scheduler: bool = True):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    optimizer = torch.optim.SGD(param_groups(model, lr=lr, weight_decay=1e-3), lr=lr, momentum=0.9)

    def step(batch):
        x, y = batch
        return {"mse": ((model(x) - y) ** 2).mean()}, len(x)

    trainer = Trainer(model=model, optimizer=optimizer, step=step, data=batches, max_iter=max_iter,
                      template=Checkpoint("toy", {"a": 1}, {"v": ["x"]}, {}, {"note": "n"}),
                      scheduler=torch.optim.lr_scheduler.StepLR(optimizer, 5, 0.5) if scheduler else None,
                      epoch_length=EPOCH, hooks=hooks_for(model))
    return trainer


def val_loss(model: nn.Module) -> dict:
    with torch.no_grad():
        return {"loss": float(((model(X) - Y) ** 2).mean())}


def start(path: Path, resume: bool = False) -> RunFolder:
    run = RunFolder(path, kind="toy", resume=resume)
    run.start(TrainConfig())
    return run


def test_periodic_checkpoint_and_resume_match_an_uninterrupted_run(tmp_path):
    whole = make_trainer(start(tmp_path / "whole"), lambda m: [])
    whole.train()

    run = start(tmp_path / "split")
    first = make_trainer(run, lambda m: [MetricsWriter(run, 0), PeriodicCheckpoint(run, 4)], max_iter=8)
    first.train()
    last = load_checkpoint(run.last_path, expect_kind="toy")
    assert last.extra["iteration"] == 8 and last.extra["epoch"] == 2 and last.extra["note"] == "n"
    assert {"optimizer", "scheduler", "hooks"} <= set(last.extra)

    run = start(tmp_path / "split", resume=True)
    second = make_trainer(run, lambda m: [MetricsWriter(run, 0), PeriodicCheckpoint(run, 4)])
    second.resume(run.load_last())
    assert second.iter == second.start_iter == 8
    second.train()
    for a, b in zip(whole.model.state_dict().values(), second.model.state_dict().values()):
        assert torch.equal(a, b)
    assert [json.loads(x)["iter"] for x in run.metrics_path.read_text().splitlines()] == [4, 8, 12]


def test_best_checkpoint_keeps_the_best_and_early_stopping_stops(tmp_path):
    run = start(tmp_path / "run")
    scores = iter([0.1, 0.5, 0.4, 0.3, 0.2, 0.9])  # best at the 2nd evaluation, then worse
    best_weights = {}

    class Spy(HookBase):  # the weights when the best evaluation happened
        def after_step(self):
            if ev.improved:
                best_weights.update(cpu_state(self.trainer.model))

    ev = Evaluation(lambda: {"score": next(scores)}, 0, monitor=lambda m: m["score"])
    trainer = make_trainer(run, lambda m: [ev, BestCheckpoint(run, ev), EarlyStopping(ev, 3), Spy()],
                           max_iter=40)
    trainer.train()
    assert trainer.stop_reason == "early_stop" and trainer.iter == 5 * EPOCH  # 2nd + 3 without gain
    saved = load_checkpoint(run.model_path)
    assert saved.extra["epoch"] == 2 and saved.extra["validation"] == {"score": 0.5}
    assert "optimizer" not in saved.extra
    assert all(torch.equal(saved.state_dict[k], v) for k, v in best_weights.items())
    assert ev.best == 0.5 and ev.best_iter == 2 * EPOCH


def test_time_budget_stops_at_an_epoch_end(tmp_path, monkeypatch):
    run = start(tmp_path / "run")
    trainer = make_trainer(run, lambda m: [TimeBudget(5.0), PeriodicCheckpoint(run, 0)], max_iter=400)
    clock = iter(range(0, 10_000))  # each elapsed() call: one more second
    monkeypatch.setattr(trainer, "elapsed", lambda: float(next(clock)))
    trainer.train()
    assert trainer.stop_reason == "time_budget" and trainer.iter < 400 and trainer.iter % EPOCH == 0
    assert load_checkpoint(run.last_path).extra["iteration"] == trainer.iter


def test_time_budget_calibration_shortens_the_schedule(tmp_path):
    run = start(tmp_path / "run")
    trainer = make_trainer(run, lambda m: [TimeBudget(0.4, calibrate_after=2, min_iter=3, run=run)],
                           max_iter=10_000)
    trainer.epoch_length = None  # iteration based: checked every iteration
    step = trainer.step

    def slow(batch):
        time.sleep(0.01)
        return step(batch)

    trainer.step = slow
    trainer.train()
    rows = [json.loads(x) for x in run.metrics_path.read_text().splitlines()]
    assert rows[0]["iter"] == 12 and 12 < rows[0]["budget_max_iter"] < 100
    assert trainer.iter <= rows[0]["budget_max_iter"]


def test_progress_metrics_and_nonfinite_steps(tmp_path):
    run = start(tmp_path / "run")
    calls = []
    trainer = make_trainer(run, lambda m: [MetricsWriter(run, 2), ProgressHook(lambda *a: calls.append(a))],
                           max_iter=4)
    trainer.train()
    assert calls[0] == (0, 4, "") and calls[-1][:2] == (4, 4) and calls[-1][2].startswith("loss ")
    rows = [json.loads(x) for x in run.metrics_path.read_text().splitlines()]
    assert [r["iter"] for r in rows] == [2, 4] and {"mse", "loss", "lr", "images_per_s", "time"} <= set(rows[0])

    bad = make_trainer(start(tmp_path / "nan"), lambda m: [], max_iter=30, scheduler=False)
    bad.step = lambda batch: ({"mse": torch.tensor(math.nan, requires_grad=True)}, 4)
    with pytest.raises(FloatingPointError, match="20 iterations in a row"):
        bad.train()
    assert bad.skipped_steps == 20


def test_run_folder_guards(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing to continue"):
        RunFolder(tmp_path / "new", kind="toy", resume=True)
    run = start(tmp_path / "run")
    make_trainer(run, lambda m: [PeriodicCheckpoint(run, 0)], max_iter=4).train()
    with pytest.raises(FileExistsError, match="--resume"):
        RunFolder(tmp_path / "run", kind="toy")
    assert (tmp_path / "run" / "config.yaml").read_text().startswith("seed: 0")
    with pytest.raises(ValueError, match="toy checkpoint"):
        RunFolder(tmp_path / "run", kind="classifier", resume=True).load_last()


def test_param_groups_and_state_helpers():
    model = nn.Sequential()
    model.add_module("backbone", nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)))
    model.add_module("head", nn.Linear(4, 2))
    groups = param_groups(model, lr=0.1, weight_decay=0.05, weight_decay_norm=0.0)
    assert [(len(g["params"]), g["weight_decay"]) for g in groups] == [(2, 0.05), (4, 0.0)]
    split = param_groups(model, lr=0.1, weight_decay=0.05, backbone_lr_mult=0.1)
    assert [(round(g["lr"], 6), g["weight_decay"], len(g["params"])) for g in split] == [
        (0.1, 0.05, 1), (0.01, 0.05, 1), (0.1, 0.0, 1), (0.01, 0.0, 3)]

    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    assert set(unwrap_state({"state_dict": state}, "x")) == set(model.state_dict())
    assert set(unwrap_state({"model": model.state_dict()}, "x")) == set(unwrap_state(model, "x")) == set(model.state_dict())
    with pytest.raises(ValueError, match="no tensors"):
        unwrap_state({"a": 1}, "file.pt")
    other = nn.Sequential()
    other.add_module("backbone", nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)))
    other.add_module("head", nn.Linear(4, 7))
    report = load_matching(other, model.state_dict(), "src")
    assert report.skipped_shape == ["head.weight", "head.bias"] and report.loaded == report.total - 2
    with pytest.raises(ValueError, match="no tensor matches"):
        load_matching(other, {"zzz": torch.zeros(1)}, "src")


def test_seed_everything_repeats():
    seed_everything(3)
    a = torch.rand(3)
    seed_everything(3)
    assert torch.equal(a, torch.rand(3))
