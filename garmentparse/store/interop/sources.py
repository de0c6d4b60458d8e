"""Photos with their garments to export (see :mod:`.common` for the dicts): from the catalogue,
or straight from a ``tag`` output. Both stream, one photo at a time."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from garmentparse.report import Report
from garmentparse.store.ingest import parsed_lines, read_run_record, run_settings
from garmentparse.store.models import PART_HEAD, REJECTED, Accepted, Garment, Photo, TagRun

Photos = Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]
_CHUNK = 200  # photos per query


def _model(models: Any, fallback: str) -> str:
    sha = models.get("detector") if isinstance(models, dict) else None
    return f"garmentparse-{sha[:12]}" if isinstance(sha, str) and sha else f"garmentparse-{fallback}"


def catalogue(engine: Engine, *, states: Sequence[str], run_id: int | None = None) -> Photos:
    """Per photo (by id) its garments in ``states`` of one tag run: ``run_id``, else the newest run
    with such garments there. Attributes are the accepted values (rejected heads left out)."""
    where = [Garment.state.in_(list(states))] + ([Garment.run_id == run_id] if run_id is not None else [])
    with engine.connect() as conn:
        models = {rid: _model(m, f"run{rid}") for rid, m in conn.execute(sa.select(TagRun.id, TagRun.models))}
    last = 0
    while True:
        with engine.connect() as conn:
            ids = list(conn.scalars(sa.select(Garment.photo_id).distinct().where(*where, Garment.photo_id > last)
                                    .order_by(Garment.photo_id).limit(_CHUNK)))
            if not ids:
                return
            rows = conn.execute(
                sa.select(Garment.id, Garment.photo_id, Garment.run_id, Garment.part, Garment.score,
                          Garment.confidence, Garment.mask_height, Garment.mask_width, Garment.mask_counts,
                          Photo.path, Photo.width, Photo.height)
                .join(Photo, Photo.id == Garment.photo_id).where(*where, Garment.photo_id.in_(ids))
                .order_by(Garment.photo_id, Garment.run_id, Garment.id)).all()
            heads: dict[int, dict[str, tuple[str, float | None]]] = {}
            for gid, head, value, probability in conn.execute(
                    sa.select(Accepted.garment_id, Accepted.head, Accepted.value, Accepted.probability).where(
                        Accepted.garment_id.in_([r.id for r in rows]), Accepted.head != PART_HEAD,
                        Accepted.state != REJECTED, Accepted.value.is_not(None)).order_by(Accepted.id)):
                heads.setdefault(gid, {})[head] = (value, probability)
        by_photo: dict[int, list[Any]] = {}
        for r in rows:
            by_photo.setdefault(r.photo_id, []).append(r)
        for pid in ids:
            photo_rows = by_photo[pid]
            run = run_id if run_id is not None else max(r.run_id for r in photo_rows)
            first = photo_rows[0]
            photo = {"path": first.path, "width": first.width or first.mask_width,
                     "height": first.height or first.mask_height, "photo_id": pid, "run": run, "model": models.get(run)}
            yield photo, [{"key": f"g{r.id}", "id": r.id, "part": r.part, "score": r.score, "confidence": r.confidence,
                           "mask": {"size": [r.mask_height, r.mask_width], "counts": r.mask_counts},
                           "attributes": heads.get(r.id, {})} for r in photo_rows if r.run_id == run]
        last = ids[-1]


def tag_output(jsonl: str | Path, report: Report) -> Photos:
    """The photos of a ``tag`` output (checked as ``ingest`` checks it; bad lines and failed photos
    are report problems / counts). Garments are keyed by their position in the line."""
    path = Path(jsonl)
    if not path.is_file():
        raise FileNotFoundError(f"tag output not found: {path}")
    settings = run_settings(read_run_record(path, report))
    lang, model = settings.get("lang"), _model(settings.get("models"), path.stem)
    for line in parsed_lines(path, lang, report):
        if line.error is not None or line.width is None or line.height is None:
            report.counts["photos_failed"] += 1  # tag could not read it: nothing to review
            continue
        photo = {"path": line.path, "width": line.width, "height": line.height, "model": model}
        yield photo, [{"key": f"p{i}", "part": g.part, "score": g.score, "confidence": g.confidence,
                       "mask": {"size": list(g.mask_size), "counts": g.counts},
                       "attributes": {head: (label, p) for head, label, p, *_ in g.heads}}
                      for i, g in enumerate(line.garments)]
