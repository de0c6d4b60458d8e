"""The review queue and review decisions (htmx swaps the panel; plain form posts work too)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request

from garmentparse.store import (CONFIRMED, CORRECTED, PART_HEAD, PREDICTED, QUEUE_ORDERS, REJECTED, Decision,
                                GarmentDetail, NotFound, ReviewConflict, Store, UserInfo)
from garmentparse.web import i18n
from garmentparse.web.params import form_int, query_int
from garmentparse.web.security import current_user, require
from garmentparse.web.templating import is_htmx, lang_of, render

router = APIRouter()
ACTIONS = ("accept", "correct", "reject", "reject_head", "skip")


def _queue_args(head: str, part: str, order: str = "", run: str = "", other: str = "") -> dict[str, str]:
    order = order if order in QUEUE_ORDERS else "confidence"
    return {"head": head if head in i18n.HEAD_KO and order != "disagreement" else "",
            "part": part if part in i18n.choices("part") else "", "order": order,
            "run": _number(run), "other": _number(other)}


def _number(raw: str) -> str:
    """``raw`` when it is a number (:func:`query_int`), else ""."""
    return raw if query_int(raw) is not None else ""


def _next(store: Store, args: dict[str, str], after: str | None) -> tuple[GarmentDetail | None, str]:
    """The next garment of the queue after ``after``, and what is wrong with the choice ("" when nothing)."""
    if args["order"] == "disagreement" and (not args["run"] or not args["other"] or args["run"] == args["other"]):
        return None, "need_two_runs"
    kw: dict[str, Any] = {"head": args["head"] or None, "part": args["part"] or None, "order": args["order"],
                          "run_id": int(args["run"]) if args["run"] else None,
                          "other_run": int(args["other"]) if args["other"] else None, "limit": 1}
    try:
        page = store.queue(**kw, cursor=after or None)
    except ValueError:  # a hand-made cursor: start again
        page = store.queue(**kw)
    except NotFound:
        return None, "need_two_runs"
    return (store.garment(page.items[0].id) if page.items else None), ""


def _cursor(store: Store, g: GarmentDetail, args: dict[str, str]) -> str:
    """The queue position of ``g`` (skip goes past it)."""
    if args["order"] == "disagreement" and args["other"]:
        match = store.garment_match(g.garment.id, int(args["other"]))
        return f"{match.disagreements if match else 0}:{g.garment.id}"
    hv = g.heads.get(args["head"]) if args["head"] else None
    if args["order"] == "margin":
        key = hv.margin if hv else g.garment.margin
    else:
        key = hv.probability if hv else g.garment.confidence
    return f"{key!r}:{g.garment.id}"


def _other_run(store: Store, g: GarmentDetail | None, args: dict[str, str]) -> dict[str, Any]:
    """In the disagreement queue: what the other run said about ``g`` (``match`` in the panel)."""
    if g is None or args["order"] != "disagreement" or not args["other"]:
        return {}
    other = next((r.label for r in store.runs() if str(r.id) == args["other"]), f"#{args['other']}")
    return {"match": store.garment_match(g.garment.id, int(args["other"])), "other_run": other}


@router.get("/queue")
def queue(request: Request, head: str = "", part: str = "", order: str = "", run: str = "", other: str = "",
          after: str = "", user: UserInfo = Depends(current_user)):
    store: Store = request.app.state.store
    args = _queue_args(head, part, order, run, other)
    g, problem = _next(store, args, after)
    return render(request, "queue.html", user=user, g=g, mode="queue", queue_args=args, after=after,
                  heads=list(i18n.HEAD_KO), runs=store.runs(), orders=QUEUE_ORDERS,
                  error=i18n.text(problem, lang_of(request)) if problem else "", **_other_run(store, g, args))


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


@router.post("/garments/{garment_id:id}/review")
def review(request: Request, garment_id: int, version: str = Form(""), action: str = Form(...),
           head: str = Form(""), value: list[str] = Form([]), comment: str = Form(""), mode: str = Form("queue"),
           qhead: str = Form(""), qpart: str = Form(""), qorder: str = Form(""), qrun: str = Form(""),
           qother: str = Form(""), after: str = Form(""),
           user: UserInfo = Depends(require("reviewer"))):
    store: Store = request.app.state.store
    args, mode = _queue_args(qhead, qpart, qorder, qrun, qother), ("page" if mode == "page" else "queue")
    if action not in ACTIONS:
        raise HTTPException(400, f"unknown action {action[:40]!r}")
    version_read = form_int(version, "version")
    try:
        g = store.garment(garment_id)
    except NotFound:
        raise HTTPException(404, f"No garment {garment_id}.") from None
    ctx: dict[str, Any] = {}
    status = 200
    try:
        decisions = [] if action == "skip" else _decisions(action, g, head, value)
        if decisions:
            g = store.review(garment_id, version=version_read, user=user.name, decisions=decisions, comment=comment[:2000])
            ctx["message"] = i18n.text("saved", lang_of(request))
        elif action != "skip" and g.version != version_read:  # nothing to write, but the page was stale
            raise ReviewConflict(garment_id, version_read, g, store.history(garment_id, version_read))
    except ReviewConflict as c:
        g, ctx["conflict"], status = c.current, c.changes, 409
    except ValueError as exc:
        g, ctx["error"], status = store.garment(garment_id), str(exc), 400
    if mode == "queue" and status == 200 and action in ("accept", "reject", "skip"):
        after = _cursor(store, g, args) if action == "skip" else after
        g, _ = _next(store, args, after)
    template = "_panel.html" if is_htmx(request) else ("queue.html" if mode == "queue" else "garment.html")
    extra = {"runs": store.runs(), "orders": QUEUE_ORDERS} if template == "queue.html" else {}
    if mode == "queue":
        extra.update(_other_run(store, g, args))
    return render(request, template, status, user=user, g=g, mode=mode, queue_args=args, after=after,
                  heads=list(i18n.HEAD_KO), **extra, **ctx)
