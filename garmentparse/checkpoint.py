"""A checkpoint is one file: weights, the resolved config and the label vocabulary.

``garmentparse tag`` needs nothing but this file to rebuild and run a model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from garmentparse.hashing import file_sha256  # noqa: F401 - re-exported (garmentparse.checkpoint.file_sha256)
from garmentparse.release import resolve_model

# Version 1: weights, config, vocabulary, extra. A file of a higher version is refused with the
# version it needs (a newer garmentparse wrote it).
FORMAT_VERSION = 1


@dataclass
class Checkpoint:
    kind: str  # "detector" or "classifier"
    config: dict[str, Any]  # the resolved config, as a plain dict
    vocabulary: dict[str, list[str]]  # e.g. {"part": [...]} or {"category": [...], ...}
    state_dict: dict[str, torch.Tensor]
    extra: dict[str, Any] = field(default_factory=dict)  # optimiser state, iteration, metrics


def save_checkpoint(ckpt: Checkpoint, path: str | Path) -> None:
    """Write atomically (tmp file + rename) so an interrupted save never leaves a broken file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save({"format_version": FORMAT_VERSION, "kind": ckpt.kind, "config": ckpt.config,
                "vocabulary": ckpt.vocabulary, "state_dict": ckpt.state_dict, "extra": ckpt.extra}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path, expect_kind: str | None = None,
                    map_location: str | torch.device = "cpu") -> Checkpoint:
    """Read a checkpoint file or release model (a name, :func:`garmentparse.release.resolve_model`);
    ``expect_kind`` guards against passing a classifier as detector etc."""
    path = resolve_model(path, expect_kind)
    try:  # weights_only: a checkpoint from elsewhere can carry tensors and plain data, never code
        data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - corrupt, truncated or foreign files: one clear error
        raise ValueError(f"{path} is not a garmentparse checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict) or "kind" not in data or "state_dict" not in data:
        raise ValueError(f"{path} is not a garmentparse checkpoint")
    version = data.get("format_version", 1)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(f"{path} is a checkpoint of format version {version}, written by a newer garmentparse; "
                         f"this one reads versions up to {FORMAT_VERSION}: upgrade garmentparse to read it")
    if expect_kind and data["kind"] != expect_kind:
        raise ValueError(f"{path} is a {data['kind']} checkpoint, expected a {expect_kind}")
    return Checkpoint(data["kind"], data["config"], data["vocabulary"], data["state_dict"],
                      data.get("extra", {}))


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else CPU; ``cuda`` without a GPU is a clear error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("--device cuda asked for, but no CUDA GPU is available")
    return torch.device(device)
