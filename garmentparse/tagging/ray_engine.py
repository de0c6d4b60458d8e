"""Batch tagging on Ray Data: the same output as :func:`~garmentparse.tagging.folder.tag_folder`,
tagged by actors that each hold the loaded models, on one machine or a cluster.

The pipeline is a Ray Data streaming one, in the local engine's batches: the driver cuts the
photos to do into batches of ``batch_size`` in the local engine's order (a model call sees the
same images whichever engine runs, so the records are identical byte for byte: the batch an
image is in moves float rounding); :func:`read_batch` reads each batch's bytes (a file that
cannot be read fails only itself, with the local engine's reason: ``read_images`` and
``read_binary_files`` end the whole job on one vanished or unreadable file; Ray Data runs it as
its own tasks or fuses it into the actors' stage); ``map_batches`` runs :class:`TagActor` on
``actors`` actors (``num_gpus`` / ``num_cpus`` each) that decode with
:func:`garmentparse.engine.images.decode_image` and tag with
:func:`garmentparse.tagging.folder.tag_batch` (the local engine's code); the driver appends the
returned lines to the JSONL as they stream in, flushing and fsyncing each block. The run record,
resume, the CSV and the exit code are the local engine's (:class:`~garmentparse.tagging.folder.TagRun`).

Ray is an optional extra: ``pip install "garmentparse[ray]"``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from garmentparse.converters.pool import chunked, default_workers
from garmentparse.engine.images import DecodedImage, decode_image
from garmentparse.progress import ProgressCallback
from garmentparse.tagging.folder import TagSummary, result_line, start_run, tag_batch
from garmentparse.tagging.record import run_record_path
from garmentparse.tagging.sinks import jsonl_to_csv
from garmentparse.tagging.tagger import Tagger

log = logging.getLogger(__name__)

INSTALL_HINT = 'the Ray engine needs Ray Data: pip install "garmentparse[ray]"'


@dataclass(frozen=True, kw_only=True)
class CheckpointLoader:
    """How each actor loads the models itself (on its own GPU), instead of receiving the
    driver's copy: the checkpoint files must be readable from every node."""

    detector: str
    classifier: str | None = None
    style: str | None = None
    device: str = "auto"
    amp: bool = True
    score_threshold: float | None = None
    top_k: int = 3
    tta: bool = False
    duplicate_iou: float | None = None  # None: the detector config's test.duplicate_iou
    heads: tuple[str, ...] | None = None  # None: every head of the classifier

    def load(self, device: str | None = None) -> Tagger:
        return Tagger.from_checkpoints(self.detector, self.classifier, device=device or self.device, amp=self.amp,
                                       style=self.style, score_threshold=self.score_threshold, top_k=self.top_k,
                                       tta=self.tta, duplicate_iou=self.duplicate_iou, heads=self.heads)


@dataclass(frozen=True, kw_only=True)
class RayOptions:
    """Where and how wide the Ray engine runs.

    ``address=None`` starts a local Ray for the run (``num_cpus`` CPUs, default all usable
    cores; no dashboard) and stops it at the end; ``"auto"`` or ``"HOST:PORT"`` joins a running
    cluster. ``actors`` actors each hold one copy of the models, with ``gpus_per_actor`` GPUs
    (fractions share a GPU: 0.5 puts two actors on each; default: 1 when the cluster has GPUs
    and the actors load checkpoints not pinned to the CPU) and ``cpus_per_actor`` CPUs (the
    actor's torch threads).
    """

    address: str | None = None
    actors: int = 1
    gpus_per_actor: float | None = None  # None: 1 when the cluster has GPUs and the models may use one
    cpus_per_actor: float = 1.0
    num_cpus: int | None = None

    def actor_gpus(self, cluster_gpus: float, loader: CheckpointLoader | None) -> float:
        """GPUs each actor asks Ray for."""
        if self.gpus_per_actor is not None:
            return self.gpus_per_actor
        wants_gpu = loader is not None and loader.device != "cpu"
        return 1.0 if wants_gpu and cluster_gpus >= 1 else 0.0

    def __post_init__(self) -> None:
        if self.actors < 1:
            raise ValueError(f"actors must be at least 1, got {self.actors}")
        if (self.gpus_per_actor or 0) < 0 or self.cpus_per_actor <= 0:
            raise ValueError("gpus_per_actor must be >= 0 and cpus_per_actor > 0")


