"""Where embeddings come from: one network plus its own preprocessing, images in, L2-normalised
float32 vectors out.

- a trained garmentparse classifier (``model.pt`` of ``train classifier``): its backbone's pooled
  features, with the checkpoint's own input size, crop background and ImageNet mean/std;
- ``lite0``: the ImageNet EfficientNet-Lite0 that installs offline
  (:func:`garmentparse.engine.pretrained.build_lite0`), 1280-d pooled features;
- an embedder (``model.pt`` of ``train embedder``): a 512-d metric-learning projection trained on
  the labels, on top of one of the two above (kept inside its checkpoint).

Every model is named by the sha256 of its file (:class:`ModelIdentity`), so an embedding folder
can refuse queries made with another model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from garmentparse.checkpoint import Checkpoint, file_sha256, load_checkpoint, resolve_device
from garmentparse.classifiers.data import MEAN, STD, background_fill
from garmentparse.classifiers.predict import autocast, classifier_from_checkpoint, crop_batch
from garmentparse.release import identify

LITE0 = "lite0"
EMBEDDER_KIND = "embedder"
MODEL_HELP = ("a classifier checkpoint (train classifier), an embedder checkpoint (train embedder), "
              "a release model name (garmentparse models list) or 'lite0' (ImageNet EfficientNet-Lite0, offline)")


@dataclass(frozen=True)
class ModelIdentity:
    """Which network made a set of vectors: its kind, file, the file's sha256 and the width."""

    kind: str  # classifier | lite0 | embedder
    path: str
    sha256: str
    dim: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelIdentity:
        return cls(str(data["kind"]), str(data["path"]), str(data["sha256"]), int(data["dim"]))

    def describe(self) -> str:
        return f"{self.kind} {self.path} (sha256 {self.sha256[:12]})"


class Normalise(nn.Module):
    """L2 normalisation along the feature axis (between a base network and a projection)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x.float(), dim=1)


class Encoder:
    """Crops (RGB uint8 arrays of any size) -> L2-normalised float32 vectors.

    Crops are letterboxed to ``input_size`` with the background the model was trained with,
    scaled to 0..1 and normalised with ``mean``/``std``; ``network`` maps that batch to features.
    ``crop_size``/``crop_background`` say how garments should be cut for it (as ``tag`` does).
    """

    def __init__(self, network: nn.Module, *, identity: ModelIdentity, input_size: int,
                 mean: Sequence[float], std: Sequence[float], crop_size: int, crop_background: str,
                 device: str | torch.device = "cpu", amp: bool = True) -> None:
        self.device = device if isinstance(device, torch.device) else torch.device(device)
        self.network = network.to(self.device).eval()
        self.identity = identity
        self.input_size = input_size
        self.mean = torch.tensor(mean, device=self.device).view(1, 3, 1, 1) * 255
        self.std = torch.tensor(std, device=self.device).view(1, 3, 1, 1) * 255
        self.crop_size = crop_size
        self.crop_background = crop_background
        self.amp = amp

    @property
    def dim(self) -> int:
        return self.identity.dim

    @torch.inference_mode()
    def encode(self, crops: Sequence[np.ndarray], batch_size: int = 64) -> np.ndarray:
        """(N, dim) float32, each row of unit length; batched, on the encoder's device."""
        out = [np.zeros((0, self.dim), np.float32)]
        fill = background_fill(self.crop_background)
        for start in range(0, len(crops), batch_size):
            x = crop_batch(crops[start:start + batch_size], self.input_size, fill, self.device)
            x = (x.float() - self.mean) / self.std
            with autocast(self.device, self.amp):
                features = self.network(x)
            out.append(F.normalize(features.float(), dim=1).cpu().numpy())
        return np.concatenate(out).astype(np.float32, copy=False)


def classifier_encoder(ckpt: Checkpoint, path: str, sha256: str, device: torch.device,
                       amp: bool = True) -> Encoder:
    """The pooled backbone features of a trained classifier, with its own preprocessing."""
    clf = classifier_from_checkpoint(ckpt, path, "cpu", amp)
    backbone = clf.model.backbone
    identity = ModelIdentity("classifier", path, sha256, int(backbone.out_dim))
    return Encoder(backbone, identity=identity, input_size=clf.input_size, mean=MEAN, std=STD,
                   crop_size=clf.crop_size, crop_background=clf.crop_background, device=device, amp=amp)


