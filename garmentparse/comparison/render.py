"""A comparison for people: the contact sheet of the photos that changed most (A | B overlays)
and a self-contained HTML page of every table."""

from __future__ import annotations

import html
from pathlib import Path

import cv2
import numpy as np

from garmentparse import masks
from garmentparse.comparison.compare import Comparison, PhotoChange, bias_note
from garmentparse.comparison.runs import Photo, Run
from garmentparse.draw import draw_instances, save_rgb
from garmentparse.imageio import ImageReadError, load_rgb
from garmentparse.report import Report

ROW_HEIGHT = 360
_HEADER = 30


def _captions(photo: Photo, change: PhotoChange, side: int) -> list[str]:
    """Each garment's part, the labels that changed on it, or that the other run lacks it."""
    alone = change.only_a if side == 0 else change.only_b
    out = []
    for k, g in enumerate(photo.garments):
        if k in alone:
            out.append(f"{g.part} (only {'AB'[side]})")
            continue
        changed = [x for x in change.changes if (x.a, x.b)[side] == k]
        out.append(" ".join([g.part, *(f"{x.head}={(x.label_a, x.label_b)[side]}" for x in changed
                                       if x.head != "part")]))
    return out


def _overlay(image: np.ndarray, photo: Photo, change: PhotoChange, side: int) -> np.ndarray:
    drawn = draw_instances(image, [masks.decode(g.mask) for g in photo.garments], [g.box for g in photo.garments],
                           _captions(photo, change, side), colour_keys=[g.part for g in photo.garments])
    h, w = drawn.shape[:2]
    return cv2.resize(drawn, (max(1, round(w * ROW_HEIGHT / h)), ROW_HEIGHT), interpolation=cv2.INTER_AREA)


def _row(titles: tuple[str, str], left: np.ndarray, right: np.ndarray) -> np.ndarray:
    gap = np.full((ROW_HEIGHT, 8, 3), 255, np.uint8)
    body = np.concatenate([left, gap, right], axis=1)
    header = np.full((_HEADER, body.shape[1], 3), 255, np.uint8)
    for x, title in ((4, titles[0]), (left.shape[1] + 12, titles[1])):
        cv2.putText(header, title, (x, _HEADER - 9), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([header, body], axis=0)


def contact_sheet(comparison: Comparison, a: Run, b: Run, images_dir: str | Path | None, out: str | Path,
                  report: Report) -> Path | None:
    """``out`` (PNG): per changed photo, A's overlay beside B's, changed labels drawn. A photo
    that cannot be read is a problem and is left out; ``None`` when no photo could be drawn."""
    if not comparison.changed:
        return None
    if images_dir is None:
        report.add("changed.png", "no_images_dir", "give --images (the runs' records name no folder)",
                   action="not drawn")
        return None
    rows = []
    for change in comparison.changed:
        try:
            image = load_rgb(Path(images_dir) / change.path)
        except ImageReadError as exc:
            report.add(Path(images_dir) / change.path, "unreadable_photo", str(exc), action="left off the sheet")
            continue
        pa, pb = a.photos[change.path], b.photos[change.path]
        if image.shape[:2] != (pa.height, pa.width):
            report.add(Path(images_dir) / change.path, "size_mismatch",
                       f"photo is {image.shape[1]}x{image.shape[0]}, tagged {pa.width}x{pa.height}",
                       action="left off the sheet")
            continue
        rows.append(_row((f"{change.path}  A: {a.name}", f"B: {b.name}"), _overlay(image, pa, change, 0),
                         _overlay(image, pb, change, 1)))
    if not rows:
        return None
    width = max(r.shape[1] for r in rows)
    sheet = np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255)
                            for r in rows], axis=0)
    save_rgb(out, sheet)
    return Path(out)


def _pct(value: float | None) -> str:
    return "–" if value is None or value != value else f"{100 * value:.1f}%"


def _table(columns: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_STYLE = ("body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}"
          "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}td:first-child,th:first-child"
          "{text-align:left}th{background:#f3f3f3}img{max-width:100%}code{font-size:90%}")


def html_report(comparison: Comparison, report: Report, sheet: str | None) -> str:
    """The whole comparison as one HTML page (text escaped); ``sheet``: the contact sheet's
    file name next to it."""
    c = comparison
    parts = [f"<h1>{html.escape(c.a.name)} vs {html.escape(c.b.name)}</h1>"]
    models = [[side, r.path, m.role, m.sha256 or "", m.file or ""] for side, r in (("A", c.a), ("B", c.b))
              for m in (r.models or ())]
    parts += ["<h2>Runs</h2>", _table(["run", "output", "model", "sha256", "file"], models or
                                      [["A", c.a.path, "", "", ""], ["B", c.b.path, "", "", ""]])]
    o = c.overlap
    parts += ["<h2>Photos</h2>", _table(["in A", "in B", "in both", "failed in A", "failed in B", "compared"],
                                        [[o.in_a, o.in_b, o.in_both, o.failed_a, o.failed_b, o.compared]])]
    parts += [f"<h2>Agreement (garments matched at mask IoU &ge; {c.iou:g})</h2>",
              _table(["garments matched", "only in A", "only in B"], [[c.matched, c.only_a, c.only_b]]),
              _table(["head", "pairs", "agree", "agreement"],
                     [[g.head, g.pairs, g.agree, _pct(g.rate)] for g in c.agreement])]
    if c.truth is not None:
        t = c.truth
        parts += ["<h2>Against the reviewed garments</h2>",
                  _table(["photos", "true garments", "missed by A", "missed by B"],
                         [[t.photos, t.garments, t.missed_a, t.missed_b]]),
                  _table(["head", "labelled", "found by both", "accuracy A", "accuracy B", "B − A", "95% interval",
                          "missed by A", "missed by B"],
                         [[x.head, x.labelled, x.paired, _pct(x.accuracy_a), _pct(x.accuracy_b), _pct(x.diff),
                           f"{_pct(x.lo)} … {_pct(x.hi)}", x.missed_a, x.missed_b] for x in t.accuracy]),
                  _table(["run", "AP bbox", "AP50 bbox", "AP segm", "AP50 segm"],
                         [[side, *(_pct(ap[k]) for k in ("bbox", "bbox_50", "segm", "segm_50"))]
                          for side, ap in (("A", t.ap_a), ("B", t.ap_b))])]
        if bias_note(t):
            parts.append(f'<p class="note">{html.escape(bias_note(t))}</p>')
    parts.append(f"<h2>Photos that changed most ({len(c.changed)})</h2>")
    rows = []
    for ch in c.changed:
        what = [f"{x.head}: {x.label_a} → {x.label_b}" for x in ch.changes]
        rows.append([ch.path, ch.size, len(ch.only_a), len(ch.only_b), "; ".join(what)])
    parts.append(_table(["photo", "changes", "only in A", "only in B", "labels A → B"], rows))
    if sheet:
        parts.append(f'<p><img src="{html.escape(sheet)}" alt="A | B overlays of the changed photos"></p>')
    if report.problems:
        parts += ["<h2>Problems</h2>", _table(["file", "reason", "detail", "action"],
                                              [[p.file, p.reason, p.detail, p.action] for p in report.problems])]
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>"
            f"{html.escape(c.a.name)} vs {html.escape(c.b.name)}</title><style>{_STYLE}</style></head><body>"
            + "\n".join(parts) + "</body></html>\n")
