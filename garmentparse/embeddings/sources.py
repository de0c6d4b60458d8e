"""``embed``: garments (or photos) from a crop manifest or a ``tag`` output -> an embedding folder.

Sources:

- a crop ``manifest.csv`` (``garmentparse crop``, garment or photo level): each row's crop file,
  with its true labels;
- a ``tag`` JSON Lines file plus the photo folder it was made from: each garment the tagger
  found, cut by its mask with :func:`garmentparse.masks.masked_crop` as ``tag`` cuts it (size and
  background of the embedding model), with its predicted labels; ``level="photo"``: each whole
  photo, with its predicted style when the tag run had a style model.

A file that cannot be read is recorded in the report (file + reason) and skipped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from garmentparse import masks, vocab
from garmentparse.checkpoint import file_sha256
from garmentparse.embeddings.encoders import Encoder, load_encoder, model_sha256
from garmentparse.embeddings.folder import LEVELS, EmbeddingFolder, FolderManifest, Item
from garmentparse.embeddings.index import IndexSpec, build_index
from garmentparse.engine.images import DecodedImage, iter_decoded
from garmentparse.imageio import printable
from garmentparse.progress import ProgressCallback, report_progress
from garmentparse.report import Report

Batch = list[tuple[Item, np.ndarray]]


@dataclass
class EmbedSummary:
    """What one ``embed`` run did."""

    folder: Path
    items: int  # in the folder now
    added: int  # embedded by this run
    seconds: float  # embedding time (decode + network), index build excluded
    index: IndexSpec
    report: Report = field(default_factory=lambda: Report("embed"))

    @property
    def crops_per_s(self) -> float:
        return self.added / self.seconds if self.seconds > 0 else 0.0


class NothingEmbedded(RuntimeError):
    """Every garment of a usable source failed (unreadable crops or photos): see ``report``."""

    def __init__(self, message: str, report: Report) -> None:
        super().__init__(message)
        self.report = report


class _PhotoHashes:
    """sha256 of each photo file, computed once (``""`` when it cannot be read)."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self.known: dict[str, str] = {}

    def __call__(self, photo: str) -> str:
        if self.root is None or not photo:
            return ""
        if photo not in self.known:
            try:
                self.known[photo] = file_sha256(self.root / photo)
            except OSError:
                self.known[photo] = ""
        return self.known[photo]


def readable(paths: list[Path], report: Report, reason: str, batch_size: int,
             workers: int) -> Iterator[list[DecodedImage]]:
    """Batches of the decoded images; a file that cannot be read is reported under ``reason``."""
    for decoded in iter_decoded(paths, batch_size, workers):
        for item in decoded:
            if item.image is None:
                report.add(item.path, reason, item.error or "")
        yield [item for item in decoded if item.image is not None]


def _labels_from_record(labels: dict[str, list[str]]) -> dict[str, list[str]]:
    return {k: v for k, v in labels.items() if v}


def manifest_batches(manifest: Path, images: Path | None, report: Report, batch_size: int,
                     workers: int) -> tuple[int, Iterator[Batch]]:
    """(row count, batches of items with their decoded crops) of a crop manifest."""
    from garmentparse.classifiers.data import read_manifest

    records = read_manifest(manifest, report)
    if not records and not report.problems:
        raise ValueError(f"{manifest}: the manifest lists no crops (empty)")
    hashes = _PhotoHashes(images)

    def batches() -> Iterator[Batch]:
        for decoded in readable([r.path for r in records], report, "crop_unreadable", batch_size, workers):
            batch: Batch = []
            for item in decoded:
                r = records[item.index]
                key = f"{r.source_image}#{r.annotation_id}" if r.annotation_id else (r.source_image or r.path.name)
                batch.append((Item(key, r.source_image, hashes(r.source_image), str(r.path.resolve()), None,
                                   r.part or "", "true", _labels_from_record(r.labels)), item.image))
            yield batch

    return len(records), batches()


def _predicted_labels(attributes: dict[str, Any]) -> dict[str, list[str]]:
    """English-id labels of a tag line's ``attributes`` (Korean names mapped back)."""
    out: dict[str, list[str]] = {}
    for head, pred in (attributes or {}).items():
        if head not in vocab.ATTRIBUTES or not isinstance(pred, dict):
            continue
        values = pred.get("labels") if isinstance(pred.get("labels"), list) else [pred.get("label")]
        ids = [vocab.lookup(head, str(v)) for v in values if v]
        if ids := [v for v in ids if v]:
            out[head] = ids
    return out


def _part_id(part: Any) -> str:
    part = str(part or "")
    return vocab.PART_BY_KOREAN.get(part, part) if part not in vocab.PARTS else part


def read_tag_lines(jsonl: Path, report: Report) -> list[dict[str, Any]]:
    """The usable lines of a tag output (a line with an ``error`` or bad JSON is reported)."""
    lines = []
    with jsonl.open(encoding="utf-8") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
                path = line["path"]
            except (ValueError, KeyError, TypeError) as exc:
                report.add(jsonl, "bad_line", f"line {number}: {printable(str(exc))[:120]}")
                continue
            if line.get("error"):
                report.add(path, "tag_error", str(line["error"])[:200])
                continue
            lines.append(line)
    if not lines and not report.problems:
        raise ValueError(f"{jsonl}: no tag results in it (empty)")
    return lines


