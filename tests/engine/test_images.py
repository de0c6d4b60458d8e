"""The shared image decoding Dataset and the batch-then-each retry."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from garmentparse.classifiers.data import prepare
from garmentparse.engine.batching import batch_then_each
from garmentparse.engine.images import iter_decoded
from garmentparse.imageio import load_rgb


@pytest.fixture()
def files(tmp_path, ccp_dir):
    photos = sorted((ccp_dir / "images").glob("*.jpg"))[:3]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    return [photos[0], broken, photos[1], tmp_path / "missing.png", photos[2]]


@pytest.mark.parametrize("workers", [0, 2])
def test_decodes_in_order_and_keeps_bad_files_as_errors(files, workers):
    batches = list(iter_decoded(files, batch_size=2, workers=workers))
    assert [len(b) for b in batches] == [2, 2, 1]
    items = [x for b in batches for x in b]
    assert [x.index for x in items] == list(range(5)) and [x.path for x in items] == files
    for x in items:
        if x.path.name in ("broken.jpg", "missing.png"):
            assert x.image is None and x.error
        else:
            assert x.error is None and np.array_equal(x.image, load_rgb(x.path))
    assert "file not found" in items[3].error


def test_transform_runs_on_each_decoded_image(files):
    letterbox = partial(prepare, size=64, fill=255)
    items = [x for b in iter_decoded(files[:3], batch_size=4, workers=1, transform=letterbox) for x in b]
    assert items[0].image.shape == (64, 64, 3) and items[0].image.dtype == np.uint8
    assert items[1].image is None
    assert list(iter_decoded([], batch_size=4, workers=2)) == []


def test_batch_then_each_isolates_the_failing_item():
    calls = []

    def halve(xs):
        calls.append(list(xs))
        if any(x < 0 for x in xs):
            raise ValueError(f"negative in {xs}")
        return [x / 2 for x in xs]

    assert batch_then_each(halve, [2, 4]) == [1, 2] and calls == [[2, 4]]
    out = batch_then_each(halve, [2, -1, 4])
    assert out[0] == 1 and isinstance(out[1], ValueError) and out[2] == 2
    assert batch_then_each(halve, []) == []
