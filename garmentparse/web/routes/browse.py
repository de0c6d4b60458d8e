"""The gallery (filters, keyset pages), one garment's page, and the images they show."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from garmentparse.store import STATES, GalleryFilter, NotFound, UserInfo, check_label
from garmentparse.store.ids import parse_int
from garmentparse.web import i18n
from garmentparse.web import params  # noqa: F401  (the {name:id} path convertor)
from garmentparse.web.images import UploadRejected, image_type, render as render_image, resolve_photo
from garmentparse.web.security import current_user
from garmentparse.web.templating import render

router = APIRouter()
PAGE = 48
HEADS = list(i18n.HEAD_KO)  # part first
VIEWS = ("overlay", "thumb", "crop")


@dataclass
class Query:
    """The gallery's query string, checked: what the store gets, what the form shows, errors."""

    filters: GalleryFilter = GalleryFilter()
    order: str = "newest"
    form: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def _float(raw: str, name: str, errors: list[str]) -> float | None:
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        errors.append(f"{name}: not a number")
        return None
    if not 0 <= value <= 1:
        errors.append(f"{name}: between 0 and 1")
        return None
    return value


def _int(raw: str, name: str, errors: list[str]) -> int | None:
    if not raw:
        return None
    try:
        return parse_int(raw, name)
    except ValueError as exc:
        errors.append(str(exc))
        return None


def parse_query(params: dict[str, str], states: list[str]) -> Query:
    errors: list[str] = []
    form = {k: params.get(k, "").strip() for k in ("part", "head", "value", "min", "max", "run", "product", "q", "sort")}
    head, value = form["head"] or None, form["value"] or None
    if head and head not in i18n.HEAD_KO:
        errors.append(f"unknown attribute {head!r}")
        head = None
    if value and not head:
        errors.append("choose the attribute the value belongs to")
    elif value and head:
        try:
            value = check_label(head, value)
        except ValueError as exc:
            errors.append(str(exc))
            value = None
    part = form["part"] if form["part"] in i18n.choices("part") else None
    filters = GalleryFilter(
        part=part, states=tuple(s for s in states if s in STATES), head=head, value=value,
        min_confidence=_float(form["min"], "min confidence", errors),
        max_confidence=_float(form["max"], "max confidence", errors),
        run_id=_int(form["run"], "run", errors), product_id=_int(form["product"], "product", errors),
        path_text=form["q"][:200] or None)
    order = "confidence" if form["sort"] == "confidence" else "newest"
    return Query(filters, order, {**form, "states": ",".join(states)}, errors)


@router.get("/")
def home(user: UserInfo = Depends(current_user)):
    return RedirectResponse("/gallery", 303)


@router.get("/gallery")
def gallery(request: Request, cursor: str | None = None, user: UserInfo = Depends(current_user)):
    states = request.query_params.getlist("state")
    query = parse_query(dict(request.query_params), states)
    store = request.app.state.store
    try:
        page = store.gallery(query.filters, limit=PAGE, cursor=cursor or None, order=query.order)
    except ValueError as exc:  # a hand-made cursor
        query.errors.append(str(exc))
        page = store.gallery(query.filters, limit=PAGE, order=query.order)
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    return render(request, "gallery.html", user=user, page=page, query=query, states=states, params=params,
                  runs=store.runs(), products=store.products(), heads=HEADS, all_states=STATES)


@router.get("/garments/{garment_id:id}")
def garment_page(request: Request, garment_id: int, user: UserInfo = Depends(current_user)):
    try:
        detail = request.app.state.store.garment(garment_id)
    except NotFound:
        raise HTTPException(404, f"No garment {garment_id}.") from None
    similar = request.app.state.similar.of(detail.garment) if getattr(request.app.state, "similar", None) else []
    return render(request, "garment.html", user=user, g=detail, mode="page", queue_args={}, similar=similar)


def photo_roots(request: Request) -> list[Path]:
    """Where photos may be served from: the upload store, then every ingested run's image root."""
    runs = request.app.state.store.runs()
    return [request.app.state.upload_dir, *(Path(r.images_root) for r in runs if r.images_root)]


def _photo_file(request: Request, path: str) -> Path:
    file = resolve_photo(path, photo_roots(request))
    if file is None:
        raise HTTPException(404, "Photo not found.")
    return file


@router.get("/photos/{photo_id:id}/image")
def photo_image(request: Request, photo_id: int, user: UserInfo = Depends(current_user)):
    try:
        photo = request.app.state.store.photo(photo_id)
    except NotFound:
        raise HTTPException(404, "Photo not found.") from None
    file = _photo_file(request, photo.path)
    media_type = image_type(file)
    if media_type is None:  # an .html (or anything) ingested as a photo is never served as itself
        raise HTTPException(404, "Photo not found.")
    return FileResponse(file, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})


@router.get("/garments/{garment_id:id}/{view}.jpg")
async def garment_image(request: Request, garment_id: int, view: str, user: UserInfo = Depends(current_user)):
    if view not in VIEWS:
        raise HTTPException(404, "No such view.")
    try:
        detail = await run_in_threadpool(request.app.state.store.garment, garment_id)
    except NotFound:
        raise HTTPException(404, f"No garment {garment_id}.") from None
    file = await run_in_threadpool(_photo_file, request, detail.garment.photo_path)
    label = i18n.label("part", detail.heads["part"].value if "part" in detail.heads else detail.garment.part, "en")
    try:
        data = await run_in_threadpool(render_image, view, file, detail, label)
    except UploadRejected as exc:
        raise HTTPException(404, f"Photo unreadable: {exc}") from None
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})
