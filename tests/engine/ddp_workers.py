"""What the ranks of tests/engine/test_distributed.py run.

:func:`run_cli`: garmentparse commands one after another in this process, as each rank of
``torchrun ... -m garmentparse`` runs them (the launcher sets RANK, WORLD_SIZE, ...).

As a script, one rank of a 2-process toy run on the engine (gloo), started the way ranks on other
machines start: RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT set, no agent that would stop the other
rank. It prints one JSON line per scenario:

1. ``budget``: only rank 1 finds its time budget used up; both ranks stop at the same step.
2. ``death``: rank 1 dies at step 3; rank 0 must fail with a clear error, not hang, and the
   last.pt it wrote (each step) must still load.

Usage: python tests/engine/ddp_workers.py RUN_DIR
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch
from torch import nn

from garmentparse.checkpoint import Checkpoint
from garmentparse.engine.config import TrainConfig
from garmentparse.engine.distributed import setup, wrap_model
from garmentparse.engine.hooks import PeriodicCheckpoint, TimeBudget
from garmentparse.engine.loop import HookBase, Trainer
from garmentparse.engine.run import RunFolder

X = torch.linspace(-1, 1, 48).reshape(16, 3)
Y = X @ torch.tensor([[1.0], [-2.0], [0.5]])


def run_cli(*commands: list[str]) -> None:
    """Each command (a garmentparse argument list) in turn, as torchrun's ranks would run it."""
    from garmentparse.cli import build_app

    for args in commands:
        build_app()(args=[str(a) for a in args], standalone_mode=False)


class DieAt(HookBase):
    def __init__(self, rank: int, iteration: int) -> None:
        self.rank, self.iteration = rank, iteration

    def after_step(self) -> None:
        if int(os.environ["RANK"]) == self.rank and self.trainer.iter == self.iteration:
            os._exit(3)


def trainer(run: RunFolder, hooks: list[HookBase], max_iter: int) -> Trainer:
    torch.manual_seed(0)
    net = wrap_model(nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)), torch.device("cpu"))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05)

    def batches(start: int):
        i = start
        while True:
            j = (i % 4) * 4 + 2 * int(os.environ["RANK"])
            yield X[j:j + 2], Y[j:j + 2]
            i += 1

    def step(batch):
        x, y = batch
        return {"mse": ((net(x) - y) ** 2).mean()}, len(x)

    return Trainer(model=net, optimizer=optimizer, step=step, data=batches, max_iter=max_iter,
                   template=Checkpoint("toy", {}, {}, {}), epoch_length=1, hooks=hooks, global_batch=4)


def main(out: Path) -> None:
    world, _ = setup("cpu", timeout_s=30)
    run = RunFolder(out / "budget", kind="toy")
    run.start(TrainConfig())
    budget = TimeBudget(3600)
    t = trainer(run, [budget], max_iter=50)
    if world.rank == 1:
        t.seconds_before = 7200.0  # this rank alone is past the budget
    t.train()
    print(json.dumps({"scenario": "budget", "rank": world.rank, "iter": t.iter, "stop": t.stop_reason,
                      "samples": t.samples}), flush=True)

    run = RunFolder(out / "death", kind="toy")
    run.start(TrainConfig())
    t = trainer(run, [PeriodicCheckpoint(run, 1), DieAt(1, 3)], max_iter=50)
    try:
        t.train()
    except RuntimeError as exc:
        print(json.dumps({"scenario": "death", "rank": world.rank, "iter": t.iter, "error": str(exc)}), flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