def require_ray() -> Any:
    """The ``ray`` module with Ray Data, or an ImportError naming the extra to install."""
    try:
        import ray
        import ray.data  # noqa: F401 - the part we need; a bare `ray` install lacks pyarrow/pandas
    except ImportError as exc:
        raise ImportError(f"{INSTALL_HINT} ({exc})") from None
    return ray


@contextmanager
def ray_session(options: RayOptions) -> Iterator[None]:
    """Ray, initialised for the run: a local Ray started (and stopped) here, a cluster joined
    by address, or the session the caller already opened (left open). Ray Data's per-run INFO
    lines and progress bars are off meanwhile: progress goes through ``on_progress``."""
    ray = require_ray()
    data_log = logging.getLogger("ray.data")
    data_level = data_log.level
    data_log.setLevel(logging.ERROR)
    context = ray.data.DataContext.get_current()
    bars = context.enable_progress_bars
    started = not ray.is_initialized()
    try:
        if started and options.address is None:
            # "local": a new Ray of our own, even where `ray start` runs a cluster on this machine
            ray.init(address="local", num_cpus=options.num_cpus or default_workers(), include_dashboard=False,
                     log_to_driver=False, logging_level=logging.ERROR)
        elif started:
            ray.init(address=options.address, log_to_driver=False, logging_level=logging.ERROR)
        context.enable_progress_bars = False
        yield
    finally:
        if started:
            ray.shutdown()
        context.enable_progress_bars = bars
        data_log.setLevel(data_level)


MIN_BLOCKS, BATCHES_PER_BLOCK = 200, 8  # a batch per Ray block up to 200 blocks, then up to 8


