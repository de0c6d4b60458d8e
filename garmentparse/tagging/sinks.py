"""What a tag run writes besides the JSON Lines: the CSV derived from them, overlay and crop images."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from garmentparse import masks as mask_utils
from garmentparse.draw import draw_instances, save_rgb
from garmentparse.tagging.tagger import TaggedImage

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "tag_result.schema.json"  # one JSONL line


def csv_header(heads: list[str]) -> list[str]:
    cols = ["path", "width", "height", "garment", "part", "score", "x0", "y0", "x1", "y1"]
    for head in heads:
        cols += [head, f"{head}_probability", f"{head}_labels"]
    return cols


def jsonl_to_csv(jsonl: str | Path, csv_path: str | Path) -> int:
    """Write one CSV row per garment of ``jsonl`` (masks left out); returns the row count."""
    heads: list[str] = []
    with open(jsonl, encoding="utf-8") as fh:
        for line in fh:
            for garment in json.loads(line)["garments"]:
                heads += [h for h in garment["attributes"] if h not in heads]
    rows = 0
    Path(csv_path).parent.mkdir(parents=True, exist_ok=True)
    with open(jsonl, encoding="utf-8") as fh, open(csv_path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(csv_header(heads))
        for line in fh:
            rec = json.loads(line)
            for k, g in enumerate(rec["garments"]):
                row = [rec["path"], rec["width"], rec["height"], k, g["part"], g["score"], *g["box"]]
                for head in heads:
                    a = g["attributes"].get(head)
                    row += ["", "", ""] if a is None else [
                        a["label"] or "", a["probability"], "|".join(a.get("labels") or [])]
                writer.writerow(row)
                rows += 1
    return rows


def write_extras(tagged: TaggedImage, image: np.ndarray, rel: str,
                 overlays_dir: Path | None, crops_dir: Path | None) -> None:
    """Overlay and crop files of one image. Overlay labels are English ids whatever ``--lang``:
    OpenCV's fonts have no Hangul (Korean text would come out as '?')."""
    if overlays_dir is not None:
        labels = []
        for g in tagged.garments:
            category = g.attributes.get("category")
            labels.append(f"{category.label if category and category.label else g.part} {g.score:.2f}")
        drawn = draw_instances(image, [mask_utils.decode(g.mask) for g in tagged.garments],
                               [g.box for g in tagged.garments], labels,
                               colour_keys=[g.part for g in tagged.garments])
        save_rgb(overlays_dir / f"{rel}.png", drawn)  # a.jpg and a.png must not share a file
    if crops_dir is not None:
        for k, (g, crop) in enumerate(zip(tagged.garments, tagged.crops)):
            save_rgb(crops_dir / f"{rel}_{k}_{g.part}.png", crop)
