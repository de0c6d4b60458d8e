"""Pictures of a tag output on product photos for docs/models.md and the README.

- ``products.jpg``: one photo of each of the contract's ten classes (the first in file order that the run has), the
  top-scoring garment drawn with its part and tags, the class as caption;
- ``product-failures.jpg``: photos whose row of the contract does not hold (`eval products`),
  one per class where there is one, captioned with what was wrong.

    python scripts/product_pictures.py TAGS.jsonl --coco products/test.json --images PHOTOS --out docs/models/ \
        [--prefix v2-]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from garmentparse import masks
from garmentparse.comparison.products import CONTRACT, check_products
from garmentparse.comparison.runs import Photo, read_run
from garmentparse.converters.coco import load_coco
from garmentparse.draw import draw_instances, save_rgb
from garmentparse.imageio import load_rgb
from garmentparse.report import Report

TILE = 240


def tile(rgb: np.ndarray, photo: Photo | None, caption: str) -> np.ndarray:
    garments = sorted(photo.garments, key=lambda g: -g.score)[:1] if photo else []
    labels = [" ".join([g.part] + [str(g.labels.get(h)) for h in ("category", "sleeve_length", "length")
                                   if g.labels.get(h)]) for g in garments]
    drawn = draw_instances(rgb, [masks.decode(g.mask) for g in garments], [list(g.box) for g in garments], labels,
                           [g.part for g in garments]) if garments else rgb
    scale = TILE / max(drawn.shape[:2])
    small = cv2.resize(drawn, (round(drawn.shape[1] * scale), round(drawn.shape[0] * scale)),
                       interpolation=cv2.INTER_AREA)
    canvas = np.full((TILE + 40, TILE, 3), 255, np.uint8)
    canvas[40:40 + small.shape[0], :small.shape[1]] = small
    for i, text in enumerate((caption[:40], caption[40:80])):
        cv2.putText(canvas, text, (4, 16 + 18 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return canvas


def sheet(tiles: list[np.ndarray], columns: int = 5) -> np.ndarray:
    blank = np.full_like(tiles[0], 255)
    rows = [np.concatenate(tiles[i:i + columns] + [blank] * (columns - len(tiles[i:i + columns])), axis=1)
            for i in range(0, len(tiles), columns)]
    return np.concatenate(rows, axis=0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tags", type=Path)
    ap.add_argument("--coco", type=Path, required=True)
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--prefix", default="")
    args = ap.parse_args()
    coco = load_coco(args.coco)
    run = read_run(args.tags, Report("pictures"))
    photos = {Path(p).name: ph for p, ph in run.photos.items()}
    failures = {f["file_name"]: f for f in check_products(args.tags, coco).failures}
    firsts: dict[str, dict] = {}
    failed: dict[str, dict] = {}
    for image in sorted(coco["images"], key=lambda im: im["file_name"]):
        cls = image["labels"]["class"]
        if cls.lower() not in CONTRACT:  # the ten classes of the contract
            continue
        if Path(image["file_name"]).name in photos:
            firsts.setdefault(cls, image)
            if image["file_name"] in failures:
                failed.setdefault(cls, image)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, chosen, why in (("products.jpg", firsts, False), ("product-failures.jpg", failed, True)):
        tiles = []
        for cls, image in sorted(chosen.items()):
            caption = f"{cls}: {failures[image['file_name']]['why']}" if why else cls
            tiles.append(tile(load_rgb(args.images / image["file_name"]), photos.get(Path(image["file_name"]).name),
                              caption))
        if tiles:
            save_rgb(args.out / f"{args.prefix}{name}", sheet(tiles))
            print(f"wrote {args.out / (args.prefix + name)} ({len(tiles)} photos)")


if __name__ == "__main__":
    main()
