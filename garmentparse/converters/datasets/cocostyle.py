"""Fashionpedia and ModaNet -> our COCO. Both ship one COCO-style file (``images``,
``annotations``, ``categories``; Fashionpedia adds ``attribute_ids`` per annotation and an
``attributes`` list). Classes are matched by *name* onto garmentparse's parts and categories
(:mod:`.classes`), segmentations cleaned (:mod:`.instances`), ids renumbered 1..N with the file's
own kept as ``source_image_id`` / ``source_annotation_id``.

The pure part is :func:`source_tables` + :func:`image_annotations` (dicts in, annotations out);
:func:`convert_coco_style` is the I/O shell (load, group by image, workers, stream out).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from garmentparse.imageio import ImageReadError
from garmentparse.report import Problem, Report

from ..coco import Classes, CocoDict, CocoStreamWriter, coco_info
from ..fastjson import dumps
from ..imagehead import check_photo, read_bytes
from ..kfashion.decoding import decode_label
from ..kfashion.reasons import IssueLog, LabelError
from ..pool import map_chunks
from .classes import FASHIONPEDIA, MODANET, SourceClass, normalise
from .instances import InstanceOptions, instance_annotation, is_number


@dataclass(frozen=True)
class CocoStyleSpec:
    """One COCO-style source dataset: its name, classes by normalised name and annotation licence."""

    dataset: str
    title: str
    classes: Mapping[str, SourceClass]
    licence: str


FASHIONPEDIA_SPEC = CocoStyleSpec("fashionpedia", "Fashionpedia", FASHIONPEDIA,
                                  "Fashionpedia annotations: CC BY 4.0; images keep their own licences")
MODANET_SPEC = CocoStyleSpec("modanet", "ModaNet", MODANET,
                             "ModaNet annotations: CC BY-NC 4.0 (non-commercial); images from PaperDoll/Chictopia")


@dataclass(frozen=True)
class SourceTables:
    """What a file says about its classes (category id -> source class) and attributes (id -> name)."""

    classes: dict[Any, SourceClass]
    attributes: dict[Any, str]

    @property
    def unmapped(self) -> list[str]:
        """Names of the file's unmapped classes, in the file's order."""
        return list(dict.fromkeys(c.name for c in self.classes.values() if not c.mapped))


def _key(value: Any) -> Any:
    """An id as a dict key: integral floats as ints, anything unhashable as None."""
    if is_number(value) and float(value).is_integer():
        return int(value)
    return value if isinstance(value, (int, str)) else None


def source_tables(data: dict[str, Any], spec: CocoStyleSpec, log: IssueLog) -> SourceTables:
    """The file's ``categories`` mapped by name (an unknown name is reported ``unknown_class`` and
    treated as unmapped) and its ``attributes`` names."""
    classes: dict[Any, SourceClass] = {}
    for i, cat in enumerate(data.get("categories") or []):
        if not isinstance(cat, dict) or _key(cat.get("id")) is None or not isinstance(cat.get("name"), str):
            log.add("invalid_schema", f"categories[{i}]: needs an id and a name")
            continue
        found = spec.classes.get(normalise(cat["name"]))
        if found is None:
            log.add("unknown_class", f"category {cat['id']} {cat['name']!r} is not a {spec.title} class: "
                    "its annotations are treated as unmapped", "unmapped")
            found = SourceClass(cat["name"])
        classes[_key(cat["id"])] = found
    attributes = {_key(a["id"]): str(a["name"]) for a in data.get("attributes") or []
                  if isinstance(a, dict) and _key(a.get("id")) is not None and "name" in a}
    return SourceTables(classes, attributes)


def _attribute_fields(ann: dict[str, Any], tables: SourceTables, log: IssueLog, where: str) -> dict[str, Any]:
    ids = ann.get("attribute_ids")
    if ids is None:
        return {}
    if not isinstance(ids, list) or not all(_key(i) is not None for i in ids):
        log.add("invalid_value", f"{where}: attribute_ids is not a list of ids", "field dropped")
        return {}
    unknown = [i for i in ids if _key(i) not in tables.attributes]
    if unknown:
        log.add("unknown_value", f"{where}: attribute ids {unknown} not in the file's attributes", "id kept, no name")
    return {"attribute_ids": ids,
            "source_attributes": [tables.attributes[_key(i)] for i in ids if _key(i) in tables.attributes]}


def image_annotations(anns: list[dict[str, Any]], width: int, height: int, tables: SourceTables,
                      opts: InstanceOptions, log: IssueLog, where: str = "") -> tuple[list[dict[str, Any]], Counter]:
    """COCO annotations (without ids) of one image's source annotations, and how many annotations of
    each unmapped class there were (left out, or kept under their own category with ``keep_unmapped``)."""
    out: list[dict[str, Any]] = []
    unmapped: Counter = Counter()
    for ann in anns:
        at = f"{where} annotation {ann.get('id')!r}".lstrip()
        source = tables.classes.get(_key(ann.get("category_id")))
        if source is None:
            log.add("unknown_category", f"{at}: category_id {ann.get('category_id')!r} is not in the file's categories")
            continue
        if not source.mapped:
            unmapped[source.name] += 1
            if not opts.keep_unmapped:
                continue
        made = instance_annotation(source, ann.get("segmentation"), width, height, opts, log, at,
                                   iscrowd=1 if ann.get("iscrowd") else 0)
        if made is None:
            continue
        made["source_annotation_id"] = ann.get("id")
        made.update(_attribute_fields(ann, tables, log, at))
        out.append(made)
    return out, unmapped


@dataclass(frozen=True)
class CocoStyleOptions:
    """What every image of a run shares (handed to each worker process once)."""

    file: str
    images_dir: str | None
    tables: SourceTables
    instances: InstanceOptions
    full_decode: bool = False


class ImageOutcome(NamedTuple):
    """One image converted: its COCO image (None: skipped), annotation JSON fragments, unmapped counts."""

    issues: list[Problem]
    image: dict[str, Any] | None = None
    fragments: list[str] | None = None
    unmapped: Counter | None = None


def _size(image: dict[str, Any]) -> tuple[int, int] | None:
    w, h = image.get("width"), image.get("height")
    if is_number(w) and is_number(h) and w > 0 and h > 0 and float(w).is_integer() and float(h).is_integer():
        return int(w), int(h)
    return None


def process_image(image: dict[str, Any], anns: list[dict[str, Any]], opts: CocoStyleOptions) -> ImageOutcome:
    """Check one image entry (and its photo, with ``images_dir``) and convert its annotations."""
    log = IssueLog(opts.file)
    where = f"image {image.get('id')!r} ({image.get('file_name')!r})"
    size, name = _size(image), image.get("file_name")
    if size is None or not isinstance(name, str) or not name:
        log.add("invalid_schema", f"{where}: needs file_name and positive integer width/height")
        return ImageOutcome(log.issues)
    width, height = size
    if opts.images_dir is not None:
        photo = os.path.join(opts.images_dir, name)
        if not os.path.isfile(photo):
            log.add("image_missing", f"{where}: no {photo}")
            return ImageOutcome(log.issues)
        try:
            found = check_photo(photo, opts.full_decode)
        except ImageReadError as exc:
            log.issues.append(Problem(photo, "image_undecodable", str(exc)))
            return ImageOutcome(log.issues)
        if found != size:
            log.issues.append(Problem(photo, "size_mismatch_skipped",
                                      f"photo {found[0]}x{found[1]}, {where} says {width}x{height}"))
            return ImageOutcome(log.issues)
    made, unmapped = image_annotations(anns, width, height, opts.tables, opts.instances, log, where)
    if not made:
        log.add("no_garments", f"{where}: no usable annotation")
        return ImageOutcome(log.issues, unmapped=unmapped)
    out = {k: v for k, v in image.items() if k != "id"}
    out["source_image_id"] = image.get("id")
    return ImageOutcome(log.issues, out, [dumps(a)[1:] for a in made], unmapped)


def process_images(tasks: list[tuple[dict[str, Any], list[dict[str, Any]]]], opts: CocoStyleOptions
                   ) -> list[ImageOutcome]:
    """:func:`process_image` for a chunk of ``(image, annotations)``, in order."""
    return [process_image(image, anns, opts) for image, anns in tasks]


def _on_error(task: tuple[dict[str, Any], list], exc: Exception, opts: CocoStyleOptions) -> ImageOutcome:
    detail = f"image {task[0].get('id')!r}: {type(exc).__name__}: {exc}"
    return ImageOutcome([Problem(opts.file, "unexpected_error", detail)])


def group_by_image(data: dict[str, Any], log: IssueLog) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """``(image, its annotations)`` in file order; repeated ids and file names, entries without an id
    and annotations of no image are reported and left out."""
    by_id: dict[Any, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    names: set[str] = set()
    for i, image in enumerate(data["images"]):
        key = _key(image.get("id")) if isinstance(image, dict) else None
        if key is None:
            log.add("invalid_schema", f"images[{i}]: not an object with an id")
        elif key in by_id:
            log.add("duplicate_image_id", f"images[{i}]: id {key!r} seen before")
        elif image.get("file_name") in names:
            log.add("duplicate_photo", f"images[{i}]: file_name {image['file_name']!r} already used")
        else:
            by_id[key] = (image, [])
            if isinstance(image.get("file_name"), str):
                names.add(image["file_name"])
    for i, ann in enumerate(data["annotations"]):
        if not isinstance(ann, dict):
            log.add("invalid_schema", f"annotations[{i}]: not an object")
            continue
        entry = by_id.get(_key(ann.get("image_id")))
        if entry is None:
            log.add("annotation_without_image", f"annotation {ann.get('id')!r}: image_id {ann.get('image_id')!r} "
                    "is not an image of the file")
            continue
        entry[1].append(ann)
    return list(by_id.values())


def _load(path: str, log: IssueLog) -> dict[str, Any] | None:
    """The file's data, or None (reported) when it is unreadable, not JSON or not COCO-style."""
    try:
        data, _ = decode_label(read_bytes(path))
    except OSError as exc:
        log.add("unreadable_file", str(exc))
        return None
    except LabelError as exc:
        log.add(exc.reason, exc.detail)
        return None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list)
                                             for k in ("images", "annotations", "categories")):
        found = list(data)[:8] if isinstance(data, dict) else type(data).__name__
        log.add("invalid_schema", f"needs images, annotations and categories lists (found {found}; "
                "a test split without annotations cannot be converted)")
        return None
    return data


