"""``garmentparse compare``: read both outputs (and the truth), compare, write the report folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from garmentparse.comparison.compare import Comparison, compare_runs
from garmentparse.comparison.render import contact_sheet, html_report
from garmentparse.comparison.runs import read_run, read_truth
from garmentparse.report import Report

SHEET = "changed.png"
PAGE = "index.html"


def compare_outputs(a: str | Path, b: str | Path, out_dir: str | Path, *,
                    truth: str | Path | dict[str, Any] | None = None, images: str | Path | None = None,
                    iou: float = 0.5, bootstrap: int = 1000, seed: int = 0, top: int = 12
                    ) -> tuple[Comparison, Report]:
    """Compare tag outputs ``a`` and ``b`` (optionally against a reviewed COCO ``truth``) and
    write ``out_dir/index.html`` and ``out_dir/changed.png``. Photos are read from ``images``, else
    from the folder A's (then B's) run record names. Bad lines, unusable truth and unreadable
    photos are report problems; no photo in common is a
    :class:`~garmentparse.comparison.compare.CompareError`."""
    report = Report("compare")
    run_a, run_b = read_run(a, report), read_run(b, report)
    true = read_truth(truth, report) if truth is not None else None
    comparison = compare_runs(run_a, run_b, true, iou=iou, bootstrap=bootstrap, seed=seed, top=top, report=report)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sheet = contact_sheet(comparison, run_a, run_b, images or run_a.images_dir or run_b.images_dir, out / SHEET,
                          report)
    if sheet is None:
        (out / SHEET).unlink(missing_ok=True)  # no stale sheet of an earlier comparison
    (out / PAGE).write_text(html_report(comparison, report, SHEET if sheet else None), encoding="utf-8")
    return comparison, report
