"""The review queue and review decisions (htmx swaps the panel; plain form posts work too)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request

from garmentparse.store import (CONFIRMED, CORRECTED, PART_HEAD, PREDICTED, REJECTED, Decision, GarmentDetail,
                                NotFound, ReviewConflict, Store, UserInfo)
from garmentparse.web import i18n
from garmentparse.web.security import current_user, require
from garmentparse.web.templating import is_htmx, lang_of, render

router = APIRouter()
ACTIONS = ("accept", "correct", "reject", "reject_head", "skip")


def _queue_args(head: str, part: str) -> dict[str, str]:
    return {"head": head if head in i18n.HEAD_KO else "", "part": part if part in i18n.choices("part") else ""}


def _next(store: Store, args: dict[str, str], after: str | None) -> GarmentDetail | None:
    try:
        page = store.queue(head=args["head"] or None, part=args["part"] or None, limit=1, cursor=after or None)
    except ValueError:  # a hand-made cursor: start again
        page = store.queue(head=args["head"] or None, part=args["part"] or None, limit=1)
    return store.garment(page.items[0].id) if page.items else None


def _cursor(g: GarmentDetail, args: dict[str, str]) -> str:
    """The queue position of ``g`` (skip goes past it)."""
    head = args["head"]
    key = g.heads[head].probability if head and head in g.heads else g.garment.confidence
    return f"{key!r}:{g.garment.id}"


@router.get("/queue")
def queue(request: Request, head: str = "", part: str = "", after: str = "",
          user: UserInfo = Depends(current_user)):
    args = _queue_args(head, part)
    g = _next(request.app.state.store, args, after)
    return render(request, "queue.html", user=user, g=g, mode="queue", queue_args=args, after=after,
                  heads=list(i18n.HEAD_KO))


def _decisions(action: str, g: GarmentDetail, head: str, values: list[str]) -> list[Decision]:
    if action == "accept":
        return [Decision(h, CONFIRMED) for h, hv in g.heads.items() if hv.state == PREDICTED]
    if action == "reject":
        return [Decision(PART_HEAD, REJECTED)]
    if head not in g.heads:
        raise ValueError(f"this garment has no attribute {head!r}")
    if action == "reject_head":
        return [Decision(head, REJECTED)]
    value = "|".join(v for v in values if v)
    if not value:
        raise ValueError("choose the new value")
    return [Decision(head, CORRECTED, value)]


@router.post("/garments/{garment_id}/review")
def review(request: Request, garment_id: int, version: int = Form(...), action: str = Form(...),
           head: str = Form(""), value: list[str] = Form([]), comment: str = Form(""), mode: str = Form("queue"),
           qhead: str = Form(""), qpart: str = Form(""), after: str = Form(""),
           user: UserInfo = Depends(require("reviewer"))):
    store: Store = request.app.state.store
    args, mode = _queue_args(qhead, qpart), ("page" if mode == "page" else "queue")
    if action not in ACTIONS:
        raise HTTPException(400, f"unknown action {action!r}")
    try:
        g = store.garment(garment_id)
    except NotFound:
        raise HTTPException(404, f"No garment {garment_id}.") from None
    ctx: dict[str, Any] = {}
    status = 200
    try:
        decisions = [] if action == "skip" else _decisions(action, g, head, value)
        if decisions:
            g = store.review(garment_id, version=version, user=user.name, decisions=decisions, comment=comment[:2000])
            ctx["message"] = i18n.text("saved", lang_of(request))
        elif action != "skip" and g.version != version:  # nothing to write, but the page was stale
            raise ReviewConflict(garment_id, version, g, store.history(garment_id, version))
    except ReviewConflict as c:
        g, ctx["conflict"], status = c.current, c.changes, 409
    except ValueError as exc:
        g, ctx["error"], status = store.garment(garment_id), str(exc), 400
    if mode == "queue" and status == 200 and action in ("accept", "reject", "skip"):
        after = _cursor(g, args) if action == "skip" else after
        g = _next(store, args, after)
    template = "_panel.html" if is_htmx(request) else ("queue.html" if mode == "queue" else "garment.html")
    return render(request, template, status, user=user, g=g, mode=mode, queue_args=args, after=after,
                  heads=list(i18n.HEAD_KO), **ctx)
