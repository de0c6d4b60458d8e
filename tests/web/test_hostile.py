"""Hostile input on every database (SQLite; PostgreSQL and MariaDB where installed): numbers no
column holds and Unicode digits in every id, cursor, query and form field (404 or 400, never
500), and login names spelt with spaces or another Unicode form (one account, one throttle)."""

from __future__ import annotations

import unicodedata

import pytest
from fastapi.testclient import TestClient

from garmentparse.store.ids import MAX_ID
from garmentparse.web import create_app
from garmentparse.web.security import LoginThrottle
from tests.store.conftest import BACKENDS, _fresh_database, mariadb_server  # noqa: F401

from .conftest import USERS, Client, csrf_of, make_catalogue

HUGE = "99999999999999999999"  # 20 digits: past every 64-bit integer
LARGEST = str(MAX_ID)  # the largest number taken: fits every INTEGER column, names no row
PAST = [str(MAX_ID + 1), "9" * 18]  # past PostgreSQL's and MariaDB's INTEGER
UNICODE = ["²", "٣", "１"]  # str.isdigit() and int() take these
BAD = [HUGE, *PAST, *UNICODE, "-1", "+1", " 1", "1_0", "0x10", "1e3", ""]


@pytest.fixture(scope="module", params=BACKENDS)
def hostile_app(request, tmp_path_factory, ccp_coco_dict):
    """The catalogue of the 24 CCP photos on each database (one per module: the tests only read,
    or write what they clean up)."""
    tmp = tmp_path_factory.mktemp(f"hostile-{request.param}")
    url = (f"sqlite:///{tmp / 'catalogue.db'}" if request.param == "sqlite"
           else _fresh_database(request.getfixturevalue(f"{request.param}_server")))
    app = create_app(make_catalogue(url, tmp, ccp_coco_dict), secret="s", upload_dir=tmp / "uploads")
    yield app
    app.state.store.close()


@pytest.fixture(autouse=True)
def fresh_throttle(hostile_app) -> None:
    """A throttle whose clock stands still (waits never run out) for each test."""
    hostile_app.state.login_throttle = LoginThrottle(clock=lambda: 1000.0)


@pytest.fixture
def admin(hostile_app) -> Client:
    return Client(hostile_app, "ada")


def _pages(n: str) -> list[str]:
    return [f"/garments/{n}", f"/garments/{n}/thumb.jpg", f"/photos/{n}/image", f"/photos/{n}/runs/1/overlay.jpg",
            f"/photos/1/runs/{n}/overlay.jpg", f"/products/{n}", f"/map/items/{n}", f"/map/items/{n}/thumb.jpg"]


@pytest.mark.parametrize("n", [HUGE, *PAST, *UNICODE, LARGEST, "-1", "1.0", "%20%31"])
def test_path_ids_that_are_not_numbers_or_too_big_are_404(admin, n):
    for url in _pages(n):
        assert admin.get(url).status_code == 404, url


@pytest.mark.parametrize("bad", BAD)
def test_query_numbers_and_cursors_never_give_500(admin, bad):
    for url, params in [("/gallery", {"run": bad}), ("/gallery", {"product": bad}), ("/gallery", {"cursor": bad}),
                        ("/gallery", {"sort": "confidence", "cursor": f"0.5:{bad}"}),
                        ("/queue", {"run": bad}), ("/queue", {"after": bad}), ("/queue", {"after": f"0.5:{bad}"}),
                        ("/queue", {"order": "disagreement", "run": bad, "other": "1"}),
                        ("/compare", {"a": bad, "b": "1"}), ("/compare", {"a": "1", "b": bad})]:
        r = admin.get(url, params=params)
        assert r.status_code == 200, (url, params)
    assert "run: not a number" in admin.get("/gallery", params={"run": HUGE}).text


@pytest.mark.parametrize("cursor", ["nan:1", "inf:1", "1e999:1", f"{HUGE}:{HUGE}", f"1:{PAST[0]}", f"1:{LARGEST}"])
def test_hand_made_cursors_start_again(admin, cursor):
    for url, params in [("/gallery", {"sort": "confidence"}), ("/queue", {}), ("/queue", {"order": "margin"}),
                        ("/compare", {"a": "1", "b": "2"})]:
        key = "after" if url == "/queue" else "cursor"
        assert admin.get(url, params={**params, key: cursor}).status_code in (200, 404), (url, cursor)


def test_numbers_past_any_row_are_found_nowhere(admin):
    assert admin.get("/gallery", params={"run": LARGEST}).status_code == 200
    assert "No garments match" in admin.get("/gallery", params={"product": LARGEST}).text
    assert admin.get("/queue", params={"run": LARGEST}).status_code == 200
    assert admin.get("/compare", params={"a": LARGEST, "b": "1"}).status_code == 404


