"""What probing from outside found, each fixed: logout ends the session (and log out everywhere,
an admin's revoke), thin and failed uploads, a registration limited to its own uploads and all or
nothing, the last admin, served files, messages, redirects, caching, HEAD."""

from __future__ import annotations

import html
import io
import shutil

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from garmentparse.store import GalleryFilter
from garmentparse.web import create_app
from garmentparse.web.images import UploadRejected, store_upload
from tests.store.conftest import tag_lines, write_tag_output

from .conftest import CCP, USERS, Client


def _to_login(client: Client, url: str = "/gallery") -> bool:
    r = client.get(url, follow_redirects=False)
    return r.status_code == 303 and r.headers["location"].startswith("/login")


def _replay(app, cookie: str, token: str) -> Client:
    """A fresh client with a copy of someone's cookie (and the page's CSRF token)."""
    client = Client(app)
    client.http.cookies.set("gp_session", cookie)
    client.token = token
    return client


def _stolen(app, victim: Client) -> Client:
    return _replay(app, victim.http.cookies["gp_session"], victim.token)


def text(response) -> str:
    return html.unescape(response.text)


def _review(client: Client, gid: int = 1):
    return client.post(f"/garments/{gid}/review", {"version": "1", "action": "skip", "mode": "page"})


# ----------------------------------------------------------------------------- sessions

def test_a_cookie_copied_before_logout_opens_nothing_after_it(app, login):
    mina = login("mina")
    copy = _stolen(app, mina)
    assert copy.get("/gallery").status_code == 200
    assert mina.post("/logout").status_code == 303
    assert _to_login(copy) and _to_login(mina)
    r = _review(copy)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_log_out_everywhere_ends_every_session_of_the_user_only(app, login):
    laptop, phone, ada = login("mina"), login("mina"), login("ada")
    assert "/logout/everywhere" in laptop.get("/gallery").text
    assert laptop.post("/logout/everywhere").status_code == 303
    assert _to_login(laptop) and _to_login(phone)
    assert ada.get("/gallery").status_code == 200
    assert phone.login("mina").status_code == 303 and phone.get("/gallery").status_code == 200


def test_an_admin_revokes_a_stolen_cookie(app, login):
    mina, ada = login("mina"), login("ada")
    thief = _stolen(app, mina)
    page = ada.get("/admin/users").text
    assert 'action="/admin/users/revoke"' in page
    assert ada.post("/admin/users/revoke", {"name": "mina"}).status_code == 303
    assert _to_login(thief) and _to_login(mina)
    assert ada.get("/admin/users").status_code == 200
    assert ada.post("/admin/users/revoke", {"name": "nobody"}).status_code == 404
    assert login("vic").post("/admin/users/revoke", {"name": "ada"}).status_code == 403
    assert mina.login("mina").status_code == 303 and mina.get("/gallery").status_code == 200


# ----------------------------------------------------------------------------- the last admin

def test_the_last_admin_cannot_demote_or_remove_itself(app, login):
    ada = login("ada")
    r = ada.post("/admin/users/role", {"name": "ada", "role": "viewer"})
    assert r.status_code == 400 and "ada is the last admin: make another user admin first" in text(r)
    assert app.state.store.user("ada").role == "admin" and ada.get("/admin/users").status_code == 200
    assert ada.post("/admin/users/role", {"name": "mina", "role": "admin"}).status_code == 303
    mina = login("mina")
    assert mina.post("/admin/users/role", {"name": "ada", "role": "viewer"}).status_code == 303
    r = mina.post("/admin/users/role", {"name": "mina", "role": "reviewer"})
    assert r.status_code == 400 and "mina is the last admin" in text(r)


# ----------------------------------------------------------------------------- uploads

