"""DeepFashion2 -> COCO. One JSON per photo (``annos/000001.json`` for ``image/000001.jpg``): image-level
``source`` and ``pair_id``, and ``item1..itemN``, each with ``category_id`` 1-13 (and its
``category_name``), polygon ``segmentation``, ``landmarks`` ``[x, y, v, ...]``, ``bounding_box``,
``style``, ``occlusion``, ``zoom_in``, ``viewpoint`` and ``scale``.

Photos are matched by stem and their size read from the header (the JSON has none). ``area`` and
``bbox`` come from the mask (DeepFashion2's own COCO script writes the box area); ``landmarks`` and
the item's ``style``/``occlusion``/``zoom_in``/``viewpoint``/``scale`` are kept on the annotation.
The pure part is :func:`deepfashion2_annotations`; the rest is the I/O shell.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from garmentparse.imageio import ImageReadError
from garmentparse.report import Problem, Report

from ..coco import Classes, CocoDict, CocoStreamWriter, coco_info
from ..fastjson import dumps
from ..imagehead import check_photo, read_bytes
from ..kfashion.decoding import decode_label
from ..kfashion.matching import PhotoIndex, iter_label_files
from ..kfashion.reasons import IssueLog, LabelError
from ..kfashion.writing import CocoOutput, LabelOutcome
from ..pool import map_chunks
from .classes import DEEPFASHION2, normalise
from .instances import InstanceOptions, instance_annotation, is_number

LICENCE = {"id": 1, "name": "DeepFashion2: non-commercial research and educational use only (no commercial licence)",
           "url": "https://github.com/switchablenorms/DeepFashion2"}
_ITEM = re.compile(r"item(\d+)$")
_ITEM_FIELDS = ("style", "occlusion", "zoom_in", "viewpoint", "scale")


def item_keys(data: dict[str, Any]) -> list[str]:
    """``item1..itemN`` keys in numeric order."""
    found = [(int(m.group(1)), k) for k in data if (m := _ITEM.match(k))]
    return [k for _, k in sorted(found)]


def deepfashion2_annotations(data: dict[str, Any], width: int, height: int, opts: InstanceOptions,
                             log: IssueLog) -> list[dict[str, Any]]:
    """COCO annotations (without ids) of a DeepFashion2 annotation dict for a ``width`` x ``height`` photo."""
    anns = []
    for key in item_keys(data):
        item = data[key]
        if not isinstance(item, dict):
            log.add("invalid_schema", f"{key}: not an object")
            continue
        cid = item.get("category_id")
        cid = int(cid) if is_number(cid) and float(cid).is_integer() else cid
        if not (isinstance(cid, int) and 1 <= cid <= len(DEEPFASHION2)):
            log.add("unknown_category", f"{key}: category_id {cid!r} ({item.get('category_name')!r}) is not 1-13")
            continue
        source = DEEPFASHION2[cid - 1]
        name = item.get("category_name")
        if name is not None and normalise(name) != source.name:
            log.add("category_name_mismatch", f"{key}: category_id {cid} is {source.name!r}, not {name!r}",
                    "kept by id")
        ann = instance_annotation(source, item.get("segmentation"), width, height, opts, log, key)
        if ann is None:
            continue
        landmarks = item.get("landmarks")
        if isinstance(landmarks, list) and len(landmarks) % 3 == 0 and all(map(is_number, landmarks)):
            ann["landmarks"] = landmarks
        elif landmarks is not None:
            log.add("invalid_value", f"{key}: landmarks is not [x1, y1, v1, ...]", "field dropped")
        extra = {k: item[k] for k in _ITEM_FIELDS if k in item}
        if extra:
            ann["deepfashion2"] = extra
        anns.append(ann)
    return anns


def deepfashion2_image_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The image-level ``source`` (user/shop) and ``pair_id``, under ``deepfashion2``."""
    extra = {k: data[k] for k in ("source", "pair_id") if k in data}
    return {"deepfashion2": extra} if extra else {}


@dataclass(frozen=True)
class DeepFashion2Options:
    """What every file of a run shares (handed to each worker process once)."""

    annos_dir: str
    images_dir: str
    instances: InstanceOptions
    full_decode: bool = False


def _skip(log: IssueLog, reason: str, detail: str) -> LabelOutcome:
    log.add(reason, detail)
    return LabelOutcome("skip", log.issues)