@pytest.mark.parametrize("bad", [HUGE, "²", "", "-1"])
def test_form_numbers_are_400_and_change_nothing(admin, hostile_app, bad):
    before = hostile_app.state.store.garment(1).version
    r = admin.post("/garments/1/review", {"version": bad, "action": "accept", "mode": "page"})
    assert r.status_code == 400 and "version: not a number" in r.text
    assert hostile_app.state.store.garment(1).version == before
    assert admin.post(f"/garments/{HUGE}/review", {"version": "1", "action": "accept"}).status_code == 404
    assert admin.post("/export", {"format": "manifest", "root": bad}).status_code == 400
    for url in ("/products/proposal", "/products"):
        r = admin.post(url, {"photo_ids": f"1,{bad}" if bad else "", "sku": "S", "garments": bad})
        assert r.status_code == 400, url
    assert hostile_app.state.store.products() == []


def test_form_numbers_past_any_row_are_a_clear_400(admin):
    r = admin.post("/products", {"photo_ids": LARGEST, "sku": "S"})
    assert r.status_code == 400 and f"Not saved: no photo {LARGEST}." in r.text


# ----------------------------------------------------------------------------- login names

def _client_at(app, address: str) -> Client:
    client = Client(app)
    client.http = TestClient(app, base_url="http://127.0.0.1", client=(address, 40000))
    return client


def test_a_name_padded_with_spaces_is_the_same_account_for_the_throttle(hostile_app):
    statuses = []
    for i in range(10):  # 3 guesses each from 10 addresses, every one spelt with more spaces
        c = _client_at(hostile_app, f"198.51.100.{i + 1}")
        statuses += [c.login("ada" + " " * (3 * i + k + 1), "a wrong guess!").status_code for k in range(3)]
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
    right = _client_at(hostile_app, "203.0.113.1").login("ada" + " " * 31, USERS["ada"][0])
    assert right.status_code == 429  # the account waits, whatever the spelling


def test_names_are_stripped_and_nfc_before_login(hostile_app):
    store = hostile_app.state.store
    decomposed = unicodedata.normalize("NFD", "josé")
    store.add_user(f" {decomposed} ", "josé's long password", "viewer")
    try:
        assert [u.name for u in store.users() if u.name.startswith("jos")] == ["josé"]  # stored NFC, stripped
        for spelling in ("josé", decomposed, f"  {decomposed}\t"):
            c = Client(hostile_app)
            assert c.login(spelling, "josé's long password").status_code == 303, ascii(spelling)
            assert "<b>josé</b>" in c.get("/gallery").text
        assert Client(hostile_app).login("ada   ", USERS["ada"][0]).status_code == 303
        assert store.authenticate("ada ", USERS["ada"][0]).name == "ada"
        assert store.user("  ada").name == "ada"
    finally:
        store.remove_user("josé")


def test_login_page_refuses_a_name_that_is_only_spaces(hostile_app):
    c = Client(hostile_app)
    page = c.get("/login")
    r = c.http.post("/login", data={"name": "   ", "password": "x" * 10, "csrf_token": csrf_of(page.text)})
    assert r.status_code == 401


# ----------------------------------------------------------------------------- text no column takes

@pytest.mark.parametrize("nul", ["\x00", "a\x00b"])
def test_a_nul_character_in_any_text_is_a_400_and_changes_nothing(hostile_app, admin, nul):
    """PostgreSQL can neither store nor compare a NUL: these were 500s there (a re-probe of issue 25)."""
    store = hostile_app.state.store
    before, users = store.garment(1).version, store.users()
    for url, params in [("/gallery", {"q": nul}), ("/gallery", {"head": "colour", "value": nul}), ("/login", {"next": nul})]:
        r = admin.get(url, params=params)
        assert r.status_code == 400 and "NUL character" in r.text, (url, params)
    for url, form in [("/garments/1/review", {"version": str(before), "action": "accept", "comment": nul, "mode": "page"}),
                      ("/admin/users", {"name": nul, "password": "a long enough password", "role": "viewer"}),
                      ("/admin/users/role", {"name": nul, "role": "viewer"}), ("/admin/users/remove", {"name": nul}),
                      ("/admin/users/revoke", {"name": nul}), ("/products", {"sku": nul, "name": nul, "photo_ids": "1"})]:
        r = admin.post(url, form)
        assert r.status_code == 400 and "NUL character" in r.text, url
    anon = Client(hostile_app)
    r = anon.http.post("/login", data={"name": nul, "password": nul, "csrf_token": csrf_of(anon.get("/login").text)})
    assert r.status_code == 400
    assert store.garment(1).version == before and store.users() == users and store.products() == []