def _png(size: tuple[int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("L", size).save(buf, "PNG")
    return buf.getvalue()


def test_thin_images_and_gifs_are_refused_with_one_clear_message(tmp_path):
    for size in [(100000, 1), (1, 30000), (20, 400), (2000, 60)]:
        with pytest.raises(UploadRejected, match=rf"^The image is {size[0]}x{size[1]} pixels: too small or too thin"):
            store_upload(_png(size), tmp_path)
    gif = io.BytesIO()
    Image.new("RGB", (64, 64)).save(gif, "GIF")
    with pytest.raises(UploadRejected) as err:
        store_upload(gif.getvalue(), tmp_path)
    assert str(err.value) == "GIF images are not accepted: upload JPEG, PNG or WebP."  # not wrapped twice
    with pytest.raises(UploadRejected) as err:
        store_upload(b"\xff" * 1000, tmp_path, max_bytes=2**20, size=int(1.26 * 2**20))
    assert str(err.value) == "The file is too large (1.3 MiB; at most 1 MiB)."
    assert not list(tmp_path.rglob("*.*"))
    store_upload(_png((64, 1280)), tmp_path)  # 20:1 is still a photo


@pytest.fixture
def with_models(app, tmp_path, models):
    app = create_app(str(app.state.store.engine.url), detector=models["detector"], classifier=models["classifier"],
                     secret="s", upload_dir=tmp_path / "up", score_threshold=0.01)
    yield app
    app.state.store.close()


def test_thin_uploads_and_the_real_size_over_http(with_models, tmp_path):
    mina = Client(with_models, "mina")
    for size in [(100000, 1), (1, 30000)]:
        r = mina.post("/products/photos", files={"photo": ("thin.png", _png(size), "image/png")})
        assert r.status_code == 400 and "too small or too thin" in r.json()["error"], size
    big = b"\xff\xd8\xff" + b"\0" * int(21.3 * 2**20)
    r = mina.post("/products/photos", files={"photo": ("big.jpg", big, "image/jpeg")})
    assert r.status_code == 400 and r.json()["error"] == "The file is too large (21.4 MiB; at most 20 MiB)."
    assert not list((tmp_path / "up").rglob("*.*"))


class BrokenTagger:
    """A tagging service whose model fails on every photo (what a crash in tagging looks like)."""

    heads: list[str] = []

    def tag_file(self, *args):
        raise RuntimeError("the model fell over")


def test_an_upload_whose_tagging_fails_leaves_no_file_behind(app, tmp_path):
    app.state.tagging = BrokenTagger()
    mina = Client(app, "mina")
    mina.http = TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False, cookies=mina.http.cookies)
    photo = (CCP / "images" / "0001.jpg").read_bytes()
    assert mina.post("/products/photos", files={"photo": ("a.jpg", photo, "image/jpeg")}).status_code == 500
    assert not list((tmp_path / "uploads").rglob("*.*"))


# ----------------------------------------------------------------------------- product registration

def _upload(app, ccp_coco_dict, index: int) -> tuple[int, list[int]]:
    """A photo through the upload store and ingested as the app does (tagged like the CCP fixture)."""
    stored = store_upload((CCP / "images" / f"{index + 1:04d}.jpg").read_bytes(), app.state.upload_dir)
    line = {**tag_lines(ccp_coco_dict)[index], "path": stored.path}
    store = app.state.store
    store.ingest_results([line], {"models": {"detector": "up", "classifier": "up"}}, app.state.upload_dir)
    photo = store.photo_by_path(stored.path)
    return photo.id, [g.id for g in store.gallery(GalleryFilter(photo_id=photo.id)).items]


def test_a_registration_is_all_or_nothing_and_takes_only_its_own_uploads(app, login, ccp_coco_dict):
    store, mina = app.state.store, login("mina")
    (p1, g1), (p2, g2) = _upload(app, ccp_coco_dict, 0), _upload(app, ccp_coco_dict, 1)
    form = {"sku": "SKU-1", "name": "navy top", "value_colour": "navy"}
    r = mina.post("/products", {**form, "photo_ids": f"{p1},999999", "garments": ",".join(map(str, g1))})
    assert r.status_code == 400 and "Not saved: no photo 999999." in text(r)
    assert store.products() == [] and store.photo(p1).product_id is None  # and a retry works
    catalogue = store.gallery(GalleryFilter(photo_id=1)).items[0]  # a garment of an ingested image root
    r = mina.post("/products", {**form, "photo_ids": str(p1), "garments": f"{g1[0]},{catalogue.id}"})
    assert r.status_code == 400 and f"Not saved: garment {catalogue.id} is not on this product's photos." in text(r)
    assert store.garment(catalogue.id).garment.state == "predicted" and store.products() == []
    r = mina.post("/products", {**form, "photo_ids": f"{p1},1"})
    assert r.status_code == 400 and "Not saved: photo 1 is not an upload of this registration." in text(r)
    r = mina.post("/products", {**form, "photo_ids": str(p1), "garments": ",".join(map(str, g1))})
    assert r.status_code == 303
    product = store.product(int(r.headers["location"].rsplit("/", 1)[1]))
    assert product.photo_ids == [p1] and all(store.garment(g).heads["colour"].value == "navy" for g in g1)
    r = mina.post("/products", {**form, "sku": "SKU-2", "photo_ids": f"{p2},{p1}"})  # p1 is SKU-1's
    assert r.status_code == 400 and f"Not saved: photo {p1} already shows another product." in text(r)
    assert store.photo(p1).product_id == product.id and store.photo(p2).product_id is None
    r = mina.post("/products/proposal", {"photo_ids": "1"})
    assert r.status_code == 400 and "Photo 1 is not an upload of this registration." in text(r)


# ----------------------------------------------------------------------------- served files and pages

def test_only_images_are_served_from_an_image_root(app, login, ccp_coco_dict, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "page.html").write_text("<script>alert(1)</script>")
    shutil.copy(CCP / "images" / "0001.jpg", root / "photo.png")  # a JPEG whatever its name says
    lines = [{**tag_lines(ccp_coco_dict)[0], "path": name} for name in ("page.html", "photo.png")]
    app.state.store.ingest(write_tag_output(tmp_path / "t" / "r.jsonl", lines, models="root"), root)
    mina = login("mina")
    html, png = (app.state.store.photo_by_path(name).id for name in ("page.html", "photo.png"))
    r = mina.get(f"/photos/{html}/image")
    assert r.status_code == 404 and "<script>" not in r.text and "text/html" not in r.headers["content-type"]
    r = mina.get(f"/photos/{png}/image")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"


def test_the_login_redirect_keeps_the_query_string(login):
    anon = login()
    r = anon.get("/gallery?part=top&state=predicted", follow_redirects=False)
    assert r.headers["location"] == "/login?next=/gallery%3Fpart%3Dtop%26state%3Dpredicted"
    page = anon.get(r.headers["location"]).text
    assert 'name="next" value="/gallery?part=top&amp;state=predicted"' in page
    from .conftest import csrf_of

    r = anon.http.post("/login", data={"name": "mina", "password": USERS["mina"][0], "csrf_token": csrf_of(page),
                                       "next": "/gallery?part=top&state=predicted"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/gallery?part=top&state=predicted"


def test_pages_are_not_cached_and_head_is_answered_like_get(login):
    mina = login("mina")
    for url in ("/gallery", "/garments/1", "/dashboard", "/login"):
        assert mina.get(url).headers["cache-control"] == "no-store", url
    assert mina.get("/photos/1/image").headers["cache-control"] == "private, max-age=3600"
    for url in ("/gallery", "/garments/1", "/photos/1/image", "/garments/1/thumb.jpg", "/static/app.js"):
        get, head = mina.get(url), mina.http.head(url)
        assert head.status_code == 200 and head.headers["content-type"] == get.headers["content-type"], url
        assert head.content == b"", url
    assert _to_login(login(), "/gallery") and login().http.head("/gallery", follow_redirects=False).status_code == 303
