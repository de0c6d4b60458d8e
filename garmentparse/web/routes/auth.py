"""Log in, log out, language."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from garmentparse.web import i18n
from garmentparse.web.security import safe_next, start_session
from garmentparse.web.templating import lang_of, render

router = APIRouter()


@router.get("/login")
def login_page(request: Request, next: str = "/"):
    return render(request, "login.html", next=safe_next(next))


@router.post("/login")
def login(request: Request, name: str = Form(...), password: str = Form(...), next: str = Form("/")):
    user = request.app.state.store.authenticate(name, password)
    if user is None:
        return render(request, "login.html", 401, next=safe_next(next), error=i18n.text("bad_login", lang_of(request)),
                      name=name)
    start_session(request, user)
    return RedirectResponse(safe_next(next), 303)


@router.post("/logout")
def logout(request: Request):
    request.session.clear()
    return RedirectResponse("/login", 303)


@router.get("/lang/{code}")
def set_language(code: str, next: str = "/"):
    response = RedirectResponse(safe_next(next), 303)
    if code in i18n.LANGS:
        response.set_cookie("lang", code, max_age=365 * 86400, httponly=True, samesite="lax")
    return response
