"""Mask helpers on top of pycocotools (RLE, area, box, IoU maths) and OpenCV (crops, holes).

pycocotools does the RLE, area, bbox and IoU maths; this module only adapts types so that RLE
``counts`` are ``str`` (JSON-ready) everywhere in garmentparse.
"""

from __future__ import annotations

from typing import Any, Literal

import cv2
import numpy as np
from pycocotools import mask as coco_mask

RLE = dict[str, Any]
Background = Literal["keep", "white", "black"]


def _to_json_rle(rle: dict) -> RLE:
    counts = rle["counts"]
    return {"size": [int(s) for s in rle["size"]],
            "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts}


def _to_coco_rle(rle: RLE) -> dict:
    counts = rle["counts"]
    if isinstance(counts, list):  # uncompressed RLE
        return coco_mask.frPyObjects(rle, *rle["size"])
    return {"size": rle["size"], "counts": counts.encode("ascii") if isinstance(counts, str) else counts}


def encode(binary: np.ndarray) -> RLE:
    """Compressed COCO RLE of an (H, W) binary mask, with ``counts`` as ``str``."""
    return _to_json_rle(coco_mask.encode(np.asfortranarray(binary.astype(np.uint8))))


def decode(rle: RLE) -> np.ndarray:
    """(H, W) uint8 mask of a COCO RLE (compressed, ``str`` or ``bytes``, or uncompressed)."""
    return coco_mask.decode(_to_coco_rle(rle))


def area(rle: RLE) -> float:
    return float(coco_mask.area(_to_coco_rle(rle)))


def bbox_xywh(rle: RLE) -> list[float]:
    """COCO ``[x, y, w, h]`` box of an RLE mask."""
    return [float(v) for v in coco_mask.toBbox(_to_coco_rle(rle))]


def iou(a: list[RLE], b: list[RLE] | None = None) -> np.ndarray:
    """(len(a), len(b)) mask IoU matrix of same-sized RLEs (pycocotools ``mask.iou``, no crowd
    regions); ``b`` defaults to ``a``."""
    b = a if b is None else b
    if not a or not b:
        return np.zeros((len(a), len(b)))
    ious = coco_mask.iou([_to_coco_rle(r) for r in a], [_to_coco_rle(r) for r in b], [0] * len(b))
    return np.asarray(ious, dtype=float).reshape(len(a), len(b))


def match(a: list[RLE], b: list[RLE], threshold: float = 0.5) -> list[tuple[int, int, float]]:
    """One-to-one pairs ``(i, j, iou)`` of masks ``a[i]`` and ``b[j]`` with IoU >= ``threshold``,
    greedy from the highest IoU (the usual detection matching); unpaired masks are left out."""
    ious = iou(a, b)
    pairs = []
    used_a, used_b = set(), set()
    order = np.argsort(-ious, axis=None, kind="stable") if ious.size else []
    for flat in order:
        i, j = divmod(int(flat), ious.shape[1])
        if ious[i, j] < threshold:
            break
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        pairs.append((i, j, float(ious[i, j])))
    return pairs


def fill_holes(binary: np.ndarray, max_fraction: float) -> np.ndarray:
    """``binary`` (H, W) with its enclosed holes filled where a hole is at most ``max_fraction``
    of the mask's area (0 = unchanged). A hole is background not connected (4-neighbours) to
    the outside: the blotches a thresholded low-resolution mask leaves inside a garment. Large
    holes (the gap between trouser legs, an open jacket's front) stay."""
    binary = binary.astype(np.uint8)
    limit = max_fraction * float(binary.sum())
    if limit < 1:
        return binary
    ys, xs = np.nonzero(binary)
    rows, cols = slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1)
    box = np.pad(binary[rows, cols], 1)  # holes lie inside the mask's box: label only that
    n, labels, stats, _ = cv2.connectedComponentsWithStats(1 - box, connectivity=4)
    outside = labels[0, 0]  # the padding ring touches every background part open to the outside
    small = [i for i in range(1, n)  # label 0: the mask itself
             if i != outside and stats[i, cv2.CC_STAT_AREA] <= limit]
    if not small:
        return binary
    out = binary.copy()
    out[rows, cols] |= np.isin(labels[1:-1, 1:-1], small).astype(np.uint8)
    return out


