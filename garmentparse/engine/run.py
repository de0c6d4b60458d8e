"""The run folder: one directory per training run, never silently overwritten.

It holds ``config.yaml`` (the resolved config), ``metrics.jsonl`` (one JSON object a line),
``last.pt`` (everything ``--resume`` needs) and ``model.pt`` (the checkpoint other commands
take), plus whatever the stage adds (``eval.json``, ``report.json``).

When several processes train together only rank 0 writes here (each checkpoint atomically); on the
other ranks the writing methods do nothing, so stages call them alike on every rank.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from garmentparse.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from garmentparse.config import dump_yaml
from garmentparse.engine.distributed import get_world


class RunFolder:
    """``RunFolder(path, kind=..., resume=False)``: a new run refuses a folder that already
    holds one; ``resume=True`` requires ``last.pt`` there and continues it. ``kind`` is the
    checkpoint kind (``detector``, ``classifier``)."""

    def __init__(self, path: str | Path, *, kind: str, resume: bool = False) -> None:
        self.path = Path(path)
        self.kind = kind
        self.resume = resume
        self.config_path = self.path / "config.yaml"
        self.metrics_path = self.path / "metrics.jsonl"
        self.last_path = self.path / "last.pt"
        self.model_path = self.path / "model.pt"
        if resume and not self.last_path.is_file():
            raise FileNotFoundError(f"--resume: {self.last_path} does not exist, nothing to continue")
        if not resume:
            held = [p.name for p in (self.last_path, self.model_path) if p.is_file()]
            if held:
                raise FileExistsError(f"{self.path} already holds a trained {kind} ({', '.join(held)}): pass "
                                      "--resume to continue it, or choose another --out")

    @property
    def main(self) -> bool:
        """This process writes the run's files (rank 0, or the only process)."""
        return get_world().main

    def start(self, config: Any) -> None:
        """Create the folder and write the resolved ``config.yaml``."""
        if not self.main:
            return
        self.path.mkdir(parents=True, exist_ok=True)
        _write_text(self.config_path, dump_yaml(config))

    def load_last(self) -> Checkpoint | None:
        """``last.pt`` when resuming (``None`` for a new run)."""
        return load_checkpoint(self.last_path, expect_kind=self.kind) if self.resume else None

    def save(self, ckpt: Checkpoint | Callable[[], Checkpoint], path: Path) -> None:
        """Write a checkpoint (or what ``ckpt()`` builds, only where it is written) atomically."""
        if self.main:
            save_checkpoint(ckpt() if callable(ckpt) else ckpt, path)

    def log_metrics(self, row: dict[str, Any]) -> None:
        """Append one JSON line to ``metrics.jsonl``."""
        if not self.main:
            return
        with self.metrics_path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")

    def write_json(self, name: str, data: Any) -> Path:
        path = self.path / name
        if not self.main:
            return path
        _write_text(path, json.dumps(data, indent=1))
        return path


def _write_text(path: Path, text: str) -> None:
    """Write atomically (tmp file + rename), as checkpoints are written."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
