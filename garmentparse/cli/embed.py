"""``embed``, ``similar``, ``map``, ``cluster``, ``train embedder`` and ``eval embeddings``:
garment embeddings, similar-garment search, a 2-D map and clusters of a collection."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from garmentparse.cli.common import (console, launch_or_run, main_process, master_port_option, nproc_option, print_json,
                                     print_report, progress_bar, setup_logging)

MODEL_OPTION_HELP = ("Classifier checkpoint (train classifier: its backbone's features), embedder checkpoint "
                     "(train embedder), a release model name (garmentparse models list) or 'lite0' (ImageNet "
                     "EfficientNet-Lite0, offline). Default: the release embedder.")
DEVICE_HELP = "auto | cpu | cuda"


def embed_command(
    source: Path = typer.Argument(..., help="A crop manifest.csv (garmentparse crop) or a tag output .jsonl (then --images)."),
    model: Optional[str] = typer.Option(None, "--model", metavar="PATH|NAME", help=MODEL_OPTION_HELP),
    out: Path = typer.Option(..., "--out", help="Embedding folder: vectors.npy, items.csv, manifest.json (+ index.faiss)."),
    level: str = typer.Option("garment", "--level", help="garment: each garment | photo: each whole photo (style)."),
    images: Optional[Path] = typer.Option(None, "--images", help="Photo folder the source's paths are relative to (needed for a .jsonl; optional for a manifest: thumbnails and own-photo checks use it)."),
    index: str = typer.Option("auto", "--index", help="auto (exact up to 100 000 vectors, then IVF) | flat | ivf | hnsw."),
    target_recall: float = typer.Option(0.95, "--target-recall", min=0.5, max=1.0, help="An approximate index is tuned to this recall@10 on a sample of the collection."),
    append: bool = typer.Option(False, "--append", help="Add to the folder at --out (same model only) instead of replacing it."),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="Crops per network call."),
    workers: int = typer.Option(0, "--workers", min=0, help="Processes decoding images ahead of the network (0: main process)."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    report: Optional[Path] = typer.Option(None, "--report", help="Write the report (JSON: file + reason per problem) here."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object on stdout."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 when any input could not be embedded."),
) -> None:
    """Embed every garment (or photo) of a crop manifest or a tag output into an embedding folder."""
    from garmentparse.embeddings.sources import NothingEmbedded, embed

    if level not in ("garment", "photo"):
        raise typer.BadParameter("use garment or photo", param_hint="--level")
    setup_logging()
    from garmentparse.release import model_or_default

    model = model_or_default(model, "embedder")
    try:
        with progress_bar("embed") as on_progress:
            summary = embed(source, model, out, level=level, images=images, index=index, target_recall=target_recall,
                            append=append, device=device, batch_size=batch_size, workers=workers,
                            on_progress=on_progress)
    except NothingEmbedded as exc:
        print_report(exc.report)
        if report is not None:
            exc.report.save(report)
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    if report is not None:
        summary.report.save(report)
    if summary.report.problems:
        print_report(summary.report)
    console.print(f"embedded {summary.added} {level}s ({summary.crops_per_s:.1f}/s); {summary.items} in "
                  f"{escape(str(summary.folder))}; index: {summary.index.describe()}", highlight=False)
    if as_json:
        print_json({"folder": str(summary.folder), "items": summary.items, "added": summary.added,
                    "seconds": round(summary.seconds, 3), "crops_per_s": round(summary.crops_per_s, 2),
                    "index": summary.index.to_dict(), "problems": len(summary.report.problems)})
    if strict and summary.report.problems:
        raise typer.Exit(1)


def _neighbour_table(result) -> Table:  # noqa: ANN001 - a QueryResult
    q = result.query
    what = ", ".join(v for v in (q.part, q.label("category"), q.label("colour")) if v)
    same = ", ".join(f"{k}={v}" for k, v in result.same.items())
    table = Table(title=f"{q.key} ({what or 'no labels'})" + (f" - same {same}" if same else "")
                  + f": {len(result.neighbours)} of {result.candidates} candidates")
    for col in ("#", "score", "key", "part", "category", "colour", "source"):
        table.add_column(col, justify="right" if col in ("#", "score") else "left")
    for rank, n in enumerate(result.neighbours, 1):
        it = n.item
        table.add_row(str(rank), f"{n.score:.3f}", escape(it.key), it.part, it.label("category"), it.label("colour"),
                      it.source)
    return table


def similar_command(
    folder: Path = typer.Argument(..., help="Embedding folder (garmentparse embed)."),
    image: Optional[Path] = typer.Option(None, "--image", help="Query photo: its garments are found (--detector), cut and embedded."),
    item: Optional[str] = typer.Option(None, "--item", help="Query garment of the collection: its id or key (items.csv)."),
    k: int = typer.Option(10, "-k", "--k", help="Neighbours per query garment."),
    same: Optional[str] = typer.Option(None, "--same", help="Keep only garments with the query's labels, e.g. part,category,colour."),
    detector: Optional[str] = typer.Option(None, "--detector", metavar="PATH|NAME", help="Detector checkpoint or release model name that finds the garments of --image (default: the release detector)."),
    classifier: Optional[str] = typer.Option(None, "--classifier", metavar="PATH|NAME", help="Classifier (checkpoint or release name) for the labels --same compares on an --image query (default: the folder's model when it is a classifier)."),
    model: Optional[str] = typer.Option(None, "--model", help="The folder's model, when it has moved (checked by sha256)."),
    score_threshold: Optional[float] = typer.Option(None, "--score-threshold", min=0.0, max=1.0, help="Detector threshold for --image (default: its config's)."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON on stdout (one object per query garment)."),
) -> None:
    """The most similar garments of the collection to one of its garments or to each garment of a photo."""
    from garmentparse.embeddings.search import SimilarityIndex, parse_same

    if (image is None) == (item is None):
        raise typer.BadParameter("give exactly one of --image PHOTO or --item ID", param_hint="--image/--item")
    fields = parse_same(same)
    index = SimilarityIndex.open(folder, model, device=device)
    if item is not None:
        results = [index.search(item, k=k, same=fields)]
    else:
        if not image.is_file():
            raise FileNotFoundError(f"query photo not found: {image}")
        finder = None
        if index.folder.manifest.level == "garment":
            from garmentparse.release import model_or_default

            finder = _tagger(index, model_or_default(detector, "detector"), classifier, score_threshold, device)
        results = index.search_photo(image, finder, k=k, same=fields, device=device)
        if not results:
            console.print(f"[yellow]no garment found in {escape(str(image))}[/yellow] (detector threshold "
                          f"{finder.settings()['score_threshold']}; try a lower --score-threshold)", highlight=False)
            if as_json:
                print_json([])
            raise typer.Exit(1)
    for result in results:
        console.print(_neighbour_table(result))
    if as_json:
        print_json([r.to_dict() for r in results])


def _tagger(index, detector: str, classifier: Optional[str], score_threshold: Optional[float], device: str):  # noqa: ANN001, ANN202
    """The tagger that finds (and labels) the garments of a query photo."""
    from garmentparse.tagging import Tagger

    if classifier is None and index.folder.model.kind == "classifier" and Path(index.folder.model.path).is_file():
        classifier = index.folder.model.path
    return Tagger.from_checkpoints(detector, classifier, device=device, score_threshold=score_threshold)


def map_command(
    folder: Path = typer.Argument(..., help="Embedding folder (garmentparse embed)."),
    out: Path = typer.Option(..., "--out", help="PNG to write (the coordinates go to the same name with .csv)."),
    method: str = typer.Option("pca", "--method", help="pca | tsne (t-SNE samples 5 000 items at most)."),
    color_by: str = typer.Option("part", "--color-by", help="part or an attribute: category, colour, style, ..."),
    thumbnails: bool = typer.Option(True, "--thumbnails/--no-thumbnails", help="Draw pictures of garments spread over the map."),
    max_points: int = typer.Option(20_000, "--max-points", min=3, help="Draw a random sample past this many items."),
    seed: int = typer.Option(0, "--seed", help="Sampling and projection seed."),
) -> None:
    """A 2-D map of a collection: PCA or t-SNE, points coloured by part or any attribute, thumbnails, legend."""
    from garmentparse.embeddings.projection import METHODS, make_map

    if method not in METHODS:
        raise typer.BadParameter("use pca or tsne", param_hint="--method")
    summary = make_map(folder, out, method=method, color_by=color_by, thumbnails=thumbnails,
                       max_points=max_points, seed=seed)
    console.print(f"wrote {escape(str(summary.path))} ({summary.points} points, {summary.thumbnails} thumbnails, "
                  f"{len(summary.classes)} colours) and {escape(str(summary.csv_path))}", highlight=False)


def _k_value(k: str) -> int | str:
    if k == "auto":
        return k
    if not k.isdigit() or int(k) < 1:
        raise typer.BadParameter("use auto or a positive number", param_hint="--k")
    return int(k)


def cluster_command(
    folder: Path = typer.Argument(..., help="Embedding folder (garmentparse embed); photo level for style clusters."),
    out: Path = typer.Option(..., "--out", help="Folder for clusters.json, centroids.npy, assignments.csv, cluster_NN.png."),
    k: str = typer.Option("auto", "--k", help="Number of clusters, or auto (best silhouette of 2..--k-max)."),
    k_max: int = typer.Option(12, "--k-max", min=2, help="Largest k tried by --k auto."),
    assign_to: Optional[Path] = typer.Option(None, "--assign-to", help="Instead: give each item the nearest centroid of this earlier cluster --out folder."),
    seed: int = typer.Option(0, "--seed", help="k-means seed."),
    as_json: bool = typer.Option(False, "--json", help="Print k, sizes and silhouettes as JSON on stdout."),
) -> None:
    """k-means clusters of a collection with a contact sheet per cluster, or nearest-centroid assignment of new items."""
    from garmentparse.embeddings.clusters import assign_folder, cluster_folder

    if assign_to is not None:
        summary = assign_folder(folder, assign_to, out)
        console.print(f"assigned to the {summary.k} clusters of {escape(str(assign_to))}: sizes {summary.sizes}; "
                      f"wrote {escape(str(out / 'assignments.csv'))}", highlight=False)
    else:
        summary = cluster_folder(folder, out, k=_k_value(k), k_range=(2, k_max), seed=seed)
        best = f" (silhouette {summary.silhouette[summary.k]:.3f}, best of k=2..{max(summary.silhouette)})" \
            if summary.silhouette else ""
        console.print(f"{summary.k} clusters{best}: sizes {summary.sizes}; {len(summary.sheets)} contact sheets "
                      f"in {escape(str(out))}", highlight=False)
    if as_json:
        print_json({"k": summary.k, "sizes": summary.sizes,
                    "silhouette": {str(key): round(v, 4) for key, v in summary.silhouette.items()},
                    "out": str(out)})


def train_embedder_worker(source: Path, out: Path, options: dict[str, Any], show_progress: bool = True) -> Any:
    """One training process (of one, of ``--nproc`` or of torchrun's)."""
    from garmentparse.embeddings.metric import train_embedder

    setup_logging()
    with progress_bar("train embedder", enabled=show_progress and main_process()) as on_progress:
        return train_embedder(source, out, on_progress=on_progress, **options)


def train_embedder_command(
    out: Path = typer.Option(..., "--out", help="Run folder: model.pt (kind embedder) and report.json."),
    manifest: Optional[Path] = typer.Option(None, "--manifest", help="Training crops: manifest.csv with labels (garmentparse crop); --base embeds them."),
    embeddings: Optional[Path] = typer.Option(None, "--embeddings", help="Instead: an embedding folder the base made of labelled crops (its vectors are used as they are: seconds)."),
    base: str = typer.Option("lite0", "--base", help="Frozen base network for --manifest: 'lite0', a classifier checkpoint or a release classifier name."),
    labels: str = typer.Option("category", "--labels", help="Attribute(s) whose equal values should embed close, e.g. category or category,colour."),
    dim: int = typer.Option(512, "--dim", min=2, help="Embedding width."),
    head: str = typer.Option("mlp", "--head", help="Projection: mlp (linear, ReLU, linear) or linear."),
    epochs: int = typer.Option(40, "--epochs", min=1, help="Passes over the crops (the projection trains in seconds)."),
    batch_size: int = typer.Option(128, "--batch-size", min=2, help="Crops per step over all processes (whole classes of --per-class)."),
    per_class: int = typer.Option(4, "--per-class", min=2, help="Crops of each class in a batch."),
    flip: bool = typer.Option(True, "--flip/--no-flip", help="Also train on mirror images of the crops."),
    seed: int = typer.Option(0, "--seed"),
    workers: int = typer.Option(0, "--workers", min=0, help="Processes decoding crops (0: main process)."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    nproc: int = nproc_option(),
    master_port: int = master_port_option(),
) -> None:
    """Train a metric-learning projection (multi-similarity loss) on the labels of a crop manifest."""
    from garmentparse import vocab

    names = tuple(n.strip() for n in labels.split(",") if n.strip())
    if not names or any(n not in vocab.ATTRIBUTES for n in names):
        raise typer.BadParameter(f"use attributes of {', '.join(vocab.ATTRIBUTES)}", param_hint="--labels")
    if (manifest is None) == (embeddings is None):
        raise typer.BadParameter("give exactly one of --manifest or --embeddings", param_hint="--manifest/--embeddings")
    if head not in ("mlp", "linear"):
        raise typer.BadParameter("use mlp or linear", param_hint="--head")
    options = {"base": base, "labels": names, "dim": dim, "head": head, "epochs": epochs, "batch_size": batch_size,
               "per_class": per_class, "flip": flip, "seed": seed, "device": device, "workers": workers}
    try:
        result = launch_or_run(nproc, master_port, train_embedder_worker, manifest or embeddings, out, options)
    except RuntimeError as exc:  # a failed process of several, a port in use
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from None
    if not main_process():  # torchrun: rank 0 prints
        return
    console.print(f"trained on {result.crops} crops of {result.classes} classes in {result.seconds:.0f}s "
                  f"(final loss {result.final_loss:.4f}); wrote {escape(str(result.model_path))}", highlight=False)


def eval_embeddings_command(
    queries: Path = typer.Argument(..., help="Embedding folder of the query garments (e.g. held-out photos)."),
    gallery: Path = typer.Option(..., "--gallery", help="Embedding folder searched (e.g. training photos), same model."),
    labels: str = typer.Option("category", "--labels", help="Label(s) a neighbour must share to count, e.g. category,colour."),
    same: Optional[str] = typer.Option(None, "--same", help="Search only gallery garments sharing these labels with the query (as similar --same), e.g. part."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object keyed by label on stdout."),
) -> None:
    """Precision@k and mAP@10 of same-label retrieval, beside the class-prior (random) baseline."""
    from garmentparse.embeddings.evaluate import MAP_K, evaluate_retrieval
    from garmentparse.embeddings.folder import FIELDS
    from garmentparse.embeddings.search import parse_same

    names = [n.strip() for n in labels.split(",") if n.strip()]
    if not names or any(n not in FIELDS for n in names):
        raise typer.BadParameter(f"use part or attributes ({', '.join(FIELDS[1:])})", param_hint="--labels")
    fields = parse_same(same)
    results = {name: evaluate_retrieval(queries, gallery, label=name, same=fields) for name in names}
    table = Table(title=f"eval embeddings: {escape(str(queries))} against {escape(str(gallery))}"
                  + (f", same {', '.join(fields)}" if fields else ""))
    for col in ("label", "queries", "gallery", "P@1", "P@5", "P@10", f"mAP@{MAP_K}", "random P@10", f"random mAP@{MAP_K}"):
        table.add_column(col, justify="left" if col == "label" else "right")
    for name, r in results.items():
        table.add_row(name, str(r.queries), str(r.gallery), *(f"{r.precision[k]:.3f}" for k in (1, 5, 10)),
                      f"{r.map_at_10:.3f}", f"{r.random_precision[10]:.3f}", f"{r.random_map_at_10:.3f}")
    console.print(table)
    if as_json:
        print_json({name: r.to_dict() for name, r in results.items()})
    if all(r.queries == 0 for r in results.values()):
        raise typer.Exit(1)


def register(root: typer.Typer, train: typer.Typer, eval_: typer.Typer) -> None:
    """Add ``embed``, ``similar``, ``map``, ``cluster``, ``train embedder`` and ``eval embeddings``."""
    root.command("embed")(embed_command)
    root.command("similar")(similar_command)
    root.command("map")(map_command)
    root.command("cluster")(cluster_command)
    train.command("embedder")(train_embedder_command)
    eval_.command("embeddings")(eval_embeddings_command)
