"""Decode image files ahead of the model, in DataLoader worker processes.

One Dataset for every inference loop (detector eval/predict, tagging, classifier eval): a file
that cannot be read becomes an item carrying its error instead of stopping the run, and
decoded pixels travel from the workers as shared-memory tensors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from garmentparse.imageio import ImageReadError, load_rgb, printable

Transform = Callable[[np.ndarray], np.ndarray]


@dataclass
class DecodedImage:
    """One file of the input: its position, path, pixels (RGB uint8, after the transform) or
    the reason it could not be read."""

    index: int
    path: Path
    image: np.ndarray | None
    error: str | None = None


class ImageFiles(Dataset):
    """Image files decoded with :func:`garmentparse.imageio.load_rgb`, then ``transform``
    (e.g. a letterbox to the network's input). Never raises for a bad file."""

    def __init__(self, paths: Sequence[str | Path], transform: Transform | None = None) -> None:
        self.paths = [Path(p) for p in paths]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> DecodedImage:
        path = self.paths[i]
        try:
            image = load_rgb(path)
            if self.transform is not None:
                image = self.transform(image)
        except ImageReadError as exc:
            return DecodedImage(i, path, None, printable(str(exc)))
        except Exception as exc:  # noqa: BLE001 - any decoder failure is recorded, not fatal
            return DecodedImage(i, path, None, printable(f"cannot read image: {type(exc).__name__}: {exc}"))
        # a tensor crosses from a worker through shared memory; an array would be pickled
        return DecodedImage(i, path, torch.from_numpy(image))  # type: ignore[arg-type]


def _as_list(batch: list[DecodedImage]) -> list[DecodedImage]:
    return batch


def iter_decoded(paths: Sequence[str | Path], batch_size: int, workers: int = 0, *,
                 transform: Transform | None = None) -> Iterator[list[DecodedImage]]:
    """Batches of :class:`DecodedImage` in input order, decoded by ``workers`` processes
    (0: in this process) a few batches ahead of the consumer."""
    workers = min(workers, len(paths))
    loader = DataLoader(ImageFiles(paths, transform), batch_size=batch_size, shuffle=False,
                        num_workers=workers, collate_fn=_as_list,
                        prefetch_factor=4 if workers > 0 else None)
    for batch in loader:
        for item in batch:
            if isinstance(item.image, torch.Tensor):
                item.image = item.image.numpy()
        yield batch
