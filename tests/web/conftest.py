"""Web app fixtures: a real SQLite catalogue of the 24 CCP photos (ingested like `tag` output),
four users, the app over HTTP (TestClient and a real uvicorn), tiny real models, Chromium."""

from __future__ import annotations

import re
import socket
import subprocess
import threading
import time

from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from garmentparse.store import Store
from garmentparse.web import create_app
from tests.store.conftest import postgresql_server, second_run_lines, tag_lines, write_tag_output  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
CCP = REPO / "examples" / "ccp"
USERS = {"ada": ("ada's long password", "admin"), "mina": ("mina's long password", "reviewer"),
         "joon": ("joon's long password", "reviewer"), "vic": ("vic's long password", "viewer")}
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF field on the page"
    return match.group(1)


@pytest.fixture(scope="session")
def ccp_coco_dict() -> dict:
    from garmentparse.converters import convert_kfashion

    coco, _ = convert_kfashion(CCP / "labels", CCP / "images")
    return coco


def make_catalogue(url: str, tmp: Path, coco: dict) -> str:
    with Store.upgrade(url) as store:
        store.ingest(write_tag_output(tmp / "tags" / "results.jsonl", tag_lines(coco)), CCP / "images")
        for name, (password, role) in USERS.items():
            store.add_user(name, password, role)
    return url


@pytest.fixture
def db_url(tmp_path: Path, ccp_coco_dict: dict) -> str:
    return make_catalogue(f"sqlite:///{tmp_path / 'catalogue.db'}", tmp_path, ccp_coco_dict)


@pytest.fixture
def app(db_url: str, tmp_path: Path):
    app = create_app(db_url, secret="test-secret", upload_dir=tmp_path / "uploads")
    yield app
    app.state.store.close()


class Client:
    """A TestClient logged in as someone, sending the CSRF token like the pages do."""

    def __init__(self, app, name: str | None = None) -> None:
        self.http = TestClient(app, base_url="http://127.0.0.1")
        self.token = ""
        if name:
            self.login(name)

    def login(self, name: str, password: str | None = None):
        page = self.http.get("/login")
        response = self.http.post("/login", data={"name": name, "password": password or USERS[name][0],
                                                  "csrf_token": csrf_of(page.text)}, follow_redirects=False)
        if response.status_code == 303:
            self.token = csrf_of(self.http.get("/gallery").text)
        return response

    def get(self, url: str, **kw):
        return self.http.get(url, **kw)

    def post(self, url: str, data: dict | None = None, csrf: bool = True, **kw):
        data = dict(data or {})
        if csrf:
            data["csrf_token"] = self.token
        return self.http.post(url, data=data, follow_redirects=False, **kw)


@pytest.fixture
def login(app):
    return lambda name=None: Client(app, name)


@pytest.fixture(scope="session")
def models(detector_run, classifier_run) -> dict[str, Path]:
    """The session's tiny detector and classifier (trained once, in tests/conftest.py)."""
    return {"detector": detector_run["model"], "classifier": classifier_run / "model.pt"}


# ----------------------------------------------------------------------------- a real server + Chromium

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """uvicorn on 127.0.0.1 in a thread."""

    def __init__(self, app) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        for _ in range(200):
            if self.server.started:
                return
            time.sleep(0.05)
        raise RuntimeError("uvicorn did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def http_session(url: str, name: str, connections: int = 10) -> httpx.Client:
    """An httpx client logged in to the server at ``url`` as ``name``, sending the CSRF header."""
    c = httpx.Client(base_url=url, timeout=120, limits=httpx.Limits(max_connections=connections))
    token = csrf_of(c.get("/login").text)
    assert c.post("/login", data={"name": name, "password": USERS[name][0], "csrf_token": token}).status_code in (200, 303)
    c.headers["X-CSRF-Token"] = csrf_of(c.get("/gallery").text)
    return c


CHROMIUM = Path("/usr/bin/chromium")


def ensure_chromium() -> str | None:
    """None when Chromium (and Hangul fonts) are there, installing them via apt when root; else why not."""
    if not CHROMIUM.exists():
        script = REPO / "scripts" / "system_deps.sh"
        subprocess.run(["bash", str(script)], capture_output=True, timeout=600)
    if not CHROMIUM.exists():
        return f"{CHROMIUM} missing and could not be installed (run scripts/system_deps.sh as root)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright (Python) is not installed: pip install playwright"
    return None


@pytest.fixture(scope="session")
def browser():
    why = ensure_chromium()
    if why:
        pytest.skip(f"browser tests skipped: {why}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()
