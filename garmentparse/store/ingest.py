"""``garmentparse ingest``: a ``tag`` output (JSON Lines + its run record) into the store.

Streaming (one batch of lines in memory), idempotent (a photo already ingested for the run is
skipped), one transaction per batch (a failure leaves earlier batches whole and later ones
unwritten; running it again finishes the job). A bad line is a report problem named
``FILE:LINE`` with its reason; the rest still goes in.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, NamedTuple, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from garmentparse import vocab
from garmentparse.progress import ProgressCallback, report_progress
from garmentparse.report import Report
from garmentparse.store.models import PART_HEAD, PATH_MAX, PREDICTED, Accepted, Garment, Photo, Prediction, TagRun, utcnow


T = TypeVar("T")


class BadLine(ValueError):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


# One head of one garment: (head, label, probability, top_k as ((label, probability), ...), margin).
# Plain tuples of plain values: the garbage collector stops tracking them, so a batch of parsed
# lines waiting for the database does not keep it busy with full collections.
_Head = tuple[str, str | None, float, tuple[tuple[str, float], ...], float]


def margin(top_k: tuple[tuple[str, float], ...] | list) -> float:
    """Top-1 minus top-2 probability of a head's top-k (1.0 when fewer than two: unknown)."""
    if len(top_k) < 2:
        return 1.0
    first = second = 0.0
    for _, p in top_k:
        if p > first:
            first, second = p, first
        elif p > second:
            second = p
    return first - second


class _Garment(NamedTuple):
    part: str
    score: float
    box: tuple[float, float, float, float]
    mask_size: tuple[int, int]
    counts: str
    heads: tuple[_Head, ...]

    @property
    def confidence(self) -> float:
        return min([self.score, *(probability for _, _, probability, _, _ in self.heads)])

    @property
    def margin(self) -> float:
        """The lowest head margin (1.0 without heads)."""
        return min([1.0, *(m for *_, m in self.heads)])


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


INGEST_COUNTS = ("lines", "photos_new", "photos_already_in", "garments", "predictions", "bad_lines")


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
    report.counts.update(dict.fromkeys(INGEST_COUNTS, 0))  # every row of the summary, zeros included
    # absolute: the app serves photos from this root whatever its own working folder
    root = Path(images_root).resolve() if images_root is not None else None
    run_id, lang = _ensure_run(engine, path, root, report)
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

    def write(conn: Connection, counts: Counter, problems: Report) -> int:
        run_id = conn.scalar(sa.select(TagRun.id).where(TagRun.key == key))
        if run_id is None:
            run_id = conn.execute(sa.insert(TagRun).values(
                key=key, models=models, settings=settings, record=record, source=str(path.resolve()),
                images_root=root, created_at=utcnow())).inserted_primary_key[0]
            counts["runs_new"] += 1
        else:  # a resumed tag run has more lines and runs now
            conn.execute(sa.update(TagRun).where(TagRun.id == run_id).values(record=record, source=str(path.resolve())))
        return run_id

    return _retrying(engine, write, report), settings.get("lang")


def _retrying(engine: Engine, write: Callable[[Connection, Counter, Report], T], report: Report,
              attempts: int = 4) -> T:
    """``write(conn, counts, problems)`` in one transaction; its counts and problems reach
    ``report`` only once it commits. A unique-key conflict with another ingest of the same rows
    at the same moment (PostgreSQL, MariaDB) rolls back and tries again: the rows the other
    process committed are then found, not inserted twice."""
    for attempt in range(attempts):
        counts: Counter = Counter()
        problems = Report(report.command)
        try:
            with engine.begin() as conn:
                result = write(conn, counts, problems)
        except sa.exc.IntegrityError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
            continue
        report.counts.update(counts)
        report.extend(problems.problems)
        return result
    raise AssertionError("unreachable")


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
        top_k.append((_label(head, t.get("label"), f"{where}.top_k[{i}].label", lang),
                      _number(t.get("probability"), f"{where}.top_k[{i}].probability", 0, 1)))
    if label is not None and len(label) > 256:
        raise BadLine("schema", f"{where}: label longer than 256 characters")
    return head, label, prob, tuple(top_k), margin(top_k)


