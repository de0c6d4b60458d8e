"""Jinja2 pages (autoescaped: user text is always shown as text) with the language, the user
and the CSRF token in every context."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from garmentparse.web import i18n
from garmentparse.web.security import CSRF_FIELD, csrf_token

TEMPLATES = Jinja2Templates(env=jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True))
TEMPLATES.env.globals.update(head_name=i18n.head_name, label=i18n.label, choices=i18n.choices,
                             is_multi=i18n.is_multi, CSRF_FIELD=CSRF_FIELD)
TEMPLATES.env.filters["pct"] = lambda v: "—" if v is None else f"{100 * v:.0f}%"


def lang_of(request: Request) -> str:
    lang = request.cookies.get("lang", "en")
    return lang if lang in i18n.LANGS else "en"


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(request: Request, template: str, status_code: int = 200, /, **context: Any) -> HTMLResponse:
    lang = lang_of(request)
    context.setdefault("user", None)
    return TEMPLATES.TemplateResponse(request, template, {
        "lang": lang, "t": lambda key: i18n.text(key, lang), "csrf": csrf_token(request),
        "models_loaded": request.app.state.tagging is not None,
        "has_map": getattr(request.app.state, "similar", None) is not None, **context}, status_code=status_code)