def lite0_encoder(device: torch.device, amp: bool = True) -> Encoder:
    """ImageNet EfficientNet-Lite0 (offline weights), 1280-d pooled features, its preprocessing."""
    from garmentparse.engine.pretrained import (LITE0_INPUT_SIZE, LITE0_MEAN, LITE0_STD, build_lite0,
                                                lite0_checkpoint_path)

    path = lite0_checkpoint_path()
    network = build_lite0(pretrained=True)
    identity = ModelIdentity(LITE0, str(path), file_sha256(path), int(network.num_features))
    return Encoder(network, identity=identity, input_size=LITE0_INPUT_SIZE, mean=LITE0_MEAN, std=LITE0_STD,
                   crop_size=LITE0_INPUT_SIZE, crop_background="white", device=device, amp=amp)


def base_encoder(base: dict[str, Any], device: torch.device, amp: bool = True) -> Encoder:
    """The encoder an embedder's projection sits on, from what its checkpoint keeps."""
    if base["kind"] == LITE0:
        return lite0_encoder(device, amp)
    kept = base["checkpoint"]
    ckpt = Checkpoint("classifier", kept["config"], kept["vocabulary"], kept["state_dict"], kept.get("extra", {}))
    return classifier_encoder(ckpt, base["path"], base["sha256"], device, amp)


PROJECTIONS = ("mlp", "linear")


def projection(in_dim: int, dim: int, kind: str = "mlp", hidden: int = 1024) -> nn.Module:
    """The metric-learning head (vectors are normalised after it): ``mlp`` (linear, ReLU,
    dropout, linear) or ``linear``."""
    if kind == "linear":
        return nn.Linear(in_dim, dim)
    if kind == "mlp":
        return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(inplace=True), nn.Dropout(0.2), nn.Linear(hidden, dim))
    raise ValueError(f"unknown projection {kind!r}: use {' or '.join(PROJECTIONS)}")


def embedder_encoder(ckpt: Checkpoint, path: str, sha256: str, device: torch.device,
                     amp: bool = True) -> Encoder:
    """A trained embedder: its base network, L2 normalisation, then the learnt projection."""
    base = base_encoder(ckpt.extra["base"], torch.device("cpu"), amp)
    head = projection(base.dim, int(ckpt.config["dim"]), ckpt.config.get("head", "linear"))
    head.load_state_dict(ckpt.state_dict)
    network = nn.Sequential(base.network, Normalise(), head)
    identity = ModelIdentity(EMBEDDER_KIND, path, sha256, int(ckpt.config["dim"]))
    return Encoder(network, identity=identity, input_size=base.input_size,
                   mean=(base.mean / 255).flatten().tolist(), std=(base.std / 255).flatten().tolist(),
                   crop_size=base.crop_size, crop_background=base.crop_background, device=device, amp=amp)


def load_encoder(model: str | Path, device: str = "auto", amp: bool = True) -> Encoder:
    """The encoder of ``model``: ``"lite0"``, or a classifier / embedder checkpoint file."""
    dev = resolve_device(device)
    if str(model) == LITE0:
        return lite0_encoder(dev, amp)
    path, sha = identify(model)
    ckpt = load_checkpoint(path)
    if ckpt.kind == "classifier":
        return classifier_encoder(ckpt, str(path.resolve()), sha, dev, amp)
    if ckpt.kind == EMBEDDER_KIND:
        return embedder_encoder(ckpt, str(path.resolve()), sha, dev, amp)
    raise ValueError(f"{path}: a {ckpt.kind} checkpoint cannot embed garments; use {MODEL_HELP}")


def model_sha256(model: str | Path) -> str:
    """The sha256 that names ``model`` (the Lite0 checkpoint file for ``"lite0"``), no network built."""
    if str(model) == LITE0:
        from garmentparse.engine.pretrained import lite0_checkpoint_path

        return file_sha256(lite0_checkpoint_path())
    return identify(model)[1]


__all__ = ["EMBEDDER_KIND", "LITE0", "MODEL_HELP", "PROJECTIONS", "Encoder", "ModelIdentity", "Normalise", "base_encoder",
           "classifier_encoder", "embedder_encoder", "lite0_encoder", "load_encoder", "model_sha256",
           "projection"]
