"""One-file checkpoints: round trip, and never unpickling code."""

from __future__ import annotations

import pytest
import torch

from garmentparse.checkpoint import Checkpoint, load_checkpoint, save_checkpoint


def test_checkpoint_roundtrip(tmp_path):
    ckpt = Checkpoint("detector", {"a": 1}, {"part": ["top"]}, {"w": torch.ones(2)})
    save_checkpoint(ckpt, tmp_path / "m.pt")
    back = load_checkpoint(tmp_path / "m.pt", expect_kind="detector")
    assert back.config == {"a": 1} and torch.equal(back.state_dict["w"], torch.ones(2))
    with pytest.raises(ValueError, match="expected a classifier"):
        load_checkpoint(tmp_path / "m.pt", expect_kind="classifier")


class _Payload:
    """Stands for arbitrary pickled code in a hostile or foreign checkpoint file."""


def test_checkpoint_loading_never_unpickles_code(tmp_path):
    torch.save({"kind": "detector", "state_dict": {}, "payload": _Payload()}, tmp_path / "code.pt")
    with pytest.raises(ValueError, match="not a garmentparse checkpoint"):
        load_checkpoint(tmp_path / "code.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="junk.pt is not a garmentparse checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
