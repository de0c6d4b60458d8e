"""Two tag runs side by side: which photos both tagged, how often they agree per head, how
accurate each is against reviewed garments (with a paired bootstrap interval), detection AP, and
the photos that changed most."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from garmentparse import masks
from garmentparse.comparison.runs import PART, ModelRef, Photo, Run
from garmentparse.comparison.stats import bootstrap_difference, detection_ap
from garmentparse.report import Report


class CompareError(ValueError):
    """The two runs cannot be compared (no photo tagged in both)."""


@dataclass(frozen=True)
class Overlap:
    """Photos (by path) in each output, in both, failed in either, and compared."""

    in_a: int
    in_b: int
    in_both: int
    failed_a: int  # of the photos in both: ``error`` set in A
    failed_b: int
    compared: int


@dataclass(frozen=True)
class Agreement:
    """One head over the garments A and B both found (matched by mask IoU)."""

    head: str
    pairs: int
    agree: int

    @property
    def rate(self) -> float | None:
        return self.agree / self.pairs if self.pairs else None


@dataclass(frozen=True)
class Accuracy:
    """One head against the truth: over the true garments labelled for it and found by both
    runs (the same garments for both), and how many labelled ones each run missed."""

    head: str
    labelled: int
    paired: int
    correct_a: int
    correct_b: int
    missed_a: int
    missed_b: int
    diff: float  # accuracy of B minus that of A
    lo: float  # its bootstrap interval (photos resampled)
    hi: float

    @property
    def accuracy_a(self) -> float | None:
        return self.correct_a / self.paired if self.paired else None

    @property
    def accuracy_b(self) -> float | None:
        return self.correct_b / self.paired if self.paired else None


OWN_MASK_IOU = 0.99


def bias_note(t: TruthResult) -> str | None:
    """A warning when the truth's masks are one run's own (reviewed from that run)."""
    side = t.biased_towards
    if side is None:
        return None
    n = t.own_masks_a if side == "a" else t.own_masks_b
    return (f"{n} of {t.garments} true masks are run {side.upper()}'s own (the truth was reviewed from it): "
            f"its AP is flattered; measure detection against independent masks")


@dataclass(frozen=True)
class TruthResult:
    """Both runs against the reviewed garments of the photos in truth and compared."""

    photos: int
    garments: int
    missed_a: int
    missed_b: int
    accuracy: tuple[Accuracy, ...]
    ap_a: dict[str, float | None]  # bbox, bbox_50, segm, segm_50
    ap_b: dict[str, float | None]
    # true garments whose mask is a run's own (IoU >= 0.99): reviews keep the reviewed run's masks,
    # so against such truth that run's AP is flattered and the AP comparison is not fair
    own_masks_a: int = 0
    own_masks_b: int = 0

    @property
    def biased_towards(self) -> str | None:
        """``a`` or ``b`` when most true masks are that run's own and not the other's (the same
        detector in both runs flatters neither), else None."""
        own = [side for side, n in (("a", self.own_masks_a), ("b", self.own_masks_b)) if n > self.garments / 2]
        return own[0] if len(own) == 1 else None


@dataclass(frozen=True)
class LabelChange:
    """A head whose label differs on a garment pair: garment ``a`` of A and ``b`` of B."""

    a: int
    b: int
    head: str
    label_a: str | None
    label_b: str | None


@dataclass(frozen=True)
class PhotoChange:
    """What changed on one photo between A and B (garments by their index in each line)."""

    path: str
    pairs: tuple[tuple[int, int], ...]
    only_a: tuple[int, ...]
    only_b: tuple[int, ...]
    changes: tuple[LabelChange, ...]

    @property
    def size(self) -> int:
        return len(self.changes) + len(self.only_a) + len(self.only_b)


@dataclass(frozen=True)
class RunSide:
    name: str
    path: str
    models: tuple[ModelRef, ...]
    photos: int
    garments: int  # on the compared photos


@dataclass(frozen=True)
class Comparison:
    a: RunSide
    b: RunSide
    iou: float
    overlap: Overlap
    matched: int
    only_a: int
    only_b: int
    agreement: tuple[Agreement, ...]
    truth: TruthResult | None
    changed: tuple[PhotoChange, ...]  # the ``top`` photos that changed most, most first

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN becomes ``null``), with the rates and accuracies spelled out."""
        out = asdict(self)
        out["agreement"] = [{**asdict(g), "rate": g.rate} for g in self.agreement]
        if self.truth is not None:
            out["truth"]["accuracy"] = [{**asdict(x), "accuracy_a": x.accuracy_a, "accuracy_b": x.accuracy_b}
                                        for x in self.truth.accuracy]
            out["truth"]["biased_towards"] = self.truth.biased_towards
        out["changed"] = [{**asdict(c), "size": c.size} for c in self.changed]
        return _no_nan(out)