def _garment(g: Any, where: str, size: tuple[int | None, int | None], lang: str | None) -> _Garment:
    if not isinstance(g, dict):
        raise BadLine("schema", f"{where}: expected an object")
    missing = [k for k in ("part", "score", "box", "mask", "attributes") if k not in g]
    if missing:
        raise BadLine("schema", f"{where}: missing {', '.join(missing)}")
    part = _PART_IDS.get(g["part"]) if isinstance(g["part"], str) else None
    if part is None:
        raise BadLine("unknown_part", f"{where}.part: {g['part']!r:.40} is not one of {', '.join(vocab.PARTS)}")
    score = _number(g["score"], f"{where}.score", 0, 1)
    box = g["box"]
    if not isinstance(box, list) or len(box) != 4:
        raise BadLine("schema", f"{where}.box: expected [x0, y0, x1, y1]")
    box = tuple(_number(v, f"{where}.box[{i}]") for i, v in enumerate(box))
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
    return _Garment(part, score, box, (h, w), mask["counts"], tuple(heads))


def read_run_record(jsonl: Path, report: Report) -> dict[str, Any]:
    """The run record next to a ``tag`` output, or ``{}`` when there is none or it is unreadable
    (a report problem ``bad_run_record``: labels are then read as English ids)."""
    path = run_record_path(jsonl)
    if not path.is_file():
        return {}
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        report.add(path, "bad_run_record", f"{exc}; labels read as English ids", action="ignored")
        return {}
    return record if isinstance(record, dict) else {}


def run_settings(record: dict[str, Any]) -> dict[str, Any]:
    settings = record.get("settings")
    return settings if isinstance(settings, dict) else {}


def parsed_lines(path: Path, lang: str | None, report: Report, bad_key: str = "bad_lines") -> Iterator[_Line]:
    """The well-formed lines of a ``tag`` output, streamed; a bad one is a report problem
    ``FILE:LINE`` with its reason, counted under ``bad_key``."""
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                yield parse_line(raw, number, lang)
            except BadLine as exc:
                report.add(f"{path}:{number}", exc.reason, exc.detail)
                report.counts[bad_key] += 1


