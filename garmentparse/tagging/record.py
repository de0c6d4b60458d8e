"""The run record next to a tag output (how it was made) and what a resumed run may skip."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from garmentparse import __version__
from garmentparse.checkpoint import file_sha256  # noqa: F401 - re-exported (garmentparse.tagging.file_sha256)


class ResumeError(ValueError):
    """``resume=True`` cannot go on safely: other settings than the output was made with, or
    an output file broken in its middle."""


def run_record_path(out_jsonl: Path) -> Path:
    """The JSON file next to the output that says how it was made: ``results.jsonl.run.json``."""
    return out_jsonl.with_name(out_jsonl.name + ".run.json")


def unfinished_run(out_jsonl: Path) -> str | None:
    """What an output's record says of a run that never finished (interrupted, killed), or None:
    ``"started 2026-12-07T10:00:00+00:00, 812 lines written"``."""
    path = run_record_path(out_jsonl)
    if not out_jsonl.exists() or not path.exists():
        return None
    try:
        runs = json.loads(path.read_text(encoding="utf-8")).get("runs") or []
    except (ValueError, OSError, AttributeError):
        return None
    last = runs[-1] if runs and isinstance(runs[-1], dict) else None
    if last is None or last.get("finished"):
        return None
    with open(out_jsonl, "rb") as fh:
        lines = sum(1 for raw in fh if raw.strip())
    return f"started {last.get('started', '?')}, {lines} lines written"


def refuse_unfinished(out_jsonl: Path, resume: bool, overwrite: bool) -> None:
    """:class:`ResumeError` when a new run (neither ``resume`` nor ``overwrite``) would replace
    the output of a run that never finished."""
    partial = None if resume or overwrite else unfinished_run(out_jsonl)
    if partial is not None:
        raise ResumeError(f"{out_jsonl}: holds a run that did not finish ({partial}); add --resume to go on "
                          "from there, or --overwrite to start again")


def open_run_record(out_jsonl: Path, settings: dict[str, Any], resume: bool,
                    overwrite: bool = False) -> dict[str, Any]:
    """Read (on resume) or start the run record; refuse to mix outputs of different settings,
    and to replace the output of a run that never finished unless ``overwrite``."""
    path = run_record_path(out_jsonl)
    refuse_unfinished(out_jsonl, resume, overwrite)
    record: dict[str, Any] = {"garmentparse": __version__, "settings": settings, "model_files": {}, "runs": []}
    if resume and path.exists() and out_jsonl.exists():
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            before = record["settings"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ResumeError(f"{path}: unreadable run record ({exc}); resume into a new --out") from None
        changed = sorted(k for k in set(before) | set(settings) if before.get(k) != settings.get(k))
        if changed:
            details = "; ".join(f"{k}: {before.get(k)!r} -> {settings.get(k)!r}" for k in changed if k != "models")
            if "models" in changed:
                details = "model files differ (sha256)" + (f"; {details}" if details else "")
            raise ResumeError(
                f"--resume would mix results made with other settings into {out_jsonl} ({details}); "
                "use the same settings or a new --out")
    return record


def save_run_record(out_jsonl: Path, record: dict[str, Any]) -> None:
    path = run_record_path(out_jsonl)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=1, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def _result_line(raw: bytes) -> dict[str, Any] | None:
    """The result a complete JSONL line holds, or None (torn, not JSON, no path)."""
    if not raw.endswith(b"\n"):
        return None
    try:
        rec = json.loads(raw)
    except ValueError:
        return None
    return rec if isinstance(rec, dict) and isinstance(rec.get("path"), str) else None


def read_done(out_jsonl: Path) -> set[str]:
    """Paths already done in ``out_jsonl``, readying it for a resumed run.

    Lines whose image failed (``error`` set) are taken out so the image is tried again, and a
    torn tail (a crash mid-write: a partial or unreadable last line) is cut off. A broken line
    *followed by* good ones is not a crash artefact: :class:`ResumeError` names it.
    """
    if not out_jsonl.exists():
        return set()
    done: set[str] = set()
    drop: set[int] = set()  # line numbers to take out
    broken: list[int] = []
    with open(out_jsonl, "rb") as fh:
        for n, raw in enumerate(fh):
            rec = _result_line(raw)
            if rec is None:
                broken.append(n)
                continue
            if broken:
                raise ResumeError(f"{out_jsonl}: line {broken[0] + 1} is not a result line but later "
                                  "lines are; repair or remove it before resuming")
            if rec.get("error") is not None:
                drop.add(n)
            else:
                done.add(rec["path"])
    drop.update(broken)
    if drop:
        tmp = out_jsonl.with_name(out_jsonl.name + ".tmp")
        with open(out_jsonl, "rb") as src, open(tmp, "wb") as dst:
            dst.writelines(raw for n, raw in enumerate(src) if n not in drop)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(tmp, out_jsonl)
    return done
