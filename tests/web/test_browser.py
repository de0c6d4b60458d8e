"""Real headless Chromium (Debian's, driven by Playwright) against a real uvicorn: log in,
filter the gallery, correct a label from the queue with the keyboard, see it in the history,
register a product from two real photos, export, Korean toggle. Each page is screenshotted
(into $GARMENTPARSE_SCREENSHOTS, e.g. docs/screenshots, else a temp dir)."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import pytest

from garmentparse.web import create_app

from .conftest import CCP, USERS, Server, make_catalogue

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory, ccp_coco_dict, models):
    tmp = tmp_path_factory.mktemp("browser")
    url = make_catalogue(f"sqlite:///{tmp / 'catalogue.db'}", tmp, ccp_coco_dict)
    app = create_app(url, detector=models["detector"], classifier=models["classifier"], secret="s",
                     upload_dir=tmp / "uploads", score_threshold=0.01)
    server = Server(app)
    server.app = app
    yield server
    server.stop()
    app.state.store.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    out = Path(os.environ.get("GARMENTPARSE_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    out.mkdir(parents=True, exist_ok=True)
    return out


def _page(browser, server, name: str, lang: str = "en"):
    context = browser.new_context(base_url=server.url, viewport={"width": 1360, "height": 900}, accept_downloads=True)
    if lang == "ko":
        context.add_cookies([{"name": "lang", "value": "ko", "url": server.url}])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto("/gallery")
    assert "/login" in page.url
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", USERS[name][0])
    page.click("button.primary")
    page.wait_for_url("**/gallery")
    page.errors = errors
    return page


def test_login_page_and_gallery_filter(browser, server, shots):
    context = browser.new_context(base_url=server.url, viewport={"width": 1360, "height": 700})
    login = context.new_page()
    login.goto("/login")
    login.screenshot(path=str(shots / "login.png"))
    login.fill("input[name=name]", "mina")
    login.fill("input[name=password]", "wrong password")
    login.click("button.primary")
    assert login.locator(".error").inner_text() == "Wrong name or password."
    page = _page(browser, server, "mina")
    assert page.locator(".tile").count() == 48
    page.select_option("select[name=part]", "bottom")
    page.check("input[name=state][value=predicted]")
    page.select_option("select[name=sort]", "confidence")
    page.click("#filters button.primary")
    page.wait_for_url("**part=bottom**")
    tiles = page.locator(".tile .meta b").all_inner_texts()
    assert tiles and set(tiles) == {"bottom"}
    page.wait_for_load_state("networkidle")
    assert page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
    page.screenshot(path=str(shots / "gallery.png"), full_page=False)
    assert page.errors == []


def test_correct_a_label_from_the_queue_with_the_keyboard_and_see_the_history(browser, server, shots):
    page = _page(browser, server, "mina")
    store = server.app.state.store
    page.goto("/queue")
    first = store.queue(limit=1).items[0].id
    assert page.locator(f'#panel a[href="/garments/{first}"]').count() == 1
    assert page.locator("tr.head-row.selected").get_attribute("data-head") == "part"
    page.keyboard.press("j")  # part -> category
    page.keyboard.press("j")  # -> colour
    row = page.locator("tr.head-row.selected")
    assert row.get_attribute("data-head") == "colour"
    alternative = row.locator('[data-alt="2"]').get_attribute("value")
    page.screenshot(path=str(shots / "queue.png"))
    page.keyboard.press("2")
    page.wait_for_selector("#panel .ok")
    assert store.garment(first).heads["colour"].value == alternative
    assert page.locator("tr.head-row.selected").get_attribute("data-head") == "colour"  # selection kept
    page.keyboard.press("a")  # accept the rest, next garment loads at once
    page.locator(f'#panel a[href="/garments/{first}"]').wait_for(state="detached")
    assert all(h.state != "predicted" for h in store.garment(first).heads.values())
    page.goto(f"/garments/{first}")
    history = page.locator(".history tbody").inner_text()
    assert "mina" in history and alternative in history and "corrected" in history
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(shots / "garment.png"), full_page=True)
    assert page.errors == []


def test_register_a_product_from_two_real_photos(browser, server, shots, tmp_path):
    page = _page(browser, server, "mina")
    page.goto("/products/new")
    photos = [CCP / "images" / "0021.jpg", CCP / "images" / "0022.jpg"]
    page.set_input_files("#files", [str(p) for p in photos])
    page.wait_for_selector("#product-form", timeout=120_000)
    assert page.locator("#progress").inner_text().endswith("2 / 2 ✓")
    assert page.locator("#uploads li.failed").count() == 0
    page.select_option("#value_colour", "navy")
    page.fill("#sku", "SKU-0021")
    page.fill("#product-name", "Navy <b>blouse</b>")
    page.screenshot(path=str(shots / "register.png"), full_page=True)
    page.click("#save-product")
    page.wait_for_url("**/products/*")
    assert page.locator("h1").inner_text().startswith("Navy <b>blouse</b>")  # shown as text
    product = server.app.state.store.products()[0]
    assert product.sku == "SKU-0021" and product.attributes["colour"] == "navy"
    assert len(server.app.state.store.product(product.id).photo_ids) == 2
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(shots / "product.png"), full_page=True)
    assert page.errors == []


def test_a_full_tagging_queue_shows_on_the_photo_and_it_is_sent_again(browser, server):
    """503 + Retry-After from the upload worker: the photo's line says so, the page resends it."""
    from garmentparse.web.worker import UploadWorker

    page = _page(browser, server, "joon")
    page.goto("/products/new")
    server.app.state.upload_worker = UploadWorker(max_queued=0)  # every upload refused: the queue is full
    try:
        page.set_input_files("#files", [str(CCP / "images" / "0023.jpg")])
        line = page.locator("#uploads li p")
        line.filter(has_text="try again in 5 s. (sent again by itself)").wait_for(timeout=30_000)
        assert "The server is tagging 0 photos already" in line.inner_text()
    finally:
        server.app.state.upload_worker = UploadWorker()
    page.wait_for_selector("#product-form", timeout=120_000)
    assert "0023.jpg ✓" in line.inner_text() and page.locator("#uploads li.failed").count() == 0