def block_count(batches: int) -> int:
    """Ray blocks for ``batches`` photo batches: small blocks keep every actor busy and the
    lines streaming to the driver; past a few hundred, a few batches each keep Ray's
    bookkeeping small (1.2 M photos in batches of 4: 37 500 blocks)."""
    return min(batches, max(MIN_BLOCKS, batches // BATCHES_PER_BLOCK))


def read_batch(row: dict[str, Any]) -> dict[str, Any]:
    """The bytes of one batch's photos, on a Ray worker (``b""`` with the reason where a file
    cannot be read: the reason is the one the local engine writes)."""
    data, errors = [], []
    for raw in row["paths"]:
        path = Path(os.fsdecode(raw))
        try:
            data.append(path.read_bytes())
            errors.append("")
        except OSError:
            data.append(b"")
            errors.append(decode_image(0, path).error or "cannot read file")
    return {"paths": row["paths"], "data": data, "errors": errors}


class TagActor:
    """A Ray Data actor: holds the tagger and turns one batch of photo bytes into output lines
    (``line``, with ``garments`` and ``failed`` for the driver's counts)."""

    def __init__(self, *, models: Any, root: str, overlays_dir: str | None, crops_dir: str | None,
                 lang: str) -> None:
        import ray

        if isinstance(models, CheckpointLoader):
            self.tagger = models.load()  # on this actor's device
        else:  # the driver's Tagger, through the object store
            self.tagger = models if isinstance(models, Tagger) else ray.get(models)
        self.root = Path(root)
        self.overlays = Path(overlays_dir) if overlays_dir else None
        self.crops = Path(crops_dir) if crops_dir else None
        self.lang = lang

    def __call__(self, rows: dict[str, np.ndarray]) -> dict[str, list[Any]]:
        lines: list[str] = []
        garments: list[int] = []
        failed: list[bool] = []
        for paths, data, errors in zip(rows["paths"], rows["data"], rows["errors"]):  # one row: one batch
            items = [DecodedImage(i, Path(os.fsdecode(raw)), None, error) if error else
                     decode_image(i, Path(os.fsdecode(raw)), bytes(blob))
                     for i, (raw, blob, error) in enumerate(zip(paths, data, errors))]
            for result in tag_batch(self.tagger, items, self.root, self.overlays, self.crops):
                lines.append(result_line(result, self.lang))
                garments.append(len(result.garments))
                failed.append(result.error is not None)
        return {"line": lines, "garments": garments, "failed": failed}


def tag_folder_ray(images: str | Path, tagger: Tagger, out_jsonl: str | Path, *,
                   options: RayOptions | None = None, loader: CheckpointLoader | None = None,
                   csv_path: str | Path | None = None, overlays_dir: str | Path | None = None,
                   crops_dir: str | Path | None = None, batch_size: int = 4, lang: str = "en",
                   resume: bool = False, overwrite: bool = False, on_progress: ProgressCallback | None = None,
                   staging_dir: str | Path | None = None, upload_every_s: float = 300.0) -> TagSummary:
    """:func:`~garmentparse.tagging.folder.tag_folder` on Ray Data actors: same arguments, same
    output, line for line (in the order the actors finish).

    ``tagger`` gives the run record its settings and, without ``loader``, is shipped to the
    actors through the object store (and runs on the device it is on). With ``loader`` (the
    checkpoints ``tagger`` was loaded from), each actor loads its own copy on its own device:
    what a GPU cluster wants. On a cluster, ``images``, the checkpoints, ``overlays_dir`` and
    ``crops_dir`` must be paths every node sees (a shared mount); the JSONL and its run record
    are written by this process, the driver.

    ``out_jsonl`` (and ``csv_path``) may be fsspec URLs (``s3://bucket/tags.jsonl``, ``gs://``,
    ``hdfs://``, ...): see :func:`staged_output`.
    """
    ray = require_ray()  # before touching the output
    options = options or RayOptions()
    with staged_output(out_jsonl, resume=resume, staging_dir=staging_dir, every_s=upload_every_s) as staged:
        return _tag_into(ray, images, tagger, staged, options=options, loader=loader, csv_path=csv_path,
                         overlays_dir=overlays_dir, crops_dir=crops_dir, batch_size=batch_size, lang=lang,
                         resume=resume, overwrite=overwrite, on_progress=on_progress)


def _tag_into(ray: Any, images: str | Path, tagger: Tagger, staged: StagedOutput, *, options: RayOptions,
              loader: CheckpointLoader | None, csv_path: str | Path | None, overlays_dir: str | Path | None,
              crops_dir: str | Path | None, batch_size: int, lang: str, resume: bool, overwrite: bool,
              on_progress: ProgressCallback | None) -> TagSummary:
    run = start_run(images, tagger, staged.local, lang=lang, resume=resume, overwrite=overwrite,
                    on_progress=on_progress, engine="ray")
    root = run.root.absolute()
    # the local engine's batches, as bytes (file names need not be UTF-8), absolute: the actors'
    # working folder is not ours
    batches = [{"paths": [os.fsencode(p.absolute()) for p in chunk]} for chunk in chunked(run.todo, batch_size)]
    with open(run.out_jsonl, "a" if resume else "w", encoding="utf-8") as out:
        if batches:
            with ray_session(options):
                models = loader if loader is not None else ray.put(tagger)  # once, not per actor
                gpus = options.actor_gpus(ray.cluster_resources().get("GPU", 0), loader)
                log.info("Ray: %d actor(s), %g GPU and %g CPU each, %d photos", options.actors, gpus,
                         options.cpus_per_actor, len(run.todo))
                ds = ray.data.from_items(batches, override_num_blocks=block_count(len(batches)))
                ds = ds.map(read_batch).map_batches(
                    TagActor, batch_size=1, batch_format="numpy",
                    compute=ray.data.ActorPoolStrategy(size=options.actors),
                    num_gpus=gpus or None, num_cpus=options.cpus_per_actor,
                    fn_constructor_kwargs={"models": models, "root": str(root), "overlays_dir": _absolute(overlays_dir),
                                           "crops_dir": _absolute(crops_dir), "lang": lang})
                for block in ds.iter_batches(batch_size=None, batch_format="numpy"):
                    out.write("".join(block["line"]))
                    out.flush()
                    os.fsync(out.fileno())
                    for garments, failed in zip(block["garments"], block["failed"]):
                        run.count(int(garments), bool(failed), on_progress)
                    staged.maybe_upload()
    summary = run.finish(None)  # staged_output uploads it
    if csv_path is not None:
        staged.write_csv(csv_path)
    return summary


@dataclass(kw_only=True)
class StagedOutput:
    """The JSONL a run appends to (``local``) and, for a URL output, where it is uploaded."""

    local: Path
    url: str | None = None
    every_s: float = 300.0
    last_upload: float = 0.0

    def files(self) -> list[tuple[Path, str]]:
        assert self.url is not None
        return [(self.local, self.url), (run_record_path(self.local), self.url + ".run.json")]

    def upload(self) -> None:
        """Copy the JSONL and its run record to the URL, whole (an object store has no append)."""
        if self.url is None:
            return
        import fsspec

        for local, url in self.files():
            if local.exists():
                fs, path = fsspec.core.url_to_fs(url)
                fs.put_file(str(local), path)
        self.last_upload = time.monotonic()

    def maybe_upload(self) -> None:
        if self.url is not None and time.monotonic() - self.last_upload >= self.every_s:
            self.upload()

    def download(self) -> None:
        """The URL's JSONL and run record into ``local`` (resuming where no staged copy is)."""
        import fsspec

        for local, url in self.files():
            fs, path = fsspec.core.url_to_fs(url)
            if fs.exists(path):
                fs.get_file(path, str(local))

    def write_csv(self, csv_path: str | Path) -> None:
        """The CSV of the whole output; at a URL, built here and uploaded."""
        if not is_url(csv_path):
            jsonl_to_csv(self.local, csv_path)
            return
        import fsspec

        local_csv = self.local.with_name(self.local.name + ".csv")
        jsonl_to_csv(self.local, local_csv)
        fs, path = fsspec.core.url_to_fs(str(csv_path))
        fs.put_file(str(local_csv), path)


def is_url(path: str | Path) -> bool:
    """An fsspec URL (``s3://``, ``gs://``, ``memory://``, ``file://``...), not a plain path."""
    return isinstance(path, str) and "://" in path


@contextmanager
def staged_output(out_jsonl: str | Path, *, resume: bool, staging_dir: str | Path | None = None,
                  every_s: float = 300.0) -> Iterator[StagedOutput]:
    """Where a run appends its lines. A local path is used as it is. For a URL the run appends to
    a local copy in ``staging_dir`` (default: a folder per URL under the temp dir) and uploads
    the whole JSONL and run record to the URL every ``every_s`` seconds and at the end, also
    when the run fails. ``resume`` continues from the staged copy when there is one (it is never
    older than the URL's), else from the URL's; a driver killed outright loses at most the lines
    since the last upload to a resume on another machine, and they are tagged again, once."""
    if not is_url(out_jsonl):
        yield StagedOutput(local=Path(out_jsonl))
        return
    url = str(out_jsonl)
    require_fsspec()
    folder = Path(staging_dir) if staging_dir else \
        Path(tempfile.gettempdir()) / "garmentparse-staging" / hashlib.sha256(url.encode()).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    staged = StagedOutput(local=folder / url.rstrip("/").rsplit("/", 1)[-1], url=url, every_s=every_s,
                          last_upload=time.monotonic())
    if not resume:
        for local, _ in staged.files():
            local.unlink(missing_ok=True)
    elif not staged.local.exists():
        staged.download()
    log.info("output %s staged in %s", url, staged.local)
    try:
        yield staged
    finally:
        staged.upload()


def require_fsspec() -> None:
    try:
        import fsspec  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"an output URL needs fsspec: {INSTALL_HINT} ({exc})") from None


def _absolute(path: str | Path | None) -> str | None:
    """An absolute path for the actors (their working folder is not the driver's)."""
    return None if path is None else str(Path(path).absolute())
