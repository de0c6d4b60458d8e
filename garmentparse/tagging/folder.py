"""Tag a folder: decode ahead in workers, tag in batches, append JSON Lines, resume.

Output contract: one JSON object per image (schema: ``garmentparse/schemas/tag_result.schema.json``),
appended and flushed as each batch finishes, so an interruption loses nothing already written and
``resume=True`` finishes the rest without duplicates. The CSV (one row per garment) is derived
from the JSONL at the end of each run, so it always matches it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from garmentparse.engine.batching import batch_then_each
from garmentparse.engine.images import DecodedImage, iter_decoded
from garmentparse.imageio import display_path, find_images, printable
from garmentparse.progress import ProgressCallback, report_progress
from garmentparse.structures import TagResult
from garmentparse.tagging.record import open_run_record, read_done, save_run_record
from garmentparse.tagging.sinks import jsonl_to_csv, write_extras
from garmentparse.tagging.tagger import Tagger


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


def relative_path(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` in POSIX form (the file name when ``root`` is the file)."""
    return display_path(Path(path.name) if root.is_file() else path.relative_to(root))


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
    on_progress: ProgressCallback | None = None,
    on_image: Callable[[TagResult], None] | None = None,
) -> TagSummary:
    """Tag every image under ``images`` into ``out_jsonl`` (and the optional extras).

    Without ``resume`` an existing output is replaced; with it, images already in the output
    are skipped, images whose line has an ``error`` are tried again (their old line removed),
    and new lines are appended. Each batch's lines are flushed and fsynced before
    the next batch starts. ``on_progress(done, total)`` counts images; ``on_image(result)``
    sees each result as it is written.

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
    record = open_run_record(out_jsonl, tagger.settings(lang), resume)
    record["model_files"] = {name: f["path"] for name, f in tagger.model_files.items()}
    done = read_done(out_jsonl) if resume else set()
    todo = [p for p in paths if relative_path(p, root) not in done]
    report_progress(on_progress, 0, len(todo))
    summary = TagSummary(0, 0, 0, len(paths) - len(todo), 0.0)
    run = {"started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "images_dir": str(root.resolve()),
           "finished": None}
    record["runs"].append(run)
    save_run_record(out_jsonl, record)
    start = time.perf_counter()
    with open(out_jsonl, "a" if resume else "w", encoding="utf-8") as out:
        for batch in iter_decoded(todo, batch_size, workers):
            for result in _tag_batch(tagger, batch, root, overlays, crops):
                out.write(json.dumps(result.to_dict(lang), ensure_ascii=False) + "\n")
                summary.images += 1
                summary.garments += len(result.garments)
                summary.errors += result.error is not None
                report_progress(on_progress, summary.images, len(todo))
                if on_image:
                    on_image(result)
            out.flush()
            os.fsync(out.fileno())
    summary.seconds = time.perf_counter() - start
    run.update(finished=datetime.now(timezone.utc).isoformat(timespec="seconds"), **asdict(summary))
    save_run_record(out_jsonl, record)
    if csv_path is not None:
        jsonl_to_csv(out_jsonl, csv_path)
    return summary


def _tag_batch(tagger: Tagger, batch: list[DecodedImage], root: Path,
               overlays: Path | None, crops: Path | None) -> list[TagResult]:
    """Results of one decoded batch, in order. If the batch fails in the models, each image is
    retried alone so one bad image only fails itself."""
    keep_crops = crops is not None
    tagged = iter(batch_then_each(lambda images: tagger.tag_arrays(images, keep_crops),
                                  [item.image for item in batch if item.image is not None]))
    results = []
    for item in batch:
        rel = relative_path(item.path, root)
        if item.image is None:
            results.append(TagResult(rel, None, None, error=item.error))
            continue
        h, w = item.image.shape[:2]
        t = next(tagged)
        if isinstance(t, Exception):
            results.append(TagResult(rel, w, h, error=printable(f"model failed: {type(t).__name__}: {t}")))
            continue
        result = TagResult(rel, w, h, t.garments, style=t.style)
        try:
            write_extras(t, item.image, rel, overlays, crops)
        except OSError as exc:
            result.error = printable(f"could not write overlay/crop: {exc}")
        results.append(result)
    return results


def tag(images: str | Path, detector: str | Path, out_jsonl: str | Path,
        classifier: str | Path | None = None, *, style: str | Path | None = None, device: str = "auto", amp: bool = True,
        score_threshold: float | None = None, top_k: int = 3, tta: bool = False,
        csv_path: str | Path | None = None, overlays_dir: str | Path | None = None,
        crops_dir: str | Path | None = None, batch_size: int = 4, workers: int = 2, lang: str = "en",
        resume: bool = False, on_progress: ProgressCallback | None = None,
        on_image: Callable[[TagResult], None] | None = None) -> TagSummary:
    """One-call tagging from checkpoint files: ``garmentparse.tag("photos/", "det.pt", "out.jsonl")``
    (``style``: a photo-level style classifier); the options are :meth:`Tagger.from_checkpoints`' and :func:`tag_folder`'s."""
    tagger = Tagger.from_checkpoints(detector, classifier, device=device, amp=amp, style=style,
                                     score_threshold=score_threshold, top_k=top_k, tta=tta)
    return tag_folder(images, tagger, out_jsonl, csv_path=csv_path, overlays_dir=overlays_dir,
                      crops_dir=crops_dir, batch_size=batch_size, workers=workers, lang=lang,
                      resume=resume, on_progress=on_progress, on_image=on_image)
