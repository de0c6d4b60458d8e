"""``export --format labelstudio|cvat``: the files a Label Studio project or a CVAT task is made from.

``labelstudio``: ``DIR/tasks.json`` (written as it streams) and ``DIR/labeling_config.xml``.
``cvat``: ``DIR/annotations/instances_default.json`` (COCO 1.0) and ``DIR/cvat_labels.json``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.engine import Engine

from garmentparse.progress import ProgressCallback, report_progress
from garmentparse.report import Report
from garmentparse.store.export import _atomic_write, _check_states
from garmentparse.store.interop import cvat, labelstudio, sources
from garmentparse.store.interop.common import head_values, is_multi
from garmentparse.store.models import CONFIRMED, CORRECTED, PREDICTED

FORMATS = ("labelstudio", "cvat")
STATES = (PREDICTED, CONFIRMED, CORRECTED)  # everything not rejected: it goes out to be reviewed
FILES = {"labelstudio": ("tasks.json", "labeling_config.xml"),
         "cvat": ("annotations/instances_default.json", "cvat_labels.json")}


def export_catalogue(engine: Engine, out_dir: str | Path, fmt: str, *, states: Sequence[str] = STATES,
                     run_id: int | None = None, **options: Any) -> Report:
    """Garments of the catalogue in ``states`` (one run per photo; see :func:`sources.catalogue`)."""
    states = _check_states(states)
    return write(sources.catalogue(engine, states=states, run_id=run_id), out_dir, fmt, Report(f"export {fmt}"),
                 **options)


def export_tags(jsonl: str | Path, out_dir: str | Path, fmt: str, **options: Any) -> Report:
    """Garments of a ``tag`` output, no catalogue needed (bad lines are report problems)."""
    report = Report(f"export {fmt}")
    return write(sources.tag_output(jsonl, report), out_dir, fmt, report, **options)


def write(photos: sources.Photos, out_dir: str | Path, fmt: str, report: Report, *,
          prefix: str = labelstudio.DEFAULT_PREFIX, shapes: Sequence[str] = labelstudio.SHAPES,
          segmentation: str = "polygon", on_progress: ProgressCallback | None = None) -> Report:
    """Write ``fmt``'s files for ``photos`` into ``out_dir``; counts ``tasks`` / ``images`` and ``garments``."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: use {', '.join(FORMATS)}")
    shapes = tuple(shapes)
    if not shapes or set(shapes) - set(labelstudio.SHAPES):
        raise ValueError(f"shapes {', '.join(shapes) or '(none)'}: use brush, polygon or both")
    if fmt == "cvat" and segmentation not in cvat.SEGMENTATIONS:
        raise ValueError(f"unknown segmentation {segmentation!r}: use {', '.join(cvat.SEGMENTATIONS)}")
    out = Path(out_dir)
    heads: dict[str, set[str]] = {}

    def seen(photos: sources.Photos) -> sources.Photos:
        for photo, garments in photos:
            for g in garments:
                for head, (value, _) in g["attributes"].items():
                    values = heads.setdefault(head, set())
                    if value:
                        values.update(value.split("|") if is_multi(head) else [value])
            report.counts["garments"] += len(garments)
            report.counts["tasks" if fmt == "labelstudio" else "images"] += 1
            report_progress(on_progress, report.counts["garments"])
            yield photo, garments

    tasks_file, spec_file = FILES[fmt]
    if fmt == "labelstudio":
        def write_tasks(fh: Any) -> None:
            fh.write("[")
            for n, (photo, garments) in enumerate(seen(photos)):
                fh.write(("," if n else "") + "\n" + orjson.dumps(
                    labelstudio.task(photo, garments, prefix=prefix, shapes=shapes)).decode())
            fh.write("\n]\n")

        _atomic_write(out / tasks_file, write_tasks)
        config = labelstudio.labeling_config(head_values(heads), shapes)
        _atomic_write(out / spec_file, lambda fh: fh.write(config))
    else:
        data = cvat.coco(list(seen(photos)), segmentation=segmentation)
        _atomic_write(out / tasks_file, lambda fh: json.dump(data, fh, ensure_ascii=False))
        spec = cvat.labels(head_values(heads))
        _atomic_write(out / spec_file, lambda fh: json.dump(spec, fh, ensure_ascii=False, indent=1))
    return report
