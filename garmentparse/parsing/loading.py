"""Decode image files in worker processes for evaluation and prediction; a file that fails
is handed back with its reason instead of stopping the batch."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import DataLoader, Dataset

from garmentparse.imageio import ImageReadError, load_rgb


@dataclass
class LoadedImage:
    index: int
    path: Path
    image: np.ndarray | None  # RGB uint8, None when it failed
    error: str | None = None


class _Files(Dataset):
    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = list(paths)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> LoadedImage:
        try:
            return LoadedImage(i, self.paths[i], load_rgb(self.paths[i]))
        except ImageReadError as exc:
            return LoadedImage(i, self.paths[i], None, str(exc))


def _as_list(batch: list[LoadedImage]) -> list[LoadedImage]:
    return batch


def iter_images(paths: Sequence[str | Path], batch_size: int, workers: int = 0) -> Iterator[list[LoadedImage]]:
    """Batches of :class:`LoadedImage` in input order, decoded by ``workers`` processes."""
    paths = [Path(p) for p in paths]
    if not paths:
        return
    loader = DataLoader(_Files(paths), batch_size=batch_size, shuffle=False,
                        num_workers=min(workers, len(paths)), collate_fn=_as_list)
    yield from loader


class Bar:
    """A Rich progress bar on stderr, or nothing."""

    def __init__(self, enabled: bool, label: str, total: int, transient: bool = True) -> None:
        self.enabled = enabled
        self.transient = transient
        self.label = label
        self.total = total
        self._progress = None
        self._task = None

    def __enter__(self) -> Bar:
        if self.enabled:
            from garmentparse.cli.common import progress

            self._progress = progress(transient=self.transient)
            self._progress.__enter__()
            self._task = self._progress.add_task(self.label, total=self.total)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def advance(self, n: int = 1, description: str | None = None) -> None:
        if self._progress is not None:
            kw = {"description": description} if description else {}
            self._progress.update(self._task, advance=n, **kw)

    def update(self, completed: int | None = None, total: int | None = None) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=completed, total=total)
