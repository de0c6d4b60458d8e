"""Register a product: upload photos (each tagged as it arrives), see the values proposed over
all of them, confirm or pick others, name it, save. Saving logs each decision like a review."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.datastructures import UploadFile
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from garmentparse.imageio import ImageReadError
from garmentparse.store import GalleryFilter, NotFound, Store, UserInfo, check_label
from garmentparse.web import i18n
from garmentparse.web.images import MAX_PHOTO_BYTES, UploadRejected, is_upload, remove_upload, store_upload
from garmentparse.web.params import int_list
from garmentparse.web.proposals import propose
from garmentparse.web.security import current_user, require
from garmentparse.web.templating import lang_of, render
from garmentparse.web.worker import TaggingBusy

router = APIRouter()
MAX_PHOTOS = 20


@router.get("/products")
def products(request: Request, user: UserInfo = Depends(current_user)):
    return render(request, "products.html", user=user, products=request.app.state.store.products())


@router.get("/products/new")
def new_product(request: Request, user: UserInfo = Depends(require("reviewer"))):
    return render(request, "product_new.html", user=user, max_mb=MAX_PHOTO_BYTES // 2**20, max_photos=MAX_PHOTOS)


def _tag_upload(request: Request, data: bytes, size: int | None) -> dict[str, Any]:
    app = request.app.state
    upload = store_upload(data, app.upload_dir, size=size)
    try:
        line = app.tagging.tag_file(app.upload_dir / upload.path, upload.path)
        report = app.store.ingest_results([line], app.tagging.settings(), app.upload_dir,
                                          model_files=app.tagging.model_files())
        if report.counts.get("bad_lines"):
            raise UploadRejected("The tag result could not be stored: "
                                 + "; ".join(p.detail or p.reason for p in report.problems[:3]))
        photo = app.store.photo_by_path(upload.path)
    except BaseException:
        if not _has_photo(app.store, upload.path):  # no file in the upload store without its photo row
            remove_upload(upload, app.upload_dir)
        raise
    garments = app.store.gallery(GalleryFilter(photo_id=photo.id), limit=50).items
    return {"photo_id": photo.id, "garments": len(garments), "image": f"/photos/{photo.id}/image"}


@router.post("/products/photos")
async def upload_photo(request: Request, user: UserInfo = Depends(require("reviewer"))):
    """One photo in, tagged with the loaded models on the upload worker (never a request thread);
    JSON out (the page shows progress per photo); 503 with Retry-After while the queue is full."""
    if request.app.state.tagging is None:
        return JSONResponse({"error": i18n.text("no_models", lang_of(request))}, 503)
    photo = (await request.form()).get("photo")
    if not isinstance(photo, UploadFile):
        return JSONResponse({"error": "Send the photo as the multipart field 'photo'."}, 400)
    data = await photo.read(MAX_PHOTO_BYTES + 1)
    try:
        return await request.app.state.upload_worker.run(_tag_upload, request, data, photo.size)
    except (UploadRejected, ImageReadError) as exc:
        return JSONResponse({"error": str(exc)}, 400)
    except TaggingBusy as exc:
        busy = i18n.text("busy", lang_of(request)).format(queued=exc.queued, seconds=exc.retry_after)
        return JSONResponse({"error": busy}, 503, headers={"Retry-After": str(exc.retry_after)})


def _has_photo(store: Store, path: str) -> bool:
    try:
        store.photo_by_path(path)
    except NotFound:
        return False
    return True


def _photo_ids(request: Request, raw: str) -> list[int]:
    """The photos of this registration: 1 to MAX_PHOTOS uploads (no photo of an image root);
    ValueError (or NotFound) naming the first that is not one."""
    ids = int_list(raw, "photo")
    if not ids or len(ids) > MAX_PHOTOS:
        raise ValueError(f"give 1 to {MAX_PHOTOS} uploaded photos")
    store: Store = request.app.state.store
    for pid in ids:
        if not is_upload(store.photo(pid).path, request.app.state.upload_dir):
            raise ValueError(f"photo {pid} is not an upload of this registration")
    return ids


def _details(store: Store, photo_ids: list[int]) -> list[list[Any]]:
    return [[store.garment(g.id) for g in store.gallery(GalleryFilter(photo_id=pid), limit=50).items]
            for pid in photo_ids]


@router.post("/products/proposal")
async def proposal(request: Request, user: UserInfo = Depends(require("reviewer"))):
    """The form to confirm the values proposed over the uploaded photos (an HTML fragment)."""
    form = await request.form()
    try:
        ids = await run_in_threadpool(_photo_ids, request, str(form.get("photo_ids", "")))
    except (ValueError, NotFound) as exc:
        message = str(exc)
        raise HTTPException(400, f"{message[:1].upper()}{message[1:]}.") from None
    store: Store = request.app.state.store
    per_photo = await run_in_threadpool(_details, store, ids)
    heads = request.app.state.tagging.heads if request.app.state.tagging else []
    prop = propose(per_photo, heads)
    return render(request, "_proposal.html", user=user, proposal=prop, photo_ids=ids)


@router.post("/products")
async def save_product(request: Request, user: UserInfo = Depends(require("reviewer"))):
    """The product, its photos linked and its garments reviewed to its values: all or nothing."""
    raw = await request.form()
    sku, name = str(raw.get("sku", "")).strip(), str(raw.get("name", "")).strip()
    values: dict[str, str] = {}
    try:
        photo_ids = await run_in_threadpool(_photo_ids, request, str(raw.get("photo_ids", "")))
        garments = int_list(str(raw.get("garments", "")), "garment")
        for key in raw:
            if key.startswith("value_"):
                head = key[len("value_"):]
                value = "|".join(str(v) for v in raw.getlist(key) if v)
                if head in i18n.HEAD_KO and value:
                    values[head] = check_label(head, value)
        product = await run_in_threadpool(request.app.state.store.register_product, sku, name, values,
                                          photo_ids=photo_ids, garment_ids=garments, user=user.name)
    except (ValueError, NotFound) as exc:
        raise HTTPException(400, f"Not saved: {exc}.") from None
    return RedirectResponse(f"/products/{product.id}", 303)


@router.get("/products/{product_id:id}")
def product_page(request: Request, product_id: int, user: UserInfo = Depends(current_user)):
    store: Store = request.app.state.store
    try:
        product = store.product(product_id)
    except NotFound:
        raise HTTPException(404, f"No product {product_id}.") from None
    garments = store.gallery(GalleryFilter(product_id=product_id), limit=60).items
    return render(request, "product.html", user=user, product=product, garments=garments)