def _no_nan(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_no_nan(v) for v in value]
    return value


def _heads(photos: list[Photo]) -> list[str]:
    return list(dict.fromkeys(h for p in photos for g in p.garments for h in g.labels))


def _photo_change(pa: Photo, pb: Photo, iou: float) -> PhotoChange:
    pairs = masks.match([g.mask for g in pa.garments], [g.mask for g in pb.garments], iou)
    changes = []
    for i, j, _ in pairs:
        la, lb = pa.garments[i].labels, pb.garments[j].labels
        changes += [LabelChange(i, j, h, la[h], lb[h]) for h in la if h in lb and la[h] != lb[h]]
    paired_a, paired_b = {i for i, _, _ in pairs}, {j for _, j, _ in pairs}
    return PhotoChange(pa.path, tuple((i, j) for i, j, _ in pairs),
                       tuple(i for i in range(len(pa.garments)) if i not in paired_a),
                       tuple(j for j in range(len(pb.garments)) if j not in paired_b), tuple(changes))


def _common(a: Run, b: Run, report: Report) -> tuple[Overlap, list[str]]:
    both = sorted(a.photos.keys() & b.photos.keys())
    failed_a = sum(1 for p in both if a.photos[p].error)
    failed_b = sum(1 for p in both if b.photos[p].error)
    common = []
    for p in both:
        pa, pb = a.photos[p], b.photos[p]
        if pa.error or pb.error:
            continue
        if (pa.width, pa.height) != (pb.width, pb.height):
            report.add(p, "size_mismatch", f"{a.name}: {pa.width}x{pa.height}, {b.name}: {pb.width}x{pb.height}")
            continue
        common.append(p)
    overlap = Overlap(len(a.photos), len(b.photos), len(both), failed_a, failed_b, len(common))
    if not common:
        why = ("no photo path is in both" if not both
               else f"the {len(both)} photos in both failed in one of them or differ in size")
        raise CompareError(f"nothing to compare: {why} ({a.path}: {len(a.photos)} photos, "
                           f"{b.path}: {len(b.photos)} photos)")
    return overlap, common


