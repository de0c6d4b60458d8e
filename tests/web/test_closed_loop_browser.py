"""The closed loop in a real browser: a reviewer corrects ten garments in the queue with the
keyboard, `retrain` fine-tunes the classifier on them (tiny, CPU), `tag` runs the new model over
the same photos, and the compare page shows what changed between the two runs."""

from __future__ import annotations

import pytest

from garmentparse.store import Store
from garmentparse.web import create_app
from tests.conftest import invoke

from .conftest import CCP, USERS, Server
from .test_browser import _page, shots  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow
THRESHOLD = "0.05"  # the tiny session detector is unsure of itself: keep its garments


@pytest.fixture(scope="module")
def loop(tmp_path_factory, models):
    tmp = tmp_path_factory.mktemp("loop-browser")
    v1 = tmp / "v1.jsonl"
    invoke("tag", CCP / "images", "--detector", models["detector"], "--classifier", models["classifier"],
           "--out", v1, "--score-threshold", THRESHOLD, "--device", "cpu")
    url = f"sqlite:///{tmp / 'catalogue.db'}"
    with Store.upgrade(url) as store:
        store.ingest(v1, CCP / "images")
        for name, (password, role) in USERS.items():
            store.add_user(name, password, role)
    app = create_app(url, secret="s", upload_dir=tmp / "uploads")
    server = Server(app)
    server.app, server.tmp, server.db = app, tmp, url
    yield server
    server.stop()
    app.state.store.close()


def test_correct_ten_garments_retrain_tag_and_compare(browser, loop, models, shots):
    store = loop.app.state.store
    page = _page(browser, loop, "mina")
    page.set_default_timeout(90_000)  # a busy 2-core CI machine: the queue's next garment can take a while
    page.goto("/queue")
    corrected = []
    def settled() -> None:  # htmx has swapped the panel in and the keys act on the new one
        page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')")

    for _ in range(10):
        settled()
        gid = int(page.locator("#panel a[href^='/garments/']").first.get_attribute("href").rsplit("/", 1)[1])
        page.keyboard.press("j")  # part -> category
        alternative = page.locator("tr.head-row.selected").locator('[data-alt="2"]')
        if alternative.count():
            with page.expect_response(lambda r: r.url.endswith(f"/garments/{gid}/review")):
                page.keyboard.press("2")  # the model's second choice is the right one
            settled()
        with page.expect_response(lambda r: r.url.endswith(f"/garments/{gid}/review")):
            page.keyboard.press("a")  # accept the rest; the next garment loads
        page.locator(f'#panel a[href="/garments/{gid}"]').wait_for(state="detached")
        corrected.append(gid)
    assert len(set(corrected)) == 10
    assert sum(store.garment(g).garment.state == "corrected" for g in corrected) >= 5
    assert page.errors == []

    out = loop.tmp / "v2"
    invoke("retrain", "--db", loop.db, "--images", CCP / "images", "--out", out, "--from", models["classifier"],
           "--held-back", "0", "--min-garments", "10", "--classifier-epochs", "3", "--device", "cpu",
           "--set-classifier", "solver.lr=0.01")
    v2 = loop.tmp / "v2.jsonl"
    invoke("tag", CCP / "images", "--detector", models["detector"], "--classifier", out / "classifier" / "model.pt",
           "--out", v2, "--score-threshold", THRESHOLD, "--device", "cpu")
    store.ingest(v2, CCP / "images")
    run_a, run_b = [r.id for r in store.runs()]

    page.goto("/models")
    assert page.locator(f"text=#{run_b}").count() >= 1
    page.goto(f"/compare?a={run_a}&b={run_b}")
    counts = page.locator("#compare-counts").inner_text()
    changed = int(counts.split("·")[2].split()[0])
    assert changed > 0, counts  # the retrained classifier tags some garments differently
    first = page.locator("section.compare-photo").first
    assert first.locator("li.change .chip").count() >= 1  # changed labels first, as "a → b"
    assert "→" in first.locator("li.change .chip").first.inner_text()
    page.wait_for_load_state("networkidle")  # the first photo's two overlays (the rest load lazily)
    assert first.locator("img").count() == 2
    assert first.evaluate("s => Array.from(s.querySelectorAll('img')).every(i => i.complete && i.naturalWidth > 0)")
    page.screenshot(path=str(shots / "compare.png"), full_page=False)
    assert page.errors == []
