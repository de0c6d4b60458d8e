"""The dataclasses every stage passes on.

- :class:`Detections` - what a segmenter finds in one image (boxes, scores, parts, masks).
- :class:`AttributePrediction` - one classifier head's answer for one crop.
- :class:`Garment` - one detected garment with its attributes, as written by ``tag``.
- :class:`TagResult` - one image's line in the ``tag`` output.
- :class:`Segmenter` and :class:`AttributeClassifier` - the two model interfaces the tagger
  drives (protocols: any object with these members plugs in, ours or a third party's).

Coordinates are pixels of the original image; boxes are ``[x0, y0, x1, y1]``; masks are COCO
RLE dicts with ``counts`` as ``str`` (JSON-ready).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from garmentparse import masks as mask_utils

RLE = dict[str, Any]


@dataclass
class Detections:
    """Garments found in one image. All fields have one entry per detection."""

    boxes: np.ndarray  # (N, 4) float32, [x0, y0, x1, y1]
    scores: np.ndarray  # (N,) float32
    labels: list[str]  # part ids, e.g. "top"
    masks: list[RLE]  # COCO RLE per detection, image-sized
    image_size: tuple[int, int]  # (height, width)

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        n = len(self.boxes)
        if not (len(self.scores) == len(self.labels) == len(self.masks) == n):
            raise ValueError(
                f"Detections fields disagree in length: boxes={n}, scores={len(self.scores)}, "
                f"labels={len(self.labels)}, masks={len(self.masks)}"
            )

    def __len__(self) -> int:
        return len(self.boxes)

    @classmethod
    def empty(cls, image_size: tuple[int, int]) -> Detections:
        return cls(np.zeros((0, 4)), np.zeros(0), [], [], image_size)

    @classmethod
    def from_binary(cls, boxes: np.ndarray, scores: np.ndarray, labels: list[str],
                    binary: np.ndarray | Sequence[np.ndarray], image_size: tuple[int, int],
                    fill_holes: float = 0.0) -> Detections:
        """Detections from (N, H, W) binary masks, RLE-encoded after filling their enclosed holes
        up to ``fill_holes`` of each mask's area (:func:`garmentparse.masks.fill_holes`; 0 = off)."""
        rles = [mask_utils.encode(mask_utils.fill_holes(m, fill_holes) if fill_holes > 0 else m)
                for m in binary]
        return cls(boxes, scores, labels, rles, image_size)

    @classmethod
    def from_torchvision(
        cls,
        output: dict[str, Any],
        class_names: list[str],
        image_size: tuple[int, int],
        mask_threshold: float = 0.5,
        fill_holes: float = 0.0,
    ) -> Detections:
        """Adapt one torchvision Mask R-CNN output dict (``boxes``, ``scores``, ``labels``,
        ``masks`` of shape (N, 1, H, W) probabilities). ``class_names[i]`` names label ``i + 1``."""
        boxes = output["boxes"].detach().float().cpu().numpy()
        scores = output["scores"].detach().float().cpu().numpy()
        labels = [class_names[int(i) - 1] for i in output["labels"].detach().cpu().tolist()]
        binary = (output["masks"].detach()[:, 0] >= mask_threshold).cpu().numpy()
        return cls.from_binary(boxes, scores, labels, binary, image_size, fill_holes)

    def select(self, keep: Sequence[int] | np.ndarray) -> Detections:
        """The detections at indices ``keep`` (an index list or a boolean mask), in that order."""
        idx = np.flatnonzero(keep) if np.asarray(keep).dtype == bool else np.asarray(keep, dtype=int)
        return Detections(self.boxes[idx], self.scores[idx], [self.labels[i] for i in idx],
                          [self.masks[i] for i in idx], self.image_size)

    def above(self, score_threshold: float) -> Detections:
        """The detections scoring at least ``score_threshold``."""
        return self.select(self.scores >= score_threshold)

    def suppress_duplicates(self, iou_threshold: float) -> Detections:
        """Class-agnostic duplicate suppression by mask IoU, for after a model's per-class NMS:
        greedily by score, a detection is dropped when its mask IoU with an already kept,
        higher-scoring detection (of any part) exceeds ``iou_threshold``. The kept ones stay in
        their original order. ``iou_threshold`` 0 (or >= 1) turns it off."""
        if not 0 < iou_threshold < 1 or len(self) < 2:
            return self
        ious = mask_utils.iou(self.masks)
        kept: list[int] = []
        for i in np.argsort(-self.scores, kind="stable"):
            if not kept or ious[i, kept].max() <= iou_threshold:
                kept.append(int(i))
        return self if len(kept) == len(self) else self.select(sorted(kept))

    def duplicate_pairs(self, iou_threshold: float = 0.5) -> int:
        """Pairs of detections (any parts) whose masks overlap with IoU above ``iou_threshold``."""
        ious = mask_utils.iou(self.masks)
        return int(np.triu(ious > iou_threshold, k=1).sum())

    def binary_masks(self) -> np.ndarray:
        """(N, H, W) uint8 masks decoded from the RLEs."""
        h, w = self.image_size
        if not self.masks:
            return np.zeros((0, h, w), dtype=np.uint8)
        return np.stack([mask_utils.decode(m) for m in self.masks])


