"""``garmentparse convert kfashion|ccp|photos|deepfashion2|fashionpedia|modanet``: datasets to COCO, with a
cleaning report."""

from __future__ import annotations

from collections.abc import Callable
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


def _check_classes(classes: str) -> None:
    if classes not in ("part", "category"):
        raise typer.BadParameter("use 'part' or 'category'", param_hint="--classes")


def _coco_style_command(dataset: str, file_help: str, doc: str) -> Callable[..., None]:
    """The ``convert fashionpedia`` / ``convert modanet`` command (COCO-style inputs, one shape)."""

    def command(
        annotations: Path = typer.Argument(..., help=file_help),
        images: Optional[Path] = typer.Option(None, "--images", help="Photo folder: checks that each file_name "
                                              "exists with the recorded size (without it, sizes are trusted)."),
        out: Path = _OUT, report: Optional[Path] = _REPORT, workers: Optional[int] = _WORKERS,
        classes: str = _CLASSES, keep_unmapped: bool = _KEEP_UNMAPPED, full_decode: bool = _FULL_DECODE,
        strict: bool = _STRICT, as_json: bool = _JSON,
    ) -> None:
        _coco_style(dataset, annotations, out, images, report, workers, classes, keep_unmapped, full_decode,
                    strict, as_json)

    command.__doc__ = doc
    command.__name__ = dataset
    return command


def _coco_style(dataset: str, path: Path, out: Path, images: Optional[Path], report: Optional[Path],
                workers: Optional[int], classes: str, keep_unmapped: bool, full_decode: bool, strict: bool,
                as_json: bool) -> None:
    """``convert fashionpedia|modanet``: one COCO-style file -> our COCO."""
    from garmentparse.converters.datasets import FASHIONPEDIA_SPEC, MODANET_SPEC, convert_coco_style
    from garmentparse.converters.pool import default_workers

    _check_classes(classes)
    spec = {"fashionpedia": FASHIONPEDIA_SPEC, "modanet": MODANET_SPEC}[dataset]
    with progress(transient=True) as bar:
        task = bar.add_task("images", total=None)
        _, rep = convert_coco_style(spec, path, out, images, classes=classes,  # type: ignore[arg-type]
                                    keep_unmapped=keep_unmapped, workers=workers or default_workers(),
                                    full_decode=full_decode, on_progress=lambda n: bar.update(task, completed=n))
    console.print(f"wrote {escape(str(out))}")
    _finish(rep, report, strict, as_json)


_OUT = typer.Option(..., "--out", help="COCO JSON file to write.")
_REPORT = typer.Option(None, "--report", help="Write the cleaning report (JSON) here.")
_WORKERS = typer.Option(None, "--workers", min=1, help="Worker processes (default: the usable CPU cores).")
_CLASSES = typer.Option("part", "--classes", help="COCO categories: 'part' (outer/top/bottom/onepiece) or "
                        "'category' (21; classes without an equivalent are skipped and reported).")
_KEEP_UNMAPPED = typer.Option(False, "--keep-unmapped/--drop-unmapped", help=(
    "Keep the dataset's classes that are not garments here (bags, shoes, sleeves, ...) as extra categories "
    "under their own names, instead of leaving them out (they are counted in the report either way)."))
_FULL_DECODE = typer.Option(False, "--full-decode", help="Decode every photo (slow) instead of header + truncation check.")
_STRICT = typer.Option(False, "--strict", help="Exit 1 when anything was wrong with the input.")
_JSON = typer.Option(False, "--json", help="Print counts and problem counts as JSON on stdout.")


