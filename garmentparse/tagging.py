"""Batch tagging: detection -> masked crops -> classification over image folders.

The library entry points are :class:`Tagger` (models in memory, arrays in, garments out) and
:func:`tag_folder` (a folder in, JSON Lines / CSV / overlays / crops out, resumable). The
``garmentparse tag`` command is a thin layer over them.

Output contract: one JSON object per image (schema: ``garmentparse/schemas/tag_result.schema.json``),
appended and flushed as each batch finishes, so an interruption loses nothing already written and
``resume=True`` finishes the rest without duplicates. The CSV (one row per garment) is derived
from the JSONL at the end of each run, so it always matches it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from garmentparse import __version__
from garmentparse.draw import draw_instances, save_rgb
from garmentparse.imageio import ImageReadError, display_path, find_images, load_rgb, printable
from garmentparse.masks import masked_crop
from garmentparse.structures import Garment, TagResult

SCHEMA_PATH = Path(__file__).parent / "schemas" / "tag_result.schema.json"


@dataclass
class TagSummary:
    """What one ``tag_folder`` run did."""

    images: int  # images processed in this run (errors included)
    garments: int
    errors: int
    skipped: int  # already in the output (resume)
    seconds: float

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else 0.0


@dataclass
class TaggedImage:
    """Garments of one image, with the crops the classifier saw (when kept)."""

    garments: list[Garment]
    crops: list[np.ndarray]


class Tagger:
    """A segmenter and an optional attribute classifier, chained.

    ``segmenter`` follows ``garmentparse.parsing.Segmenter`` (``predict(images,
    score_threshold)``); ``classifier`` follows ``garmentparse.classifiers.AttributeClassifier``
    (``predict(crops, parts, top_k, tta)``, ``crop_size``, ``crop_background``).
    ``score_threshold=None`` keeps the detector config's ``test.score_threshold``.
    """

    def __init__(self, segmenter: Any, classifier: Any | None = None, *,
                 score_threshold: float | None = None, top_k: int = 3, tta: bool = False,
                 crop_size: int = 400, crop_background: str = "white") -> None:
        self.segmenter = segmenter
        self.classifier = classifier
        self.score_threshold = score_threshold
        self.top_k = top_k
        self.tta = tta
        self.crop_size = getattr(classifier, "crop_size", None) or crop_size
        self.crop_background = getattr(classifier, "crop_background", None) or crop_background
        # {"detector": {"path": ..., "sha256": ...}, ...}: set by from_checkpoints, hashed once
        self.model_files: dict[str, dict[str, str]] = {}

    @classmethod
    def from_checkpoints(cls, detector: str | Path, classifier: str | Path | None = None, *,
                         device: str = "auto", amp: bool = True, **kwargs: Any) -> Tagger:
        """Load both models from their single-file checkpoints."""
        from garmentparse.parsing import load_segmenter

        segmenter = load_segmenter(detector, device=device, amp=amp)
        clf = None
        if classifier is not None:
            from garmentparse.classifiers import load_classifier

            clf = load_classifier(classifier, device=device, amp=amp)
        tagger = cls(segmenter, clf, **kwargs)
        tagger.model_files = {name: {"path": str(Path(path).resolve()), "sha256": file_sha256(path)}
                              for name, path in (("detector", detector), ("classifier", classifier)) if path}
        return tagger

    def settings(self, lang: str = "en") -> dict[str, Any]:
        """Everything that decides what the output says: models (by sha256), thresholds, language."""
        config = getattr(self.segmenter, "config", None)
        threshold = self.score_threshold
        if threshold is None and config is not None:
            threshold = config.test.score_threshold
        return {"models": {name: f["sha256"] for name, f in self.model_files.items()},
                "classes": list(getattr(self.segmenter, "class_names", [])),
                "heads": self.heads, "score_threshold": threshold, "top_k": self.top_k, "tta": self.tta,
                "crop_size": self.crop_size, "crop_background": self.crop_background, "lang": lang}

    @property
    def heads(self) -> list[str]:
        return list(self.classifier.heads) if self.classifier is not None else []

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
                garment.attributes = attrs
        return tagged


# --------------------------------------------------------------------------- decoding workers


class _ImageFiles(Dataset):
    """Decodes images in DataLoader workers; a bad file becomes an item with ``error`` set."""

    def __init__(self, paths: list[Path], root: Path) -> None:
        self.paths = paths
        self.root = root

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> dict[str, Any]:
        path = self.paths[i]
        item: dict[str, Any] = {"path": relative_path(path, self.root), "file": str(path), "image": None, "error": None}
        try:
            item["image"] = torch.from_numpy(load_rgb(path))  # shared memory across workers
        except ImageReadError as exc:
            item["error"] = printable(str(exc))
        except Exception as exc:  # noqa: BLE001 - any decoder failure is recorded, not fatal
            item["error"] = printable(f"cannot read image: {type(exc).__name__}: {exc}")
        return item


def _as_list(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return batch


def relative_path(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` in POSIX form (the file name when ``root`` is the file)."""
    return display_path(Path(path.name) if root.is_file() else path.relative_to(root))


