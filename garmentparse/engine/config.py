"""The ``train:`` config section every stage shares (the stages subclass it for their defaults
and their own keys). No torch here: config building stays light."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TrainConfig:
    """Run bookkeeping shared by the detector and the classifier.

    Periods count iterations; ``0`` means once per epoch (a stage without epochs, the
    detector: only at the end)."""

    seed: int = 0
    amp: bool = True  # bf16 autocast on CUDA; CPU always runs float32
    grad_clip: float | None = 0.0  # max gradient norm (0 = off; null, as older classifier configs say, too)
    time_budget_s: float = 0.0  # stop (the detector: shorten its schedule) to fit this many seconds (0 = off)
    checkpoint_period: int = 0  # save last.pt (for --resume) every N iterations, and at the end
    log_period: int = 0  # one metrics.jsonl line every N iterations
    eval_period: int = 0  # evaluate on the validation data every N iterations
    patience: int = 0  # early stopping: evaluations without improvement of `monitor` (0 = off)
    monitor: str = ""  # the validation value early stopping / best checkpoint watch (stage-specific)
    # several processes (docs/distributed.md); the batch size is always the global batch of one step
    accumulate: int = 1  # split each step's batch into this many forward/backward passes (less memory, same step)
    sync_bn: bool = False  # several CUDA processes: BatchNorm statistics over the global batch (SyncBatchNorm)
    find_unused_parameters: bool = False  # DDP: only for models whose steps leave trainable parameters without a gradient
    dist_timeout_s: float = 600.0  # several processes: a collective waits this long for the others, then fails

    def __post_init__(self) -> None:
        if self.grad_clip is None:
            self.grad_clip = 0.0
        for key in ("grad_clip", "time_budget_s", "checkpoint_period", "log_period", "eval_period",
                    "patience"):
            if getattr(self, key) < 0:
                raise ValueError(f"key 'train.{key}': must be >= 0")
        if self.accumulate < 1:
            raise ValueError("key 'train.accumulate': must be >= 1")
        if self.dist_timeout_s <= 0:
            raise ValueError("key 'train.dist_timeout_s': must be > 0")
