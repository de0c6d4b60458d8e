"""``garmentparse compare``: two tag runs side by side (and against reviewed garments);
``garmentparse eval products``: a tag output of product photos against their image-level labels."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.markup import escape
from rich.table import Table

from garmentparse.cli.common import console, print_json, print_report

if TYPE_CHECKING:
    from garmentparse.comparison import Comparison


def _pct(value: float | None) -> str:
    return "–" if value is None or value != value else f"{100 * value:.1f}%"


def _table(title: str, columns: list[str], rows: list[list[object]]) -> Table:
    t = Table(title=title)
    for i, col in enumerate(columns):
        t.add_column(col, justify="left" if i == 0 else "right")
    for row in rows:
        t.add_row(*(escape(str(v)) for v in row))
    return t


def print_comparison(c: Comparison) -> None:
    """The comparison's tables on stderr."""
    from garmentparse.comparison.compare import bias_note

    models = [[side, m.role, (m.sha256 or "")[:12], m.file or ""] for side, r in (("A", c.a), ("B", c.b))
              for m in r.models]
    console.print(_table(f"A = {c.a.path}, B = {c.b.path}", ["run", "model", "sha256", "file"],
                         models or [["A", "(no run record)", "", ""], ["B", "(no run record)", "", ""]]))
    o = c.overlap
    console.print(_table("photos", ["in A", "in B", "in both", "failed in A", "failed in B", "compared"],
                         [[o.in_a, o.in_b, o.in_both, o.failed_a, o.failed_b, o.compared]]))
    console.print(_table(f"agreement (garments matched at mask IoU >= {c.iou:g}: {c.matched}; only in A "
                         f"{c.only_a}, only in B {c.only_b})", ["head", "pairs", "agree", "agreement"],
                         [[g.head, g.pairs, g.agree, _pct(g.rate)] for g in c.agreement]))
    if c.truth is not None:
        t = c.truth
        console.print(_table(f"against the truth ({t.photos} photos, {t.garments} garments; missed by A "
                             f"{t.missed_a}, by B {t.missed_b})",
                             ["head", "found by both", "acc A", "acc B", "B - A", "95% interval"],
                             [[x.head, f"{x.paired}/{x.labelled}", _pct(x.accuracy_a), _pct(x.accuracy_b),
                               _pct(x.diff), f"{_pct(x.lo)} .. {_pct(x.hi)}"] for x in t.accuracy]))
        console.print(_table("detection AP (COCOeval)", ["run", "bbox", "bbox@50", "segm", "segm@50"],
                             [[side, *(_pct(ap[k]) for k in ("bbox", "bbox_50", "segm", "segm_50"))]
                              for side, ap in (("A", t.ap_a), ("B", t.ap_b))]))
        if bias_note(t):
            console.print(f"[yellow]note:[/yellow] {bias_note(t)}", highlight=False)
    console.print(_table("photos that changed most", ["photo", "changes", "only A", "only B", "labels A -> B"],
                         [[ch.path, ch.size, len(ch.only_a), len(ch.only_b),
                           "; ".join(f"{x.head}: {x.label_a} -> {x.label_b}" for x in ch.changes[:4])
                           + (" ..." if len(ch.changes) > 4 else "")] for ch in c.changed]))


def register(root: typer.Typer, train: typer.Typer, eval_: typer.Typer) -> None:
    """Add ``compare`` to the root app."""

    @root.command("compare")
    def compare(
        a: Path = typer.Argument(..., help="Tag output A (JSON Lines; its .run.json next to it)."),
        b: Path = typer.Argument(..., help="Tag output B, compared with A."),
        out: Path = typer.Option(..., "--out", help="Report folder: index.html and changed.png."),
        truth: Optional[Path] = typer.Option(None, "--truth", help="Reviewed garments as COCO (`export --format coco`)."),
        db: Optional[str] = typer.Option(None, "--db", help="Take the truth from this catalogue database's "
                                                            "reviewed garments (confirmed, corrected)."),
        images: Optional[Path] = typer.Option(None, "--images", help="Photo folder (default: the one the run "
                                                                     "record names)."),
        iou: float = typer.Option(0.5, "--iou", min=0.0, max=1.0, help="Mask IoU at which two garments match."),
        bootstrap: int = typer.Option(1000, "--bootstrap", min=0, help="Bootstrap resamples of photos."),
        seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
        top: int = typer.Option(12, "--top", min=0, help="Photos that changed most on the sheet."),
        as_json: bool = typer.Option(False, "--json", help="Print the whole comparison as JSON on stdout."),
    ) -> None:
        """Compare two tag runs: photos in both, agreement per head, accuracy and AP against reviewed garments."""
        from garmentparse.comparison import compare_outputs

        if truth is not None and db is not None:
            raise typer.BadParameter("give --truth or --db, not both", param_hint="--db")
        with tempfile.TemporaryDirectory(prefix="gp-compare-") as tmp:
            if db is not None:
                from garmentparse.cli.store import _store

                with _store(db) as store:
                    store.export(tmp, "coco")
                truth = Path(tmp) / "coco.json"
            comparison, report = compare_outputs(a, b, out, truth=truth, images=images, iou=iou,
                                                 bootstrap=bootstrap, seed=seed, top=top)
        print_comparison(comparison)
        if report.problems:
            print_report(report)
            for p in report.problems[:10]:
                console.print(f"  {escape(p.file)}: {p.reason}: {escape(p.detail)}", highlight=False)
        console.print(f"wrote {escape(str(out / 'index.html'))}")
        if as_json:
            print_json({**comparison.to_dict(), "report": report.to_dict()})

    @eval_.command("products")
    def eval_products(
        tags: Path = typer.Argument(..., help="Tag output (JSON Lines) of product photos."),
        coco: Path = typer.Option(..., "--coco", help="The photos' image-level labels (`convert photos`)."),
        failures: int = typer.Option(10, "--failures", min=0, help="Failing photos to list."),
        as_json: bool = typer.Option(False, "--json", help="Print figures and every failure as JSON on stdout."),
    ) -> None:
        """Product photos: share whose top garment reads right (part, category, sleeves, length), per class."""
        from garmentparse.comparison.products import check_products

        result = check_products(tags, coco)
        summary = result.to_dict()
        for title, key in (("contract classes", "contract_classes"), ("all classes", "all_classes")):
            s = summary[key]
            rows = [[c, r["photos"], r["held"], _pct(r["rate"]), r["part_right"], r["one_garment"]]
                    for c, r in s["per_class"].items()]
            rows.append(["all", s["photos"], "", _pct(s["held"]), _pct(s["part_right"]), _pct(s["exactly_one_garment"])])
            console.print(_table(f"{title}: the photo's row holds", ["class", "photos", "held", "rate", "part right",
                                                                     "one garment"], rows))
        for f in result.failures[:failures]:
            console.print(f"  {escape(f['file_name'])} ({escape(f['class'])}): {escape(f['why'])}", highlight=False)
        if as_json:
            print_json(summary)
