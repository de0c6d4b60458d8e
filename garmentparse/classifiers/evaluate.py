"""Evaluation on a crop manifest: per-head accuracy, top-k accuracy, macro-F1, per-class
recall and confusion matrices (CSV + PNG), missing labels ignored; TTA with its cost."""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np
import torch

from garmentparse.classifiers.data import (CropRecord, background_fill, prepare, read_manifest,
                                           to_tensor)
from garmentparse.classifiers.predict import (TorchvisionClassifier, head_probabilities, load_classifier,
                                              restrict_to_parts)
from garmentparse.engine.images import iter_decoded
from garmentparse.progress import ProgressCallback, report_progress
from garmentparse.report import Report

UNSEEN = "(unseen)"  # row of the confusion matrix for labels the model has no class for


@dataclass
class EvalResult:
    """Metrics per head plus timing; ``to_json()`` is the ``--json`` object (keyed by head)."""

    metrics: dict[str, dict[str, Any]]
    crops: int
    tta: list[str]
    timing: dict[str, float]
    report: Report | None = None
    files: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, dict[str, Any]]:
        """Metrics keyed by head, without the matrices (those are in the report files)."""
        return {h: {k: v for k, v in m.items() if k not in ("confusion", "per_class")}
                for h, m in self.metrics.items()}

    def to_dict(self) -> dict[str, Any]:
        return {"crops": self.crops, "tta": self.tta, "timing": self.timing, "heads": self.metrics,
                "files": self.files, "problems": self.report.to_dict() if self.report else None}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def collect_probabilities(clf: TorchvisionClassifier, records: list[CropRecord], tta: Sequence[str],
                          report: Report, workers: int = 0, batch_size: int | None = None,
                          on_progress: ProgressCallback | None = None,
                          ) -> tuple[list[int], dict[str, np.ndarray], dict[str, np.ndarray] | None, dict[str, float]]:
    """Probabilities without (and, with ``tta``, with) TTA for every readable crop, and the
    model time per crop of each (seconds, after one warm-up batch)."""
    batch_size = batch_size or clf.config.eval.batch_size
    letterbox = partial(prepare, size=clf.input_size, fill=background_fill(clf.crop_background))
    plain: dict[str, list[np.ndarray]] = {h: [] for h in clf.vocabulary}
    with_tta: dict[str, list[np.ndarray]] = {h: [] for h in clf.vocabulary}
    kept: list[int] = []
    seconds = {"plain": 0.0, "tta": 0.0}
    warm = False
    done = 0
    report_progress(on_progress, done, len(records))
    for batch in iter_decoded([r.path for r in records], batch_size, workers, transform=letterbox):
        done += len(batch)
        good = []
        for item in batch:
            if item.image is None:
                report.add(records[item.index].path, "crop_unreadable", item.error or "")
            else:
                good.append(item)
        if not good:
            report_progress(on_progress, done, len(records))
            continue
        kept += [item.index for item in good]
        x = torch.stack([to_tensor(item.image) for item in good]).to(clf.device)
        if not warm:  # first CUDA/cuDNN calls are slow; keep them out of the timing
            head_probabilities(clf.model, x, clf.multi_label, tta, clf.amp)
            warm = True
        for name, modes, sink in (("plain", (), plain), ("tta", tta, with_tta)):
            if name == "tta" and not tta:
                continue
            _sync(clf.device)
            t0 = time.perf_counter()
            probs = head_probabilities(clf.model, x, clf.multi_label, modes, clf.amp)
            _sync(clf.device)
            seconds[name] += time.perf_counter() - t0
            for h, p in probs.items():
                sink[h].append(p.float().cpu().numpy())
        report_progress(on_progress, done, len(records))

    def stack(chunks: dict[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
        return {h: np.concatenate(c) if c else np.zeros((0, len(clf.vocabulary[h])), np.float32)
                for h, c in chunks.items()}

    n = max(len(kept), 1)
    timing = {"ms_per_crop": 1000 * seconds["plain"] / n}
    if tta:
        timing["ms_per_crop_tta"] = 1000 * seconds["tta"] / n
        timing["tta_cost"] = timing["ms_per_crop_tta"] / max(timing["ms_per_crop"], 1e-9)
    return kept, stack(plain), stack(with_tta) if tta else None, timing


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    denom = 2 * tp + fp + fn
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)


def single_label_metrics(probs: np.ndarray, truth: list[str | None], classes: list[str],
                         top_k: int) -> dict[str, Any]:
    """Accuracy, top-k accuracy, macro-F1, per-class recall and the confusion matrix over the
    rows with a label (``None`` = missing, ignored). A label outside ``classes`` counts as wrong."""
    rows = [i for i, t in enumerate(truth) if t is not None]
    out: dict[str, Any] = {"n": len(rows)}
    if not rows:
        return {**out, "accuracy": None, f"top{top_k}_accuracy": None, "macro_f1": None,
                "per_class_recall": {}, "n_unseen": 0, "confusion": None}
    index = {c: j for j, c in enumerate(classes)}
    true_idx = np.array([index.get(truth[i], -1) for i in rows])
    p = probs[rows]
    pred = p.argmax(1)
    topk = np.argsort(-p, axis=1)[:, :top_k]
    unseen = int((true_idx < 0).sum())
    n_cls = len(classes)
    confusion = np.zeros((n_cls + (1 if unseen else 0), n_cls), dtype=np.int64)
    for t, q in zip(true_idx, pred):
        confusion[t if t >= 0 else n_cls, q] += 1
    tp = np.diag(confusion[:n_cls]).astype(float)
    support = confusion.sum(1)[:n_cls]
    predicted = confusion.sum(0)
    fn = support - tp
    fp = predicted - tp
    present = (support > 0) | (predicted > 0)
    return {
        **out,
        "accuracy": float((pred == true_idx).mean()),
        f"top{top_k}_accuracy": float((topk == true_idx[:, None]).any(1).mean()),
        "macro_f1": float(_f1(tp, fp, fn)[present].mean()) if present.any() else 0.0,
        "per_class_recall": {c: float(tp[j] / support[j]) for j, c in enumerate(classes) if support[j]},
        "majority_rate": float(np.bincount(true_idx[true_idx >= 0], minlength=n_cls).max() / len(rows))
        if (true_idx >= 0).any() else 0.0,
        "n_unseen": unseen,
        "confusion": {"rows": classes + ([UNSEEN] if unseen else []), "cols": classes,
                      "matrix": confusion.tolist()},
    }


def multi_label_metrics(probs: np.ndarray, truth: list[list[str] | None], classes: list[str],
                        threshold: float, top_k: int) -> dict[str, Any]:
    """Exact-match accuracy, top-k hit rate, macro-F1 and per-class recall over labelled rows."""
    rows = [i for i, t in enumerate(truth) if t]
    out: dict[str, Any] = {"n": len(rows)}
    if not rows:
        return {**out, "accuracy": None, f"top{top_k}_accuracy": None, "macro_f1": None,
                "per_class_recall": {}, "n_unseen": 0, "per_class": None}
    index = {c: j for j, c in enumerate(classes)}
    y = np.zeros((len(rows), len(classes)), dtype=bool)
    unseen = np.zeros(len(rows), dtype=bool)
    for r, i in enumerate(rows):
        for v in truth[i]:
            if v in index:
                y[r, index[v]] = True
            else:
                unseen[r] = True
    p = probs[rows]
    pred = p >= threshold
    topk = np.argsort(-p, axis=1)[:, :top_k]
    tp = (pred & y).sum(0).astype(float)
    fp = (pred & ~y).sum(0).astype(float)
    fn = (~pred & y).sum(0).astype(float)
    support = y.sum(0)
    present = (support > 0) | (pred.sum(0) > 0)
    return {
        **out,
        "accuracy": float(((pred == y).all(1) & ~unseen).mean()),
        f"top{top_k}_accuracy": float(np.take_along_axis(y, topk, 1).any(1).mean()),
        "macro_f1": float(_f1(tp, fp, fn)[present].mean()) if present.any() else 0.0,
        "per_class_recall": {c: float(tp[j] / support[j]) for j, c in enumerate(classes) if support[j]},
        "n_unseen": int(unseen.sum()),
        "per_class": {"classes": classes, "tp": tp.astype(int).tolist(), "fp": fp.astype(int).tolist(),
                      "fn": fn.astype(int).tolist(), "support": support.astype(int).tolist()},
    }


def head_metrics(clf: TorchvisionClassifier, probs: dict[str, np.ndarray], records: list[CropRecord],
                 top_k: int, part_restrict: bool) -> dict[str, dict[str, Any]]:
    """Metrics for every head the classifier answers, on the records the probabilities are for."""
    out: dict[str, dict[str, Any]] = {}
    parts = [r.part for r in records]
    for head in clf.heads:
        classes = clf.vocabulary[head]
        p = probs[head]
        if clf.multi_label[head]:
            truth_m = [r.labels.get(head) or None for r in records]
            out[head] = multi_label_metrics(p, truth_m, classes, clf.thresholds[head], top_k)
            continue
        truth = [r.labels[head][0] if len(r.labels.get(head, [])) == 1 else None for r in records]
        if head == "category" and part_restrict:
            free = single_label_metrics(p, truth, classes, top_k)
            p = restrict_to_parts(p, classes, parts)
            out[head] = single_label_metrics(p, truth, classes, top_k)
            out[head]["accuracy_unrestricted"] = free["accuracy"]
            out[head]["part_restricted"] = True
        else:
            out[head] = single_label_metrics(p, truth, classes, top_k)
    return out


def _write_confusion_csv(path: Path, conf: dict[str, Any]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["true \\ predicted", *conf["cols"]])
        for name, row in zip(conf["rows"], conf["matrix"]):
            w.writerow([name, *row])


def draw_confusion(conf: dict[str, Any], title: str = "") -> np.ndarray:
    """The confusion matrix as a BGR image: rows = truth, shading = share of the row."""
    rows, cols, m = conf["rows"], conf["cols"], np.asarray(conf["matrix"], dtype=float)
    cell, font = 34, cv2.FONT_HERSHEY_SIMPLEX
    label_w = 12 + 8 * max(len(s) for s in rows + cols)
    top = label_w + 30
    h, w = top + cell * len(rows) + 10, label_w + cell * len(cols) + 10
    img = np.full((h, w, 3), 255, np.uint8)
    cv2.putText(img, title, (8, 20), font, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    share = m / np.maximum(m.sum(1, keepdims=True), 1)
    for j, name in enumerate(cols):  # column names written vertically: rotate a strip
        strip = np.full((cell, label_w, 3), 255, np.uint8)
        cv2.putText(strip, name, (4, cell // 2 + 5), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        img[30:30 + label_w, label_w + j * cell:label_w + (j + 1) * cell] = cv2.rotate(strip, cv2.ROTATE_90_COUNTERCLOCKWISE)
    for i, name in enumerate(rows):
        y = top + i * cell
        cv2.putText(img, name, (4, y + cell // 2 + 5), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        for j in range(len(cols)):
            x = label_w + j * cell
            shade = int(255 - 200 * share[i, j])
            colour = (255, shade, shade) if i != j else (shade, 255, shade)
            cv2.rectangle(img, (x, y), (x + cell - 1, y + cell - 1), colour, -1)
            cv2.rectangle(img, (x, y), (x + cell - 1, y + cell - 1), (200, 200, 200), 1)
            if m[i, j]:
                text = str(int(m[i, j]))
                cv2.putText(img, text, (x + 4, y + cell // 2 + 5), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return img


def write_report(result: EvalResult, out_dir: str | Path) -> list[str]:
    """``report.json``, ``confusion_<head>.csv/.png`` (single-label heads) and
    ``per_class_<head>.csv`` (multi-label heads) in ``out_dir``; returns the file names."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: list[str] = []
    for head, m in result.metrics.items():
        if m.get("confusion"):
            _write_confusion_csv(out / f"confusion_{head}.csv", m["confusion"])
            png = draw_confusion(m["confusion"], f"{head}: rows = truth, columns = prediction")
            if not cv2.imwrite(str(out / f"confusion_{head}.png"), png):
                raise OSError(f"cannot write {out / f'confusion_{head}.png'}")
            files += [f"confusion_{head}.csv", f"confusion_{head}.png"]
        if m.get("per_class"):
            pc = m["per_class"]
            with (out / f"per_class_{head}.csv").open("w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow(["class", "tp", "fp", "fn", "support", "recall"])
                for j, c in enumerate(pc["classes"]):
                    rec = pc["tp"][j] / pc["support"][j] if pc["support"][j] else ""
                    w.writerow([c, pc["tp"][j], pc["fp"][j], pc["fn"][j], pc["support"][j], rec])
            files.append(f"per_class_{head}.csv")
    result.files = files + ["report.json"]
    (out / "report.json").write_text(json.dumps(result.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
    return result.files


def evaluate_classifier(model: str | Path | TorchvisionClassifier, manifest: str | Path, *,
                        tta: bool | Sequence[str] = False, out_dir: str | Path | None = None,
                        device: str = "auto", top_k: int | None = None, part_restrict: bool | None = None,
                        batch_size: int | None = None, workers: int = 0,
                        on_progress: ProgressCallback | None = None) -> EvalResult:
    """Evaluate a checkpoint (or loaded classifier) on a crop manifest.

    With ``tta`` the metrics are those of the averaged views, each head also gets
    ``accuracy_without_tta``, and ``timing`` holds milliseconds per crop with and without."""
    clf = load_classifier(model, device=device) if isinstance(model, (str, Path)) else model
    top_k = top_k or clf.config.eval.top_k
    part_restrict = clf.config.eval.part_restrict if part_restrict is None else part_restrict
    modes = clf.tta_modes(tta)
    report = Report("eval classifier")
    records = read_manifest(manifest, report, clf.heads)
    kept, plain, with_tta, timing = collect_probabilities(clf, records, modes, report, workers,
                                                          batch_size, on_progress)
    records = [records[i] for i in kept]
    metrics = head_metrics(clf, with_tta if with_tta is not None else plain, records, top_k, part_restrict)
    if with_tta is not None:
        base = head_metrics(clf, plain, records, top_k, part_restrict)
        for head in metrics:
            metrics[head]["accuracy_without_tta"] = base[head]["accuracy"]
    report.counts.update(crops=len(records))
    result = EvalResult(metrics, len(records), modes, {k: round(v, 4) for k, v in timing.items()}, report)
    if out_dir is not None:
        write_report(result, out_dir)
    return result