def parse_line(raw: bytes | str, number: int, lang: str | None = None) -> _Line:
    """One JSONL line checked against the tag-result schema; labels mapped to English ids."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadLine("not_json", str(exc)) from None
    if ("\\u0000" in raw if isinstance(raw, str) else b"\\u0000" in raw):  # cheap test first, then where
        where = _nul_at(obj, "")
        if where is not None:  # PostgreSQL stores no NUL, and no path, label or mask needs one
            raise BadLine("schema", f"{where or 'a key'}: a NUL character (\\u0000)")
    return _well_formed_line(obj, number) or _checked_line(obj, number, lang)


def _nul_at(value: Any, where: str) -> str | None:
    """Where in a parsed JSON value the first string (or key) with a NUL character is; None: nowhere."""
    if isinstance(value, str):
        return where if "\0" in value else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(key, str) and "\0" in key:
            return where
        found = _nul_at(item, f"{where}[{key}]" if isinstance(key, int) else f"{where}.{key}" if where else key)
        if found is not None:
            return found
    return None


def _checked_line(obj: Any, number: int, lang: str | None) -> _Line:
    """The full check of a parsed line, one call per value: it names the first problem."""
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


# The fast path: a well-formed line checked with few Python calls per value. It accepts only what
# the full check accepts, with the same result (tests/store/test_ingest.py mutates every value of
# real lines to hold it to that); on anything else it returns None and the full check decides.

_LINE_KEYS = frozenset(("path", "width", "height", "garments", "error"))
_GARMENT_KEYS = frozenset(("part", "score", "box", "mask", "attributes"))
_PART_IDS = {**vocab.PART_BY_KOREAN, **{p: p for p in vocab.PARTS}}
# Per head: every spelling the full check accepts (English ids, Korean names with and without
# their spaces) -> the id it maps it to. Heads without a vocabulary take the full check.
_LABEL_IDS = {head: {s: _label(head, s, head, None)
                     for s in (*attr.values_ko.values(), *("".join(ko.split()) for ko in attr.values_ko.values()),
                               *attr.values_ko)}
              for head, attr in vocab.ATTRIBUTES.items()}
_INF = math.inf


def _well_formed_line(obj: Any, number: int) -> _Line | None:
    if type(obj) is not dict or not obj.keys() >= _LINE_KEYS:
        return None
    path, width, height, error, garments = obj["path"], obj["width"], obj["height"], obj["error"], obj["garments"]
    if not (type(path) is str and 0 < len(path) <= PATH_MAX and (error is None or type(error) is str)
            and type(garments) is list and (width is None or type(width) is int and width > 0)
            and (height is None or type(height) is int and height > 0)):
        return None
    parsed = []
    for g in garments:  # the mask size check also needs a width and height
        garment = _well_formed_garment(g, width, height)
        if garment is None:
            return None
        parsed.append(garment)
    return _Line(number, path, width, height, error, parsed)


def _well_formed_garment(g: Any, width: int | None, height: int | None) -> _Garment | None:
    if type(g) is not dict or not g.keys() >= _GARMENT_KEYS:
        return None
    part, score, box, mask, attrs = g["part"], g["score"], g["box"], g["mask"], g["attributes"]
    part = _PART_IDS.get(part) if type(part) is str else None
    if (part is None or not ((type(score) is float or type(score) is int) and 0 <= score <= 1)
            or type(box) is not list or len(box) != 4 or type(mask) is not dict or type(attrs) is not dict):
        return None
    for v in box:
        if not (type(v) is int or type(v) is float and -_INF < v < _INF):
            return None
    counts, size = mask.get("counts"), mask.get("size")
    if type(counts) is not str or size != [height, width] or type(size[0]) is not int or type(size[1]) is not int:
        return None
    heads = []
    for head, attr in attrs.items():
        parsed = _well_formed_head(head, attr)
        if parsed is None:
            return None
        heads.append(parsed)
    return _Garment(part, float(score), tuple(map(float, box)), (size[0], size[1]), counts, tuple(heads))


def _well_formed_head(head: str, attr: Any) -> _Head | None:
    ids = _LABEL_IDS.get(head)  # None also for a bad head name
    if ids is None or type(attr) is not dict or "label" not in attr:
        return None
    prob, label, labels, top = attr.get("probability"), attr["label"], attr.get("labels"), attr.get("top_k", [])
    if not ((type(prob) is float or type(prob) is int) and 0 <= prob <= 1) or type(top) is not list:
        return None
    if label is not None and (label := _label_id(ids, label)) is None:
        return None
    if labels is not None:  # multi-label head: every value above its threshold
        found = [_label_id(ids, v) for v in labels] if type(labels) is list else [None]
        if None in found:
            return None
        label = "|".join(found) or None  # type: ignore[arg-type]
    top_k = []
    for t in top:
        if type(t) is not dict:
            return None
        q, v = t.get("probability"), _label_id(ids, t.get("label"))
        if v is None or not ((type(q) is float or type(q) is int) and 0 <= q <= 1):
            return None
        top_k.append((v, float(q)))
    if label is not None and len(label) > 256:
        return None
    return head, label, float(prob), tuple(top_k), margin(top_k)


def _label_id(ids: dict[str, str], value: Any) -> str | None:
    return ids.get(value) if type(value) is str else None


# ---------------------------------------------------------------------------- writing one batch


def outside_root(rel: str, root: Path | None) -> str | None:
    """Why a photo path of a tag output is not a photo under the image root (None: it is): an
    absolute path, a ``..`` step, or (with a root) a link that leads out of it."""
    pure = PurePosixPath(rel.replace("\\", "/"))
    if pure.is_absolute() or PureWindowsPath(rel).drive:
        return "an absolute path"
    if ".." in pure.parts:
        return "a '..' step out of the image folder"
    if root is not None:
        target = (root / rel).resolve()
        if target != root and root not in target.parents:
            return f"a link to {target}, outside {root}"
    return None


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
        why = outside_root(line.path, root)
        if why is not None:
            report.add(f"{source}:{line.number}", "photo_outside_root", f"{line.path}: {why}; not read, not ingested")
            report.counts["bad_lines"] += 1
        elif line.path in unique:
            report.add(f"{source}:{line.number}", "duplicate_path",
                       f"{line.path} already at line {unique[line.path].number} of this batch")
            report.counts["bad_lines"] += 1
        else:
            unique[line.path] = line
    if unique:
        _retrying(engine, lambda conn, counts, problems: _write_lines(conn, run_id, unique, root, source, counts,
                                                                       problems), report)


def _write_lines(conn: Connection, run_id: int, unique: dict[str, _Line], root: Path | None, source: Path,
                 counts: Counter, report: Report) -> None:
    """One batch's photos, garments and predictions (lines by path) in the open transaction."""
    ids = _photo_ids(conn, list(unique))
    new = [p for p in unique if p not in ids]
    added = set(new)
    if new:
        now = utcnow()
        rows = []
        for p in new:
            sha256, size = _file_facts(root, p, report, f"{source}:{unique[p].number}")
            rows.append((p, sha256, size, unique[p].width, unique[p].height, unique[p].error))
        _insert(conn, Photo.__table__, _PHOTO_COLUMNS, rows, created_at=now)
        ids.update(_photo_ids(conn, new))
        counts["photos_new"] += len(new)
    done = set(conn.scalars(sa.select(Garment.photo_id).distinct().where(
        Garment.run_id == run_id, Garment.photo_id.in_(list(ids.values())))))
    counts["photos_already_in"] += len(done)
    fresh = [line for line in unique.values() if ids[line.path] not in done]  # not stored for this run yet
    # the latest run's word on the size and error of a photo ingested before (by another run)
    earlier = [{"photo": ids[line.path], "width": line.width, "height": line.height, "error": line.error}
               for line in fresh if line.path not in added]
    if earlier:
        conn.execute(sa.update(Photo).where(Photo.id == sa.bindparam("photo")), earlier)
    todo = [line for line in fresh if line.garments]
    if not todo:
        return
    _insert(conn, Garment.__table__, _GARMENT_COLUMNS, [
        (ids[line.path], i, g.part, g.score, *g.box, *g.mask_size, g.counts, g.confidence, g.margin)
        for line in todo for i, g in enumerate(line.garments)], run_id=run_id, state=PREDICTED, version=1,
        updated_at=utcnow())
    gids = {(pid, pos): gid for gid, pid, pos in conn.execute(
        sa.select(Garment.id, Garment.photo_id, Garment.position).where(
            Garment.run_id == run_id, Garment.photo_id.in_([ids[line.path] for line in todo])))}
    predictions, accepted = [], []
    for line in todo:
        pid = ids[line.path]
        for i, g in enumerate(line.garments):
            gid = gids[(pid, i)]
            accepted.append((gid, PART_HEAD, g.part, g.score, 1.0))  # the detector gives no top-k
            for head, label, probability, top_k, m in g.heads:
                predictions.append((gid, head, label, probability, top_k))
                accepted.append((gid, head, label, probability, m))
    _insert(conn, Prediction.__table__, _PREDICTION_COLUMNS, predictions, run_id=run_id)
    _insert(conn, Accepted.__table__, _ACCEPTED_COLUMNS, accepted, state=PREDICTED)
    counts["garments"] += len(gids)
    counts["predictions"] += len(predictions)


