"""Pictures for docs/models.md and the README: the release detector on held-out photos.

- ``overlays.jpg``: truth (left) beside the release model's garments (right) for --show photos.
- ``failures.jpg``: the held-out photos where the detector is most wrong (missed truth garments
  + wrong garments, matched by mask IoU >= 0.5 with the same part), truth beside prediction,
  with a caption of what went wrong.

    python scripts/release_pictures.py --coco split/val.json --images PHOTOS --out docs/models/ \
        [--detector ccp-lite0-detector] [--show 0002.jpg 0015.jpg]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from garmentparse import masks as mask_utils
from garmentparse.converters.coco import load_coco
from garmentparse.draw import draw_instances, save_rgb
from garmentparse.imageio import load_rgb
from garmentparse.parsing.api import load_segmenter


def truth(coco: dict, image: dict) -> tuple[list[dict], list[str]]:
    names = {c["id"]: c["name"] for c in coco["categories"]}
    anns = [a for a in coco["annotations"] if a["image_id"] == image["id"]]
    rles = [mask_utils.segmentation_to_rle(a["segmentation"], image["height"], image["width"]) for a in anns]
    return rles, [(a.get("attributes") or {}).get("part") or names[a["category_id"]] for a in anns]


def errors(gt: list[dict], gt_parts: list[str], det) -> tuple[int, int, list[str]]:  # noqa: ANN001
    """Missed truth garments, wrong detections, and words for them."""
    ious = mask_utils.iou(list(det.masks), gt) if len(det) and gt else np.zeros((len(det), len(gt)))
    matched_gt, wrong, notes = set(), 0, []
    for i in np.argsort(-np.asarray(det.scores)):
        j = int(np.argmax(ious[i])) if gt else -1
        if j >= 0 and ious[i, j] >= 0.5 and j not in matched_gt and det.labels[i] == gt_parts[j]:
            matched_gt.add(j)
        else:
            wrong += 1
            if j >= 0 and ious[i, j] >= 0.5:
                notes.append(f"{gt_parts[j]} called {det.labels[i]}")
            else:
                notes.append(f"extra {det.labels[i]}")
    missed = [gt_parts[j] for j in range(len(gt)) if j not in matched_gt]
    notes += [f"missed {p}" for p in missed]
    return len(missed), wrong, notes


def pair(image: np.ndarray, gt: list[dict], gt_parts: list[str], det, caption: str, height: int = 420) -> np.ndarray:  # noqa: ANN001
    left = draw_instances(image, [mask_utils.decode(r) for r in gt], [_box(r) for r in gt], gt_parts)
    labels = [f"{p} {s:.2f}" for p, s in zip(det.labels, det.scores)]
    right = draw_instances(image, list(det.binary_masks()), [list(b) for b in det.boxes], labels, list(det.labels))
    both = np.concatenate([left, np.full((image.shape[0], 8, 3), 255, np.uint8), right], axis=1)
    scale = height / both.shape[0]
    both = cv2.resize(both, (round(both.shape[1] * scale), height), interpolation=cv2.INTER_AREA)
    bar = np.full((28, both.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, caption[:90], (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([bar, both], axis=0)


def _box(rle: dict) -> list[float]:
    x, y, w, h = mask_utils.bbox_xywh(rle)
    return [x, y, x + w, y + h]


def grid(tiles: list[np.ndarray], columns: int = 2) -> np.ndarray:
    width = max(t.shape[1] for t in tiles)
    tiles = [np.pad(t, ((0, 0), (0, width - t.shape[1]), (0, 0)), constant_values=255) for t in tiles]
    rows = [np.concatenate(tiles[i:i + columns] + [np.full_like(tiles[0], 255)] * (columns - len(tiles[i:i + columns])),
                           axis=1) for i in range(0, len(tiles), columns)]
    return np.concatenate(rows, axis=0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--coco", type=Path, required=True)
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--detector", default="ccp-lite0-detector")
    ap.add_argument("--show", nargs="*", default=[])
    ap.add_argument("--failures", type=int, default=4)
    args = ap.parse_args()
    coco = load_coco(args.coco)
    seg = load_segmenter(args.detector, device="cpu")
    scored, shown = [], []
    for image in coco["images"]:
        rgb = load_rgb(args.images / image["file_name"])
        det = seg.predict([rgb])[0]
        gt, parts = truth(coco, image)
        missed, wrong, notes = errors(gt, parts, det)
        caption = f"{image['file_name']}: truth | release model" + (f" - {', '.join(notes)}" if notes else "")
        if image["file_name"] in args.show:
            shown.append(pair(rgb, gt, parts, det, caption))
        scored.append((missed + wrong, image["file_name"], rgb, gt, parts, det, caption))
    scored.sort(key=lambda s: (-s[0], s[1]))
    failures = [pair(rgb, gt, parts, det, caption) for _, _, rgb, gt, parts, det, caption in scored[:args.failures]]
    args.out.mkdir(parents=True, exist_ok=True)
    if shown:
        save_rgb(args.out / "overlays.jpg", grid(shown, 1))
    save_rgb(args.out / "failures.jpg", grid(failures, 1))
    perfect = sum(1 for s in scored if s[0] == 0)
    print(f"{perfect}/{len(scored)} held-out photos without an error; worst: "
          + "; ".join(f"{s[1]} ({s[0]})" for s in scored[:args.failures]))


if __name__ == "__main__":
    main()