def process_file(rel: str, photo_rel: str | None, opts: DeepFashion2Options) -> LabelOutcome:
    """Read one annotation file, check its photo, convert its items (annotations serialised)."""
    path = os.path.join(opts.annos_dir, rel)
    log = IssueLog(path)
    try:
        data, _ = decode_label(read_bytes(path))
    except OSError as exc:
        return _skip(log, "unreadable_file", str(exc))
    except LabelError as exc:
        return _skip(log, exc.reason, exc.detail)
    if not isinstance(data, dict) or not item_keys(data):
        return _skip(log, "invalid_schema", "not a DeepFashion2 annotation (an object with item1..itemN)")
    if photo_rel is None:
        return _skip(log, "label_without_image", "no photo with the annotation file's stem")
    photo = os.path.join(opts.images_dir, photo_rel)
    try:
        width, height = check_photo(photo, opts.full_decode)
    except ImageReadError as exc:
        log.issues.append(Problem(photo, "image_undecodable", f"{exc} (annotations {path})"))
        return LabelOutcome("skip", log.issues)
    anns = deepfashion2_annotations(data, width, height, opts.instances, log)
    if not anns:
        return _skip(log, "no_garments", "no usable item")
    image = {"file_name": photo_rel.replace(os.sep, "/"), "width": width, "height": height,
             "source_label": rel.replace(os.sep, "/"), **deepfashion2_image_fields(data)}
    return LabelOutcome("ok", log.issues, image, [dumps(a)[1:] for a in anns])


def process_files(tasks: list[tuple[str, str | None]], opts: DeepFashion2Options) -> list[LabelOutcome]:
    """:func:`process_file` for a chunk of ``(annotation file, photo)`` pairs, in order."""
    return [process_file(rel, photo, opts) for rel, photo in tasks]


def _on_error(task: tuple[str, str | None], exc: Exception, opts: DeepFashion2Options) -> LabelOutcome:
    path = os.path.join(opts.annos_dir, task[0])
    return LabelOutcome("skip", [Problem(path, "unexpected_error", f"{type(exc).__name__}: {exc}")])


def _convert(annos_dir: str | Path, images_dir: str | Path, classes: Classes, workers: int, full_decode: bool,
             chunk_size: int, on_progress: Callable[[int], None] | None,
             make_writer: Callable[[dict[str, Any], list[dict[str, Any]]], CocoStreamWriter]
             ) -> tuple[CocoStreamWriter, Report]:
    annos, images = str(annos_dir), str(images_dir)
    if not os.path.isdir(annos):
        raise FileNotFoundError(f"annotations folder not found: {annos}")
    if not os.path.isdir(images):
        raise FileNotFoundError(f"images folder not found: {images}")
    instances, categories = InstanceOptions.build(classes)
    opts = DeepFashion2Options(annos, images, instances, full_decode)
    index = PhotoIndex(images)
    header = {"info": coco_info("DeepFashion2 annotations converted by garmentparse", classes,
                                annotations=annos, images=images), "licenses": [LICENCE]}
    writer = make_writer(header, categories)
    output = CocoOutput(writer, Report("convert deepfashion2"), annos)
    try:
        tasks = ((rel, index.match_label(rel)) for rel in iter_label_files(annos))
        for done, ((rel, photo), outcome) in enumerate(
                map_chunks(process_files, tasks, opts, workers=workers, chunk_size=chunk_size, on_error=_on_error), 1):
            output.add(rel, photo, outcome)
            if on_progress is not None:
                on_progress(done)
        output.add_unused_photos(index, images)
        report = output.close(len(index))
    except BaseException:
        writer.abort()
        raise
    return writer, report


def convert_deepfashion2_to_file(annos_dir: str | Path, out: str | Path, images_dir: str | Path, *,
                                 classes: Classes = "part", workers: int = 1, full_decode: bool = False,
                                 chunk_size: int = 64, on_progress: Callable[[int], None] | None = None) -> Report:
    """Convert a DeepFashion2 ``annos/`` folder (photos in ``images_dir``, matched by stem) to a COCO
    file at ``out``, streaming; returns the cleaning report."""
    _, report = _convert(annos_dir, images_dir, classes, workers, full_decode, chunk_size, on_progress,
                         lambda header, categories: CocoStreamWriter(out, header, categories))
    return report


def convert_deepfashion2(annos_dir: str | Path, images_dir: str | Path, *, classes: Classes = "part",
                         workers: int = 1, full_decode: bool = False) -> tuple[CocoDict, Report]:
    """In-memory variant of :func:`convert_deepfashion2_to_file` (for small data): (COCO dict, report)."""
    writer, report = _convert(annos_dir, images_dir, classes, workers, full_decode, 64, None,
                              CocoStreamWriter.in_memory)
    return writer.dataset(), report