def polygons_to_rle(polygons: list[list[float]], height: int, width: int) -> RLE:
    """One merged RLE for a garment given as COCO polygons (flat ``[x1, y1, x2, y2, ...]``)."""
    rles = coco_mask.frPyObjects([list(map(float, p)) for p in polygons], height, width)
    return _to_json_rle(coco_mask.merge(rles))


def segmentation_to_rle(segmentation: list | RLE, height: int, width: int) -> RLE:
    """RLE of a COCO ``segmentation`` field (polygon list or RLE)."""
    if isinstance(segmentation, list):
        return polygons_to_rle(segmentation, height, width)
    return _to_json_rle(_to_coco_rle(segmentation))


def mask_to_polygons(binary: np.ndarray, min_points: int = 3) -> list[list[float]]:
    """Outer contours of a binary mask as COCO polygons (every piece, holes ignored)."""
    contours, _ = cv2.findContours(binary.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return [c.reshape(-1).astype(float).tolist() for c in contours if len(c) >= min_points]


def masked_crop(
    image: np.ndarray,
    mask: np.ndarray,
    box_xyxy: list[float] | np.ndarray,
    size: int | None = 400,
    background: Background = "white",
    pad: float = 0.0,
) -> np.ndarray:
    """Cut one garment out of ``image`` (H, W, 3 uint8) by its ``mask`` and box.

    ``background`` fills pixels outside the mask (``keep`` leaves the photo). With ``size``,
    the crop is letterboxed into a ``size``x``size`` square so garments keep their shape.
    """
    h, w = image.shape[:2]
    x0, y0, x1, y1 = [float(v) for v in box_xyxy]
    px, py = (x1 - x0) * pad, (y1 - y0) * pad
    ix0, iy0 = max(0, int(np.floor(x0 - px))), max(0, int(np.floor(y0 - py)))
    ix1, iy1 = min(w, int(np.ceil(x1 + px))), min(h, int(np.ceil(y1 + py)))
    if ix1 <= ix0 or iy1 <= iy0:
        ix0, iy0, ix1, iy1 = 0, 0, max(1, min(w, 1)), max(1, min(h, 1))
    crop = image[iy0:iy1, ix0:ix1].copy()
    if background != "keep":
        fill = 255 if background == "white" else 0
        crop[mask[iy0:iy1, ix0:ix1] == 0] = fill
    if size is None:
        return crop
    fill_value = 0 if background == "black" else 255
    return letterbox(crop, size, fill_value)


def letterbox(image: np.ndarray, size: int, fill: int = 255) -> np.ndarray:
    """Resize keeping aspect ratio, then pad to ``size``x``size``."""
    h, w = image.shape[:2]
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (nw, nh), interpolation=interp)
    out = np.full((size, size, image.shape[2]), fill, dtype=image.dtype)
    top, left = (size - nh) // 2, (size - nw) // 2
    out[top:top + nh, left:left + nw] = resized
    return out


REGIONS = ("photo", "person")


def region_box(boxes: list[list[float]] | np.ndarray, width: int, height: int, pad: float = 0.05) -> list[float]:
    """The box ``[x0, y0, x1, y1]`` around every garment box, grown by ``pad`` of its size on each
    side and kept inside the photo (the person wearing them); the whole photo without boxes."""
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    if not len(boxes):
        return [0.0, 0.0, float(width), float(height)]
    x0, y0 = boxes[:, 0].min(), boxes[:, 1].min()
    x1, y1 = boxes[:, 2].max(), boxes[:, 3].max()
    px, py = (x1 - x0) * pad, (y1 - y0) * pad
    return [max(0.0, x0 - px), max(0.0, y0 - py), min(float(width), x1 + px), min(float(height), y1 + py)]


def photo_region(image: np.ndarray, boxes: list[list[float]] | np.ndarray, region: str = "photo",
                 size: int | None = None, fill: int = 255) -> np.ndarray:
    """What a photo-level model sees: the whole photo, or (``person``) the :func:`region_box` of
    its garments; letterboxed to ``size`` when given."""
    if region not in REGIONS:
        raise ValueError(f"unknown region {region!r}: use photo or person")
    crop = image
    if region == "person":
        h, w = image.shape[:2]
        x0, y0, x1, y1 = region_box(boxes, w, h)
        ix0, iy0 = int(np.floor(x0)), int(np.floor(y0))
        crop = image[iy0:max(iy0 + 1, int(np.ceil(y1))), ix0:max(ix0 + 1, int(np.ceil(x1)))]
    return crop if size is None else letterbox(crop, size, fill)
