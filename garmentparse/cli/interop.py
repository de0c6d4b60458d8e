"""Label Studio / CVAT / COCO: ``import`` of reviewed annotations (``export --format labelstudio|cvat``
is part of ``export`` in cli/store.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from garmentparse.cli.common import progress_bar
from garmentparse.cli.store import DB_HELP, _store, show_report


def register(root: typer.Typer, train: typer.Typer, eval_: typer.Typer) -> None:
    """Add ``import`` to the root app."""

    @root.command("import")
    def import_(
        fmt: str = typer.Argument(..., help="labelstudio (its JSON export), cvat (its COCO 1.0 export) or coco."),
        file: Path = typer.Argument(..., help="The exported annotations file."),
        user: str = typer.Option(..., "--user", help="Reviewer the corrections are logged under."),
        db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
        run: Optional[int] = typer.Option(None, "--run", help="Match garments of this tag run (default: the run the "
                                                              "task names, else the photo's newest run)."),
        iou: float = typer.Option(0.5, "--iou", help="Mask IoU a region needs to match a garment."),
        reject_missing: bool = typer.Option(False, "--reject-missing",
                                            help="Reject (part) garments of a reviewed photo that no region matches."),
        image_prefix: Optional[str] = typer.Option(None, "--image-prefix", help="labelstudio: the URL prefix to strip "
                                                   "from data.image when a task has no data.path."),
        report: Optional[Path] = typer.Option(None, "--report", help="Write the report (JSON) here."),
        strict: bool = typer.Option(False, "--strict", help="Exit 1 when anything was not imported."),
        as_json: bool = typer.Option(False, "--json", help="Print the counts as JSON on stdout."),
    ) -> None:
        """Reviewed annotations from Label Studio / CVAT / COCO back as corrections by --user (idempotent)."""
        from garmentparse.store.interop import import_file

        extra = {"prefix": image_prefix} if image_prefix is not None else {}
        with _store(db) as store, progress_bar("photos") as on_progress:
            rep = import_file(store, file, fmt, user=user, run_id=run, iou=iou, reject_missing=reject_missing,
                              on_progress=on_progress, **extra)
        show_report(rep, report, as_json)
        if (strict and rep.problems) or (not rep.counts.get("photos") and rep.problems):
            raise typer.Exit(1)