def convert_coco_style(spec: CocoStyleSpec, path: str | Path, out: str | Path | None = None,
                       images_dir: str | Path | None = None, *, classes: Classes = "part",
                       keep_unmapped: bool = False, workers: int = 1, full_decode: bool = False,
                       chunk_size: int = 64, on_progress: Callable[[int], None] | None = None
                       ) -> tuple[CocoDict | None, Report]:
    """Convert one COCO-style file of ``spec``'s dataset; streams to ``out`` (then returns (None,
    report)) or builds the dataset in memory (``out`` None: (coco, report)). With ``images_dir``
    each photo must exist there at its ``file_name`` and have the recorded size."""
    path = str(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{spec.title} annotation file not found: {path}")
    if images_dir is not None and not os.path.isdir(images_dir):
        raise FileNotFoundError(f"images folder not found: {images_dir}")
    report = Report(f"convert {spec.dataset}")
    log = IssueLog(path)
    data = _load(path, log)
    tables = source_tables(data, spec, log) if data is not None else SourceTables({}, {})
    instances, categories = InstanceOptions.build(classes, keep_unmapped, tables.unmapped)
    licences = (data or {}).get("licenses")  # the images' own licences, which image entries refer to
    header = {"info": coco_info(f"{spec.title} converted by garmentparse", classes, source=path,
                                images=None if images_dir is None else str(images_dir), licence=spec.licence),
              "licenses": licences if isinstance(licences, list) else []}
    writer = CocoStreamWriter(out, header, categories)  # out None: in memory
    counts = report.counts
    unmapped: Counter = Counter()
    try:
        tasks = group_by_image(data, log) if data is not None else []
        report.extend(log.issues)
        if data is not None:
            counts["images_in_file"] = len(data["images"])
            counts["annotations_in_file"] = len(data["annotations"])
        opts = CocoStyleOptions(path, None if images_dir is None else str(images_dir), tables, instances, full_decode)
        for done, (_, outcome) in enumerate(map_chunks(process_images, tasks, opts, workers=workers,
                                                       chunk_size=chunk_size, on_error=_on_error), 1):
            report.extend(outcome.issues)
            unmapped.update(outcome.unmapped or {})
            if outcome.image is None:
                counts["images_skipped"] += 1
            else:
                image_id = writer.n_images + 1
                writer.add_image({"id": image_id, **outcome.image})
                for frag in outcome.fragments or []:
                    writer.add_annotation_fragment(writer.n_annotations + 1, image_id, frag)
            if on_progress is not None:
                on_progress(done)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    counts["images"], counts["annotations"] = writer.n_images, writer.n_annotations
    counts.setdefault("images_skipped", 0)
    counts["unmapped_annotations"] = sum(unmapped.values())
    for name, n in sorted(unmapped.items()):
        counts[f"unmapped/{name}"] = n
    return (writer.dataset() if out is None else None), report


def convert_fashionpedia(path: str | Path, images_dir: str | Path | None = None, *, classes: Classes = "part",
                         keep_unmapped: bool = False, workers: int = 1, full_decode: bool = False
                         ) -> tuple[CocoDict, Report]:
    """A Fashionpedia ``instances_attributes_*.json`` -> (COCO dict, report), in memory (small data)."""
    coco, report = convert_coco_style(FASHIONPEDIA_SPEC, path, None, images_dir, classes=classes,
                                      keep_unmapped=keep_unmapped, workers=workers, full_decode=full_decode)
    return coco or {}, report


def convert_fashionpedia_to_file(path: str | Path, out: str | Path, images_dir: str | Path | None = None, *,
                                 classes: Classes = "part", keep_unmapped: bool = False, workers: int = 1,
                                 full_decode: bool = False, on_progress: Callable[[int], None] | None = None
                                 ) -> Report:
    """:func:`convert_fashionpedia` streamed to the COCO file ``out``; returns the report."""
    return convert_coco_style(FASHIONPEDIA_SPEC, path, out, images_dir, classes=classes, keep_unmapped=keep_unmapped,
                              workers=workers, full_decode=full_decode, on_progress=on_progress)[1]


def convert_modanet(path: str | Path, images_dir: str | Path | None = None, *, classes: Classes = "part",
                    keep_unmapped: bool = False, workers: int = 1, full_decode: bool = False
                    ) -> tuple[CocoDict, Report]:
    """A ModaNet ``modanet2018_instances_*.json`` -> (COCO dict, report), in memory (small data)."""
    coco, report = convert_coco_style(MODANET_SPEC, path, None, images_dir, classes=classes,
                                      keep_unmapped=keep_unmapped, workers=workers, full_decode=full_decode)
    return coco or {}, report


def convert_modanet_to_file(path: str | Path, out: str | Path, images_dir: str | Path | None = None, *,
                            classes: Classes = "part", keep_unmapped: bool = False, workers: int = 1,
                            full_decode: bool = False, on_progress: Callable[[int], None] | None = None) -> Report:
    """:func:`convert_modanet` streamed to the COCO file ``out``; returns the report."""
    return convert_coco_style(MODANET_SPEC, path, out, images_dir, classes=classes, keep_unmapped=keep_unmapped,
                              workers=workers, full_decode=full_decode, on_progress=on_progress)[1]
