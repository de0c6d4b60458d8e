"""Uploads are tagged by one worker of their own, so page views never wait behind model inference.
Over real HTTP (uvicorn on 127.0.0.1) with the release models (about 0.4 s a photo on one CPU
thread; no sleeping stand-in): 45 clients keep an upload in flight each (sending the next as soon
as one is answered, after Retry-After when refused) while another reviewer opens the gallery."""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from garmentparse.web import create_app
from garmentparse.web.worker import MAX_QUEUED

from .conftest import CCP, Client, Server, http_session

UPLOADERS = 45  # more than anyio's 40 request threads: what made every page wait before


@pytest.fixture
def release_app(app, tmp_path):
    from garmentparse.release import default_model

    try:
        detector, classifier = default_model("detector").path, default_model("classifier").path
    except Exception as exc:  # noqa: BLE001 - the release package is optional
        pytest.skip(f"release models not installed: {exc}")
    web = create_app(str(app.state.store.engine.url), detector=detector, classifier=classifier,
                     secret="s", upload_dir=tmp_path / "up")
    yield web
    web.state.upload_worker.close()
    web.state.store.close()


def _keep_uploading(client: httpx.Client, photo: bytes, stop: threading.Event) -> list[httpx.Response]:
    answers: list[httpx.Response] = []
    while not stop.is_set():
        answers.append(client.post("/products/photos", files={"photo": ("p.jpg", photo, "image/jpeg")}))
        if answers[-1].status_code == 503:
            stop.wait(int(answers[-1].headers["retry-after"]))
    return answers


def test_pages_answer_at_once_while_45_uploads_are_in_flight(release_app):
    server = Server(release_app)
    stop = threading.Event()
    try:
        mina, joon = http_session(server.url, "mina", connections=UPLOADERS), http_session(server.url, "joon")
        photo = (CCP / "images" / "0001.jpg").read_bytes()
        with ThreadPoolExecutor(UPLOADERS) as pool:
            uploaders = [pool.submit(_keep_uploading, mina, photo, stop) for _ in range(UPLOADERS)]
            time.sleep(1.0)  # every uploader has sent its photo; one is being tagged
            times = []
            for _ in range(5):
                start = time.perf_counter()
                assert joon.get("/gallery").status_code == 200
                times.append(time.perf_counter() - start)
            stop.set()
            answers = [a for u in uploaders for a in u.result(timeout=120)]
        assert statistics.median(times) < 0.5, times
        codes = [a.status_code for a in answers]
        assert set(codes) == {200, 503}, codes  # never a 500; some tagged, the rest told to come back
        busy = next(a for a in answers if a.status_code == 503)
        assert busy.json()["error"] == (f"The server is tagging {MAX_QUEUED} photos already: "
                                        f"try again in {busy.headers['retry-after']} s.")
    finally:
        stop.set()
        server.stop()


def test_the_uploads_run_is_named_by_its_release_models(release_app):
    from garmentparse.release import default_model

    mina = Client(release_app, "mina")
    r = mina.post("/products/photos", files={"photo": ("a.jpg", (CCP / "images" / "0002.jpg").read_bytes(), "image/jpeg")})
    assert r.status_code == 200, r.text
    run = release_app.state.store.runs()[-1]
    names = f"{default_model('detector').name} + {default_model('classifier').name}"
    assert run.label == f"#{run.id} {run.created_at:%Y-%m-%d} · {names}"
    assert f">{run.label}</option>" in mina.get("/gallery").text
