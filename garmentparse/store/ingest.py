"""``garmentparse ingest``: a ``tag`` output (JSON Lines + its run record) into the store.

Streaming (one batch of lines in memory), idempotent (a photo already ingested for the run is
skipped), one transaction per batch (a failure leaves earlier batches whole and later ones
unwritten; running it again finishes the job). A bad line is a report problem named
``FILE:LINE`` with its reason; the rest still goes in.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from garmentparse import vocab
from garmentparse.progress import ProgressCallback, report_progress
from garmentparse.report import Report
from garmentparse.store.models import PART_HEAD, PATH_MAX, PREDICTED, Accepted, Garment, Photo, Prediction, TagRun, utcnow


class BadLine(ValueError):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


@dataclass
class _Head:
    head: str
    label: str | None
    probability: float
    top_k: list[list[Any]]


@dataclass
class _Garment:
    part: str
    score: float
    box: list[float]
    mask_size: tuple[int, int]
    counts: str
    heads: list[_Head]

    @property
    def confidence(self) -> float:
        return min([self.score, *(h.probability for h in self.heads)])


@dataclass
class _Line:
    number: int
    path: str
    width: int | None
    height: int | None
    error: str | None
    garments: list[_Garment] = field(default_factory=list)


def run_record_path(jsonl: Path) -> Path:
    """``results.jsonl.run.json``, written by ``tag`` next to its output."""
    return jsonl.with_name(jsonl.name + ".run.json")


def run_key(models: dict[str, Any], settings: dict[str, Any]) -> str:
    """A tag run's identity: sha256 of its models' sha256 and its settings."""
    return hashlib.sha256(json.dumps({"models": models, "settings": settings}, sort_keys=True,
                                     ensure_ascii=False).encode()).hexdigest()


def ingest_jsonl(engine: Engine, jsonl: str | Path, images_root: str | Path | None = None, *,
                 batch_size: int = 500, on_progress: ProgressCallback | None = None) -> Report:
    """Ingest ``jsonl`` into the store at ``engine`` (a writer engine; see :func:`db.writer`).

    ``images_root`` (the folder ``tag`` read) lets photos get their file's sha256 and size.
    Counts: ``lines``, ``photos_new``, ``photos_already_in`` (same run ingested before),
    ``garments``, ``predictions``, ``bad_lines``. ``batch_size`` is in garments."""
    path = Path(jsonl)
    if not path.is_file():
        raise FileNotFoundError(f"tag output not found: {path}")
    report = Report("ingest")
    run_id, lang = _ensure_run(engine, path, images_root, report)
    root = Path(images_root) if images_root is not None else None
    batch: list[_Line] = []
    pending = 0
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            report.counts["lines"] += 1
            try:
                line = parse_line(raw, number, lang)
            except BadLine as exc:
                report.add(f"{path}:{number}", exc.reason, exc.detail)
                report.counts["bad_lines"] += 1
                continue
            batch.append(line)
            pending += max(1, len(line.garments))
            if pending >= batch_size:
                _write_batch(engine, run_id, batch, root, path, report)
                report_progress(on_progress, report.counts["lines"])
                batch, pending = [], 0
    if batch:
        _write_batch(engine, run_id, batch, root, path, report)
    report_progress(on_progress, report.counts["lines"])
    return report


def _ensure_run(engine: Engine, path: Path, images_root: str | Path | None, report: Report) -> tuple[int, str | None]:
    """The run's id (created on first ingest) and the language its labels are written in."""
    record_path = run_record_path(path)
    record: dict[str, Any] = {}
    if record_path.is_file():
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
            if not isinstance(record, dict) or not isinstance(record.get("settings", {}), dict):
                raise ValueError("not a run record (no settings object)")
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"{record_path}: unreadable run record ({exc})") from None
    else:
        report.add(record_path, "run_record_missing", "run identified by the output's absolute path",
                   action="ingested")
    settings = record.get("settings") or {"output": str(path.resolve())}
    models = settings.get("models") or {}
    key = run_key(models, settings)
    runs = record.get("runs") or []
    root = str(images_root) if images_root is not None else (runs[-1].get("images_dir") if runs else None)
    with engine.begin() as conn:
        run_id = conn.scalar(sa.select(TagRun.id).where(TagRun.key == key))
        if run_id is None:
            run_id = conn.execute(sa.insert(TagRun).values(
                key=key, models=models, settings=settings, record=record, source=str(path.resolve()),
                images_root=root, created_at=utcnow())).inserted_primary_key[0]
            report.counts["runs_new"] += 1
        else:  # a resumed tag run has more lines and runs now
            conn.execute(sa.update(TagRun).where(TagRun.id == run_id).values(record=record, source=str(path.resolve())))
    return run_id, settings.get("lang")


# ---------------------------------------------------------------------------- parsing one line


