"""``garmentparse tag``: detection -> masked crops -> classification over an image folder."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from garmentparse.cli.common import console, print_json, progress_bar


def tag_command(
    images: Path = typer.Argument(..., help="Folder of photos (searched recursively: jpg, jpeg, png, webp, bmp) or one image."),
    detector: Path = typer.Option(..., "--detector", help="Detector checkpoint (model.pt from `train detector`)."),
    out: Path = typer.Option(..., "--out", help="JSON Lines output: one object per image."),
    classifier: Optional[Path] = typer.Option(None, "--classifier", help="Attribute classifier checkpoint (model.pt from `train classifier`)."),
    style: Optional[Path] = typer.Option(None, "--style", help="Style classifier checkpoint (configs/classification/style.yaml on `crop --level photo` crops): adds the photo's style."),
    csv_path: Optional[Path] = typer.Option(None, "--csv", help="Also write a CSV with one row per garment (no masks)."),
    overlays: Optional[Path] = typer.Option(None, "--overlays", help="Folder for photos with masks, boxes and labels drawn (PNG)."),
    crops: Optional[Path] = typer.Option(None, "--crops", help="Folder for the masked garment crops (PNG)."),
    batch_size: int = typer.Option(4, "--batch-size", min=1, help="Images per model call."),
    workers: int = typer.Option(2, "--workers", min=0, help="Processes decoding images ahead of the model (0: in the main process)."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
    score_threshold: Optional[float] = typer.Option(
        None, "--score-threshold", min=0.0, max=1.0,
        help="Drop detections scoring below this (default: the detector config's test.score_threshold, 0.5 in the shipped configs)."),
    top_k: int = typer.Option(3, "--top-k", min=1, help="Alternatives kept per classifier head."),
    tta: bool = typer.Option(False, "--tta", help="Test-time augmentation in the classifier (slower)."),
    amp: bool = typer.Option(True, "--amp/--no-amp", help="bf16 autocast on CUDA (ignored on CPU)."),
    lang: str = typer.Option("en", "--lang", help="Label language: en (English ids) or ko (Korean names)."),
    resume: bool = typer.Option(False, "--resume", help="Skip images already in --out and append the rest."),
    json_summary: bool = typer.Option(False, "--json", help="Print the run summary as one JSON object on stdout."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 if any image failed."),
) -> None:
    """Find, mask, cut out and classify every garment in a folder of photos."""
    from garmentparse.tagging import Tagger, tag_folder

    if lang not in ("en", "ko"):
        raise typer.BadParameter("use 'en' or 'ko'", param_hint="--lang")
    if not images.exists():
        raise typer.BadParameter(f"{images} does not exist", param_hint="IMAGES")
    try:
        tagger = Tagger.from_checkpoints(detector, classifier, device=device, amp=amp, style=style,
                                         score_threshold=score_threshold, top_k=top_k, tta=tta)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    # ResumeError and other bad input: one error line, exit 2 (cli._clear_errors)
    with progress_bar("tagging", transient=False) as on_progress:
        summary = tag_folder(
            images, tagger, out, csv_path=csv_path, overlays_dir=overlays, crops_dir=crops,
            batch_size=batch_size, workers=workers, lang=lang, resume=resume, on_progress=on_progress,
        )
    table = Table(title="tag: summary")
    table.add_column("what")
    table.add_column("value", justify="right")
    for name, value in [("images", summary.images), ("garments", summary.garments),
                        ("errors", summary.errors), ("skipped (already done)", summary.skipped),
                        ("images/s", f"{summary.images_per_s:.2f}")]:
        table.add_row(name, str(value))
    console.print(table)
    if summary.errors:
        console.print(f"[yellow]{summary.errors} image(s) failed; see the 'error' field in {out}[/yellow]")
    if json_summary:
        print_json({"images": summary.images, "garments": summary.garments, "errors": summary.errors,
                    "skipped": summary.skipped, "seconds": round(summary.seconds, 3),
                    "images_per_s": round(summary.images_per_s, 3)})
    if summary.images and summary.errors == summary.images:
        raise typer.Exit(1)
    if strict and summary.errors:
        raise typer.Exit(1)


def register(root: typer.Typer, train: typer.Typer, eval_: typer.Typer) -> None:
    """Add ``tag`` to the app."""
    root.command("tag")(tag_command)