def register(root: typer.Typer, train: typer.Typer, eval_: typer.Typer) -> None:
    """Add ``convert kfashion|ccp|deepfashion2|fashionpedia|modanet`` to the app."""
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

    @app.command("deepfashion2")
    def deepfashion2(
        annos: Path = typer.Argument(..., help="DeepFashion2 annos/ folder: one JSON per photo (searched recursively)."),
        images: Path = typer.Option(..., "--images", help="DeepFashion2 image/ folder; photos match annotation files by stem."),
        out: Path = _OUT, report: Optional[Path] = _REPORT, workers: Optional[int] = _WORKERS,
        classes: str = _CLASSES, full_decode: bool = _FULL_DECODE, strict: bool = _STRICT, as_json: bool = _JSON,
    ) -> None:
        """DeepFashion2 (annos/*.json + image/) -> COCO: 13 classes onto our parts, true mask areas, landmarks kept."""
        from garmentparse.converters import convert_deepfashion2_to_file
        from garmentparse.converters.pool import default_workers

        _check_classes(classes)
        with progress(transient=True) as bar:
            task = bar.add_task("annotation files", total=None)
            rep = convert_deepfashion2_to_file(annos, out, images, classes=classes,  # type: ignore[arg-type]
                                               workers=workers or default_workers(), full_decode=full_decode,
                                               on_progress=lambda n: bar.update(task, completed=n))
        console.print(f"wrote {escape(str(out))}")
        _finish(rep, report, strict, as_json)

    @app.command("photos")
    def photos(
        source: Path = typer.Argument(..., help="A folder with one sub-folder per class, or a CSV with an image "
                                      "and a label column (other columns, e.g. sender_id, kept on the image)."),
        out: Path = _OUT,
        images: Optional[Path] = typer.Option(None, "--images", help="Photo folder of a CSV (default: the CSV's "
                                              "folder); names match as given, else by file name or stem."),
        class_map: Optional[Path] = typer.Option(None, "--class-map", help="YAML/JSON: CLASS -> {part, attributes}. "
                                                 "Default: the Clothing dataset's 17 classes, then our own "
                                                 "category/part names (t-shirt, 청바지, top ...)."),
        image_column: str = typer.Option("image", "--image-column", help="CSV column with the photo's name."),
        label_column: str = typer.Option("label", "--label-column", help="CSV column with the class."),
        pseudo_masks: bool = typer.Option(False, "--pseudo-masks/--no-masks", help=(
            "Segment each garment photo from its background (GrabCut) and write one mask annotation per "
            "photo, for training the detector; photos of non-garment classes stay garment-free.")),
        report: Optional[Path] = _REPORT, workers: Optional[int] = _WORKERS, full_decode: bool = _FULL_DECODE,
        strict: bool = _STRICT, as_json: bool = _JSON,
    ) -> None:
        """Photos with one label each (folder per class, or CSV) -> COCO with image-level labels (+ pseudo-masks)."""
        from garmentparse.converters import (CLOTHING_DATASET_CLASSES, add_pseudo_masks, convert_photo_labels,
                                             load_class_map, save_coco)
        from garmentparse.converters.pool import default_workers

        mapping = load_class_map(class_map) if class_map is not None else CLOTHING_DATASET_CLASSES
        coco, rep = convert_photo_labels(source, images, class_map=mapping, image_column=image_column,
                                         label_column=label_column, full_decode=full_decode)
        if pseudo_masks:
            root = Path(coco["info"]["images"])
            with progress(transient=True) as bar:
                task = bar.add_task("pseudo-masks", total=rep.counts.get("garment_photos", 0))
                coco, rep = add_pseudo_masks(coco, root, workers=workers or default_workers(), report=rep,
                                             on_progress=lambda n: bar.update(task, completed=n))
        save_coco(coco, out)
        console.print(f"wrote {escape(str(out))}")
        _finish(rep, report, strict, as_json)

    for dataset, file_help, doc in (
        ("fashionpedia", "Fashionpedia instances_attributes_*.json.",
         "Fashionpedia -> COCO: whole garments onto our parts; attributes kept by name; parts/accessories unmapped."),
        ("modanet", "ModaNet modanet2018_instances_*.json.",
         "ModaNet -> COCO: its 13 labels onto our parts; bags, shoes, belts, eyewear, headwear, scarves unmapped."),
    ):
        app.command(dataset)(_coco_style_command(dataset, file_help, doc))

    root.add_typer(app, name="convert")
