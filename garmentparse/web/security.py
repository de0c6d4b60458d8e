"""Who is asking and may they: signed session cookies, CSRF tokens, roles, body size, headers.

The session (Starlette's ``SessionMiddleware``: an itsdangerous-signed, HttpOnly, SameSite=Lax
cookie) holds the user's name, id and session version and a random CSRF token. Every request
that is not GET/HEAD must send that token back, as the ``csrf_token`` form field or the
``X-CSRF-Token`` header (htmx and fetch send the header); otherwise 403. The user is read from
the database on each request: a session ends as soon as its user is removed or their role or
password changes (the store bumps ``session_version``).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import HTTPException, Request

from garmentparse.store import NotFound, UserInfo

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
ROLE_RANK = {"viewer": 0, "reviewer": 1, "admin": 2}
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# No inline script anywhere; style attributes only (htmx sets some while swapping); images are ours
# (and blob: previews of files being uploaded).
CSP = ("default-src 'self'; img-src 'self' blob: data:; style-src 'self'; style-src-attr 'unsafe-inline'; script-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class LoginRequired(Exception):
    """Raised by :func:`current_user` when nobody is logged in (the app redirects to /login)."""


def csrf_token(request: Request) -> str:
    """This session's CSRF token (made on first use)."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


async def check_csrf(request: Request) -> None:
    """Refuse (403) a state-changing request without this session's CSRF token."""
    if request.method in SAFE_METHODS:
        return
    expected = request.session.get("csrf")
    sent: Any = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        sent = (await request.form()).get(CSRF_FIELD)  # parsed once, cached on the request
    if not expected or not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise HTTPException(403, "The form's security token is missing or stale (CSRF): reload the page and try again.")


def start_session(request: Request, user: UserInfo) -> None:
    """Log ``user`` in with a fresh session (new CSRF token: no session fixation), bound to their
    id and session version."""
    request.session.clear()
    request.session.update(user=user.name, uid=user.id, sv=user.session_version, csrf=secrets.token_urlsafe(32))


def current_user(request: Request) -> UserInfo:
    """The logged-in user (role as it is in the database now); :class:`LoginRequired` if none, or
    when the user was removed (and maybe re-added) or their role or password changed since."""
    name = request.session.get("user")
    if not name:
        raise LoginRequired
    try:
        user = request.app.state.store.user(name)
    except NotFound:
        user = None
    if user is None or request.session.get("uid") != user.id or request.session.get("sv") != user.session_version:
        request.session.clear()
        raise LoginRequired
    return user


def require(role: str) -> Callable[[Request], UserInfo]:
    """A dependency: the current user when their role is at least ``role``, else 403."""

    def dependency(request: Request) -> UserInfo:
        user = current_user(request)
        if ROLE_RANK[user.role] < ROLE_RANK[role]:
            raise HTTPException(403, f"This needs the {role} role; you are {user.name} ({user.role}).")
        return user

    return dependency


def safe_next(target: str | None, default: str = "/") -> str:
    """``target`` when it is a path on this site, else ``default`` (no open redirects)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``limit`` bytes with 413, declared or streamed."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Callable[[], Awaitable[dict]], send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await _too_large(send, self.limit)
        seen = 0

        async def counted() -> dict:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise HTTPException(413, _too_large_text(self.limit))
            return message

        await self.app(scope, counted, send)


def _too_large_text(limit: int) -> str:
    return f"Upload too large: at most {limit // 2**20} MiB per request."


async def _too_large(send: Any, limit: int) -> None:
    body = _too_large_text(limit).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def security_headers(headers: Any) -> None:
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
