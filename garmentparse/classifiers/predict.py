"""Prediction: :class:`TorchvisionClassifier` (load a checkpoint, classify crops; an
:class:`~garmentparse.structures.AttributeClassifier`), test-time augmentation and the part
restriction of categories."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from garmentparse import vocab
from garmentparse.checkpoint import Checkpoint, load_checkpoint, resolve_device
from garmentparse.classifiers.config import ClassifierConfig
from garmentparse.classifiers.data import background_fill, prepare, to_tensor
from garmentparse.classifiers.model import MultiHeadClassifier
from garmentparse.config import from_dict
from garmentparse.structures import AttributePrediction

CROP_SCALE = 0.875  # multi-crop TTA: four corner crops and a centre crop of this side fraction


def tta_views(x: torch.Tensor, modes: Sequence[str]) -> list[torch.Tensor]:
    """The batch as the network sees it under TTA: itself, plus (``crops``) four corner and a
    centre crop resized back, each plus (``hflip``) its mirror image."""
    views = [x]
    if "crops" in modes:
        s = x.shape[-1]
        c = int(round(s * CROP_SCALE))
        offsets = [(0, 0), (0, s - c), (s - c, 0), (s - c, s - c), ((s - c) // 2, (s - c) // 2)]
        for top, left in offsets:
            crop = x[..., top:top + c, left:left + c].float()
            views.append(F.interpolate(crop, size=(s, s), mode="bilinear", align_corners=False))
    if "hflip" in modes:
        views += [torch.flip(v, dims=[-1]) for v in views]
    return views


def autocast(device: torch.device, amp: bool):
    """bf16 autocast on CUDA when ``amp``; a no-op elsewhere."""
    if amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


@torch.no_grad()
def head_probabilities(model: MultiHeadClassifier, x: torch.Tensor, multi_label: dict[str, bool],
                       tta: Sequence[str] = (), amp: bool = True) -> dict[str, torch.Tensor]:
    """Probabilities per head for a uint8 batch (B, 3, S, S) already on the model's device:
    softmax (single-label) or sigmoid (multi-label), averaged over the TTA views. The model
    normalises with the mean/std it was trained with (:meth:`MultiHeadClassifier.normalise`)."""
    device = x.device
    sums: dict[str, torch.Tensor] = {}
    views = tta_views(x, tta)
    for view in views:
        inp = model.normalise(view)
        if device.type == "cuda":
            inp = inp.contiguous(memory_format=torch.channels_last)
        with autocast(device, amp):
            logits = model(inp)
        for name, logit in logits.items():
            p = torch.sigmoid(logit.float()) if multi_label[name] else torch.softmax(logit.float(), dim=1)
            sums[name] = sums[name] + p if name in sums else p
    return {name: s / len(views) for name, s in sums.items()}


def restrict_to_parts(probs: np.ndarray, classes: list[str], parts: Sequence[str | None]) -> np.ndarray:
    """Zero the categories that do not belong to each row's part and renormalise.

    A row whose part is unknown (``None`` or not a part id), or whose part has no category
    in ``classes``, is left as it is."""
    out = probs.copy()
    class_part = np.array([vocab.CATEGORY_PART.get(c) for c in classes], dtype=object)
    for i, part in enumerate(parts):
        if part not in vocab.PARTS:
            continue
        valid = class_part == part
        if not valid.any():
            continue
        row = np.where(valid, out[i], 0.0)
        total = row.sum()
        out[i] = row / total if total > 0 else valid / valid.sum()
    return out


def crop_batch(crops: Sequence[np.ndarray], size: int, fill: int, device: torch.device) -> torch.Tensor:
    """uint8 (B, 3, size, size) tensor of RGB uint8 crops letterboxed with ``fill``, on ``device``;
    a crop of another type or shape is a ``ValueError`` naming it."""
    arrays = []
    for c in crops:
        c = np.asarray(c)
        if c.dtype != np.uint8:  # a float [0, 1] image cast to uint8 would be black
            raise ValueError(f"crops must be RGB uint8 arrays, got dtype {c.dtype}")
        if c.ndim == 3 and 0 in c.shape[:2]:
            raise ValueError(f"empty crop of shape {c.shape}")
        if c.ndim == 2:
            c = np.repeat(c[:, :, None], 3, axis=2)
        if c.ndim != 3 or c.shape[2] != 3:
            raise ValueError(f"crops must be HxWx3 RGB uint8 arrays, got shape {c.shape}")
        arrays.append(prepare(c, size, fill))
    return torch.stack([to_tensor(a) for a in arrays]).to(device, non_blocking=True)


class TorchvisionClassifier:
    """A trained multi-head classifier ready to label garment crops (the
    :class:`~garmentparse.structures.AttributeClassifier` that ``load_classifier`` returns).

    >>> clf = load_classifier("runs/cls/model.pt")
    >>> clf.predict([crop], parts=["top"])[0]["category"].label
    'blouse'
    """

    def __init__(self, model: MultiHeadClassifier, config: ClassifierConfig,
                 vocabulary: dict[str, list[str]], untrained: Sequence[str] = (),
                 device: str | torch.device = "cpu", amp: bool = True) -> None:
        self.device = torch.device(device) if not isinstance(device, torch.device) else device
        self.model = model.to(self.device).eval()
        if self.device.type == "cuda":
            self.model = self.model.to(memory_format=torch.channels_last)
        self.config = config
        self.vocabulary = vocabulary
        self.untrained = list(untrained)
        self.amp = amp
        self.multi_label = {h.attribute: bool(h.multi_label) for h in config.model.heads}
        self.thresholds = {h.attribute: h.threshold for h in config.model.heads}

    @property
    def heads(self) -> list[str]:
        """Attributes this classifier answers (heads that never saw a label are left out)."""
        return [h for h in self.vocabulary if h not in self.untrained]

    @property
    def input_size(self) -> int:
        return self.config.data.input_size

    @property
    def crop_size(self) -> int:
        """The side of the square crops it was trained on (cut crops the same way)."""
        return int(self.config.data.crop_size or 400)

    @property
    def crop_background(self) -> str:
        """``white`` / ``black`` / ``keep``: how pixels outside the mask were filled."""
        return self.config.data.crop_background

    @property
    def crop_region(self) -> str:
        """``garment`` (a masked garment), ``photo`` (whole photos) or ``person`` (the box around
        a photo's garments): what each crop it was trained on shows."""
        return self.config.data.crop_region

    def batch(self, crops: Sequence[np.ndarray]) -> torch.Tensor:
        """uint8 (B, 3, S, S) tensor of letterboxed crops, on the device."""
        return crop_batch(crops, self.input_size, background_fill(self.crop_background), self.device)

    def tta_modes(self, tta: bool | Sequence[str]) -> list[str]:
        if tta is True:
            return list(self.config.eval.tta)
        return list(tta) if tta else []

    def probabilities(self, crops: Sequence[np.ndarray], parts: Sequence[str | None] | None = None,
                      tta: bool | Sequence[str] = False, batch_size: int | None = None,
                      part_restrict: bool = True) -> dict[str, np.ndarray]:
        """(N, classes) probabilities per head; categories restricted by ``parts`` when given."""
        batch_size = batch_size or self.config.eval.batch_size
        modes = self.tta_modes(tta)
        chunks: dict[str, list[np.ndarray]] = {h: [] for h in self.vocabulary}
        for start in range(0, len(crops), batch_size):
            x = self.batch(crops[start:start + batch_size])
            probs = head_probabilities(self.model, x, self.multi_label, modes, self.amp)
            for h, p in probs.items():
                chunks[h].append(p.cpu().numpy())
        out = {h: np.concatenate(c) if c else np.zeros((0, len(self.vocabulary[h])), np.float32)
               for h, c in chunks.items()}
        if part_restrict and parts is not None and "category" in out:
            out["category"] = restrict_to_parts(out["category"], self.vocabulary["category"], parts)
        return out

    def to_predictions(self, probs: dict[str, np.ndarray], top_k: int = 3) -> list[dict[str, AttributePrediction]]:
        """Per-crop ``{head: AttributePrediction}`` from probability arrays (English ids)."""
        n = len(next(iter(probs.values()))) if probs else 0
        results: list[dict[str, AttributePrediction]] = [{} for _ in range(n)]
        for head in self.heads:
            classes = self.vocabulary[head]
            for i, row in enumerate(probs[head]):
                order = np.argsort(-row, kind="stable")[:top_k]
                top = [(classes[j], float(row[j])) for j in order]
                labels = None
                if self.multi_label[head]:
                    labels = [classes[j] for j in np.argsort(-row, kind="stable") if row[j] >= self.thresholds[head]]
                results[i][head] = AttributePrediction(top[0][0], top[0][1], top, labels)
        return results

    def predict(self, crops: Sequence[np.ndarray], parts: Sequence[str | None] | None = None,
                top_k: int = 3, tta: bool | Sequence[str] = False) -> list[dict[str, AttributePrediction]]:
        """Classify RGB uint8 crops. ``parts`` (one per crop, e.g. ``"bottom"``) rules out the
        categories of other parts; ``tta`` averages probabilities over flips / crops."""
        if parts is not None and len(parts) != len(crops):
            raise ValueError(f"{len(parts)} parts for {len(crops)} crops")
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        if not len(crops):
            return []
        probs = self.probabilities(crops, parts, tta, part_restrict=self.config.eval.part_restrict)
        return self.to_predictions(probs, top_k)


def load_classifier(path: str | Path, device: str = "auto", amp: bool = True) -> TorchvisionClassifier:
    """Rebuild a trained classifier from its one-file checkpoint (no download, no other file)."""
    return classifier_from_checkpoint(load_checkpoint(path, expect_kind="classifier"), str(path), device, amp)


def classifier_from_checkpoint(ckpt: Checkpoint, source: str = "checkpoint", device: str = "auto",
                               amp: bool = True) -> TorchvisionClassifier:
    """A :class:`TorchvisionClassifier` from a checkpoint already read (e.g. one kept inside an
    embedder's checkpoint); ``source`` names it in config errors."""
    config = from_dict(ClassifierConfig, ckpt.config, source=source)
    model = MultiHeadClassifier.from_config(config, ckpt.vocabulary, init="none")
    model.load_state_dict(ckpt.state_dict)
    return TorchvisionClassifier(model, config, ckpt.vocabulary, ckpt.extra.get("untrained_heads", []),
                                 resolve_device(device), amp)
