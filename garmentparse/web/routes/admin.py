"""Dashboard (everyone), users and export (admins only)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from garmentparse.store import (CONFIRMED, CORRECTED, PREDICTED, REJECTED, ROLES, NotFound, Store, UserInfo,
                                normalise_name)
from garmentparse.web.routes.runs import accuracy_chart
from garmentparse.web.params import query_int
from garmentparse.web.security import current_user, require
from garmentparse.web.templating import render

router = APIRouter()


def head_accuracy(heads: dict[str, dict[str, int]]) -> list[dict]:
    """Per head: predictions reviewed, and the share of those a reviewer corrected or rejected."""
    rows = []
    for head, states in heads.items():
        reviewed = sum(n for s, n in states.items() if s != PREDICTED)
        changed = states.get(CORRECTED, 0) + states.get(REJECTED, 0)
        rows.append({"head": head, "reviewed": reviewed, "total": sum(states.values()),
                     "corrected": (changed / reviewed) if reviewed else None})
    return rows


@router.get("/dashboard")
def dashboard(request: Request, user: UserInfo = Depends(current_user)):
    store: Store = request.app.state.store
    d = store.dashboard()
    reviewed = d.garments - d.by_state.get(PREDICTED, 0)
    return render(request, "dashboard.html", user=user, d=d, reviewed=reviewed, accuracy=head_accuracy(d.heads),
                  categories=store.value_counts("category", limit=21), colours=store.value_counts("colour", limit=21),
                  chart=accuracy_chart(store.run_accuracy()))


@router.get("/admin/users")
def users(request: Request, user: UserInfo = Depends(require("admin"))):
    return _users_page(request, user, "", 200)


def _users_page(request: Request, user: UserInfo, error: str, status: int):
    store: Store = request.app.state.store
    return render(request, "users.html", status, user=user, users=store.users(), roles=ROLES, error=error,
                  sessions=store.session_counts())


@router.post("/admin/users")
def add_user(request: Request, name: str = Form(...), password: str = Form(...), role: str = Form("viewer"),
             user: UserInfo = Depends(require("admin"))):
    try:
        request.app.state.store.add_user(name, password, role)
    except ValueError as exc:
        return _users_page(request, user, str(exc), 400)
    return RedirectResponse("/admin/users", 303)


@router.post("/admin/users/role")
def set_role(request: Request, name: str = Form(...), role: str = Form(...), user: UserInfo = Depends(require("admin"))):
    try:
        request.app.state.store.set_role(name, role)
    except (ValueError, NotFound) as exc:
        return _users_page(request, user, str(exc), 400)
    return RedirectResponse("/admin/users", 303)


@router.post("/admin/users/remove")
def remove_user(request: Request, name: str = Form(...), user: UserInfo = Depends(require("admin"))):
    if normalise_name(name) == user.name:
        return _users_page(request, user, "You cannot remove yourself.", 400)
    try:
        request.app.state.store.remove_user(name)
    except NotFound as exc:
        return _users_page(request, user, str(exc), 404)
    except ValueError as exc:  # the last admin
        return _users_page(request, user, str(exc), 400)
    return RedirectResponse("/admin/users", 303)


@router.post("/admin/users/revoke")
def revoke_sessions(request: Request, name: str = Form(...), user: UserInfo = Depends(require("admin"))):
    """End every session of a user (a stolen cookie opens nothing more); they can log in again."""
    try:
        request.app.state.store.end_sessions(name)
    except NotFound as exc:
        return _users_page(request, user, str(exc), 404)
    return RedirectResponse("/admin/users", 303)


def _roots(request: Request) -> list[str]:
    """Folders a manifest export can cut crops from: the upload store and the runs' image roots."""
    runs = request.app.state.store.runs()
    return list(dict.fromkeys([str(request.app.state.upload_dir), *(r.images_root for r in runs if r.images_root)]))


@router.get("/export")
def export_page(request: Request, user: UserInfo = Depends(require("admin"))):
    return render(request, "export.html", user=user, roots=_roots(request))


def _export_zip(store: Store, fmt: str, images_root: str | None) -> Path:
    work = Path(tempfile.mkdtemp(prefix="gp-export-"))
    store.export(work / "export", fmt, images_root=images_root)
    return Path(shutil.make_archive(str(work / f"garmentparse-{fmt}"), "zip", work / "export"))


@router.post("/export")
async def export(request: Request, user: UserInfo = Depends(require("admin"))):
    form = await request.form()
    fmt = str(form.get("format", "coco"))
    if fmt not in ("coco", "manifest"):
        raise HTTPException(400, "Format: coco or manifest.")
    roots, root = _roots(request), None
    if fmt == "manifest":
        index = query_int(str(form.get("root", "0")))
        if index is None or index >= len(roots):
            raise HTTPException(400, "Choose one of the listed photo folders.")
        root = roots[index]  # chosen from the list: no path typed by the user reaches the disk
    archive = await run_in_threadpool(_export_zip, request.app.state.store, fmt, root)
    return FileResponse(archive, media_type="application/zip", filename=archive.name,
                        background=BackgroundTask(shutil.rmtree, archive.parent, True))
