"""Tag runs and their models: accuracy against reviewed truth (``/models``, the dashboard's chart)
and two runs compared photo by photo (``/compare``, with one overlay per photo and run)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from garmentparse.store import GalleryFilter, NotFound, RunAccuracy, Store, UserInfo
from garmentparse.web import i18n
from garmentparse.web.images import UploadRejected, render_photo
from garmentparse.web.params import query_int
from garmentparse.web.routes.browse import _photo_file
from garmentparse.web.security import current_user
from garmentparse.web.templating import render

router = APIRouter()
COMPARE_PAGE = 6  # photos per page
PALETTE = ("#2357c6", "#d9665b", "#3a9d5d", "#c28a1e", "#7b52c7", "#1f9bb0", "#b0478f", "#6b7280")
ALL = ""  # the chart's line over every head together


def heads_of(runs: list[RunAccuracy]) -> list[str]:
    """The heads any run was scored on, part first, then in the vocabulary's order."""
    seen = {h for r in runs for h in r.heads}
    return [h for h in i18n.HEAD_KO if h in seen] + sorted(seen - set(i18n.HEAD_KO))


@router.get("/models")
def models_page(request: Request, user: UserInfo = Depends(current_user)):
    runs = request.app.state.store.run_accuracy()
    return render(request, "models.html", user=user, runs=runs, heads=heads_of(runs))


# ---------------------------------------------------------------------------- the dashboard's chart


@dataclass
class ChartLine:
    head: str  # ALL: every head together
    colour: str
    points: list[tuple[float, float, int, float]]  # x, y, run id, accuracy

    @property
    def path(self) -> str:
        return " ".join(f"{x},{y}" for x, y, _, _ in self.points)


@dataclass
class Chart:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int  # y of the 0 % line
    ticks: list[tuple[float, str, str]]  # x, "#run", date
    lines: list[ChartLine]


def accuracy_chart(runs: list[RunAccuracy], width: int = 640, height: int = 240) -> Chart | None:
    """Accuracy against reviewed truth per run over time (x: the run's creation time), one line
    for every head together and one per head; ``None`` when no run has reviewed truth yet."""
    scored = sorted((r for r in runs if r.accuracy is not None), key=lambda r: (r.created_at, r.run_id))
    if not scored:
        return None
    left, right, top, bottom = 44, width - 40, 12, height - 40
    t0, t1 = scored[0].created_at, scored[-1].created_at
    span = (t1 - t0).total_seconds()

    def x(i: int, r: RunAccuracy) -> float:
        if len(scored) == 1:
            return (left + right) / 2
        f = (r.created_at - t0).total_seconds() / span if span else i / (len(scored) - 1)
        return round(left + f * (right - left), 1)

    xs = [x(i, r) for i, r in enumerate(scored)]
    lines = []
    for n, head in enumerate([ALL, *heads_of(scored)]):
        points = []
        for xi, r in zip(xs, scored):
            value = r.accuracy if head == ALL else (r.heads[head].accuracy if head in r.heads else None)
            if value is not None:
                points.append((xi, round(bottom - value * (bottom - top), 1), r.run_id, value))
        lines.append(ChartLine(head, "#1d2330" if head == ALL else PALETTE[(n - 1) % len(PALETTE)], points))
    ticks = [(xi, f"#{r.run_id}", r.created_at.strftime("%Y-%m-%d")) for xi, r in zip(xs, scored)]
    return Chart(width, height, left, right, top, bottom, ticks, lines)


# ---------------------------------------------------------------------------- two runs side by side


@router.get("/compare")
def compare_page(request: Request, a: str = "", b: str = "", cursor: str = "", user: UserInfo = Depends(current_user)):
    store: Store = request.app.state.store
    run_a, run_b = query_int(a), query_int(b)
    comparison, error = None, ""
    if run_a is not None and run_b is not None:
        if run_a == run_b:
            error = "same_run"
        else:
            try:
                try:
                    comparison = store.compare(run_a, run_b, limit=COMPARE_PAGE, cursor=cursor or None)
                except ValueError:  # a hand-made cursor: the first page
                    comparison = store.compare(run_a, run_b, limit=COMPARE_PAGE)
            except NotFound as exc:
                raise HTTPException(404, str(exc)) from None
    params, runs = [("a", a), ("b", b)], store.runs()
    return render(request, "compare.html", user=user, runs=runs, labels={r.id: r.label for r in runs}, a=a, b=b,
                  cmp=comparison, error=error, params=params, heads_order=list(i18n.HEAD_KO))


def _overlay(request: Request, photo_id: int, run_id: int) -> bytes:
    store: Store = request.app.state.store
    try:
        photo = store.photo(photo_id)
    except NotFound:
        raise HTTPException(404, "Photo not found.") from None
    if run_id not in {r.id for r in store.runs()}:
        raise HTTPException(404, f"No tag run {run_id}.")
    details = [store.garment(g.id) for g in store.gallery(GalleryFilter(photo_id=photo_id, run_id=run_id),
                                                          limit=200).items]
    labels = [f"#{d.garment.id} {i18n.label('part', d.garment.part, 'en')}" for d in details]
    try:
        return render_photo(_photo_file(request, photo.path), details, labels)
    except UploadRejected as exc:
        raise HTTPException(404, f"Photo unreadable: {exc}") from None


@router.get("/photos/{photo_id:id}/runs/{run_id:id}/overlay.jpg")
async def run_overlay(request: Request, photo_id: int, run_id: int, user: UserInfo = Depends(current_user)):
    """The photo with every garment one run found on it (masks, boxes, ``#id part``)."""
    data = await run_in_threadpool(_overlay, request, photo_id, run_id)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})