def _truth(a: Run, b: Run, truth: dict[str, Photo], common: list[str], heads: list[str], iou: float,
           bootstrap: int, seed: int, report: Report) -> TruthResult:
    paths = []
    for p in common:
        if p not in truth:
            continue
        if (truth[p].width, truth[p].height) != (a.photos[p].width, a.photos[p].height):
            report.add(p, "size_mismatch", f"truth {truth[p].width}x{truth[p].height}, tagged "
                                           f"{a.photos[p].width}x{a.photos[p].height}: not scored")
            continue
        paths.append(p)
    rows: dict[str, list[tuple[str, bool, bool]]] = {h: [] for h in heads}  # (photo, a right, b right)
    missed = {h: [0, 0] for h in heads}
    labelled = dict.fromkeys(heads, 0)
    garments = missed_a = missed_b = 0
    own = [0, 0]
    for p in paths:
        t = [g.mask for g in truth[p].garments]
        found = []
        for side, run in enumerate((a, b)):
            run_garments = run.photos[p].garments
            pairs = masks.match(t, [g.mask for g in run_garments], iou)
            own[side] += sum(1 for _, _, overlap in pairs if overlap >= OWN_MASK_IOU)
            found.append({i: run_garments[j] for i, j, _ in pairs})
        for i, g in enumerate(truth[p].garments):
            garments += 1
            missed_a += i not in found[0]
            missed_b += i not in found[1]
            for h in heads:
                if g.labels.get(h) is None:
                    continue
                labelled[h] += 1
                missed[h][0] += i not in found[0]
                missed[h][1] += i not in found[1]
                if i in found[0] and i in found[1]:
                    rows[h].append((p, found[0][i].labels.get(h) == g.labels[h],
                                    found[1][i].labels.get(h) == g.labels[h]))
    accuracy = []
    for h in heads:
        if not labelled[h]:
            continue
        groups, right_a, right_b = zip(*rows[h]) if rows[h] else ((), (), ())
        diff, lo, hi = bootstrap_difference(right_a, right_b, groups, bootstrap, seed)
        accuracy.append(Accuracy(h, labelled[h], len(rows[h]), sum(right_a), sum(right_b), missed[h][0],
                                 missed[h][1], diff, lo, hi))
    sizes = {p: (a.photos[p].width or 0, a.photos[p].height or 0) for p in paths}
    true = {p: truth[p].garments for p in paths}
    return TruthResult(len(paths), garments, missed_a, missed_b, tuple(accuracy),
                       detection_ap(true, {p: a.photos[p].garments for p in paths}, sizes),
                       detection_ap(true, {p: b.photos[p].garments for p in paths}, sizes), own[0], own[1])


def compare_runs(a: Run, b: Run, truth: dict[str, Photo] | None = None, *, iou: float = 0.5,
                 bootstrap: int = 1000, seed: int = 0, top: int = 12, report: Report | None = None) -> Comparison:
    """Compare two read runs on the photos both tagged (see the module docstring); ``truth``
    (from :func:`~garmentparse.comparison.runs.read_truth`) adds accuracy and AP. Photos that
    cannot be compared go to ``report``; nothing in common is a :class:`CompareError`."""
    report = report if report is not None else Report("compare")
    overlap, common = _common(a, b, report)
    photos_a, photos_b = [a.photos[p] for p in common], [b.photos[p] for p in common]
    in_b = set(_heads(photos_b))
    heads = list(dict.fromkeys([PART, *(h for h in _heads(photos_a) if h in in_b)]))
    changes = [_photo_change(pa, pb, iou) for pa, pb in zip(photos_a, photos_b)]
    agreement = []
    for h in heads:
        pairs = changed = 0
        for c, pa, pb in zip(changes, photos_a, photos_b):
            pairs += sum(1 for i, j in c.pairs if h in pa.garments[i].labels and h in pb.garments[j].labels)
            changed += sum(1 for x in c.changes if x.head == h)
        agreement.append(Agreement(h, pairs, pairs - changed))
    truth_result = None
    if truth is not None:
        truth_result = _truth(a, b, truth, common, heads, iou, bootstrap, seed, report)
    most = sorted((c for c in changes if c.size), key=lambda c: (-c.size, c.path))[:max(0, top)]
    sides = [RunSide(r.name, str(r.path), r.models, len(r.photos), sum(len(p.garments) for p in ps))
             for r, ps in ((a, photos_a), (b, photos_b))]
    report.counts.update(photos_compared=len(common), garment_pairs=sum(len(c.pairs) for c in changes))
    return Comparison(sides[0], sides[1], iou, overlap, sum(len(c.pairs) for c in changes),
                      sum(len(c.only_a) for c in changes), sum(len(c.only_b) for c in changes),
                      tuple(agreement), truth_result, tuple(most))
