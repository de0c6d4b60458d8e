"""``garmentparse train classifier`` and ``garmentparse eval classifier``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from garmentparse.cli.common import (OVERRIDES_CONTEXT, SET_METAVAR, config_overrides, console, launch_or_run,
                                     main_process, master_port_option, nproc_option, print_json, print_report,
                                     progress_bar, setup_logging)


def train_classifier_worker(cfg: Any, manifest: Path, out: Path, val_manifest: Path | None, device: str,
                            resume: bool, show_progress: bool) -> Any:
    """One training process (of one, of ``--nproc`` or of torchrun's): logs, rank 0's bar, the run."""
    from garmentparse.classifiers import train_classifier

    setup_logging()
    with progress_bar("train", enabled=show_progress and main_process()) as on_progress:
        return train_classifier(cfg, manifest, out, val_manifest=val_manifest, device=device, resume=resume,
                                on_progress=on_progress)


def train_classifier_command(
    ctx: typer.Context,
    config: Optional[Path] = typer.Option(None, "--config", help="Classifier YAML, e.g. configs/classification/tiny.yaml (CPU) or resnet50.yaml (GPU). Without it: the built-in defaults (ResNet-50, as configs/classification/base.yaml); with --resume: RUN_DIR/config.yaml."),
    manifest: Optional[Path] = typer.Option(None, "--manifest", help="Training crops: manifest.csv written by `garmentparse crop`."),
    out: Optional[Path] = typer.Option(None, "--out", help="Run folder: config.yaml, metrics.jsonl, report.json, last.pt, model.pt."),
    val_manifest: Optional[Path] = typer.Option(None, "--val-manifest", help="Validation crops for early stopping (default: data.val_fraction of the training images)."),
    overrides: Optional[list[str]] = typer.Option(None, "--set", metavar=SET_METAVAR, help=(
        "Override config keys: --set solver.lr=3e-4 train.epochs=5 (several at once, or repeat --set).")),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
    resume: bool = typer.Option(False, "--resume", help="Continue RUN_DIR/last.pt: model, optimiser, scheduler, epoch, best score."),
    print_config: bool = typer.Option(False, "--print-config", help="Print the resolved config as YAML on stdout and exit."),
    show_progress: bool = typer.Option(True, "--progress/--no-progress", help="Rich progress bar on stderr."),
    nproc: int = nproc_option(),
    master_port: int = master_port_option(),
) -> None:
    """Train a multi-head attribute classifier on garment crops (several processes: --nproc or torchrun)."""
    from garmentparse.classifiers import load_classifier_config
    from garmentparse.config import ConfigError, dump_yaml

    if config is None and resume and out is not None and (out / "config.yaml").is_file():
        config = out / "config.yaml"
    try:
        cfg = load_classifier_config(config, config_overrides(ctx, overrides))
    except ConfigError as exc:
        console.print(f"[red]config error:[/red] {exc}")
        raise typer.Exit(2) from None
    if print_config:
        typer.echo(dump_yaml(cfg), nl=False)
        return
    if manifest is None or out is None:
        raise typer.BadParameter("--manifest and --out are required to train", param_hint="--manifest/--out")
    if nproc > 1:
        from garmentparse.engine.distributed import split_batch

        try:
            split_batch(cfg.solver.batch_size, nproc, cfg.train.accumulate, "solver.batch_size")
        except ValueError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
    try:
        result = launch_or_run(nproc, master_port, train_classifier_worker, cfg, manifest, out, val_manifest,
                               device, resume, show_progress)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    if not main_process():  # torchrun: rank 0 prints
        return
    best = ""
    if result.best_score is not None:
        monitor, value = cfg.train.monitor, result.best_score
        best = f", best validation {'mean accuracy' if monitor == 'accuracy' else 'loss'} " \
               f"{value if monitor == 'accuracy' else -value:.4f} at epoch {result.best_epoch}"
    console.print(f"trained {result.epochs} epochs in {result.seconds:.0f}s{best}; wrote {result.model_path}")


def eval_classifier_command(
    checkpoint: Path = typer.Argument(..., help="Classifier checkpoint (RUN_DIR/model.pt)."),
    manifest: Path = typer.Option(..., "--manifest", help="Crops to evaluate: manifest.csv with labels (missing labels are ignored)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for report.json and confusion matrices (CSV + PNG)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object keyed by head on stdout."),
    tta: bool = typer.Option(False, "--tta", help="Test-time augmentation (eval.tta views, probabilities averaged); reports its cost."),
    top_k: Optional[int] = typer.Option(None, "--top-k", min=1, help="k of the top-k accuracy (default: eval.top_k of the checkpoint)."),
    no_part_restrict: bool = typer.Option(False, "--no-part-restrict", help="Let categories of other parts win (default: a crop's part rules them out)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="Crops per forward pass."),
    workers: int = typer.Option(0, "--workers", min=0, help="Processes decoding crops (0: main process)."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
) -> None:
    """Per-head accuracy, top-k accuracy, macro-F1, per-class recall and confusion matrices."""
    from garmentparse.classifiers import evaluate_classifier, load_classifier

    try:
        clf = load_classifier(checkpoint, device=device)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    try:
        with progress_bar("evaluating") as on_progress:
            result = evaluate_classifier(clf, manifest, tta=tta, out_dir=out, top_k=top_k,
                                         part_restrict=False if no_part_restrict else None,
                                         batch_size=batch_size, workers=workers, on_progress=on_progress)
    except (FileNotFoundError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    k = top_k or clf.config.eval.top_k
    table = Table(title=f"eval classifier: {result.crops} crops" + (f", TTA {'+'.join(result.tta)}" if result.tta else ""))
    for col in ["head", "n", "accuracy", f"top-{k}", "macro-F1"] + (["without TTA"] if result.tta else []):
        table.add_column(col, justify="right" if col != "head" else "left")
    fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    for head, m in result.metrics.items():
        row = [head, str(m["n"]), fmt(m["accuracy"]), fmt(m.get(f"top{k}_accuracy")), fmt(m["macro_f1"])]
        table.add_row(*row + ([fmt(m.get("accuracy_without_tta"))] if result.tta else []))
    console.print(table)
    t = result.timing
    console.print(f"model time: {t['ms_per_crop']:.2f} ms/crop" + (
        f", with TTA {t['ms_per_crop_tta']:.2f} ms/crop ({t['tta_cost']:.1f}x)" if result.tta else ""))
    if result.report and result.report.problems:
        print_report(result.report)
    if out is not None:
        console.print(f"report: {out / 'report.json'}")
    if json_out:
        print_json(result.to_json())
    if result.crops == 0:
        raise typer.Exit(1)


def register(root: typer.Typer, train: typer.Typer, eval_: typer.Typer) -> None:
    """Add ``train classifier`` and ``eval classifier``."""
    train.command("classifier", context_settings=OVERRIDES_CONTEXT)(train_classifier_command)
    eval_.command("classifier")(eval_classifier_command)