def iter_decoded(paths: list[Path], root: Path, batch_size: int, workers: int) -> Iterator[list[dict[str, Any]]]:
    """Batches of decoded images, decoding in ``workers`` processes ahead of the model."""
    loader = DataLoader(_ImageFiles(paths, root), batch_size=batch_size, num_workers=workers,
                        collate_fn=_as_list, shuffle=False,
                        prefetch_factor=4 if workers > 0 else None,
                        persistent_workers=False)
    yield from loader


# --------------------------------------------------------------------------- output files


def _result_line(raw: bytes) -> dict[str, Any] | None:
    """The result a complete JSONL line holds, or None (torn, not JSON, no path)."""
    if not raw.endswith(b"\n"):
        return None
    try:
        rec = json.loads(raw)
    except ValueError:
        return None
    return rec if isinstance(rec, dict) and isinstance(rec.get("path"), str) else None


def read_done(out_jsonl: Path) -> set[str]:
    """Paths already done in ``out_jsonl``, readying it for a resumed run.

    Lines whose image failed (``error`` set) are taken out so the image is tried again, and a
    torn tail (a crash mid-write: a partial or unreadable last line) is cut off. A broken line
    *followed by* good ones is not a crash artefact: :class:`ResumeError` names it.
    """
    if not out_jsonl.exists():
        return set()
    done: set[str] = set()
    drop: set[int] = set()  # line numbers to take out
    broken: list[int] = []
    with open(out_jsonl, "rb") as fh:
        for n, raw in enumerate(fh):
            rec = _result_line(raw)
            if rec is None:
                broken.append(n)
                continue
            if broken:
                raise ResumeError(f"{out_jsonl}: line {broken[0] + 1} is not a result line but later "
                                  "lines are; repair or remove it before resuming")
            if rec.get("error") is not None:
                drop.add(n)
            else:
                done.add(rec["path"])
    drop.update(broken)
    if drop:
        tmp = out_jsonl.with_name(out_jsonl.name + ".tmp")
        with open(out_jsonl, "rb") as src, open(tmp, "wb") as dst:
            dst.writelines(raw for n, raw in enumerate(src) if n not in drop)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(tmp, out_jsonl)
    return done


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


def _write_extras(tagged: TaggedImage, image: np.ndarray, rel: str,
                  overlays_dir: Path | None, crops_dir: Path | None) -> None:
    """Overlay and crop files of one image. Overlay labels are English ids whatever ``--lang``:
    OpenCV's fonts have no Hangul (Korean text would come out as '?')."""
    if overlays_dir is not None:
        from garmentparse import masks as mask_utils

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


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def run_record_path(out_jsonl: Path) -> Path:
    """The JSON file next to the output that says how it was made: ``results.jsonl.run.json``."""
    return out_jsonl.with_name(out_jsonl.name + ".run.json")


class ResumeError(ValueError):
    """``resume=True`` cannot go on safely: other settings than the output was made with, or
    an output file broken in its middle."""


