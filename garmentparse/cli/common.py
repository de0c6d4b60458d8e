"""Shared CLI pieces: the stderr console, progress bars, report/stat tables, JSON on stdout.

The library reports through plain callbacks (:mod:`garmentparse.progress`) and :mod:`logging`;
this module is where they become Rich output. Only ``garmentparse.cli`` imports Rich.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from rich.table import Table

from garmentparse.progress import ProgressCallback
from garmentparse.report import Report

# Progress and logs go to stderr; machine-readable results (--json) go to stdout.
console = Console(stderr=True)


def duplicate_iou_option() -> Any:
    """``--duplicate-iou FLOAT``, shared by ``tag``, ``predict`` and ``eval detector``."""
    return typer.Option(None, "--duplicate-iou", min=0.0, max=1.0, metavar="FLOAT", help=(
        "Drop a detection whose mask IoU with a higher-scoring one of any part exceeds this "
        "(0 = off; default: the detector config's test.duplicate_iou)."))


def main_process() -> bool:
    """This process prints (rank 0 of a torchrun / ``--nproc`` run, or the only process)."""
    return _rank() == "0"


def _rank() -> str:
    """``RANK`` as a launcher of several processes set it ("0" otherwise)."""
    return os.environ.get("RANK", "0") if int(os.environ.get("WORLD_SIZE", "1")) > 1 else "0"


def nproc_option() -> Any:
    """``--nproc N`` (alias ``--gpus N``) of the train commands."""
    return typer.Option(1, "--nproc", "--gpus", min=1, metavar="N", help=(
        "Train with N processes on this machine, one per GPU on CUDA (else CPU processes on gloo), as "
        "`torchrun --standalone --nproc-per-node N` would; the batch size stays the global batch of one step. "
        "Several machines: torchrun (docs/distributed.md)."))


def master_port_option() -> Any:
    return typer.Option(0, "--master-port", min=0, max=65535, metavar="PORT",
                        help="Rendezvous port of --nproc (default 0: a free one).")


def launch_or_run(nproc: int, port: int, worker: Any, *args: Any) -> Any:
    """``worker(*args)`` here, or in ``nproc`` processes (rank 0's result) with ``--nproc``."""
    if nproc <= 1:
        return worker(*args)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ValueError(f"--nproc {nproc}: this is already one of {os.environ['WORLD_SIZE']} processes "
                         "(torchrun); leave --nproc out")
    from garmentparse.engine.distributed import launch_local

    return launch_local(nproc, worker, *args, port=port)


def setup_logging(level: int = logging.INFO) -> None:
    """Library log lines (logger ``garmentparse``) to stderr through Rich, once. In a run of several
    processes rank 0 logs as one process does; the others log warnings only, marked with their rank."""
    logger = logging.getLogger("garmentparse")
    rank = _rank()
    if not any(isinstance(h, RichHandler) for h in logger.handlers):
        handler = RichHandler(console=console, show_time=False, show_path=False, markup=False)
        handler.setFormatter(logging.Formatter("%(message)s" if rank == "0" else f"[rank {rank}] %(message)s"))
        logger.addHandler(handler)
    if rank != "0":
        level = max(level, logging.WARNING)
    logger.setLevel(level)
    logger.propagate = False


def progress(transient: bool = False) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=transient)


@contextlib.contextmanager
def progress_bar(label: str, total: int | None = None, *, enabled: bool = True,
                 transient: bool = True) -> Iterator[ProgressCallback | None]:
    """A Rich bar on stderr driven by the library's ``on_progress(done, total, message)``
    callback; yields ``None`` (no callback) when ``enabled`` is false."""
    if not enabled:
        yield None
        return
    with progress(transient=transient) as bar:
        task = bar.add_task(label, total=total)

        def on_progress(done: int, total: int | None = None, message: str = "") -> None:
            kw: dict[str, Any] = {"completed": done}
            if total is not None:
                kw["total"] = total
            if message:
                kw["description"] = f"{label} {message}"
            bar.update(task, **kw)

        yield on_progress


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def print_report(report: Report) -> None:
    """Counts and problems per reason of a batch :class:`Report` as tables on stderr."""
    table = Table(title=f"{report.command}: summary")
    table.add_column("what")
    table.add_column("count", justify="right")
    for key, value in report.counts.items():
        table.add_row(str(key), str(value))
    console.print(table)
    if report.problems:
        ptable = Table(title="problems (file + reason in the JSON report)")
        ptable.add_column("reason")
        ptable.add_column("count", justify="right")
        ptable.add_column("action")
        actions: dict[str, set[str]] = {}
        for p in report.problems:
            actions.setdefault(p.reason, set()).add(p.action)
        for reason, n in sorted(report.reason_counts().items()):
            ptable.add_row(reason, str(n), ", ".join(sorted(actions[reason])))
        console.print(ptable)


def _table(title: str, columns: list[str], rows: list[list[str]]) -> Table:
    t = Table(title=title)
    for i, col in enumerate(columns):
        t.add_column(col, justify="left" if i == 0 else "right")
    for row in rows:
        t.add_row(*row)
    return t


def print_stats(stats: dict[str, Any]) -> None:
    """Tables of :func:`garmentparse.converters.coco_stats` output on stderr."""
    console.print(_table("dataset", ["what", "value"],
                         [[k, str(stats[k])] for k in ("images", "annotations", "images_without_garments")]))
    tables = [("garments per part", stats["parts"])]
    if stats["categories"] != stats["parts"]:
        tables.insert(0, ("garments per COCO category", stats["categories"]))
    for title, counter in tables:
        console.print(_table(title, ["name", "garments"], [[k, str(v)] for k, v in counter.items()]))
    rows = []
    for a, values in stats["attributes"].items():
        shown = ", ".join(f"{k} {v}" for k, v in list(values.items())[:8])
        more = f" (+{len(values) - 8} more)" if len(values) > 8 else ""
        rows.append([a, f"{stats['missing_attribute_rate'][a]:.0%}", shown + more])
    console.print(_table("attributes (values by frequency)", ["attribute", "missing", "values"], rows))
    quantiles = ("min", "p5", "p25", "median", "p75", "p95", "max")
    console.print(_table("sizes (quantiles)", ["measure", *quantiles],
                         [[key, *(f"{stats[key][q]:g}" for q in quantiles)]
                          for key in ("image_width", "image_height", "relative_area") if stats[key]]))
    console.print(_table("garments per image", ["garments", "images"],
                         [[str(k), str(v)] for k, v in stats["garments_per_image"].items()]))


# ``--set a=1 b=2`` as detectron2 and Hydra users type it: Click options take one value each, so
# the commands that take overrides accept extra KEY=VALUE arguments and join them to ``--set``.
OVERRIDES_CONTEXT = {"allow_extra_args": True}
SET_METAVAR = "KEY=VALUE"


def config_overrides(ctx: typer.Context, overrides: list[str] | None) -> list[str]:
    """``--set`` values plus the bare ``KEY=VALUE`` words after them (``ctx.args``); anything
    else left over is the usual "unexpected extra argument" error."""
    extra = list(getattr(ctx, "args", []) or [])
    for word in extra:
        if "=" not in word or word.startswith("-") or word.startswith("="):
            raise typer.BadParameter(f"unexpected extra argument {word!r} (config overrides look like "
                                     "KEY=VALUE)", param_hint="--set")
    return [*(overrides or []), *extra]