@dataclass
class AttributePrediction:
    """One head's answer: the top label, its probability and the top-k alternatives.

    For multi-label heads ``labels`` lists every value above the head's threshold."""

    label: str | None
    probability: float
    top_k: list[tuple[str, float]] = field(default_factory=list)
    labels: list[str] | None = None  # multi-label heads only

    def to_dict(self, attribute: str, lang: str = "en") -> dict[str, Any]:
        from garmentparse.vocab import translate

        out: dict[str, Any] = {
            "label": translate(attribute, self.label, lang) if self.label is not None else None,
            "probability": round(float(self.probability), 4),
            "top_k": [
                {"label": translate(attribute, lab, lang), "probability": round(float(p), 4)}
                for lab, p in self.top_k
            ],
        }
        if self.labels is not None:
            out["labels"] = [translate(attribute, lab, lang) for lab in self.labels]
        return out


@dataclass
class Garment:
    """One garment in a tagged image."""

    part: str
    score: float
    box: list[float]  # [x0, y0, x1, y1]
    mask: RLE
    attributes: dict[str, AttributePrediction] = field(default_factory=dict)

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        from garmentparse.vocab import translate

        return {
            "part": translate("part", self.part, lang),
            "score": round(float(self.score), 4),
            "box": [round(float(v), 2) for v in self.box],
            "mask": self.mask,
            "attributes": {k: v.to_dict(k, lang) for k, v in self.attributes.items()},
        }


@dataclass
class TagResult:
    """One image's result. ``error`` is set (and ``garments`` empty) when it failed."""

    path: str
    width: int | None
    height: int | None
    garments: list[Garment] = field(default_factory=list)
    error: str | None = None
    style: dict[str, AttributePrediction] | None = None  # the photo's style, when a style model ran

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "width": self.width,
            "height": self.height,
            "garments": [g.to_dict(lang) for g in self.garments],
            "error": self.error,
        }
        if self.style is not None:
            out["style"] = {k: v.to_dict(k, lang) for k, v in self.style.items()}
        return out


@runtime_checkable
class Segmenter(Protocol):
    """Finds garments in RGB images (the torchvision Mask R-CNN, detectron2, or your own)."""

    class_names: list[str]  # the part ids it can return, e.g. ["outer", "top", "bottom", "onepiece"]

    @property
    def score_threshold(self) -> float:
        """The threshold ``predict`` applies when given ``None``."""
        ...

    def predict(self, images: list[np.ndarray], score_threshold: float | None = None) -> list[Detections]:
        """One :class:`Detections` per HxWx3 RGB uint8 image, in original-pixel coordinates."""
        ...


@runtime_checkable
class AttributeClassifier(Protocol):
    """Labels garment crops with one answer per attribute head (category, colour, ...)."""

    @property
    def heads(self) -> list[str]:
        """The attributes it answers, e.g. ``["category", "colour"]``."""
        ...

    @property
    def crop_size(self) -> int:
        """Side of the square masked crops it expects (the tagger cuts them so)."""
        ...

    @property
    def crop_background(self) -> str:
        """``white`` / ``black`` / ``keep``: how crop pixels outside the mask are filled."""
        ...

    def predict(self, crops: Sequence[np.ndarray], parts: Sequence[str | None] | None = None,
                top_k: int = 3, tta: bool = False) -> list[dict[str, AttributePrediction]]:
        """Per RGB uint8 crop, ``{head: AttributePrediction}``; ``parts`` (one per crop) may
        rule out categories of other parts."""
        ...
