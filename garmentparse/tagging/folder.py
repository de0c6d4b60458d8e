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
from typing import Any, Literal

from garmentparse.engine.batching import batch_then_each
from garmentparse.engine.images import DecodedImage, iter_decoded
from garmentparse.imageio import display_path, find_images, printable
from garmentparse.progress import ProgressCallback, report_progress
from garmentparse.structures import TagResult
from garmentparse.tagging.record import open_run_record, read_done, save_run_record
from garmentparse.tagging.sinks import jsonl_to_csv, write_extras
from garmentparse.tagging.tagger import Tagger

Engine = Literal["local", "ray"]  # noted in the run record


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

    @property
    def tagged_in_output(self) -> int:
        """Photos of the folder whose line in the whole output has no error: the ones done
        earlier (``skipped``) and the ones this run tagged. A resumed run judges the file by
        this, not by the failed remainder it retried."""
        return self.skipped + self.images - self.errors


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
    overwrite: bool = False,
    on_progress: ProgressCallback | None = None,
    on_image: Callable[[TagResult], None] | None = None,
) -> TagSummary:
    """Tag every image under ``images`` into ``out_jsonl`` (and the optional extras).

    Without ``resume`` an existing output is replaced (one whose run never finished only with
    ``overwrite``: else :class:`ResumeError` says how to go on); with it, images already in the output
    are skipped, images whose line has an ``error`` are tried again (their old line removed),
    and new lines are appended. Each batch's lines are flushed and fsynced before
    the next batch starts. ``on_progress(done, total)`` counts images; ``on_image(result)``
    sees each result as it is written.

    ``<out_jsonl>.run.json`` records how the output was made (model files with their sha256,
    threshold, duplicate_iou and fill_holes, heads, language; each run's start, end and counts). ``resume`` with settings
    that differ from that record raises :class:`ResumeError` instead of mixing results.

    :func:`garmentparse.tagging.ray_engine.tag_folder_ray` gives the same output from Ray Data actors.
    """
    run = start_run(images, tagger, out_jsonl, lang=lang, resume=resume, overwrite=overwrite,
                    on_progress=on_progress, engine="local")
    overlays = Path(overlays_dir) if overlays_dir else None
    crops = Path(crops_dir) if crops_dir else None
    with open(run.out_jsonl, "a" if resume else "w", encoding="utf-8") as out:
        for batch in iter_decoded(run.todo, batch_size, workers):
            results = tag_batch(tagger, batch, run.root, overlays, crops)
            for result in results:
                out.write(result_line(result, lang))
                run.count(len(result.garments), result.error is not None, on_progress)
                if on_image:
                    on_image(result)
            out.flush()
            os.fsync(out.fileno())
    return run.finish(csv_path)


def result_line(result: TagResult, lang: str) -> str:
    """One line of the output (newline included): the same bytes whichever engine tagged it."""
    return json.dumps(result.to_dict(lang), ensure_ascii=False) + "\n"


@dataclass
class TagRun:
    """One run of a tag command over a folder, shared by the engines: the photos still to do,
    the run record (saved at the start and the end) and the counts."""

    root: Path
    out_jsonl: Path
    todo: list[Path]
    record: dict[str, Any]
    entry: dict[str, Any]  # this run's entry in record["runs"]
    summary: TagSummary
    started: float

    def count(self, garments: int, failed: bool, on_progress: ProgressCallback | None = None) -> None:
        """One line written."""
        self.summary.images += 1
        self.summary.garments += garments
        self.summary.errors += failed
        report_progress(on_progress, self.summary.images, len(self.todo))

    def finish(self, csv_path: str | Path | None = None) -> TagSummary:
        """Close the run record (``finished`` set) and derive the CSV from the whole output."""
        self.summary.seconds = time.perf_counter() - self.started
        self.entry.update(finished=_now(), **asdict(self.summary))
        save_run_record(self.out_jsonl, self.record)
        if csv_path is not None:
            jsonl_to_csv(self.out_jsonl, csv_path)
        return self.summary


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def start_run(images: str | Path, tagger: Tagger, out_jsonl: str | Path, *, lang: str, resume: bool,
              overwrite: bool = False, on_progress: ProgressCallback | None = None,
              engine: Engine = "local") -> TagRun:
    """Find the photos, open (or check, on ``resume``) the run record, ready the output: what
    every engine does before tagging. ``engine`` is noted in the run's record entry."""
    root = Path(images)
    if not root.exists():
        raise FileNotFoundError(f"images folder not found: {root}")
    out_jsonl = Path(out_jsonl)
    out_jsonl.parent.mkdir(parents=True, exist_ok=True)
    paths = find_images(root)
    if not paths:
        raise ValueError(f"no images (jpg, jpeg, png, webp, bmp, tif, tiff) under {root}")
    record = open_run_record(out_jsonl, tagger.settings(lang), resume, overwrite)
    record["model_files"] = {name: f["path"] for name, f in tagger.model_files.items()}
    done = read_done(out_jsonl) if resume else set()
    todo = [p for p in paths if relative_path(p, root) not in done]
    report_progress(on_progress, 0, len(todo))
    entry: dict[str, Any] = {"started": _now(), "images_dir": str(root.resolve()), "engine": engine,
                             "finished": None}
    record["runs"].append(entry)
    save_run_record(out_jsonl, record)
    return TagRun(root, out_jsonl, todo, record, entry, TagSummary(0, 0, 0, len(paths) - len(todo), 0.0),
                  time.perf_counter())


def tag_batch(tagger: Tagger, batch: list[DecodedImage], root: Path,
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
        duplicate_iou: float | None = None, csv_path: str | Path | None = None, overlays_dir: str | Path | None = None,
        crops_dir: str | Path | None = None, batch_size: int = 4, workers: int = 2, lang: str = "en",
        resume: bool = False, overwrite: bool = False, on_progress: ProgressCallback | None = None,
        on_image: Callable[[TagResult], None] | None = None) -> TagSummary:
    """One-call tagging from checkpoint files: ``garmentparse.tag("photos/", "det.pt", "out.jsonl")``
    (``style``: a photo-level style classifier); the options are :meth:`Tagger.from_checkpoints`' and :func:`tag_folder`'s."""
    tagger = Tagger.from_checkpoints(detector, classifier, device=device, amp=amp, style=style,
                                     score_threshold=score_threshold, top_k=top_k, tta=tta,
                                     duplicate_iou=duplicate_iou)
    return tag_folder(images, tagger, out_jsonl, csv_path=csv_path, overlays_dir=overlays_dir,
                      crops_dir=crops_dir, batch_size=batch_size, workers=workers, lang=lang,
                      resume=resume, overwrite=overwrite, on_progress=on_progress, on_image=on_image)
