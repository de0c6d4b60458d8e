"""Seeding: Python, NumPy and torch in the main process, and each DataLoader worker."""

from __future__ import annotations

import random

import numpy as np
import torch
from torch.utils.data import get_worker_info


def seed_everything(seed: int) -> None:
    """Seed ``random``, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def seed_worker(_: int) -> None:
    """``worker_init_fn``: give each DataLoader worker its own stream, derived from torch's
    per-worker seed (albumentations 2 keeps a generator per Compose, which forked workers
    would otherwise share)."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)
    info = get_worker_info()
    transform = getattr(info.dataset, "transform", None) if info else None
    if transform is not None and hasattr(transform, "set_random_seed"):
        transform.set_random_seed(seed)
