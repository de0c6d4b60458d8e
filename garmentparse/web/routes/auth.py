"""Log in (throttled), log out, language."""

from __future__ import annotations

import logging
import math

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from garmentparse.store import UserInfo, normalise_name
from garmentparse.web import i18n
from garmentparse.web.security import (LoginThrottle, client_address, current_user, end_session, safe_next,
                                       start_session)
from garmentparse.web.templating import lang_of, render

router = APIRouter()
log = logging.getLogger("garmentparse.web.auth")


@router.get("/login")
def login_page(request: Request, next: str = "/"):
    return render(request, "login.html", next=safe_next(next))


@router.post("/login")
def login(request: Request, name: str = Form(...), password: str = Form(...), next: str = Form("/")):
    throttle: LoginThrottle = request.app.state.login_throttle
    name = normalise_name(name)  # one spelling per account for the throttle and every database
    address, lang = client_address(request), lang_of(request)
    verdict = throttle.attempt(name, address)
    if verdict.retry_after > 0:  # the password is not looked at
        seconds = math.ceil(verdict.retry_after)
        log.warning("login refused for %r from %s: throttled (failures: %d, retry in %d s)", name, address,
                    verdict.failures, seconds)
        response = render(request, "login.html", 429, next=safe_next(next), name=name,
                          error=i18n.text("throttled", lang).format(wait=_duration(seconds, lang)))
        response.headers["Retry-After"] = str(seconds)
        return response
    user = request.app.state.store.authenticate(name, password)
    if user is None:
        log.warning("login failed for %r from %s (failures: %d, next attempt waits %g s)", name, address,
                    verdict.failures, verdict.delay)
        return render(request, "login.html", 401, next=safe_next(next), error=i18n.text("bad_login", lang), name=name)
    throttle.succeeded(name, address)
    start_session(request, user, request.app.state.session_hours)
    return RedirectResponse(safe_next(next), 303)


def _duration(seconds: int, lang: str) -> str:
    if seconds < 120:
        return i18n.text("seconds", lang).format(n=seconds)
    return i18n.text("minutes", lang).format(n=math.ceil(seconds / 60))


@router.post("/logout")
def logout(request: Request):
    end_session(request)
    return RedirectResponse("/login", 303)


@router.post("/logout/everywhere")
def logout_everywhere(request: Request, user: UserInfo = Depends(current_user)):
    """End every session of this user (other browsers, a stolen cookie), this one included."""
    request.app.state.store.end_sessions(user.name)
    request.session.clear()
    return RedirectResponse("/login", 303)


@router.get("/lang/{code}")
def set_language(request: Request, code: str, next: str = "/"):
    response = RedirectResponse(safe_next(next), 303)
    if code in i18n.LANGS:
        response.set_cookie("lang", code, max_age=365 * 86400, httponly=True, samesite="lax",
                            secure=request.app.state.https_only)
    return response
