"""Dataset tools on COCO files: ``validate``, ``split``, ``stats``, ``crop``, ``visualize``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rich.markup import escape

from garmentparse.cli.common import console, print_json, print_report, print_stats, progress


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
        workers: Optional[int] = typer.Option(None, "--workers", min=1,
                                              help="Worker processes (default: the usable CPU cores)."),
        level: str = typer.Option("garment", "--level",
                                  help="garment: one masked crop per garment | photo: one crop per photo, with the outfit's style labels."),
        region: str = typer.Option("photo", "--region",
                                   help="With --level photo: photo (whole) or person (the box around its garments)."),
        report: Optional[Path] = typer.Option(None, "--report", help="Write the report (JSON) here."),
    ) -> None:
        """One crop per garment cut by its mask (or per photo), plus manifest.csv for classifier training."""
        from garmentparse.converters import crop_dataset
        from garmentparse.converters.pool import default_workers

        if background not in ("keep", "white", "black"):
            raise typer.BadParameter("use keep, white or black", param_hint="--background")
        if level not in ("garment", "photo"):
            raise typer.BadParameter("use garment or photo", param_hint="--level")
        if region not in ("photo", "person"):
            raise typer.BadParameter("use photo or person", param_hint="--region")
        with progress(transient=True) as bar:
            task = bar.add_task("images", total=None)
            rep = crop_dataset(coco, images, out, size=size, background=background, by_category=by_category,
                               workers=workers or default_workers(), level=level, region=region,
                               on_progress=lambda n: bar.update(task, completed=n))
        if report is not None:
            rep.save(report)
        print_report(rep)
        console.print(f"wrote {escape(str(out / 'manifest.csv'))}")
        if rep.counts.get("crops", 0) == 0:
            raise typer.Exit(1)

    @root.command("validate")
    def validate(
        coco: Path = typer.Argument(..., help="COCO JSON to check."),
        images: Optional[Path] = typer.Option(None, "--images",
                                              help="Also check that every photo exists, decodes and has its size."),
        full_decode: bool = typer.Option(False, "--full-decode",
                                         help="Decode every photo (slow) instead of header + truncation check."),
        report: Optional[Path] = typer.Option(None, "--report", help="Write the report (JSON) here."),
        strict: bool = typer.Option(False, "--strict", help="Exit 1 when any problem is found."),
        as_json: bool = typer.Option(False, "--json", help="Print counts and problem counts as JSON on stdout."),
    ) -> None:
        """Schema, ids, references, polygons, RLEs, boxes inside images, photos present and decodable."""
        from garmentparse.converters import validate_coco

        with progress(transient=True) as bar:
            task = bar.add_task("photos", total=None)
            rep = validate_coco(coco, images, full_decode=full_decode,
                                on_progress=lambda n: bar.update(task, completed=n))
        if report is not None:
            rep.save(report)
        print_report(rep)
        if as_json:
            print_json({"counts": dict(rep.counts), "problem_counts": dict(rep.reason_counts())})
        console.print("[green]valid[/green]" if rep.ok else f"[yellow]{len(rep.problems)} problems[/yellow]")
        if strict and not rep.ok:
            raise typer.Exit(1)

    @root.command("split")
    def split(
        coco: Path = typer.Argument(..., help="COCO JSON to split."),
        out_dir: Path = typer.Option(..., "--out-dir", help="Folder for train.json, val.json (and test.json)."),
        val: float = typer.Option(0.1, "--val", min=0.0, max=1.0, help="Fraction of images for validation."),
        test: float = typer.Option(0.0, "--test", min=0.0, max=1.0, help="Fraction of images for test (0: none)."),
        seed: int = typer.Option(0, "--seed", help="Random seed: the same seed gives the same split."),
        group_by: Optional[str] = typer.Option(None, "--group-by", help="Image field that keeps images together "
                                               "(e.g. sender_id: one photographer's photos in one split)."),
    ) -> None:
        """Reproducible train/val (and test) split, stratified by category so rare classes reach every split."""
        from garmentparse.converters import split_coco

        if val + test >= 1.0:
            raise typer.BadParameter("--val + --test must be below 1")
        parts = split_coco(coco, out_dir, val=val, test=test, seed=seed, group_by=group_by)
        summary = {name: {"images": len(p["images"]), "annotations": len(p["annotations"]),
                          "file": str(out_dir / f"{name}.json")} for name, p in parts.items()}
        for name, s in summary.items():
            console.print(f"{name}: {s['images']} images, {s['annotations']} garments -> {escape(s['file'])}")
        print_json(summary)

    @root.command("stats")
    def stats(
        coco: Path = typer.Argument(..., help="COCO JSON to describe."),
        as_json: bool = typer.Option(False, "--json", help="Print the statistics as JSON on stdout."),
    ) -> None:
        """Images, garments per category/part/colour/attribute, missing attribute rates, sizes."""
        from garmentparse.converters import coco_stats

        result = coco_stats(coco)
        if as_json:
            print_json(result)
        else:
            print_stats(result)

    @root.command("visualize")
    def visualize(
        coco: Path = typer.Argument(..., help="COCO JSON to draw."),
        images: Path = typer.Option(..., "--images", help="Folder the COCO file names are relative to."),
        out: Path = typer.Option(..., "--out", help="Output folder for the PNGs."),
        limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Draw only the first N photos."),
    ) -> None:
        """Masks, boxes and labels drawn on the photos (PNG), for eyeballing a conversion."""
        from garmentparse.converters import visualize_coco

        with progress(transient=True) as bar:
            task = bar.add_task("photos", total=None)
            rep = visualize_coco(coco, images, out, limit=limit,
                                 on_progress=lambda n: bar.update(task, completed=n))
        print_report(rep)
        console.print(f"wrote {rep.counts.get('pictures', 0)} PNGs to {escape(str(out))}")
        if rep.counts.get("pictures", 0) == 0:
            raise typer.Exit(1)
