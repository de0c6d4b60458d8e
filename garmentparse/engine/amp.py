"""Mixed precision: bf16 autocast on CUDA only (CPU always runs float32)."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch


def bf16_enabled(amp: bool, device: torch.device) -> bool:
    """Whether ``amp`` asks for, and ``device`` gives, bf16 autocast."""
    return amp and device.type == "cuda"


def autocast(device: torch.device, amp: bool) -> AbstractContextManager:
    """bf16 autocast on CUDA when ``amp``; a no-op elsewhere."""
    if bf16_enabled(amp, device):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()
