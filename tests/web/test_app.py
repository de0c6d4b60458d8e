"""The app over HTTP on a real SQLite catalogue: gallery filters and keyset pages, the queue,
review decisions and their log, conflicts, product registration with real tiny models,
dashboard, export, Korean labels."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest

from garmentparse.store import GalleryFilter

from .conftest import CCP, Client

TILE = re.compile(r'href="/garments/(\d+)"')


def _version(html: str) -> str:
    return html.split('name="version" value="')[1].split('"')[0]


def _tiles(html: str) -> list[int]:
    return [int(g) for g in TILE.findall(html.split('id="gallery"')[1])] if 'id="gallery"' in html else []


def test_gallery_pages_by_cursor_cover_every_garment_once(login, app):
    mina = login("mina")
    seen, url = [], "/gallery"
    while True:
        html = mina.get(url).text
        seen += _tiles(html)
        nxt = re.search(r'id="next-page" href="([^"]+)"', html)
        if not nxt:
            break
        url = nxt.group(1).replace("&amp;", "&")
    assert len(seen) == len(set(seen)) == app.state.store.dashboard().garments > 48


def test_gallery_filters(login, app):
    mina, store = login("mina"), app.state.store
    tops = _tiles(mina.get("/gallery", params={"part": "top"}).text)
    assert tops and all(store.garment(g).garment.part == "top" for g in tops)
    navy = _tiles(mina.get("/gallery", params={"head": "colour", "value": "네이비"}).text)  # Korean works too
    assert all(store.garment(g).heads["colour"].value == "navy" for g in navy)
    low = _tiles(mina.get("/gallery", params={"min": "0.2", "max": "0.45", "sort": "confidence"}).text)
    confs = [store.garment(g).garment.confidence for g in low]
    assert low and all(0.2 <= c <= 0.45 for c in confs) and confs == sorted(confs)
    assert _tiles(mina.get("/gallery", params={"q": "0001.JPG"}).text) == [
        g.id for g in store.gallery(GalleryFilter(path_text="0001.jpg")).items]
    assert "between 0 and 1" in mina.get("/gallery", params={"min": "7"}).text
    run = store.runs()[0].id
    assert len(_tiles(mina.get("/gallery", params={"run": run}).text)) == 48
    assert _tiles(mina.get("/gallery", params={"state": "confirmed"}).text) == []


def test_review_from_the_queue_logs_every_change_and_moves_on(login, app):
    mina, store = login("mina"), app.state.store
    html = mina.get("/queue").text
    first = store.queue(limit=1).items[0]
    assert f'/garments/{first.id}"' in html
    r = mina.post(f"/garments/{first.id}/review", {"version": _version(html), "action": "correct", "head": "colour",
                                                   "value": "navy", "comment": "navy, not black"},
                  headers={"HX-Request": "true"})
    assert r.status_code == 200 and "Saved" in r.text and f"/garments/{first.id}" in r.text
    r = mina.post(f"/garments/{first.id}/review", {"version": _version(r.text), "action": "accept"},
                  headers={"HX-Request": "true"})
    g = store.garment(first.id)
    assert g.heads["colour"].value == "navy" and g.heads["colour"].state == "corrected"
    assert all(h.state in ("confirmed", "corrected") for h in g.heads.values())
    assert first.id not in _tiles(r.text) and f'/garments/{first.id}"' not in r.text  # the next one
    assert [(c.head, c.username) for c in g.history][0] == ("colour", "mina")
    page = mina.get(f"/garments/{first.id}").text
    assert "navy, not black" in page and "corrected" in page


def test_skip_and_reject_and_queue_by_head(login, app):
    mina, store = login("mina"), app.state.store
    html = mina.get("/queue?head=category").text
    first = store.queue(head="category", limit=2).items
    assert f'/garments/{first[0].id}"' in html
    r = mina.post(f"/garments/{first[0].id}/review", {"version": _version(html), "action": "skip", "qhead": "category"})
    assert f'/garments/{first[1].id}"' in r.text
    r = mina.post(f"/garments/{first[1].id}/review", {"version": _version(r.text), "action": "reject", "qhead": "category"})
    assert store.garment(first[1].id).garment.state == "rejected"


def test_bad_value_is_a_clear_400_and_changes_nothing(login, app):
    mina = login("mina")
    html = mina.get("/garments/2").text
    r = mina.post("/garments/2/review", {"version": _version(html), "action": "correct", "head": "colour",
                                         "value": "plaid", "mode": "page"})
    assert r.status_code == 400 and "unknown colour label" in r.text
    assert app.state.store.garment(2).history == []


def test_two_reviewers_second_gets_a_conflict_showing_the_first_change(app):
    mina, joon = Client(app, "mina"), Client(app, "joon")
    v_mina, v_joon = _version(mina.get("/garments/3").text), _version(joon.get("/garments/3").text)
    assert mina.post("/garments/3/review", {"version": v_mina, "action": "correct", "head": "colour",
                                            "value": "red", "comment": "mina says red", "mode": "page"}).status_code == 200
    r = joon.post("/garments/3/review", {"version": v_joon, "action": "correct", "head": "colour",
                                         "value": "blue", "mode": "page"})
    assert r.status_code == 409 and "Someone else changed" in r.text and "mina says red" in r.text
    g = app.state.store.garment(3)
    assert g.heads["colour"].value == "red" and [c.username for c in g.history] == ["mina"]
    r = joon.post("/garments/3/review", {"version": _version(r.text), "action": "correct", "head": "colour",
                                         "value": "blue", "mode": "page"})  # decided again on the fresh page
    assert r.status_code == 200 and app.state.store.garment(3).heads["colour"].value == "blue"
    assert [c.username for c in app.state.store.garment(3).history] == ["mina", "joon"]


def test_dashboard_counts_and_accuracy(login, app):
    mina = login("mina")
    html = mina.get("/garments/4").text
    mina.post("/garments/4/review", {"version": _version(html), "action": "correct", "head": "colour", "value": "red",
                                     "mode": "page"})
    html = mina.get("/dashboard").text
    d = app.state.store.dashboard()
    assert f"<b>{d.garments}</b>" in html and "Model accuracy" in html
    assert "100% corrected · 1 reviewed" in html  # colour: the one reviewed prediction was corrected


def test_korean_toggle_translates_labels_and_pages(login):
    mina = login("mina")
    r = mina.get("/lang/ko?next=/gallery%3Fpart%3Dtop", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/gallery?part=top"
    html = mina.get("/gallery?part=top").text
    assert "둘러보기" in html and "상의" in html and 'lang="ko"' in html
    assert "색상" in mina.get("/garments/1").text
    assert mina.get("/lang/en?next=//evil.example", follow_redirects=False).headers["location"] == "/"


def test_admin_manages_users_and_exports_coco(login, app):
    ada = login("ada")
    assert ada.post("/admin/users", {"name": "<b>eve</b>", "password": "eve's long password",
                                     "role": "reviewer"}).status_code == 303
    html = ada.get("/admin/users").text
    assert "&lt;b&gt;eve&lt;/b&gt;" in html and "<b>eve</b>" not in html
    assert ada.post("/admin/users/role", {"name": "<b>eve</b>", "role": "viewer"}).status_code == 303
    assert app.state.store.user("<b>eve</b>").role == "viewer"
    mina = login("mina")
    html = mina.get("/garments/5").text
    mina.post("/garments/5/review", {"version": _version(html), "action": "accept", "mode": "page"})
    r = ada.post("/export", {"format": "coco"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    coco = json.loads(zipfile.ZipFile(io.BytesIO(r.content)).read("coco.json"))
    assert len(coco["annotations"]) == 1
    r = ada.post("/export", {"format": "manifest", "root": "1"})
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert "manifest.csv" in names and any(n.startswith("crops/") for n in names)
    assert ada.post("/export", {"format": "manifest", "root": "../../etc"}).status_code == 400


def test_register_a_product_from_two_real_photos(app, tmp_path, models):
    from garmentparse.web import create_app

    web = create_app(str(app.state.store.engine.url), detector=models["detector"], classifier=models["classifier"],
                     secret="s", upload_dir=tmp_path / "uploads", score_threshold=0.01)
    mina = Client(web, "mina")
    assert "No models" not in mina.get("/products/new").text
    ids = []
    for name in ("0021.jpg", "0022.jpg"):
        r = mina.post("/products/photos", files={"photo": (name, (CCP / "images" / name).read_bytes(), "image/jpeg")})
        assert r.status_code == 200, r.text
        ids.append(r.json()["photo_id"])
    again = mina.post("/products/photos", files={"photo": ("x.jpg", (CCP / "images" / "0021.jpg").read_bytes())})
    assert again.json()["photo_id"] == ids[0]  # same bytes, same stored photo
    html = mina.post("/products/proposal", {"photo_ids": ",".join(map(str, ids))}).text
    assert 'name="value_part"' in html and 'name="value_colour"' in html
    garments = html.split('name="garments" value="')[1].split('"')[0]
    r = mina.post("/products", {"sku": "SKU-<1>", "name": "네이비 <블라우스>", "photo_ids": ",".join(map(str, ids)),
                                "garments": garments, "value_part": "top", "value_category": "blouse",
                                "value_colour": "navy", "value_print": ["stripe", "dot"]})
    assert r.status_code == 303, r.text
    product = web.state.store.product(int(r.headers["location"].rsplit("/", 1)[1]))
    assert product.attributes == {"part": "top", "category": "blouse", "colour": "navy", "print": "stripe|dot"}
    assert sorted(product.photo_ids) == sorted(ids)
    page = mina.get(r.headers["location"]).text
    assert "네이비 &lt;블라우스&gt;" in page
    for gid in filter(None, garments.split(",")):
        g = web.state.store.garment(int(gid))
        assert g.heads["colour"].value == "navy" and g.history and g.history[0].comment == "product SKU-<1>"
    assert {p for p in (tmp_path / "uploads").rglob("*.jpg")} == {
        tmp_path / "uploads" / web.state.store.photo(i).path for i in ids}
    web.state.store.close()


@pytest.mark.parametrize("page", ["/gallery", "/queue", "/dashboard", "/products", "/garments/1"])
def test_pages_answer_on_postgresql(page, postgres_app):
    r = Client(postgres_app, "mina").get(page)
    assert r.status_code == 200 and "garmentparse" in r.text


@pytest.fixture(scope="module")
def postgres_app(request, tmp_path_factory, ccp_coco_dict):
    from garmentparse.web import create_app
    from tests.store.conftest import _fresh_database

    from .conftest import make_catalogue

    server = request.getfixturevalue("postgresql_server")
    tmp = tmp_path_factory.mktemp("pg")
    app = create_app(make_catalogue(_fresh_database(server), tmp, ccp_coco_dict), secret="s", upload_dir=tmp / "up")
    yield app
    app.state.store.close()
