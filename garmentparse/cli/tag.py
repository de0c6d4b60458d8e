"""``garmentparse tag``: detection -> masked crops -> classification over an image folder."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from garmentparse.cli.common import console, duplicate_iou_option, print_json, progress_bar


def release_pair(detector: str | None, classifier: str | None) -> tuple[str, str | None]:
    """No model named: the default release pair; only a classifier: the release detector with it;
    ``--classifier none``: no classifier."""
    from garmentparse.release import model_or_default

    if classifier is not None and classifier.lower() == "none":
        return str(model_or_default(detector, "detector")), None
    if detector is None and classifier is None:
        classifier = model_or_default(None, "classifier")
    return str(model_or_default(detector, "detector")), classifier and str(classifier)


def check_inputs(images: Path, out: str, outputs: list[str], folders: list[Path | None], resume: bool,
                 overwrite: bool) -> None:
    """What can be told before the models load (seconds): photos to tag, outputs that can be
    written, an unfinished run in the way. Each failure is one ``error: FILE: reason`` line."""
    from garmentparse.imageio import IMAGE_SUFFIXES, has_images
    from garmentparse.tagging.record import refuse_unfinished

    if not images.exists():
        raise FileNotFoundError(f"{images}: no such folder or image")
    if not has_images(images):
        raise ValueError(f"{images}: no images to tag ({', '.join(s[1:] for s in IMAGE_SUFFIXES)})")
    for output in outputs:
        path = Path(output)
        if path.is_dir():
            raise ValueError(f"{path}: is a folder; give a file name for the output")
        blocker = next((p for p in path.parents if p.exists()), None)
        if blocker is not None and not blocker.is_dir():
            raise ValueError(f"{path}: cannot be written, {blocker} is a file, not a folder")
    for folder in folders:
        if folder is not None and folder.exists() and not folder.is_dir():
            raise ValueError(f"{folder}: is a file, not a folder")
    if "://" not in out:  # a URL output's record is checked where it is staged
        refuse_unfinished(Path(out), resume, overwrite)


def tag_command(
    images: Path = typer.Argument(..., help="Folder of photos (searched recursively: jpg, jpeg, png, webp, bmp, tif, tiff) or one image."),
    detector: Optional[str] = typer.Option(
        None, "--detector", metavar="PATH|NAME",
        help="Detector checkpoint (model.pt from `train detector`) or release model name (`garmentparse models list`). "
             "Default: the release detector."),
    out: str = typer.Option(..., "--out", metavar="PATH",
                            help="JSON Lines output: one object per image. With --engine ray also a URL (s3://, gs://, ...)."),
    classifier: Optional[str] = typer.Option(
        None, "--classifier", metavar="PATH|NAME",
        help="Attribute classifier checkpoint (model.pt from `train classifier`) or release model name. Default: the "
             "release classifier when no --detector is given either (the release pair); 'none': detection only."),
    style: Optional[Path] = typer.Option(None, "--style", help="Style classifier checkpoint (configs/classification/"
                                         "style.yaml on `crop --level photo` crops): adds the photo's style."),
    csv_path: Optional[str] = typer.Option(None, "--csv", metavar="PATH",
                                           help="Also write a CSV with one row per garment (no masks)."),
    overlays: Optional[Path] = typer.Option(None, "--overlays", help="Folder for photos with masks, boxes and labels drawn (PNG)."),
    crops: Optional[Path] = typer.Option(None, "--crops", help="Folder for the masked garment crops (PNG)."),
    batch_size: int = typer.Option(4, "--batch-size", min=1, help="Images per model call."),
    workers: int = typer.Option(2, "--workers", min=0, help="Processes decoding images ahead of the model (0: in the main process)."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
    score_threshold: Optional[float] = typer.Option(
        None, "--score-threshold", min=0.0, max=1.0,
        help="Drop detections scoring below this (default: the detector config's test.score_threshold, 0.5 in the shipped configs)."),
    duplicate_iou: Optional[float] = duplicate_iou_option(),
    top_k: int = typer.Option(3, "--top-k", min=1, help="Alternatives kept per classifier head."),
    heads: Optional[str] = typer.Option(None, "--heads", metavar="A,B", help="Only these classifier heads "
                                        "(e.g. category,sleeve_length); a head the classifier lacks is an error "
                                        "that names the heads it has. Default: all."),
    tta: bool = typer.Option(False, "--tta", help="Test-time augmentation in the classifier (slower)."),
    amp: bool = typer.Option(True, "--amp/--no-amp", help="bf16 autocast on CUDA (ignored on CPU)."),
    lang: str = typer.Option("en", "--lang", help="Label language: en (English ids) or ko (Korean names)."),
    resume: bool = typer.Option(False, "--resume", help="Skip images already in --out and append the rest."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Start again over an --out whose run never finished "
                                   "(interrupted, killed); without it such an output is refused."),
    json_summary: bool = typer.Option(False, "--json", help="Print the run summary as one JSON object on stdout."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 if any image failed."),
    engine: str = typer.Option("local", "--engine", metavar="local|ray",
                               help="local: this process; ray: Ray Data actors (pip install \"garmentparse\\[ray]\")."),
    ray_address: Optional[str] = typer.Option(
        None, "--ray-address", metavar="auto|HOST:PORT",
        help="Ray only: join this cluster (auto: the one `ray start` made here). Default: start a local Ray."),
    actors: int = typer.Option(1, "--actors", min=1, help="Ray only: actors, each holding one copy of the models."),
    gpus_per_actor: Optional[float] = typer.Option(
        None, "--gpus-per-actor", min=0.0,
        help="Ray only: GPUs per actor (0.5: two actors share a GPU). Default: 1 if the cluster has GPUs."),
    cpus_per_actor: float = typer.Option(1.0, "--cpus-per-actor", min=0.01,
                                         help="Ray only: CPUs per actor (its torch threads)."),
    ray_cpus: Optional[int] = typer.Option(None, "--ray-cpus", min=1,
                                           help="Ray only: CPUs of the local Ray (default: the usable cores)."),
) -> None:
    """Find, mask, cut out and classify every garment in a folder of photos."""
    from garmentparse.tagging import Tagger, tag_folder

    if lang not in ("en", "ko"):
        raise typer.BadParameter("use 'en' or 'ko'", param_hint="--lang")
    if engine not in ("local", "ray"):
        raise typer.BadParameter("use 'local' or 'ray'", param_hint="--engine")
    if engine == "local" and any("://" in p for p in (out, csv_path or "")):
        raise typer.BadParameter("a URL output needs --engine ray (the local engine writes local paths)",
                                 param_hint="--out/--csv")
    check_inputs(images, out, [p for p in (out, csv_path) if p and "://" not in p], [overlays, crops], resume,
                 overwrite)
    detector, classifier = release_pair(detector, classifier)
    head_list = tuple(h.strip() for h in heads.split(",") if h.strip()) if heads is not None else None
    extras = {"csv_path": csv_path, "overlays_dir": overlays, "crops_dir": crops, "batch_size": batch_size,
              "lang": lang, "resume": resume, "overwrite": overwrite}
    loader = options = None
    try:
        if engine == "ray":
            from garmentparse.tagging.ray_engine import CheckpointLoader, RayOptions, require_ray, tag_folder_ray

            require_ray()
            options = RayOptions(address=ray_address, actors=actors, gpus_per_actor=gpus_per_actor,
                                 cpus_per_actor=cpus_per_actor, num_cpus=ray_cpus)
            loader = CheckpointLoader(detector=str(detector), classifier=str(classifier) if classifier else None,
                                      style=str(style) if style else None, device=device, amp=amp,
                                      score_threshold=score_threshold, top_k=top_k, tta=tta,
                                      duplicate_iou=duplicate_iou, heads=head_list)
            tagger = loader.load(device="cpu")  # here only for the settings: each actor loads its own
        else:
            tagger = Tagger.from_checkpoints(detector, classifier, device=device, amp=amp, style=style,
                                             score_threshold=score_threshold, top_k=top_k, tta=tta,
                                             duplicate_iou=duplicate_iou, heads=head_list)
    except (FileNotFoundError, ValueError, RuntimeError, ImportError) as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)  # "garmentparse[ray]" is not markup
        raise typer.Exit(2) from None
    # ResumeError and other bad input: one error line, exit 2 (cli._clear_errors)
    try:
        with progress_bar("tagging", transient=False) as on_progress:
            if engine == "ray":
                summary = tag_folder_ray(images, tagger, out, options=options, loader=loader,
                                         on_progress=on_progress, **extras)
            else:
                summary = tag_folder(images, tagger, out, workers=workers, on_progress=on_progress, **extras)
    except KeyboardInterrupt:
        console.print(f"interrupted: the photos tagged so far are in {escape(out)}; run the same command with "
                      "--resume to go on from there", highlight=False)
        raise typer.Exit(130) from None
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
    if summary.tagged_in_output == 0:  # nothing in the whole output could be tagged
        raise typer.Exit(1)
    if strict and summary.errors:
        raise typer.Exit(1)


def register(root: typer.Typer, train: typer.Typer, eval_: typer.Typer) -> None:
    """Add ``tag`` to the app."""
    root.command("tag")(tag_command)
