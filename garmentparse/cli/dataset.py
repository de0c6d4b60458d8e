"""Dataset tools on COCO files: ``validate``, ``split``, ``stats``, ``crop``, ``visualize``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from garmentparse.cli.common import console, print_json, progress


def register(root: typer.Typer, train: typer.Typer, eval_: typer.Typer) -> None:
    """Add the dataset tools to the root app."""

    @root.command("crop")
    def crop(
        coco: Path = typer.Argument(..., help="COCO JSON (from `convert`)."),
        images: Path = typer.Option(..., "--images", help="Folder the COCO file names are relative to."),
        out: Path = typer.Option(..., "--out", help="Output folder for crops and manifest.csv."),
        size: int = typer.Option(400, "--size", min=8, help="Crops are letterboxed to SIZE x SIZE."),
        background: str = typer.Option("white", "--background",
                                       help="Pixels outside the garment mask: keep, white or black."),
        by_category: bool = typer.Option(False, "--by-category",
                                         help="One folder per category instead of crops/."),
        workers: int = typer.Option(1, "--workers", min=1, help="Worker processes."),
        report: Optional[Path] = typer.Option(None, "--report", help="Write the report (JSON) here."),
    ) -> None:
        """One crop per garment cut by its mask, plus manifest.csv for classifier training."""
        from garmentparse.converters import crop_dataset

        if background not in ("keep", "white", "black"):
            raise typer.BadParameter("use keep, white or black", param_hint="--background")
        with progress(transient=True) as bar:
            task = bar.add_task("images", total=None)
            rep = crop_dataset(coco, images, out, size=size, background=background, by_category=by_category,
                               workers=workers, on_progress=lambda n: bar.update(task, completed=n))
        if report is not None:
            rep.save(report)
        rep.print_summary()
        console.print(f"wrote {out / 'manifest.csv'}")
        if rep.counts.get("crops", 0) == 0:
            raise typer.Exit(1)

    _ = print_json  # used by the other tools