_PHOTO_COLUMNS = ("path", "sha256", "size", "width", "height", "error")
_GARMENT_COLUMNS = ("photo_id", "position", "part", "score", "x0", "y0", "x1", "y1", "mask_height", "mask_width",
                    "mask_counts", "confidence", "margin")
_PREDICTION_COLUMNS = ("garment_id", "head", "label", "probability", "top_k")
_ACCEPTED_COLUMNS = ("garment_id", "head", "value", "probability", "margin")


def _insert(conn: Connection, table: sa.Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]],
            **same: Any) -> None:
    """``rows`` (values in ``columns`` order; ``same``: columns with one value for every row) into
    ``table`` in one driver ``executemany``.

    The statement and each column's value conversion (JSON, UTC times) are SQLAlchemy's for this
    database; skipped is its per-row parameter building (a quarter of the ingest's time)."""
    if not rows:
        return
    dialect = conn.dialect
    values: dict[str, Any] = {}  # column -> its values (not zip(*rows): an iterator per row for the GC to scan)
    for i, name in enumerate(columns):
        convert = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        values[name] = [row[i] for row in rows] if convert is None else [convert(row[i]) for row in rows]
    for column in table.c:  # scalar Python defaults the caller left out (inline() binds them too)
        if column.name not in values and column.name not in same and column.default is not None \
                and column.default.is_scalar:
            same[column.name] = column.default.arg
    for name, value in same.items():
        convert = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        values[name] = itertools.repeat(value if convert is None else convert(value))
    compiled = table.insert().inline().compile(dialect=dialect, column_keys=list(values))
    if compiled.positiontup is not None:  # ?, %s: values in the statement's order
        params: list[Any] = list(zip(*(values[name] for name in compiled.positiontup)))
    else:  # :name, %(name)s
        params = [dict(zip(values, row)) for row in zip(*values.values())]
    conn.exec_driver_sql(str(compiled), params)


def _photo_ids(conn: Connection, paths: list[str]) -> dict[str, int]:
    if not paths:
        return {}
    return dict(conn.execute(sa.select(Photo.path, Photo.id).where(Photo.path.in_(paths))).all())
