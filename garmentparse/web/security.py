"""Who is asking and may they: signed session cookies, CSRF tokens, roles, body size, headers.

The session (Starlette's ``SessionMiddleware``: an itsdangerous-signed, HttpOnly, SameSite=Lax
cookie) holds the token of a server-side session record (the store's ``sessions`` table) and a
random CSRF token. Every request that is not GET/HEAD must send that token back, as the
``csrf_token`` form field or the ``X-CSRF-Token`` header (htmx and fetch send the header);
otherwise 403. The user is read through the session record on each request: a session ends for
good at logout, "log out everywhere", an admin's revoke, and as soon as its user is removed or
their role or password changes; a copy of the cookie then opens nothing.
"""

from __future__ import annotations

import hmac
import ipaddress
import math
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request

from garmentparse.store import UserInfo

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
ROLE_RANK = {"viewer": 0, "reviewer": 1, "admin": 2}
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
HSTS_SECONDS = 365 * 86400
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
    if sent is None and request.headers.get("content-type", "").startswith(FORM_TYPES):
        sent = (await request.form()).get(CSRF_FIELD)  # parsed once, cached on the request
    if not expected or not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise HTTPException(403, "The form's security token is missing or stale (CSRF): reload the page and try again.")


async def check_text(request: Request) -> None:
    """Refuse (400) a NUL character in any query or form text: no name, label, comment or search
    needs one, and PostgreSQL cannot store or even compare one (it would be a 500 there)."""
    items = list(request.query_params.multi_items())
    if request.method not in SAFE_METHODS and request.headers.get("content-type", "").startswith(FORM_TYPES):
        items += [(k, v) for k, v in (await request.form()).multi_items() if isinstance(v, str)]
    if any("\x00" in key or "\x00" in value for key, value in items):
        raise HTTPException(400, "Text with a NUL character (\\x00) is not accepted.")


def start_session(request: Request, user: UserInfo, hours: float) -> None:
    """Log ``user`` in with a fresh session record for ``hours`` (and a new CSRF token: no
    session fixation)."""
    request.session.clear()
    request.session.update(sid=request.app.state.store.start_session(user.name, hours=hours),
                           csrf=secrets.token_urlsafe(32))


def end_session(request: Request) -> None:
    """Log this browser out: its session record is deleted, the cookie emptied."""
    token = request.session.get("sid")
    if isinstance(token, str):
        request.app.state.store.end_session(token)
    request.session.clear()


def current_user(request: Request) -> UserInfo:
    """The logged-in user (role as it is in the database now); :class:`LoginRequired` if none:
    no session, or one that ended (logout, revoke, the user removed or changed since)."""
    token = request.session.get("sid")
    user = request.app.state.store.session_user(token) if isinstance(token, str) else None
    if user is None:
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


@dataclass(frozen=True)
class Verdict:
    """What :meth:`LoginThrottle.attempt` says: ``retry_after`` > 0 means refused (wait that long);
    ``failures``: failed logins in the window (the account's or the address's, the more);
    ``delay``: the wait after this attempt should it fail."""

    retry_after: float
    failures: int
    delay: float


class LoginThrottle:
    """Failed logins counted per login name and per client address over ``window`` seconds.

    After ``free`` failures each further attempt must wait ``base`` seconds after the last one,
    doubling with every failure up to ``cap``. An attempt counts as failed from the moment it is
    let through (so parallel guesses cannot slip past) until :meth:`succeeded` clears the account
    and that address's failures for it. Names that do not exist are throttled the same way. In
    memory, per process, thread-safe; at most ``max_keys`` names and addresses (least recently
    failed dropped first); ``clock`` (seconds) is injectable for tests."""

    def __init__(self, *, free: int = 5, window: float = 900.0, base: float = 1.0, cap: float = 900.0,
                 max_keys: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.free, self.window, self.base, self.cap, self.max_keys, self.clock = free, window, base, cap, max_keys, clock
        self._keep = free + max(1, math.ceil(math.log2(max(cap / base, 1.0)))) + 1  # past that the delay is capped
        self._failures: OrderedDict[str, deque[tuple[float, str]]] = OrderedDict()  # key -> (when, name), oldest first
        self._lock = threading.Lock()

    def attempt(self, name: str, address: str) -> Verdict:
        """May ``name`` try a password from ``address`` now? If so the attempt is counted as failed."""
        name, keys = name[:64], (f"n:{name[:64]}", f"a:{address_key(address)}")
        with self._lock:
            now = self.clock()
            self._prune(now)
            counts = [self._recent(key, now) for key in keys]
            waits = [self._wait(key, n, now) for key, n in zip(keys, counts)]
            if max(waits) > 0:
                return Verdict(max(waits), max(counts), self._delay(max(counts)))
            for key in keys:
                self._failures.setdefault(key, deque(maxlen=self._keep)).append((now, name))
                self._failures.move_to_end(key)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)
            failures = max(counts) + 1
            return Verdict(0.0, failures, self._delay(failures))

    def succeeded(self, name: str, address: str) -> None:
        """``name`` logged in from ``address``: forget the account's failures and the address's for it."""
        name = name[:64]
        with self._lock:
            self._failures.pop(f"n:{name}", None)
            key = f"a:{address_key(address)}"
            kept = deque(((t, n) for t, n in self._failures.get(key, ()) if n != name), maxlen=self._keep)
            if kept:
                self._failures[key] = kept
            else:
                self._failures.pop(key, None)

    def _delay(self, failures: int) -> float:
        return 0.0 if failures < self.free else min(self.cap, self.base * 2.0 ** (failures - self.free))

    def _recent(self, key: str, now: float) -> int:
        return sum(1 for t, _ in self._failures.get(key, ()) if now - t < self.window)

    def _wait(self, key: str, failures: int, now: float) -> float:
        entries = self._failures.get(key)
        return max(0.0, entries[-1][0] + self._delay(failures) - now) if entries and failures else 0.0

    def _prune(self, now: float) -> None:
        while self._failures:  # least recently failed first: stop at the first one still in the window
            key, entries = next(iter(self._failures.items()))
            if now - entries[-1][0] < self.window:
                return
            del self._failures[key]


def address_key(address: str) -> str:
    """The throttle's key for a client address: IPv6 addresses by their /64 (one site's share)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ip.ipv4_mapped or ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def trusted_proxies(text: str) -> tuple[str, ...]:
    """``"10.0.0.1, 10.1.0.0/16"`` or ``"*"`` as a tuple; ValueError naming a bad entry."""
    items = tuple(item.strip() for item in text.split(",") if item.strip())
    for item in items:
        if item != "*":
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"not an address or network: {item!r} (use addresses, CIDRs or *)") from None
    return items


def client_address(request: Request) -> str:
    """The client's address as the app sees it (the peer, or what a trusted proxy forwarded)."""
    return request.client.host if request.client else "unknown"


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


def security_headers(headers: Any, *, https_only: bool = False) -> None:
    """CSP and friends; with ``https_only`` also HSTS (browsers then use HTTPS only, for a year)."""
    if https_only:
        headers.setdefault("Strict-Transport-Security", f"max-age={HSTS_SECONDS}")
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
