"""``train detector``, ``eval detector`` and ``predict``: thin commands over
:mod:`garmentparse.parsing`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from garmentparse.cli.common import (OVERRIDES_CONTEXT, SET_METAVAR, config_overrides, console,
                                     duplicate_iou_option, launch_or_run, main_process, master_port_option,
                                     nproc_option, print_json, progress_bar, setup_logging)

DEVICE_HELP = "auto (CUDA when available) | cpu | cuda"


def _fail(message: str, code: int = 1) -> None:
    console.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(code)


def train_detector_worker(cfg: Any, train_json: Path, images: Path, out: Path, val: Path | None,
                          val_images: Path | None, device: str, resume: bool, show_progress: bool) -> Any:
    """One training process (of one, of ``--nproc`` or of torchrun's): logs, rank 0's bar, the run."""
    from garmentparse.parsing import train_detector

    setup_logging()
    with progress_bar("train", enabled=show_progress and main_process(), transient=False) as on_progress:
        return train_detector(cfg, train_json, images, out, val_json=val, val_images=val_images,
                              device=device, resume=resume, on_progress=on_progress)


def train_detector_command(
    ctx: typer.Context,
    config: Optional[Path] = typer.Option(None, "--config", help="Detector YAML (configs/detection/*.yaml). "
                                          "With --resume it defaults to RUN_DIR/config.yaml."),
    train_json: Optional[Path] = typer.Option(None, "--train", help="Training COCO JSON (polygons or RLE)."),
    images: Optional[Path] = typer.Option(None, "--images", help="Folder the COCO file_name paths are relative to."),
    out: Optional[Path] = typer.Option(None, "--out", help="Run folder: config.yaml, metrics.jsonl, last.pt, model.pt."),
    val: Optional[Path] = typer.Option(None, "--val", help="Validation COCO JSON, evaluated at the end (eval.json)."),
    val_images: Optional[Path] = typer.Option(None, "--val-images", help="Images folder of --val (default: --images)."),
    overrides: Optional[list[str]] = typer.Option(None, "--set", metavar=SET_METAVAR, help=(
        "Override config keys: --set solver.base_lr=0.01 data.workers=1 (several at once, or repeat --set).")),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    resume: bool = typer.Option(False, "--resume", help="Continue RUN_DIR/last.pt: model, optimiser, scheduler, iteration."),
    print_config: bool = typer.Option(False, "--print-config", help="Print the resolved config (YAML) and exit."),
    show_progress: bool = typer.Option(True, "--progress/--no-progress", help="Rich progress bar on stderr."),
    as_json: bool = typer.Option(False, "--json", help="Print a run summary as one JSON object on stdout."),
    nproc: int = nproc_option(),
    master_port: int = master_port_option(),
) -> None:
    """Train a Mask R-CNN garment segmenter on a COCO file (several processes: --nproc or torchrun)."""
    from garmentparse.config import dump_yaml
    from garmentparse.parsing import ConfigError, load_detector_config

    if config is None and resume and out is not None and (out / "config.yaml").is_file():
        config = out / "config.yaml"
    if config is None:
        _fail("--config is required (or --resume with an existing RUN_DIR/config.yaml)", 2)
    try:
        cfg = load_detector_config(config, config_overrides(ctx, overrides))
    except ConfigError as exc:
        _fail(f"config: {exc}", 2)
    if print_config:
        sys.stdout.write(dump_yaml(cfg))
        return
    missing = [name for name, v in (("--train", train_json), ("--images", images), ("--out", out)) if v is None]
    if missing:
        _fail(f"missing {', '.join(missing)}", 2)
    if nproc > 1:
        from garmentparse.engine.distributed import split_batch

        try:
            split_batch(cfg.data.batch_size, nproc, cfg.train.accumulate, "data.batch_size")
        except ValueError as exc:
            _fail(str(exc), 2)
    try:
        result = launch_or_run(nproc, master_port, train_detector_worker, cfg, train_json, images, out, val,
                               val_images, device, resume, show_progress)
    except KeyError as exc:  # an unknown registry name (backend, backbone)
        _fail(str(exc.args[0]), 2)
    except (FileNotFoundError, FileExistsError, ValueError, RuntimeError) as exc:
        _fail(str(exc))
    if not main_process():  # torchrun: rank 0 prints
        return
    console.print(f"model: {escape(str(result.model_path))}  iterations: {result.iterations}  "
                  f"images/s: {result.images_per_s:.2f}")
    if result.eval:
        console.print(f"val: box AP {result.eval['bbox']['AP']}  mask AP {result.eval['segm']['AP']}")
    if as_json:
        print_json({"model": str(result.model_path), "iterations": result.iterations,
                    "images_per_s": round(result.images_per_s, 3), "final_loss": result.final_loss,
                    "eval": result.eval})


def _metrics_table(metrics: dict) -> Table:
    table = Table(title="eval detector (COCO, %)")
    table.add_column("metric")
    for iou in ("bbox", "segm"):
        table.add_column(iou, justify="right")
    keys = [k for k in metrics["bbox"] if k != "per_category"]
    for k in keys:
        table.add_row(k, *(str(metrics[iou].get(k)) for iou in ("bbox", "segm")))
    for name in metrics["bbox"]["per_category"]:
        table.add_row(f"AP {name}", *(str(metrics[iou]["per_category"].get(name)) for iou in ("bbox", "segm")))
    if "duplicate_rate" in metrics:  # masks, at the score threshold `tag` uses
        table.add_section()
        table.add_row(f"garments (score >= {metrics['garment_score_threshold']:g})", "", str(metrics["garments"]))
        table.add_row("duplicate_pairs (mask IoU > 0.5)", "", str(metrics["duplicate_pairs"]))
        table.add_row("duplicate_rate", "", str(metrics["duplicate_rate"]))
        table.add_row("duplicate_iou (suppression)", "", str(metrics["duplicate_iou"]))
    return table


def eval_detector_command(
    model: Path = typer.Argument(..., help="Detector checkpoint (RUN_DIR/model.pt)."),
    coco: Path = typer.Option(..., "--coco", help="Ground-truth COCO JSON."),
    images: Path = typer.Option(..., "--images", help="Folder the COCO file_name paths are relative to."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as one JSON object on stdout."),
    out: Optional[Path] = typer.Option(None, "--out", help="Also write the metrics JSON to this file."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="Images per model call (default: config test.batch_size)."),
    workers: Optional[int] = typer.Option(None, "--workers", min=0, help="Image decoding processes (default: config test.workers)."),
    amp: bool = typer.Option(True, "--amp/--no-amp", help="bf16 autocast on CUDA (ignored on CPU)."),
    duplicate_iou: Optional[float] = duplicate_iou_option(),
) -> None:
    """Box and mask AP (AP, AP50, AP75, per category) with pycocotools, and the duplicate rate."""
    from garmentparse.parsing import evaluate_detector

    try:
        with progress_bar("eval") as on_progress:
            metrics = evaluate_detector(model, coco, images, device=device, amp=amp, batch_size=batch_size,
                                        workers=workers, duplicate_iou=duplicate_iou, out_json=out,
                                        on_progress=on_progress)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        _fail(str(exc))
    for p in metrics["skipped"]:
        console.print(f"[yellow]skipped[/yellow] {escape(p['file'])}: {p['reason']} {escape(p['detail'])}")
    console.print(_metrics_table(metrics))
    if as_json:
        print_json(metrics)


def predict_command(
    model: Path = typer.Argument(..., help="Detector checkpoint (RUN_DIR/model.pt)."),
    images: Path = typer.Argument(..., help="Folder of photos (recursive) or one image."),
    out: Path = typer.Option(..., "--out", help="COCO results JSON (a list of detections) to write."),
    coco: Optional[Path] = typer.Option(None, "--coco", help="Ground-truth COCO JSON: predict its images and use "
                                        "its image/category ids. Without it ids are assigned and "
                                        "<out>.images.json lists them."),
    score_threshold: Optional[float] = typer.Option(None, "--score-threshold", min=0.0, max=1.0,
                                                    help="Drop detections below this (default: config test.score_threshold)."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="Images per model call (default: config test.batch_size)."),
    workers: Optional[int] = typer.Option(None, "--workers", min=0, help="Image decoding processes (default: config test.workers)."),
    amp: bool = typer.Option(True, "--amp/--no-amp", help="bf16 autocast on CUDA (ignored on CPU)."),
    report: Optional[Path] = typer.Option(None, "--report", help="Write the problem report (JSON) here."),
    as_json: bool = typer.Option(False, "--json", help="Print a summary as one JSON object on stdout."),
    duplicate_iou: Optional[float] = duplicate_iou_option(),
) -> None:
    """Segment garments in images and write COCO-format results."""
    from garmentparse.parsing import predict_folder

    try:
        with progress_bar("predict") as on_progress:
            summary = predict_folder(model, images, out, coco_gt=coco, device=device, amp=amp,
                                     batch_size=batch_size, workers=workers, score_threshold=score_threshold,
                                     duplicate_iou=duplicate_iou, on_progress=on_progress)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        _fail(str(exc))
    for p in summary.report.problems:
        console.print(f"[yellow]{p.action}[/yellow] {escape(p.file)}: {p.reason} {escape(p.detail)}")
    if report is not None:
        summary.report.save(report)
    console.print(f"wrote {escape(str(out))}: {summary.detections} detections in {summary.images} images"
                  + (f" (ids in {escape(str(summary.images_file))})" if summary.images_file else ""))
    if as_json:
        print_json({"out": str(out), "images_file": str(summary.images_file) if summary.images_file else None,
                    "images": summary.images, "detections": summary.detections,
                    "problems": [p.to_dict() for p in summary.report.problems]})
    if summary.images == 0:
        raise typer.Exit(1)


def register(root: typer.Typer, train: typer.Typer, eval_: typer.Typer) -> None:
    """Add ``train detector``, ``eval detector`` and ``predict`` to the app."""
    train.command("detector", context_settings=OVERRIDES_CONTEXT)(train_detector_command)
    eval_.command("detector")(eval_detector_command)
    root.command("predict")(predict_command)
