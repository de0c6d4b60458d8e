"""``garmentparse convert kfashion|ccp``: datasets to COCO, with a cleaning report."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rich.markup import escape

from garmentparse.cli.common import console, print_json, print_report, progress
from garmentparse.report import Report


def _finish(report: Report, report_path: Optional[Path], strict: bool, as_json: bool) -> None:
    """Save and print the report; exit 1 if nothing was converted or ``strict`` and problems."""
    if report_path is not None:
        report.save(report_path)
        console.print(f"report: {escape(str(report_path))}")
    print_report(report)
    if as_json:
        print_json({"counts": dict(report.counts), "problem_counts": dict(report.reason_counts())})
    if report.counts.get("images", 0) == 0:
        console.print("[red]nothing could be converted[/red]")
        raise typer.Exit(1)
    if strict and report.problems:
        console.print(f"[red]--strict: {len(report.problems)} problems[/red]")
        raise typer.Exit(1)


def register(root: typer.Typer, train: typer.Typer, eval_: typer.Typer) -> None:
    """Add ``convert kfashion`` and ``convert ccp`` to the app."""
    app = typer.Typer(no_args_is_help=True, help="Convert a dataset to COCO (with a cleaning report).")

    @app.command("kfashion")
    def kfashion(
        labels: Path = typer.Argument(..., help="Folder of K-Fashion label JSON files (searched recursively)."),
        images: Optional[Path] = typer.Option(
            None, "--images", help="Folder of photos; labels match photos by stem, then by 이미지 파일명. "
            "Without it, sizes and file names come from the JSON."),
        out: Path = typer.Option(..., "--out", help="COCO JSON file to write."),
        report: Optional[Path] = typer.Option(None, "--report", help="Write the cleaning report (JSON) here."),
        workers: Optional[int] = typer.Option(None, "--workers", min=1,
                                              help="Worker processes (default: the usable CPU cores)."),
        classes: str = typer.Option("part", "--classes",
                                    help="COCO categories: 'part' (outer/top/bottom/onepiece) or 'category' (21)."),
        full_decode: bool = typer.Option(False, "--full-decode",
                                         help="Decode every photo (slow) instead of header + truncation check."),
        strict: bool = typer.Option(False, "--strict", help="Exit 1 when anything was wrong with the input."),
        as_json: bool = typer.Option(False, "--json", help="Print counts and problem counts as JSON on stdout."),
    ) -> None:
        """K-Fashion label JSON (+ photos) -> COCO, cleaning the input and reporting every fix."""
        from garmentparse.converters import convert_kfashion_to_file
        from garmentparse.converters.pool import default_workers

        if classes not in ("part", "category"):
            raise typer.BadParameter("use 'part' or 'category'", param_hint="--classes")
        with progress(transient=True) as bar:
            task = bar.add_task("labels", total=None)
            rep = convert_kfashion_to_file(labels, out, images, classes=classes,  # type: ignore[arg-type]
                                           workers=workers or default_workers(), full_decode=full_decode,
                                           on_progress=lambda n: bar.update(task, completed=n))
        console.print(f"wrote {escape(str(out))}")
        _finish(rep, report, strict, as_json)

    @app.command("ccp")
    def ccp(
        root: Path = typer.Argument(..., help="Clothing Co-Parsing root: photos/ or images/, "
                                    "annotations/pixel-level/ or pixel-level/, label_list.mat."),
        out: Path = typer.Option(..., "--out", help="COCO JSON file to write."),
        report: Optional[Path] = typer.Option(None, "--report", help="Write the report (JSON) here."),
        classes: str = typer.Option("part", "--classes", help="COCO categories: 'part' or 'category'."),
        min_area: int = typer.Option(0, "--min-area", min=0,
                                     help="Drop garments with fewer pixels than this (0 keeps all)."),
        strict: bool = typer.Option(False, "--strict", help="Exit 1 when anything was wrong with the input."),
        as_json: bool = typer.Option(False, "--json", help="Print counts and problem counts as JSON on stdout."),
    ) -> None:
        """CCP pixel-level masks -> COCO: one RLE instance per garment label per photo."""
        from garmentparse.converters import convert_ccp, save_coco

        if classes not in ("part", "category"):
            raise typer.BadParameter("use 'part' or 'category'", param_hint="--classes")
        coco, rep = convert_ccp(root, classes=classes, min_area=min_area)  # type: ignore[arg-type]
        save_coco(coco, out)
        console.print(f"wrote {escape(str(out))}")
        _finish(rep, report, strict, as_json)

    root.add_typer(app, name="convert")
