"""Seeding: Python, NumPy and torch in the main process, and each DataLoader worker; one stream
per rank when several processes train together (:func:`rank_seed`)."""

from __future__ import annotations

import random

import numpy as np
import torch
from torch.utils.data import get_worker_info

from garmentparse.engine.distributed import process_rank

RANK_SEED_STRIDE = 1_000_003  # rank r draws from seed + r * stride: streams far apart


def rank_seed(seed: int) -> int:
    """``seed`` on rank 0 (so one process is seeded as before), an unrelated seed on each other
    rank: augmentation, dropout and proposal sampling differ between ranks. What every rank must
    draw alike (the sample order) is seeded with the plain seed."""
    return seed + RANK_SEED_STRIDE * process_rank()


def seed_everything(seed: int) -> None:
    """Seed ``random``, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def seed_worker(_: int) -> None:
    """``worker_init_fn``: give each DataLoader worker its own stream, derived from torch's
    per-worker seed (albumentations 2 keeps a generator per Compose, which forked workers
    would otherwise share). On rank r > 0 the stream moves by ``r`` strides, so workers of
    different ranks differ even when their loaders share a generator seed."""
    rank = process_rank()
    seed = (torch.initial_seed() + RANK_SEED_STRIDE * rank) % 2**32
    if rank:
        torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)
    info = get_worker_info()
    transform = getattr(info.dataset, "transform", None) if info else None
    if transform is not None and hasattr(transform, "set_random_seed"):
        transform.set_random_seed(seed)