def _number(value: Any, where: str, lo: float | None = None, hi: float | None = None) -> float:
    if type(value) is not float and (isinstance(value, bool) or not isinstance(value, int)) or not math.isfinite(value):
        raise BadLine("schema", f"{where}: expected a number, got {value!r:.40}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise BadLine("schema", f"{where}: {value} outside [{lo}, {hi}]")
    return float(value)


def _size(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadLine("schema", f"{where}: expected a positive integer or null, got {value!r:.40}")
    return value


def _label(head: str, value: Any, where: str, lang: str | None) -> str:
    if not isinstance(value, str) or not value:
        raise BadLine("schema", f"{where}: expected a label string, got {value!r:.40}")
    attr = vocab.ATTRIBUTES.get(head)
    if attr is None or value in attr.values_ko:
        return value  # an English id, or a head of its own: labels as written
    found = vocab.lookup(head, value)
    if found is None:
        raise BadLine("unknown_label", f"{where}: {value!r} is not a {head} label"
                      + (f" (run language {lang})" if lang else ""))
    return found


def _head(head: str, attr: Any, where: str, lang: str | None) -> _Head:
    if not isinstance(attr, dict) or "probability" not in attr or "label" not in attr:
        raise BadLine("schema", f"{where}: expected {{label, probability, top_k}}")
    prob = _number(attr["probability"], f"{where}.probability", 0, 1)
    label = None if attr["label"] is None else _label(head, attr["label"], f"{where}.label", lang)
    if attr.get("labels") is not None:  # multi-label head: every value above its threshold
        labels = attr["labels"]
        if not isinstance(labels, list):
            raise BadLine("schema", f"{where}.labels: expected a list")
        label = "|".join(_label(head, v, f"{where}.labels[{i}]", lang) for i, v in enumerate(labels)) or None
    top = attr.get("top_k", [])
    if not isinstance(top, list):
        raise BadLine("schema", f"{where}.top_k: expected a list")
    top_k = []
    for i, t in enumerate(top):
        if not isinstance(t, dict):
            raise BadLine("schema", f"{where}.top_k[{i}]: expected {{label, probability}}")
        top_k.append([_label(head, t.get("label"), f"{where}.top_k[{i}].label", lang),
                      _number(t.get("probability"), f"{where}.top_k[{i}].probability", 0, 1)])
    if label is not None and len(label) > 256:
        raise BadLine("schema", f"{where}: label longer than 256 characters")
    return _Head(head, label, prob, top_k)


def _garment(g: Any, where: str, size: tuple[int | None, int | None], lang: str | None) -> _Garment:
    if not isinstance(g, dict):
        raise BadLine("schema", f"{where}: expected an object")
    missing = [k for k in ("part", "score", "box", "mask", "attributes") if k not in g]
    if missing:
        raise BadLine("schema", f"{where}: missing {', '.join(missing)}")
    part = g["part"] if g["part"] in vocab.PARTS else vocab.PART_BY_KOREAN.get(g["part"])
    if part is None:
        raise BadLine("unknown_part", f"{where}.part: {g['part']!r:.40} is not one of {', '.join(vocab.PARTS)}")
    score = _number(g["score"], f"{where}.score", 0, 1)
    box = g["box"]
    if not isinstance(box, list) or len(box) != 4:
        raise BadLine("schema", f"{where}.box: expected [x0, y0, x1, y1]")
    box = [_number(v, f"{where}.box[{i}]") for i, v in enumerate(box)]
    mask = g["mask"]
    if (not isinstance(mask, dict) or not isinstance(mask.get("counts"), str)
            or not isinstance(mask.get("size"), list) or len(mask["size"]) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in mask["size"])):
        raise BadLine("schema", f"{where}.mask: expected a COCO RLE {{size: [h, w], counts: str}}")
    h, w = mask["size"]
    if size != (None, None) and (h, w) != (size[1], size[0]):
        raise BadLine("mask_size", f"{where}.mask: size {h}x{w} (h x w) but the photo is {size[1]}x{size[0]}")
    attrs = g["attributes"]
    if not isinstance(attrs, dict):
        raise BadLine("schema", f"{where}.attributes: expected an object")
    heads = []
    for head, attr in attrs.items():
        if not isinstance(head, str) or not 0 < len(head) <= 32 or head == PART_HEAD:
            raise BadLine("schema", f"{where}.attributes: bad head name {head!r:.40}")
        heads.append(_head(head, attr, f"{where}.attributes.{head}", lang))
    return _Garment(part, score, box, (h, w), mask["counts"], heads)


def parse_line(raw: bytes | str, number: int, lang: str | None = None) -> _Line:
    """One JSONL line checked against the tag-result schema; labels mapped to English ids."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadLine("not_json", str(exc)) from None
    if not isinstance(obj, dict):
        raise BadLine("schema", f"expected a JSON object, got {type(obj).__name__}")
    missing = [k for k in ("path", "width", "height", "garments", "error") if k not in obj]
    if missing:
        raise BadLine("schema", f"missing {', '.join(missing)}")
    path = obj["path"]
    if not isinstance(path, str) or not path:
        raise BadLine("schema", "path: expected a non-empty string")
    if len(path) > PATH_MAX:
        raise BadLine("path_too_long", f"path longer than {PATH_MAX} characters")
    width, height = _size(obj["width"], "width"), _size(obj["height"], "height")
    error = obj["error"]
    if error is not None and not isinstance(error, str):
        raise BadLine("schema", "error: expected a string or null")
    garments = obj["garments"]
    if not isinstance(garments, list):
        raise BadLine("schema", "garments: expected a list")
    if width is None and garments:
        raise BadLine("schema", "garments on a photo without a size")
    return _Line(number, path, width, height, error,
                 [_garment(g, f"garments[{i}]", (width, height), lang) for i, g in enumerate(garments)])


# ---------------------------------------------------------------------------- writing one batch


def _file_facts(root: Path | None, rel: str, report: Report, where: str) -> tuple[str | None, int | None]:
    if root is None:
        return None, None
    file = root / rel
    try:
        digest = hashlib.sha256()
        with open(file, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest(), file.stat().st_size
    except OSError as exc:
        report.add(where, "photo_unreadable", f"{file}: {exc.strerror or exc}", action="ingested without sha256")
        return None, None


def _write_batch(engine: Engine, run_id: int, lines: list[_Line], root: Path | None, source: Path,
                 report: Report) -> None:
    unique: dict[str, _Line] = {}
    for line in lines:
        if line.path in unique:
            report.add(f"{source}:{line.number}", "duplicate_path",
                       f"{line.path} already at line {unique[line.path].number} of this batch")
            report.counts["bad_lines"] += 1
        else:
            unique[line.path] = line
    facts = {}
    with engine.begin() as conn:
        ids = _photo_ids(conn, list(unique))
        new = [p for p in unique if p not in ids]
        if new:
            now = utcnow()
            for p in new:
                facts[p] = _file_facts(root, p, report, f"{source}:{unique[p].number}")
            conn.execute(Photo.__table__.insert(), [
                {"path": p, "sha256": facts[p][0], "size": facts[p][1], "width": unique[p].width,
                 "height": unique[p].height, "error": unique[p].error, "created_at": now} for p in new])
            ids.update(_photo_ids(conn, new))
            report.counts["photos_new"] += len(new)
        done = set(conn.scalars(sa.select(Garment.photo_id).distinct().where(
            Garment.run_id == run_id, Garment.photo_id.in_(list(ids.values())))))
        todo = [line for line in unique.values() if ids[line.path] not in done and line.garments]
        report.counts["photos_already_in"] += sum(1 for line in unique.values() if ids[line.path] in done)
        for line in unique.values():  # the latest run's word on a photo's size and error
            if line.path not in new and ids[line.path] not in done:
                conn.execute(sa.update(Photo).where(Photo.id == ids[line.path]).values(
                    width=line.width, height=line.height, error=line.error))
        if not todo:
            return
        now = utcnow()
        conn.execute(Garment.__table__.insert(), [
            {"photo_id": ids[line.path], "run_id": run_id, "position": i, "part": g.part, "score": g.score,
             "x0": g.box[0], "y0": g.box[1], "x1": g.box[2], "y1": g.box[3], "mask_height": g.mask_size[0],
             "mask_width": g.mask_size[1], "mask_counts": g.counts, "confidence": g.confidence,
             "state": PREDICTED, "version": 1, "updated_at": now}
            for line in todo for i, g in enumerate(line.garments)])
        gids = {(pid, pos): gid for gid, pid, pos in conn.execute(
            sa.select(Garment.id, Garment.photo_id, Garment.position).where(
                Garment.run_id == run_id, Garment.photo_id.in_([ids[line.path] for line in todo])))}
        predictions, accepted = [], []
        for line in todo:
            for i, g in enumerate(line.garments):
                gid = gids[(ids[line.path], i)]
                accepted.append({"garment_id": gid, "head": PART_HEAD, "value": g.part, "probability": g.score,
                                 "state": PREDICTED})
                for h in g.heads:
                    predictions.append({"garment_id": gid, "run_id": run_id, "head": h.head, "label": h.label,
                                        "probability": h.probability, "top_k": h.top_k})
                    accepted.append({"garment_id": gid, "head": h.head, "value": h.label,
                                     "probability": h.probability, "state": PREDICTED})
        if predictions:
            conn.execute(Prediction.__table__.insert(), predictions)
        conn.execute(Accepted.__table__.insert(), accepted)
        report.counts["garments"] += len(gids)
        report.counts["predictions"] += len(predictions)


def _photo_ids(conn: Connection, paths: list[str]) -> dict[str, int]:
    if not paths:
        return {}
    return dict(conn.execute(sa.select(Photo.path, Photo.id).where(Photo.path.in_(paths))).all())
