"""``garmentparse retrain``: reviewed garments of the catalogue -> fine-tuned models."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from garmentparse.cli.common import SET_METAVAR, console, print_json, print_report, progress_bar, setup_logging
from garmentparse.cli.store import DB_HELP, _fail, _store


def register(root: typer.Typer, train: typer.Typer, eval_: typer.Typer) -> None:
    """Add ``retrain`` to the root app."""

    @root.command("retrain")
    def retrain_command(
        db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
        images: Path = typer.Option(..., "--images", exists=True, file_okay=False,
                                    help="Folder the catalogue's photo paths are relative to (the one `tag` read)."),
        out: Path = typer.Option(..., "--out", help="Retrain folder: data/, detector/, classifier/, retrain.json."),
        sources: Optional[list[str]] = typer.Option(None, "--from", metavar="NAME|PATH", help=(
            "Model to start from: a release model name or a checkpoint; repeat for a detector and a classifier. "
            "Default: the release detector and classifier.")),
        task: str = typer.Option("classifier", "--task", help=(
            "classifier (default), detector or both (of the --from models). Reviews fix labels, not masks or missed "
            "garments: a detector retrained on them lost AP here (docs/closed-loop.md); retrain it on purpose.")),
        held_back: float = typer.Option(0.2, "--held-back", min=0.0, max=0.9,
                                        help="Share of reviewed photos kept out of training (stable per photo)."),
        seed: int = typer.Option(0, "--seed", help="Seed of the held-back split and of training."),
        min_garments: int = typer.Option(20, "--min-garments", min=1,
                                         help="Refuse (exit 2, nothing written) with fewer reviewed training garments."),
        iterations: int = typer.Option(300, "--detector-iterations", min=1, help="Detector fine-tuning iterations."),
        epochs: int = typer.Option(10, "--classifier-epochs", min=1, help="Classifier fine-tuning epochs."),
        budget: float = typer.Option(0.0, "--time-budget", min=0.0, help="Minutes per stage (0: no budget)."),
        set_detector: Optional[list[str]] = typer.Option(None, "--set-detector", metavar=SET_METAVAR,
                                                         help="Override detector config keys (like train's --set)."),
        set_classifier: Optional[list[str]] = typer.Option(None, "--set-classifier", metavar=SET_METAVAR,
                                                           help="Override classifier config keys."),
        device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
        resume: bool = typer.Option(False, "--resume", help="Continue the stages' last.pt in --out."),
        evaluate: bool = typer.Option(True, "--eval/--no-eval", help="Held-back metrics before and after."),
        as_json: bool = typer.Option(False, "--json", help="Print retrain.json's summary on stdout."),
    ) -> None:
        """Fine-tune the detector and/or classifier on reviewed garments (confirmed and corrected;
        rejected ones are background for the detector), holding back a reviewed split to measure on."""
        from garmentparse.release import default_model
        from garmentparse.retraining import RetrainError, RetrainSettings, retrain, sources_by_task

        if task not in ("detector", "classifier", "both"):
            raise typer.BadParameter("use detector, classifier or both", param_hint="--task")
        try:
            refs = sources or [default_model(t).name for t in ("detector", "classifier") if task in (t, "both")]
            given = sources_by_task(list(refs))
            chosen = {t: r for t, r in given.items() if task in (t, "both")}
            if not chosen:
                raise RetrainError(f"--task {task}, but --from gave only a {' and a '.join(given)}")
        except (RetrainError, LookupError) as exc:
            raise _fail(str(exc)) from None
        settings = RetrainSettings(held_back=held_back, seed=seed, min_garments=min_garments,
                                   detector_iterations=iterations, classifier_epochs=epochs,
                                   time_budget_s=budget * 60, detector_overrides=tuple(_items(set_detector)),
                                   classifier_overrides=tuple(_items(set_classifier)), device=device,
                                   resume=resume, evaluate=evaluate)
        setup_logging()
        with _store(db) as store:
            try:
                with progress_bar("retrain") as on_progress:
                    result = retrain(store, chosen, images, out, settings, on_progress=on_progress)
            except RetrainError as exc:
                raise _fail(str(exc)) from None
            except (FileNotFoundError, ValueError, RuntimeError) as exc:
                console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
                raise typer.Exit(1) from None
        print_report(result.report)
        c = result.counts
        console.print(f"reviewed photos: {c['train']['photos']} trained on, {c['heldback']['photos']} held back "
                      f"({c['train']['garments']} / {c['heldback']['garments']} garments)", highlight=False)
        for t, path in result.models.items():
            console.print(f"{t}: {escape(str(path))}  ({result.seconds[t]:.0f} s, from {escape(result.sources[t])})",
                          highlight=False)
        if result.heldback:
            console.print(_heldback_table(result.heldback))
        photos = out / "data" / "heldback" / "photos"
        old, new = (" ".join(f"--{t} {p}" for t, p in m.items()) for m in (result.sources, result.models))
        console.print(f"next: garmentparse tag {escape(str(photos))} --out old.jsonl {escape(old)}; garmentparse tag "
                      f"{escape(str(photos))} --out new.jsonl {escape(new)}; garmentparse compare old.jsonl "
                      f"new.jsonl --truth {escape(str(out / 'data' / 'heldback' / 'coco.json'))}", highlight=False)
        if as_json:
            print_json(result.to_json())


def _items(values: Optional[list[str]]) -> list[str]:
    return [item for v in values or [] for item in v.split()]


def _heldback_table(heldback: dict) -> Table:
    table = Table(title="held-back reviewed photos: before -> after")
    for col in ("model", "metric", "n", "before", "after"):
        table.add_column(col, justify="left" if col in ("model", "metric") else "right")
    for task, m in heldback.items():
        if not m:
            table.add_row(task, "(nothing held back)", "", "", "")
        elif task == "detector":
            for key in ("box_AP", "mask_AP"):
                table.add_row(task, key, str(m["before"]["images"]), f"{m['before'][key]}", f"{m['after'][key]}")
        else:
            for head, v in m["after"].items():
                before = m["before"].get(head, {}).get("accuracy")
                fmt = lambda x: "-" if x is None else f"{x:.3f}"  # noqa: E731
                table.add_row(task, f"{head} accuracy", str(v["n"]), fmt(before), fmt(v["accuracy"]))
    return table
