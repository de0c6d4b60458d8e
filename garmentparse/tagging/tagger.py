"""The :class:`Tagger`: a segmenter and an optional attribute classifier, chained on arrays."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from collections.abc import Sequence
from typing import Any

import numpy as np

from garmentparse.masks import masked_crop, photo_region
from garmentparse.release import identify, model_label
from garmentparse.structures import AttributeClassifier, AttributePrediction, Garment, Segmenter


POSTPROCESSING = ("duplicate_iou", "fill_holes")  # segmenter settings the run record keeps (ours have them)


@dataclass
class TaggedImage:
    """Garments of one image, with the crops the classifier saw (when kept)."""

    garments: list[Garment]
    crops: list[np.ndarray]
    style: dict[str, AttributePrediction] | None = None  # with a style model


def model_file(ref: str | Path) -> dict[str, str]:
    """How a run record names a model: its file, sha256 and release name (when it is one)."""
    path, sha256 = identify(ref)
    named = model_label(ref)
    return {"path": str(path.resolve()), "sha256": sha256, **({"name": named} if named else {})}


def checked_heads(heads: Sequence[str] | None, classifier: AttributeClassifier | None,
                  name: str = "the classifier") -> tuple[str, ...] | None:
    """The heads asked for (None: all the classifier has); a ValueError names the ones it has."""
    if heads is None:
        return None
    wanted = tuple(dict.fromkeys(h.strip() for h in heads if h.strip()))
    has = list(classifier.heads) if classifier is not None else []
    missing = [h for h in wanted if h not in has]
    if missing:
        raise ValueError(f"{name} has no {', '.join(missing)} head (its heads: {', '.join(has) or 'none'})")
    return wanted


class Tagger:
    """Detect garments, cut each one's masked crop, classify the crops together.

    Any :class:`~garmentparse.structures.Segmenter` and
    :class:`~garmentparse.structures.AttributeClassifier` plug in (ours, from
    :meth:`from_checkpoints`, or a third party's). ``score_threshold=None`` keeps the
    segmenter's own ``score_threshold``. A ``style`` classifier (photo-level, e.g.
    ``configs/classification/style.yaml``) labels each whole photo, or the box around its
    garments when it was trained on ``crop_region: person``.
    """

    def __init__(self, segmenter: Segmenter, classifier: AttributeClassifier | None = None, *,
                 score_threshold: float | None = None, top_k: int = 3, tta: bool = False,
                 crop_size: int = 400, crop_background: str = "white",
                 style: AttributeClassifier | None = None, heads: Sequence[str] | None = None) -> None:
        self.segmenter = segmenter
        self.classifier = classifier
        self.only_heads = checked_heads(heads, classifier)
        self.style = style
        self.score_threshold = score_threshold
        self.top_k = top_k
        self.tta = tta
        self.crop_size = classifier.crop_size if classifier is not None else crop_size
        self.crop_background = classifier.crop_background if classifier is not None else crop_background
        # {"detector": {"path": ..., "sha256": ...}, ...}: set by from_checkpoints, hashed once
        self.model_files: dict[str, dict[str, str]] = {}

    @classmethod
    def from_checkpoints(cls, detector: str | Path, classifier: str | Path | None = None, *,
                         device: str = "auto", amp: bool = True, style: str | Path | None = None,
                         duplicate_iou: float | None = None, **kwargs: Any) -> Tagger:
        """Load the models from their single-file checkpoints. ``duplicate_iou`` replaces the
        detector config's ``test.duplicate_iou`` (``None``: keep it); ``heads`` (a keyword)
        keeps only those of the classifier's heads, and names the ones it has when one is missing."""
        from garmentparse.parsing.api import load_segmenter

        segmenter = load_segmenter(detector, device=device, amp=amp, duplicate_iou=duplicate_iou)
        clf = style_clf = None
        if classifier is not None or style is not None:  # imported only when asked for
            from garmentparse.classifiers.predict import load_classifier

            clf = load_classifier(classifier, device=device, amp=amp) if classifier is not None else None
            style_clf = load_classifier(style, device=device, amp=amp) if style is not None else None
        heads = kwargs.pop("heads", None)
        tagger = cls(segmenter, clf, style=style_clf, **kwargs)
        tagger.only_heads = checked_heads(heads, clf, str(classifier) if classifier is not None else "no classifier")
        tagger.model_files = {name: model_file(path) for name, path in (
            ("detector", detector), ("classifier", classifier), ("style", style)) if path}
        return tagger

    def settings(self, lang: str = "en") -> dict[str, Any]:
        """Everything that decides what the output says: models (by sha256), thresholds, the
        segmenter's mask post-processing (``duplicate_iou``, ``fill_holes``: where it has them), language."""
        threshold = self.segmenter.score_threshold if self.score_threshold is None else self.score_threshold
        style = {"style_heads": list(self.style.heads)} if self.style is not None else {}
        post = {k: getattr(self.segmenter, k) for k in POSTPROCESSING if hasattr(self.segmenter, k)}
        return {**style, **post, "models": {name: f["sha256"] for name, f in self.model_files.items()},
                "classes": list(self.segmenter.class_names),
                "heads": self.heads, "score_threshold": threshold, "top_k": self.top_k, "tta": self.tta,
                "crop_size": self.crop_size, "crop_background": self.crop_background, "lang": lang}

    @property
    def heads(self) -> list[str]:
        if self.classifier is None:
            return []
        return list(self.only_heads) if self.only_heads is not None else list(self.classifier.heads)

    def tag_arrays(self, images: list[np.ndarray], keep_crops: bool = False) -> list[TaggedImage]:
        """Tag a batch of RGB uint8 arrays: detect, cut masked crops, classify them together."""
        detections = self.segmenter.predict(images, score_threshold=self.score_threshold)
        tagged: list[TaggedImage] = []
        all_crops: list[np.ndarray] = []
        all_parts: list[str] = []
        owners: list[Garment] = []
        want_crops = keep_crops or self.classifier is not None
        for image, det in zip(images, detections):
            binary = det.binary_masks() if want_crops and len(det) else None
            garments, crops = [], []
            for j in range(len(det)):
                garment = Garment(det.labels[j], float(det.scores[j]), det.boxes[j].tolist(), det.masks[j])
                garments.append(garment)
                if binary is not None:
                    crop = masked_crop(image, binary[j], det.boxes[j], size=self.crop_size,
                                       background=self.crop_background)
                    crops.append(crop)
                    all_crops.append(crop)
                    all_parts.append(garment.part)
                    owners.append(garment)
            tagged.append(TaggedImage(garments, crops if keep_crops else []))
        if self.classifier is not None and all_crops:
            predictions = self.classifier.predict(all_crops, parts=all_parts, top_k=self.top_k, tta=self.tta)
            for garment, attrs in zip(owners, predictions):
                garment.attributes = attrs if self.only_heads is None else {
                    h: v for h, v in attrs.items() if h in self.only_heads}
        if self.style is not None and tagged:
            region = getattr(self.style, "crop_region", "photo")
            views = [photo_region(image, [g.box for g in t.garments], "person" if region == "person" else "photo",
                                  size=self.style.crop_size) for image, t in zip(images, tagged)]
            for t, style in zip(tagged, self.style.predict(views, top_k=self.top_k, tta=self.tta)):
                t.style = style
        return tagged