def tag_batches(jsonl: Path, images: Path, level: str, encoder: Encoder, report: Report, batch_size: int,
                workers: int) -> tuple[int, Iterator[Batch]]:
    """(photo count, batches of items with their crops) of a tag output: its garments cut by
    mask as ``tag`` cuts them, or (``level="photo"``) the whole photos."""
    lines = read_tag_lines(jsonl, report)
    if level == "garment":
        lines = [line for line in lines if line.get("garments")]

    def batches() -> Iterator[Batch]:
        for decoded in readable([images / line["path"] for line in lines], report, "image_unreadable", batch_size,
                                workers):
            batch: Batch = []
            for item in decoded:
                line = lines[item.index]
                sha = file_sha256(item.path)
                if level == "photo":
                    style = _predicted_labels(line.get("style") or {})
                    batch.append((Item(line["path"], line["path"], sha, "", None, "", "predicted", style), item.image))
                    continue
                batch.extend(_garment_crops(line, item.image, sha, encoder, report))
            yield batch

    return len(lines), batches()


def _garment_crops(line: dict[str, Any], image: np.ndarray, sha: str, encoder: Encoder,
                   report: Report) -> Batch:
    out: Batch = []
    for j, g in enumerate(line["garments"]):
        try:
            mask = masks.decode(g["mask"])
            box = [float(v) for v in g["box"]]
            if mask.shape != image.shape[:2]:
                raise ValueError(f"mask {mask.shape[::-1]} for a {image.shape[1]}x{image.shape[0]} photo")
        except (KeyError, TypeError, ValueError) as exc:
            report.add(line["path"], "bad_garment", f"garment {j}: {printable(str(exc))[:160]}")
            continue
        crop = masks.masked_crop(image, mask, box, size=encoder.crop_size, background=encoder.crop_background)
        out.append((Item(f"{line['path']}#{j}", line["path"], sha, "", box, _part_id(g.get("part")), "predicted",
                         _predicted_labels(g.get("attributes") or {})), crop))
    return out


def embed(source: str | Path, model: str | Path | Encoder, out: str | Path, *, level: str = "garment",
          images: str | Path | None = None, index: str = "auto", target_recall: float = 0.95,
          append: bool = False, device: str = "auto", batch_size: int = 32, workers: int = 0,
          on_progress: ProgressCallback | None = None) -> EmbedSummary:
    """Embed every garment (or photo) of ``source`` with ``model`` into the folder ``out``.

    ``source``: a crop ``manifest.csv`` or a ``tag`` ``.jsonl`` (then ``images`` is the folder its
    paths are relative to). ``model``: a classifier / embedder checkpoint, ``"lite0"`` or an
    :class:`Encoder`. ``index``: ``auto`` | ``flat`` | ``ivf`` | ``hnsw``. ``append`` adds to an
    existing folder (same model only); otherwise ``out`` is replaced.
    """
    source = Path(source)
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}: use garment or photo")
    if not source.is_file():
        raise FileNotFoundError(f"source not found: {source}")
    images_root = Path(images).resolve() if images is not None else None
    if images_root is not None and not images_root.is_dir():
        raise FileNotFoundError(f"images folder not found: {images}")
    previous = EmbeddingFolder.open(out) if append and (Path(out) / "manifest.json").is_file() else None
    if previous is not None:  # refused before any network is built
        previous.require_model(model.identity.sha256 if isinstance(model, Encoder) else model_sha256(model),
                               f"adding {source}")
        if previous.manifest.level != level:
            raise ValueError(f"{out} holds {previous.manifest.level}-level vectors; cannot add {level}-level ones")
    encoder = model if isinstance(model, Encoder) else load_encoder(model, device=device)
    report = Report("embed")
    if source.suffix.lower() == ".jsonl":
        if images_root is None:
            raise ValueError(f"{source}: a tag output needs --images, the photo folder it was made from")
        total, batches = tag_batches(source, images_root, level, encoder, report, batch_size, workers)
    else:
        total, batches = manifest_batches(source, images_root, report, batch_size, workers)
    start = time.perf_counter()
    vectors, items = [np.zeros((0, encoder.dim), np.float32)], []
    done = 0
    report_progress(on_progress, 0, total, "embedding")
    for batch in batches:
        done += 1
        if batch:
            vectors.append(encoder.encode([crop for _, crop in batch], batch_size=batch_size))
            items.extend(item for item, _ in batch)
        report_progress(on_progress, min(done * batch_size, total), total, "embedding")
    seconds = time.perf_counter() - start
    report.counts.update({"sources": total, "embedded": len(items)})
    new = np.concatenate(vectors)
    if previous is not None:
        items = [*previous.items, *items]
        new = np.concatenate([np.asarray(previous.vectors), new])
    if not items:
        raise NothingEmbedded(f"{source}: nothing could be embedded ({len(report.problems)} problems"
                              + (f", e.g. {report.problems[0].reason}: {report.problems[0].file})" if report.problems
                                 else "; no garments in it)"), report)
    built, spec = build_index(new, index, target_recall=target_recall, on_progress=on_progress)
    sources = [*(previous.manifest.sources if previous else []), str(source.resolve())]
    manifest = FolderManifest(encoder.identity, level, len(items), spec, encoder.crop_size, encoder.crop_background,
                              str(images_root or (previous.manifest.images_root if previous else "")), sources)
    folder = EmbeddingFolder.write(out, new, items, manifest, built)
    return EmbedSummary(folder.path, len(items), len(items) - (len(previous) if previous else 0), seconds, spec, report)


__all__ = ["EmbedSummary", "NothingEmbedded", "embed", "manifest_batches", "read_tag_lines", "tag_batches"]
