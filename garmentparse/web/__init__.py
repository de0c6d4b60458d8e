"""The review web app (``garmentparse serve``): FastAPI + Jinja2, htmx vendored, no build step."""

from garmentparse.web.app import create_app

__all__ = ["create_app"]