def test_dashboard_and_export(browser, server, shots):
    page = _page(browser, server, "ada")
    page.goto("/dashboard")
    assert page.locator("#accuracy svg rect").count() > 0
    page.screenshot(path=str(shots / "dashboard.png"), full_page=True)
    page.goto("/export")
    page.screenshot(path=str(shots / "export.png"))
    with page.expect_download() as download:
        page.click("#export-button")
    data = Path(download.value.path()).read_bytes()
    coco = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("coco.json"))
    assert {"images", "annotations", "categories"} <= coco.keys()
    page.goto("/admin/users")
    page.screenshot(path=str(shots / "users.png"))
    assert page.errors == []


def test_korean_toggle(browser, server, shots):
    page = _page(browser, server, "mina")
    page.click("#lang-toggle")
    page.wait_for_selector("text=둘러보기")
    assert page.locator("html").get_attribute("lang") == "ko"
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(shots / "gallery-ko.png"))
    page.goto("/queue")
    assert "색상" in page.locator("#panel").inner_text()
    page.screenshot(path=str(shots / "queue-ko.png"))
    page.click("#lang-toggle")
    page.wait_for_selector("text=Browse")


def test_map_of_the_collection_in_the_browser(browser, tmp_path_factory, ccp_coco_dict, models, shots):
    """`serve --embeddings`: the nav leads to the map, every garment is a point, thumbnails load,
    colouring by category works and a point opens its garment's page; no console error."""
    from garmentparse.embeddings import EmbeddingFolder, embed
    from tests.store.conftest import tag_lines, write_tag_output

    tmp = tmp_path_factory.mktemp("browser-map")
    url = make_catalogue(f"sqlite:///{tmp / 'catalogue.db'}", tmp, ccp_coco_dict)
    tags = write_tag_output(tmp / "same-run" / "results.jsonl", tag_lines(ccp_coco_dict))
    embed(tags, models["classifier"], tmp / "emb", images=CCP / "images", device="cpu")
    app = create_app(url, secret="s", upload_dir=tmp / "uploads", embeddings=tmp / "emb")
    server = Server(app)
    try:
        page = _page(browser, server, "vic")
        page.click("nav a[href='/map']")
        page.wait_for_url("**/map")
        page.wait_for_load_state("networkidle")
        assert page.locator("svg.map-plot circle").count() == len(EmbeddingFolder.open(tmp / "emb"))
        assert page.locator("svg.map-plot image").count() >= 1
        assert page.locator(".legend li").count() >= 2
        page.screenshot(path=str(shots / "map.png"), full_page=True)
        page.select_option("select[name=color]", "category")
        page.click("form.filters button")
        page.wait_for_url("**color=category")
        page.wait_for_load_state("networkidle")
        page.locator("svg.map-plot a.map-thumb").first.click()  # thumbnails lie on top of their points
        page.wait_for_url("**/garments/*")
        assert page.locator(".panel, main h1, main h2").count() >= 1
        assert not page.errors, page.errors
    finally:
        server.stop()
        app.state.store.close()
