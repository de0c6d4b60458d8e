"""Decode image files ahead of the model, in DataLoader worker processes.

One Dataset for every inference loop (detector eval/predict, tagging, classifier eval): a file
that cannot be read becomes an item carrying its error instead of stopping the run, and
decoded pixels travel from the workers as shared-memory tensors.
"""

from __future__ import annotations

import io
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
        item = decode_image(i, self.paths[i], transform=self.transform)
        if item.image is not None:  # a tensor crosses from a worker through shared memory; an array is pickled
            item.image = torch.from_numpy(item.image)  # type: ignore[assignment]
        return item


def decode_image(index: int, path: Path, data: bytes | None = None, *,
                 transform: Transform | None = None) -> DecodedImage:
    """One file decoded with :func:`garmentparse.imageio.load_rgb` (from ``data`` when its bytes
    were already read, e.g. by Ray Data), then ``transform``; never raises: a file that cannot be
    decoded becomes an item carrying the reason."""
    try:
        image = load_rgb(path if data is None else io.BytesIO(data))
        if transform is not None:
            image = transform(image)
    except ImageReadError as exc:
        return DecodedImage(index, path, None, printable(str(exc)))
    except Exception as exc:  # noqa: BLE001 - any decoder failure is recorded, not fatal
        return DecodedImage(index, path, None, printable(f"cannot read image: {type(exc).__name__}: {exc}"))
    return DecodedImage(index, path, image)


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