def _open_run_record(out_jsonl: Path, settings: dict[str, Any], resume: bool) -> dict[str, Any]:
    """Read (on resume) or start the run record; refuse to mix outputs of different settings."""
    path = run_record_path(out_jsonl)
    record: dict[str, Any] = {"garmentparse": __version__, "settings": settings, "model_files": {}, "runs": []}
    if resume and path.exists() and out_jsonl.exists():
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            before = record["settings"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ResumeError(f"{path}: unreadable run record ({exc}); resume into a new --out") from None
        changed = sorted(k for k in set(before) | set(settings) if before.get(k) != settings.get(k))
        if changed:
            details = "; ".join(f"{k}: {before.get(k)!r} -> {settings.get(k)!r}" for k in changed if k != "models")
            if "models" in changed:
                details = "model files differ (sha256)" + (f"; {details}" if details else "")
            raise ResumeError(
                f"--resume would mix results made with other settings into {out_jsonl} ({details}); "
                "use the same settings or a new --out")
    return record


def _save_run_record(out_jsonl: Path, record: dict[str, Any]) -> None:
    path = run_record_path(out_jsonl)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=1, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


# --------------------------------------------------------------------------- the folder run


def tag_folder(
    images: str | Path,
    tagger: Tagger,
    out_jsonl: str | Path,
    *,
    csv_path: str | Path | None = None,
    overlays_dir: str | Path | None = None,
    crops_dir: str | Path | None = None,
    batch_size: int = 4,
    workers: int = 2,
    lang: str = "en",
    resume: bool = False,
    on_start: Callable[[int], None] | None = None,
    on_image: Callable[[TagResult], None] | None = None,
) -> TagSummary:
    """Tag every image under ``images`` into ``out_jsonl`` (and the optional extras).

    Without ``resume`` an existing output is replaced; with it, images already in the output
    are skipped, images whose line has an ``error`` are tried again (their old line removed),
    and new lines are appended. Each batch's lines are flushed and fsynced before
    the next batch starts. ``on_start(total)`` and ``on_image(result)`` report progress.

    ``<out_jsonl>.run.json`` records how the output was made (model files with their sha256,
    threshold, heads, language; each run's start, end and counts). ``resume`` with settings
    that differ from that record raises :class:`ResumeError` instead of mixing results.
    """
    root = Path(images)
    if not root.exists():
        raise FileNotFoundError(f"images folder not found: {root}")
    out_jsonl = Path(out_jsonl)
    out_jsonl.parent.mkdir(parents=True, exist_ok=True)
    overlays = Path(overlays_dir) if overlays_dir else None
    crops = Path(crops_dir) if crops_dir else None
    paths = find_images(root)
    if not paths:
        raise ValueError(f"no images (jpg, jpeg, png, webp, bmp) under {root}")
    record = _open_run_record(out_jsonl, tagger.settings(lang), resume)
    record["model_files"] = {name: f["path"] for name, f in tagger.model_files.items()}
    done = read_done(out_jsonl) if resume else set()
    todo = [p for p in paths if relative_path(p, root) not in done]
    if on_start:
        on_start(len(todo))
    summary = TagSummary(0, 0, 0, len(paths) - len(todo), 0.0)
    run = {"started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "images_dir": str(root.resolve()),
           "finished": None}
    record["runs"].append(run)
    _save_run_record(out_jsonl, record)
    start = time.perf_counter()
    with open(out_jsonl, "a" if resume else "w", encoding="utf-8") as out:
        for batch in iter_decoded(todo, root, batch_size, workers):
            for result in _tag_batch(tagger, batch, overlays, crops):
                out.write(json.dumps(result.to_dict(lang), ensure_ascii=False) + "\n")
                summary.images += 1
                summary.garments += len(result.garments)
                summary.errors += result.error is not None
                if on_image:
                    on_image(result)
            out.flush()
            os.fsync(out.fileno())
    summary.seconds = time.perf_counter() - start
    run.update(finished=datetime.now(timezone.utc).isoformat(timespec="seconds"), **asdict(summary))
    _save_run_record(out_jsonl, record)
    if csv_path is not None:
        jsonl_to_csv(out_jsonl, csv_path)
    return summary


def _tag_batch(tagger: Tagger, batch: list[dict[str, Any]],
               overlays: Path | None, crops: Path | None) -> list[TagResult]:
    """Results of one decoded batch, in order. If the batch fails in the models, each image is
    retried alone so one bad image only fails itself."""
    results: dict[int, TagResult] = {}
    good = []
    for i, item in enumerate(batch):
        if item["error"] is not None:
            results[i] = TagResult(item["path"], None, None, error=item["error"])
        else:
            good.append(i)
    arrays = {i: batch[i]["image"].numpy() for i in good}
    keep_crops = crops is not None
    try:
        tagged = dict(zip(good, tagger.tag_arrays([arrays[i] for i in good], keep_crops))) if good else {}
    except Exception:  # noqa: BLE001 - isolate the failing image below
        tagged = {}
        for i in good:
            try:
                tagged[i] = tagger.tag_arrays([arrays[i]], keep_crops)[0]
            except Exception as exc:  # noqa: BLE001
                h, w = arrays[i].shape[:2]
                results[i] = TagResult(batch[i]["path"], w, h, error=printable(f"model failed: {type(exc).__name__}: {exc}"))
    for i, t in tagged.items():
        h, w = arrays[i].shape[:2]
        results[i] = TagResult(batch[i]["path"], w, h, t.garments)
        try:
            _write_extras(t, arrays[i], batch[i]["path"], overlays, crops)
        except OSError as exc:
            results[i].error = printable(f"could not write overlay/crop: {exc}")
    return [results[i] for i in range(len(batch))]


def tag(images: str | Path, detector: str | Path, out_jsonl: str | Path, classifier: str | Path | None = None,
        *, device: str = "auto", score_threshold: float | None = None, top_k: int = 3, tta: bool = False,
        **kwargs: Any) -> TagSummary:
    """One-call tagging from checkpoint files: ``garmentparse.tag("photos/", "det.pt", "out.jsonl")``."""
    tagger = Tagger.from_checkpoints(detector, classifier, device=device,
                                     score_threshold=score_threshold, top_k=top_k, tta=tta)
    return tag_folder(images, tagger, out_jsonl, **kwargs)
