"""Training data: COCO instances (polygons or RLE) read with pycocotools, augmented with
albumentations so image, masks and boxes stay aligned, and sampled uniformly or with
repeat-factor sampling (LVIS, Gupta et al. 2019) to balance rare classes.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import albumentations as A
import numpy as np
import torch
from pycocotools.coco import COCO
from torch.utils.data import Dataset, Sampler

from garmentparse import masks as mask_utils
from garmentparse.imageio import ImageReadError, image_size, load_rgb
from garmentparse.parsing.cocoapi import coco_api, part_classes
from garmentparse.parsing.config import AugmentConfig, DetectorConfig
from garmentparse.report import Report


@dataclass
class Record:
    """One training image and its usable annotations."""

    image_id: int
    path: Path
    height: int
    width: int
    annotations: list[dict[str, Any]]


def build_train_transform(aug: AugmentConfig) -> A.Compose:
    """Flip, content scale jitter (zoom in/out on the same canvas, so it survives the model's
    fixed resize) and colour jitter; masks and boxes follow the image."""
    lo, hi = aug.scale_jitter
    return A.Compose(
        [
            A.HorizontalFlip(p=aug.hflip),
            A.Affine(scale=(lo, hi), keep_ratio=True, p=aug.scale_jitter_p),
            A.ColorJitter(brightness=aug.brightness, contrast=aug.contrast,
                          saturation=aug.saturation, hue=aug.hue, p=aug.color_jitter_p),
        ],
        bbox_params=A.BboxParams(format="pascal_voc", label_fields=["instance_ids"], clip=True),
    )


def boxes_from_masks(masks: np.ndarray) -> np.ndarray:
    """(N, 4) tight ``[x0, y0, x1, y1]`` boxes of (N, H, W) binary masks (exclusive max)."""
    out = np.zeros((len(masks), 4), dtype=np.float32)
    for i, m in enumerate(masks):
        ys = np.flatnonzero(m.any(axis=1))
        xs = np.flatnonzero(m.any(axis=0))
        if len(xs):
            out[i] = [xs[0], ys[0], xs[-1] + 1, ys[-1] + 1]
    return out


class CocoInstances(Dataset):
    """COCO instance segmentation for training: ``(uint8 CHW image, target)`` per item.

    Images that are missing or unreadable are reported (file + reason) and skipped; crowd
    annotations and empty masks are left out. ``max_side`` pre-shrinks photos to the largest
    size the model will resize them to, so augmentation and mask maths stay cheap.
    """

    def __init__(self, coco: COCO | str | Path, images_dir: str | Path, *,
                 transform: A.Compose | None = None, max_side: tuple[int, int] | None = None,
                 min_mask_area: int = 16, keep_empty: bool = False,
                 report: Report | None = None) -> None:
        self.coco = coco_api(coco)
        self.images_dir = Path(images_dir)
        self.transform = transform
        self.max_side = max_side  # (shortest, longest) target of the model's resize
        self.min_mask_area = min_mask_area
        self.report = report if report is not None else Report("train detector")
        self.cat_ids, self.class_names = part_classes(self.coco)
        self.label_of = {cid: i + 1 for i, cid in enumerate(self.cat_ids)}
        self.records: list[Record] = []
        for image_id in sorted(self.coco.imgs):
            info = self.coco.imgs[image_id]
            anns = [a for a in self.coco.imgToAnns.get(image_id, [])
                    if not a.get("iscrowd", 0) and a.get("segmentation") and a["category_id"] in self.label_of]
            if not anns and not keep_empty:
                continue
            path = self.images_dir / info["file_name"]
            try:
                w, h = image_size(path)
            except ImageReadError as exc:
                self.report.add(path, "unreadable_image", str(exc))
                continue
            if (h, w) != (info["height"], info["width"]):
                self.report.add(path, "size_mismatch", f"file is {w}x{h}, COCO says "
                                f"{info['width']}x{info['height']}")
                continue
            self.records.append(Record(image_id, path, h, w, anns))
        self.report.counts["train_images"] = len(self.records)
        self.report.counts["train_instances"] = sum(len(r.annotations) for r in self.records)

    def __len__(self) -> int:
        return len(self.records)

    def image_labels(self, index: int) -> set[int]:
        return {self.label_of[a["category_id"]] for a in self.records[index].annotations}

    def _masks(self, rec: Record) -> tuple[np.ndarray, list[int]]:
        masks, labels = [], []
        for ann in rec.annotations:
            try:
                rle = mask_utils.segmentation_to_rle(ann["segmentation"], rec.height, rec.width)
            except Exception:  # noqa: BLE001 - a malformed polygon must not stop training
                continue
            m = mask_utils.decode(rle)
            if m.any():
                masks.append(m)
                labels.append(self.label_of[ann["category_id"]])
        if not masks:
            return np.zeros((0, rec.height, rec.width), dtype=np.uint8), []
        return np.stack(masks), labels

    def _shrink(self, image: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.max_side is None:
            return image, masks
        h, w = image.shape[:2]
        scale = min(self.max_side[0] / min(h, w), self.max_side[1] / max(h, w))
        if scale >= 1.0:
            return image, masks
        nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
        resize = A.Resize(nh, nw, p=1.0)
        if len(masks):
            out = resize(image=image, masks=masks)
            return out["image"], np.asarray(out["masks"])
        return resize(image=image)["image"], np.zeros((0, nh, nw), dtype=np.uint8)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]] | None:
        rec = self.records[index]
        try:
            image = load_rgb(rec.path)
        except ImageReadError:
            return None  # listed as readable at start; skipped here, the batch goes on
        if image.shape[:2] != (rec.height, rec.width):
            return None
        masks, labels = self._masks(rec)
        image, masks = self._shrink(image, masks)
        if self.transform is not None:
            if len(masks):
                out = self.transform(image=image, masks=masks, bboxes=boxes_from_masks(masks),
                                     instance_ids=list(range(len(masks))))
                keep = [int(i) for i in out["instance_ids"]]
                image = out["image"]
                masks = np.asarray(out["masks"])[keep] if keep else masks[:0, :image.shape[0], :image.shape[1]]
                labels = [labels[i] for i in keep]
            else:
                image = self.transform(image=image, bboxes=np.zeros((0, 4)), instance_ids=[])["image"]
                masks = np.zeros((0,) + image.shape[:2], dtype=np.uint8)
        if len(masks):
            areas = masks.reshape(len(masks), -1).sum(1)
            keep = np.flatnonzero(areas >= self.min_mask_area)
            masks = masks[keep]
            labels = [labels[i] for i in keep]
        boxes = boxes_from_masks(masks)
        target = {
            "boxes": torch.from_numpy(boxes).reshape(-1, 4),
            "labels": torch.tensor(labels, dtype=torch.int64),
            "masks": torch.from_numpy(np.ascontiguousarray(masks, dtype=np.uint8)),
            "image_id": torch.tensor(rec.image_id),
        }
        if not image.flags.writeable:
            image = np.array(image)  # PIL hands out read-only buffers; torch wants writable memory
        return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1), target


def collate(batch: list) -> tuple[list[torch.Tensor], list[dict[str, torch.Tensor]]]:
    """Lists of images and targets; items that failed to load (``None``) are dropped."""
    batch = [b for b in batch if b is not None]
    return [b[0] for b in batch], [b[1] for b in batch]


def repeat_factors(dataset: CocoInstances, threshold: float) -> list[float]:
    """LVIS repeat factors: r_c = max(1, sqrt(t / f_c)), f_c = share of images with class c;
    an image repeats by the largest r_c of its classes."""
    n = max(len(dataset), 1)
    per_image = [dataset.image_labels(i) for i in range(len(dataset))]
    freq: dict[int, float] = {}
    for labels in per_image:
        for c in labels:
            freq[c] = freq.get(c, 0.0) + 1.0 / n
    cat_r = {c: max(1.0, math.sqrt(threshold / f)) for c, f in freq.items()}
    return [max((cat_r[c] for c in labels), default=1.0) for labels in per_image]


class InfiniteSampler(Sampler[int]):
    """Endless shuffled indices, seeded. With ``factors``, each pass repeats image i
    ``floor(r_i)`` times plus once more with probability ``frac(r_i)`` (stochastic rounding)."""

    def __init__(self, size: int, seed: int = 0, factors: list[float] | None = None) -> None:
        if size <= 0:
            raise ValueError("no training images to sample from")
        self.size = size
        self.seed = seed
        self.factors = factors

    def _epoch(self, rng: random.Random) -> list[int]:
        if self.factors is None:
            idx = list(range(self.size))
        else:
            idx = [i for i, r in enumerate(self.factors)
                   for _ in range(int(r) + (rng.random() < r - int(r)))]
        rng.shuffle(idx)
        return idx

    def __iter__(self) -> Iterator[int]:
        rng = random.Random(self.seed)
        while True:
            yield from self._epoch(rng)

    def __len__(self) -> int:  # one pass
        return self.size if self.factors is None else int(round(sum(self.factors)))


def make_train_dataset(cfg: DetectorConfig, coco: COCO | str | Path, images_dir: str | Path,
                       report: Report | None = None) -> CocoInstances:
    """The training dataset with the config's augmentation and pre-shrink."""
    max_side = (max(cfg.input.min_size_train), cfg.input.max_size_train)
    return CocoInstances(coco, images_dir, transform=build_train_transform(cfg.augment),
                         max_side=max_side, min_mask_area=cfg.augment.min_mask_area,
                         keep_empty=cfg.data.keep_empty_images, report=report)
