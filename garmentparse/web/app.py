"""The review web app: :func:`create_app` wires the store, the optional models, sessions,
CSRF, security headers and the routes together."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from garmentparse.store import Store
from garmentparse.web.routes import admin, auth, browse, collection, products, review, runs
from garmentparse.web.security import (BodyLimit, LoginRequired, LoginThrottle, check_csrf, check_text,
                                       security_headers, trusted_proxies as parse_proxies)
from garmentparse.web.templating import is_htmx, render
from garmentparse.web.worker import UploadWorker

STATIC = Path(__file__).parent / "static"
MAX_BODY = 25 * 2**20  # one photo per request, plus a little form
SESSION_HOURS = 12


def create_app(store_url: str, *, detector: str | Path | None = None, classifier: str | Path | None = None,
               secret: str | None = None, upload_dir: str | Path = "garmentparse-uploads",
               score_threshold: float | None = None, store: Store | None = None,
               embeddings: str | Path | None = None, login_throttle: LoginThrottle | None = None,
               https_only: bool = False, trusted_proxies: str | Sequence[str] = ()) -> FastAPI:
    """The app for the catalogue at ``store_url`` (migrated: ``garmentparse db upgrade``).

    With ``detector`` (and ``classifier``) the models are loaded on the CPU for product
    registration; without them that page says so. ``secret`` signs session cookies (random per
    process when not given: sessions end with the server). Uploads are kept in ``upload_dir``.
    ``embeddings``: an embedding folder of the catalogue's tag output; garment pages then show
    their similar garments and ``/map`` the collection's map. ``login_throttle``: how failed logins
    are slowed down (default: :class:`LoginThrottle`'s 5 free failures in 15 min, then 1 s doubling
    to 15 min). ``https_only``: cookies marked Secure and a Strict-Transport-Security header (serve
    over HTTPS). ``trusted_proxies``: addresses or CIDRs (or ``"*"``) of reverse proxies whose
    X-Forwarded-For / -Proto are believed; from any other peer they are ignored (none by default)."""
    proxies = parse_proxies(trusted_proxies if isinstance(trusted_proxies, str) else ",".join(trusted_proxies))
    app = FastAPI(title="garmentparse review", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(check_csrf), Depends(check_text)])
    app.state.store = store or Store.open(store_url)
    app.state.upload_dir = Path(upload_dir).resolve()
    app.state.upload_dir.mkdir(parents=True, exist_ok=True)
    app.state.login_throttle = login_throttle or LoginThrottle()
    app.state.https_only = https_only
    app.state.session_hours = SESSION_HOURS
    app.state.tagging = None
    app.state.upload_worker = UploadWorker()
    if detector is not None:
        from garmentparse.web.tagging_service import TaggingService

        app.state.tagging = TaggingService(detector, classifier, score_threshold=score_threshold)
    app.state.similar = None
    if embeddings is not None:
        from garmentparse.web.similar import SimilarGarments

        app.state.similar = SimilarGarments(embeddings, app.state.store)

    app.add_middleware(SessionMiddleware, secret_key=secret or secrets.token_hex(32), session_cookie="gp_session",
                       max_age=SESSION_HOURS * 3600, same_site="lax", https_only=https_only)
    app.add_middleware(BodyLimit, limit=MAX_BODY)
    app.add_middleware(HeadAsGet)

    @app.middleware("http")
    async def headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        security_headers(response.headers, https_only=https_only)
        if not request.url.path.startswith("/static/"):  # pages show what the user may see: never kept
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    if proxies:  # added last, so outermost: all else sees the client that the trusted proxy forwarded
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts="*" if "*" in proxies else list(proxies))

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target = "/login?next=" + quote(here, safe="/")
        if is_htmx(request):
            return Response(status_code=401, headers={"HX-Redirect": target})
        if request.url.path.startswith("/products/p"):  # fetch() from the register page
            return JSONResponse({"error": "Log in again."}, 401)
        return RedirectResponse(target, 303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.endswith((".jpg", "/image")) or request.url.path.startswith("/static"):
            return Response(str(exc.detail), exc.status_code, media_type="text/plain")
        if request.url.path == "/products/photos":
            return JSONResponse({"error": exc.detail}, exc.status_code)
        template = "_message.html" if is_htmx(request) else "error.html"
        return render(request, template, exc.status_code, error=str(exc.detail), status=exc.status_code)

    for module in (auth, browse, review, products, collection, runs, admin):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


class HeadAsGet:
    """ASGI middleware: HEAD answered as GET is (status and headers), without the body; FastAPI's
    routes know GET only and would say 405."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable[[], Awaitable[dict]], send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            return await self.app(scope, receive, send)

        async def headers_only(message: dict) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body"):
                    return
                message = {"type": "http.response.body", "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)
