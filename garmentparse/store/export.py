"""``garmentparse export``: reviewed garments back into training data.

``coco``: ``DIR/coco.json``, one annotation per garment (RLE segmentation, part categories 1..4,
reviewed attributes), ready for ``train detector`` and ``validate``. ``manifest``: masked crops
under ``DIR/crops/`` and ``DIR/manifest.csv`` in the columns ``crop`` writes, ready for
``train classifier``. Labels are the accepted values of heads a reviewer confirmed or corrected;
heads still predicted or rejected are left empty (missing, never guessed). Garments whose part
was rejected are never exported.
"""

from __future__ import annotations

import csv
import json
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from garmentparse import masks, vocab
from garmentparse.draw import save_rgb
from garmentparse.imageio import ImageReadError, load_rgb
from garmentparse.progress import ProgressCallback, report_progress
from garmentparse.report import Report
from garmentparse.store.models import (CONFIRMED, CORRECTED, PART_HEAD, REJECTED, STATES, Accepted, Garment,
                                       Photo)

# The columns of ``garmentparse crop``'s manifest.csv (converters.crop.MANIFEST_COLUMNS; a test keeps them equal).
MANIFEST_COLUMNS: list[str] = ["crop_path", "source_image", "image_id", "annotation_id", "part", *vocab.ATTRIBUTES]
_CHUNK = 1000


def _check_states(states: Sequence[str]) -> list[str]:
    bad = [s for s in states if s not in STATES or s == REJECTED]
    if bad or not states:
        raise ValueError(f"cannot export garments in state {', '.join(bad) or '(none)'}: "
                         "use predicted, confirmed, corrected")
    return list(states)


def _garments(engine: Engine, states: Sequence[str]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(photo, garment) dicts of the chosen states, by photo; each garment with its reviewed labels."""
    last = 0
    while True:  # keyset chunks: memory flat in the number of garments
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(Garment.id, Garment.photo_id, Garment.part, Garment.x0, Garment.y0, Garment.x1,
                          Garment.y1, Garment.mask_height, Garment.mask_width, Garment.mask_counts,
                          Garment.score, Garment.state, Photo.path, Photo.width, Photo.height)
                .join(Photo, Photo.id == Garment.photo_id)
                .where(Garment.state.in_(states), Garment.id > last).order_by(Garment.id).limit(_CHUNK)).all()
            if not rows:
                return
            labels: dict[int, dict[str, str]] = {}
            for gid, head, value in conn.execute(
                    sa.select(Accepted.garment_id, Accepted.head, Accepted.value).where(
                        Accepted.garment_id.in_([r[0] for r in rows]), Accepted.head != PART_HEAD,
                        Accepted.state.in_((CONFIRMED, CORRECTED)), Accepted.value.is_not(None))):
                labels.setdefault(gid, {})[head] = value
        for r in rows:
            photo = {"id": r.photo_id, "file_name": r.path, "width": r.width or r.mask_width,
                     "height": r.height or r.mask_height}
            attrs: dict[str, Any] = {}
            for head, value in labels.get(r.id, {}).items():
                attr = vocab.ATTRIBUTES.get(head)
                attrs[head] = value.split("|") if attr is not None and attr.multi_label else value
            garment = {"id": r.id, "part": r.part, "box": [r.x0, r.y0, r.x1, r.y1], "score": r.score,
                       "state": r.state, "rle": {"size": [r.mask_height, r.mask_width], "counts": r.mask_counts},
                       "attributes": attrs}
            yield photo, garment
        last = rows[-1][0]


def _atomic_write(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def export_coco(engine: Engine, out_dir: str | Path, *, states: Sequence[str] = (CONFIRMED, CORRECTED),
                on_progress: ProgressCallback | None = None) -> Report:
    """Write ``out_dir/coco.json``; counts ``images`` and ``annotations`` (0 and 0 is valid)."""
    states = _check_states(states)
    report = Report("export coco")
    part_ids = {p: i for i, p in enumerate(vocab.PARTS, 1)}
    images: dict[int, dict[str, Any]] = {}
    annotations = []
    for photo, g in _garments(engine, states):
        images.setdefault(photo["id"], photo)
        x0, y0, x1, y1 = g["box"]
        annotations.append({"id": g["id"], "image_id": photo["id"], "category_id": part_ids[g["part"]],
                            "segmentation": g["rle"], "area": masks.area(g["rle"]),
                            "bbox": [x0, y0, x1 - x0, y1 - y0], "iscrowd": 0, "part": g["part"],
                            "attributes": g["attributes"], "score": g["score"], "review_state": g["state"]})
        report_progress(on_progress, len(annotations))
    coco = {"info": {"description": "reviewed garments exported by garmentparse", "classes": "part",
                     "tool": "garmentparse", "states": states},
            "licenses": [],
            "categories": [{"id": i, "name": p, "supercategory": "garment"} for p, i in part_ids.items()],
            "images": sorted(images.values(), key=lambda im: im["id"]), "annotations": annotations}
    _atomic_write(Path(out_dir) / "coco.json", lambda fh: json.dump(coco, fh, ensure_ascii=False))
    report.counts["images"] = len(images)
    report.counts["annotations"] = len(annotations)
    return report


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name).strip("_") or "x"


def export_manifest(engine: Engine, out_dir: str | Path, images_root: str | Path, *,
                    states: Sequence[str] = (CONFIRMED, CORRECTED), size: int = 400, background: str = "white",
                    on_progress: ProgressCallback | None = None) -> Report:
    """Masked crops of the reviewed garments + ``out_dir/manifest.csv``; counts ``crops``.
    A photo that cannot be read is a report problem (its garments skipped)."""
    states = _check_states(states)
    if background not in ("keep", "white", "black"):
        raise ValueError(f"unknown background {background!r}: use keep, white or black")
    root, out = Path(images_root), Path(out_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"images folder not found: {root}")
    report = Report("export manifest")
    rows: list[dict[str, str]] = []
    cached: tuple[int, Any] = (-1, None)
    for photo, g in _garments(engine, states):
        if cached[0] != photo["id"]:  # garments come grouped by id, usually one photo after another
            try:
                cached = (photo["id"], load_rgb(root / photo["file_name"]))
            except (ImageReadError, OSError) as exc:
                cached = (photo["id"], exc)
        image = cached[1]
        if isinstance(image, Exception):
            report.add(root / photo["file_name"], "image_unreadable", str(image), action=f"garment {g['id']} skipped")
            continue
        if image.shape[:2] != tuple(g["rle"]["size"]):
            report.add(root / photo["file_name"], "size_mismatch",
                       f"mask {g['rle']['size']} vs photo {list(image.shape[:2])}", action=f"garment {g['id']} skipped")
            continue
        crop = masks.masked_crop(image, masks.decode(g["rle"]), g["box"], size=size, background=background)
        rel = f"crops/{_safe(Path(photo['file_name']).stem)}_{g['id']}.jpg"
        save_rgb(out / rel, crop)
        row = {"crop_path": rel, "source_image": photo["file_name"], "image_id": str(photo["id"]),
               "annotation_id": str(g["id"]), "part": g["part"]}
        for name in vocab.ATTRIBUTES:
            value = g["attributes"].get(name)
            row[name] = "|".join(value) if isinstance(value, list) else (value or "")
        rows.append(row)
        report_progress(on_progress, len(rows))

    def write(fh: Any) -> None:
        writer = csv.DictWriter(fh, fieldnames=MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)

    _atomic_write(out / "manifest.csv", write)
    report.counts["crops"] = len(rows)
    return report
