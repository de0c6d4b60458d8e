"""The I/O shell of the K-Fashion converter: read label files and photo headers, run the pure
cleaning over chunks of labels (in worker processes), and write the COCO dataset and report."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from garmentparse.imageio import ImageReadError
from garmentparse.report import Problem, Report

from ..coco import Classes, CocoStreamWriter, coco_categories, coco_info
from ..fastjson import dumps
from ..imagehead import check_photo, read_bytes
from ..pool import map_chunks
from .decoding import decode_label
from .labels import Garment, extract_garments, finish_garments, label_image_info
from .matching import PhotoIndex, iter_label_files, photo_scale
from .polygons import measure_polygons
from .reasons import IssueLog, LabelError
from .writing import CocoOutput, LabelOutcome

#: One label to convert: its path relative to the labels folder, its photo's relative to the
#: images folder (None: not matched, or no images folder).
LabelTask = tuple[str, "str | None"]


@dataclass(frozen=True)
class LabelOptions:
    """What every label of a run shares (handed to each worker process once)."""

    labels_dir: str
    images_dir: str | None
    classes: Classes
    full_decode: bool
    aspect_tolerance: float = 0.01


class _Prepared(NamedTuple):
    """A label read and matched to its photo, garments extracted but not yet measured."""

    log: IssueLog
    image: dict[str, Any]
    garments: list[Garment]
    style: dict[str, Any]


def _prepare(label_rel: str, photo_rel: str | None, opts: LabelOptions) -> _Prepared | LabelOutcome:
    """Read and decode one label, check its photo and size, extract its garments."""
    label_file = os.path.join(opts.labels_dir, label_rel)
    log = IssueLog(label_file)
    try:
        raw = read_bytes(label_file)
    except OSError as exc:
        log.add("unreadable_label", str(exc))
        return LabelOutcome("skip", log.issues)
    try:
        data, encoding = decode_label(raw)
        if encoding:
            log.add("encoding", f"decoded as {encoding}", "decoded")
        info = label_image_info(data, log)
        scale: tuple[float, float] | None = (1.0, 1.0)
        if opts.images_dir is not None:
            if photo_rel is None:
                if info.file_name:
                    return LabelOutcome("resolve", [], name=info.file_name)
                log.add("label_without_image", "no photo with the label's stem and no 이미지 파일명")
                return LabelOutcome("skip", log.finish())
            photo_file = os.path.join(opts.images_dir, photo_rel)
            try:
                width, height = check_photo(photo_file, opts.full_decode)
            except ImageReadError as exc:
                log.issues.append(Problem(photo_file, "image_undecodable", f"{exc} (label {label_file})"))
                return LabelOutcome("skip", log.finish())
            scale = photo_scale(info, width, height, log, opts.aspect_tolerance)
            if scale is None:
                return LabelOutcome("skip", log.finish())
            file_name = photo_rel
        else:
            if not (info.width and info.height):
                log.add("missing_size", "no --images and no 이미지 너비/높이 in the label")
                return LabelOutcome("skip", log.finish())
            width, height = info.width, info.height
            # real dumps name the photo after the label's stem, not its 이미지 파일명
            file_name = os.path.join(os.path.dirname(label_rel), Path(label_rel).stem + ".jpg")
        garments, style = extract_garments(data, log, scale)
    except LabelError as exc:
        log.add(exc.reason, exc.detail)
        return LabelOutcome("skip", log.finish())
    image: dict[str, Any] = {"file_name": file_name.replace(os.sep, "/"), "width": width, "height": height,
                             "source_label": label_rel.replace(os.sep, "/")}
    if info.kfashion_id is not None:
        image["kfashion_id"] = info.kfashion_id
    if info.file_name and info.file_name != os.path.basename(image["file_name"]):
        image["label_file_name"] = info.file_name  # the label's own 이미지 파일명, for tracing
    return _Prepared(log, image, garments, style)


def _complete(prep: _Prepared, classes: Classes) -> LabelOutcome:
    log, image = prep.log, prep.image
    anns = finish_garments(prep.garments, prep.style, image["width"], image["height"], classes, log)
    if not anns:
        log.add("no_garments", "no usable garment in the label")
        return LabelOutcome("skip", log.finish())
    return LabelOutcome("ok", log.finish(), image, [dumps(a)[1:] for a in anns])


def _unexpected(label_file: str, exc: Exception) -> LabelOutcome:
    """The skip of a label that broke the converter in an unforeseen way: one such label must
    not end a run over a million others."""
    return LabelOutcome("skip", [Problem(label_file, "unexpected_error", f"{type(exc).__name__}: {exc}")])


def _guarded(label_file: str, step: Callable[..., _Prepared | LabelOutcome], *args: Any) -> _Prepared | LabelOutcome:
    """``step(*args)``, or :func:`_unexpected` naming ``label_file`` and the exception."""
    try:
        return step(*args)
    except Exception as exc:  # noqa: BLE001 - recorded in the report, the run goes on
        return _unexpected(label_file, exc)


def process_labels(tasks: list[LabelTask], opts: LabelOptions) -> list[LabelOutcome]:
    """Everything for a chunk of labels: read, decode, match photos, clean (polygons measured in
    one batch), serialise. One outcome per task, in order."""
    files = [os.path.join(opts.labels_dir, label) for label, _ in tasks]
    items = [_guarded(f, _prepare, label, photo, opts) for f, (label, photo) in zip(files, tasks)]
    measure_polygons([g for it in items if isinstance(it, _Prepared) for g in it.garments])
    return [_guarded(f, _complete, it, opts.classes) if isinstance(it, _Prepared) else it
            for f, it in zip(files, items)]


def process_label(label_rel: str, photo_rel: str | None, opts: LabelOptions) -> LabelOutcome:
    """:func:`process_labels` for one label."""
    return process_labels([(label_rel, photo_rel)], opts)[0]


def _on_chunk_error(task: LabelTask, exc: Exception, opts: LabelOptions) -> LabelOutcome:
    return _unexpected(os.path.join(opts.labels_dir, task[0]), exc)


def _convert(labels_dir: str | Path, images_dir: str | Path | None, classes: Classes, workers: int,
             full_decode: bool, chunk_size: int, on_progress: Callable[[int], None] | None,
             make_writer: Callable[[dict[str, Any], list[dict[str, Any]]], CocoStreamWriter]
             ) -> tuple[CocoStreamWriter, Report]:
    """The conversion behind both entry points; ``make_writer(header, categories)`` says where
    the dataset goes."""
    if classes not in ("part", "category"):
        raise ValueError(f"unknown classes {classes!r}: use 'part' or 'category'")
    labels_dir = str(labels_dir)
    if not os.path.exists(labels_dir):
        raise FileNotFoundError(f"labels folder not found: {labels_dir}")
    if images_dir is not None and not os.path.isdir(images_dir):
        raise FileNotFoundError(f"images folder not found: {images_dir}")
    labels_root = labels_dir if os.path.isdir(labels_dir) else os.path.dirname(labels_dir)
    opts = LabelOptions(labels_root, None if images_dir is None else str(images_dir), classes, full_decode)
    index = PhotoIndex(images_dir) if images_dir is not None else None
    header = {"info": coco_info("K-Fashion labels converted by garmentparse", classes,
                                labels=labels_dir, images=None if images_dir is None else str(images_dir)),
              "licenses": []}
    writer = make_writer(header, coco_categories(classes))
    output = CocoOutput(writer, Report("convert kfashion"), labels_dir)
    done = 0
    resolve: list[tuple[str, str]] = []

    def progressed() -> None:
        nonlocal done
        done += 1
        if on_progress is not None:
            on_progress(done)

    def run(tasks: Iterable[LabelTask]) -> None:
        for (label_rel, photo_rel), outcome in map_chunks(process_labels, tasks, opts, workers=workers,
                                                          chunk_size=chunk_size, on_error=_on_chunk_error):
            if output.add(label_rel, photo_rel, outcome):
                progressed()
            else:
                resolve.append((label_rel, outcome.name or ""))

    try:
        if index is None:
            run((rel, None) for rel in iter_label_files(labels_dir))
        else:
            run((rel, index.match_label(rel)) for rel in iter_label_files(labels_dir))
        if resolve:  # second pass: labels whose stem matched no photo, by 이미지 파일명
            second: list[LabelTask] = []
            for rel, name in resolve:
                photo = index.match_name(name, rel) if index is not None else None
                if photo is None:
                    output.add_unmatched(rel, name)
                    progressed()
                else:
                    second.append((rel, photo))
            run(second)
        if index is not None:
            output.add_unused_photos(index, str(images_dir))
        report = output.close(None if index is None else len(index))
    except BaseException:
        writer.abort()
        raise
    return writer, report


def convert_kfashion_to_file(
    labels_dir: str | Path,
    out: str | Path,
    images_dir: str | Path | None = None,
    *,
    classes: Classes = "part",
    workers: int = 1,
    full_decode: bool = False,
    chunk_size: int = 64,
    on_progress: Callable[[int], None] | None = None,
) -> Report:
    """Convert a K-Fashion label tree to a COCO file at ``out``, streaming; returns the report.

    Labels are matched to photos under ``images_dir`` by file stem, then by ``이미지 파일명``;
    without ``images_dir`` sizes and file names come from the JSON. Photo sizes are read from
    headers (truncated JPEGs are caught); ``full_decode`` decodes every photo instead.
    ``on_progress(n)`` is called with the number of labels done so far.
    """
    _, report = _convert(labels_dir, images_dir, classes, workers, full_decode, chunk_size, on_progress,
                         lambda header, categories: CocoStreamWriter(out, header, categories))
    return report


def convert_kfashion(
    labels_dir: str | Path,
    images_dir: str | Path | None = None,
    *,
    classes: Classes = "part",
    workers: int = 1,
    full_decode: bool = False,
) -> tuple[dict[str, Any], Report]:
    """In-memory variant of :func:`convert_kfashion_to_file` (for small data): (COCO dict, report)."""
    writer, report = _convert(labels_dir, images_dir, classes, workers, full_decode, 64, None,
                              CocoStreamWriter.in_memory)
    return writer.dataset(), report
