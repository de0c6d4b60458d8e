"""Security: login, CSRF, roles, traversal, escaping, upload checks, cookies, headers."""

from __future__ import annotations

import io
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from garmentparse.store import Store
from garmentparse.web.images import UploadRejected, resolve_photo, store_upload
from garmentparse.web.security import LoginThrottle, address_key

from .conftest import CCP, USERS, Client, csrf_of


def _review(client, gid: int, **data):
    version = client.get(f"/garments/{gid}").text.split('name="version" value="')[1].split('"')[0]
    return client.post(f"/garments/{gid}/review", {"version": version, "mode": "page", **data})


def test_every_page_needs_a_login(login):
    anon = login()
    for url in ["/gallery", "/queue", "/dashboard", "/products", "/garments/1", "/garments/1/thumb.jpg",
                "/photos/1/image", "/admin/users", "/export"]:
        r = anon.get(url, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), url


def test_wrong_password_is_refused_and_session_cookie_is_httponly_samesite(login):
    c = login()
    assert c.login("mina", "not her password").status_code == 401
    r = c.login("mina")
    assert r.status_code == 303
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "gp_session=" in cookie


def test_post_without_or_with_a_wrong_csrf_token_is_403(login):
    mina = login("mina")
    r = mina.post("/garments/1/review", {"version": "1", "action": "accept"}, csrf=False)
    assert r.status_code == 403 and "CSRF" in r.text
    r = mina.http.post("/garments/1/review", data={"version": "1", "action": "accept", "csrf_token": "forged"})
    assert r.status_code == 403
    r = mina.http.post("/garments/1/review", data={"version": "1", "action": "accept"},
                       headers={"X-CSRF-Token": "forged", "HX-Request": "true"})
    assert r.status_code == 403
    assert login().http.post("/login", data={"name": "mina", "password": "x"}).status_code == 403
    assert mina.get("/garments/1").text.count("badge predicted") > 0  # nothing was applied


def test_htmx_header_token_is_accepted(login):
    mina = login("mina")
    page = mina.get("/garments/1").text
    version = page.split('name="version" value="')[1].split('"')[0]
    r = mina.http.post("/garments/1/review", data={"version": version, "action": "accept", "mode": "page"},
                       headers={"X-CSRF-Token": mina.token, "HX-Request": "true"})
    assert r.status_code == 200 and 'id="panel"' in r.text and "<html" not in r.text


def test_viewer_cannot_correct_register_manage_users_or_export(login):
    vic = login("vic")
    assert vic.get("/gallery").status_code == 200
    r = _review(vic, 1, action="correct", head="colour", value="navy")
    assert r.status_code == 403 and "reviewer" in r.text
    assert vic.post("/products/photos").status_code == 403
    assert vic.get("/admin/users").status_code == 403
    assert vic.post("/admin/users", {"name": "eve", "password": "long enough pw", "role": "admin"}).status_code == 403
    assert vic.post("/export", {"format": "coco"}).status_code == 403
    mina = login("mina")  # reviewers review, but do not manage users or export
    assert mina.get("/admin/users").status_code == 403 and mina.post("/export", {"format": "coco"}).status_code == 403


def _to_login(client, url: str = "/gallery") -> bool:
    r = client.get(url, follow_redirects=False)
    return r.status_code == 303 and r.headers["location"].startswith("/login")


def _replay(app, cookie: str) -> Client:
    """A fresh client carrying an old session cookie."""
    client = Client(app)
    client.http.cookies.set("gp_session", cookie)
    return client


@pytest.mark.parametrize("change", ["demote", "remove", "re-add", "password"])
def test_a_changed_or_removed_user_is_logged_out_at_once_and_the_old_cookie_stays_dead(login, app, change):
    store = app.state.store
    mina = login("mina")
    assert mina.get("/gallery").status_code == 200
    cookie, token = mina.http.cookies["gp_session"], mina.token
    if change == "demote":
        store.set_role("mina", "viewer")
    elif change == "password":
        store.set_password("mina", "mina's new password")
    else:
        store.remove_user("mina")
        if change == "re-add":
            store.add_user("mina", USERS["mina"][0], "reviewer")
    assert _to_login(mina) and _to_login(_replay(app, cookie))
    stale = _replay(app, cookie)
    stale.token = token  # the old session's own CSRF token: the request passes CSRF, not the login
    r = stale.post("/garments/1/review", {"version": "1", "action": "accept", "mode": "page"})
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    if change != "remove":  # logging in again (elsewhere) does not revive the old cookie
        password = "mina's new password" if change == "password" else None
        assert login().login("mina", password).status_code == 303
        assert _to_login(_replay(app, cookie))


def test_setting_the_same_role_keeps_the_session(login, app):
    mina = login("mina")
    app.state.store.set_role("mina", "reviewer")
    assert mina.get("/gallery").status_code == 200


def test_an_admin_demoting_a_user_on_the_users_page_ends_their_session(login):
    mina, ada = login("mina"), login("ada")
    assert ada.post("/admin/users/role", {"name": "mina", "role": "viewer"}).status_code == 303
    assert _to_login(mina)
    assert ada.get("/admin/users").status_code == 200  # the admin's own session is untouched
    assert mina.login("mina").status_code == 303 and _review(mina, 1, action="accept").status_code == 403


@pytest.mark.parametrize("url", ["/static/../../etc/passwd", "/static/..%2f..%2fetc%2fpasswd",
                                 "/static/%2e%2e/%2e%2e/etc/passwd", "/photos/999999/image",
                                 "/garments/1/..%2f..%2fetc%2fpasswd.jpg"])
def test_traversal_paths_are_404(login, url):
    r = login("mina").get(url)
    assert r.status_code == 404 and "root:" not in r.text


def test_a_photo_path_pointing_outside_the_roots_is_not_served(login, app, ccp_coco_dict, tmp_path):
    from tests.store.conftest import tag_lines, write_tag_output

    import sqlalchemy as sa

    from garmentparse.store.models import Photo

    line = tag_lines(ccp_coco_dict)[0]
    line["path"] = "../../../../../../etc/passwd"
    line["garments"] = line["garments"][:1]
    evil = write_tag_output(tmp_path / "evil" / "r.jsonl", [line], models="evil")
    refused = app.state.store.ingest(evil, CCP / "images")  # today's ingest never stores such a path ...
    assert [p.reason for p in refused.problems] == ["photo_outside_root"]
    line["path"] = "evil-0001.jpg"  # ... an older one did: the app must still refuse to serve it
    app.state.store.ingest(write_tag_output(tmp_path / "evil" / "r.jsonl", [line], models="evil"), CCP / "images")
    with app.state.store.engine.begin() as conn:
        conn.execute(sa.update(Photo).where(Photo.path == "evil-0001.jpg").values(path="../../../../../../etc/passwd"))
    photo = app.state.store.photo_by_path("../../../../../../etc/passwd")
    mina = login("mina")
    assert mina.get(f"/photos/{photo.id}/image").status_code == 404
    gid = app.state.store.gallery(app.state.store.gallery.__self__ and __import__(
        "garmentparse.store", fromlist=["GalleryFilter"]).GalleryFilter(photo_id=photo.id)).items[0].id
    assert mina.get(f"/garments/{gid}/overlay.jpg").status_code == 404
    assert resolve_photo("../../etc/passwd", [CCP / "images"]) is None
    assert resolve_photo("/etc/passwd", [CCP / "images"]) is None
    assert resolve_photo("0001.jpg", [CCP / "images"]) == (CCP / "images" / "0001.jpg").resolve()


def test_script_in_a_comment_and_in_filters_is_shown_as_text(login):
    mina = login("mina")
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    assert _review(mina, 1, action="correct", head="colour", value="navy", comment=evil).status_code == 200
    page = mina.get("/garments/1").text
    assert evil not in page and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    gallery = mina.get("/gallery", params={"q": evil, "value": evil, "head": "colour"}).text
    assert evil not in gallery and "&lt;script&gt;" in gallery
    assert "unknown colour label" in gallery  # the bad value is reported, escaped


def test_csp_and_other_headers(login):
    r = login("mina").get("/gallery")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"


def _png(size: tuple[int, int], mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size).save(buf, "PNG")
    return buf.getvalue()


def test_uploads_are_checked_by_decoding(tmp_path):
    with pytest.raises(UploadRejected, match="not an image"):
        store_upload(b"GIF89a... actually a script <script>", tmp_path)
    with pytest.raises(UploadRejected, match="empty"):
        store_upload(b"", tmp_path)
    with pytest.raises(UploadRejected, match="decompression bomb"):
        store_upload(_png((12000, 12000), "1"), tmp_path)  # 144 megapixels in a few KB
    with pytest.raises(UploadRejected, match="too large"):
        store_upload(b"x" * 2000, tmp_path, max_bytes=1000)
    truncated = (CCP / "images" / "0003.jpg").read_bytes()[:5000]
    with pytest.raises(UploadRejected, match="decoded"):
        store_upload(truncated, tmp_path)
    ok = store_upload((CCP / "images" / "0001.jpg").read_bytes(), tmp_path)
    assert ok.path == f"{ok.sha256[:2]}/{ok.sha256}.jpg" and (tmp_path / ok.path).is_file()
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [f"{ok.sha256}.jpg"]


def test_oversize_and_non_image_uploads_are_refused_over_http(app, login, tmp_path, models):
    from garmentparse.web import create_app

    with_models = create_app(str(app.state.store.engine.url), detector=models["detector"],
                             classifier=models["classifier"], secret="s", upload_dir=tmp_path / "up2",
                             score_threshold=0.01)
    from .conftest import Client

    mina = Client(with_models, "mina")
    r = mina.post("/products/photos", files={"photo": ("photo.jpg", b"<?php echo 1; ?>", "image/jpeg")})
    assert r.status_code == 400 and "not an image" in r.json()["error"]
    r = mina.post("/products/photos", files={"photo": ("bomb.png", _png((12000, 12000), "1"), "image/png")})
    assert r.status_code == 400 and "decompression bomb" in r.json()["error"]
    r = mina.post("/products/photos", files={"photo": ("big.jpg", b"\xff" * (26 * 2**20), "image/jpeg")})
    assert r.status_code == 413 and "too large" in r.text.lower()
    assert not list((tmp_path / "up2").rglob("*.*"))  # nothing refused reached the disk
    with_models.state.store.close()


def test_no_models_page_says_so(login):
    mina = login("mina")
    assert "No models are loaded" in mina.get("/products/new").text
    r = mina.post("/products/photos", files={"photo": ("a.jpg", (CCP / "images" / "0001.jpg").read_bytes())})
    assert r.status_code == 503 and "No models" in r.json()["error"]


def test_sql_reaches_the_database_only_as_parameters(login, app):
    mina = login("mina")
    for q in ["' OR 1=1 --", "%", "_", "\\"]:
        r = mina.get("/gallery", params={"q": q})
        assert r.status_code == 200 and "No garments match" in r.text
    assert Store.open(str(app.state.store.engine.url)).dashboard().garments > 0


# ----------------------------------------------------------------------------- login throttling

class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_throttle_lets_five_failures_through_then_doubles_the_wait_up_to_the_cap():
    clock = Clock()
    throttle = LoginThrottle(free=5, base=1.0, cap=8.0, window=900.0, clock=clock)
    assert [throttle.attempt("ada", "10.0.0.1").retry_after for _ in range(5)] == [0.0] * 5
    waits = []
    for _ in range(6):
        verdict = throttle.attempt("ada", "10.0.0.1")
        waits.append(verdict.retry_after)
        clock.now += verdict.retry_after
        assert throttle.attempt("ada", "10.0.0.1").retry_after == 0.0  # let through after the wait (and failed)
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert throttle.attempt("ada", "10.0.0.2").retry_after == 8.0  # the account, from any address
    assert throttle.attempt("mina", "10.0.0.1").retry_after == 8.0  # and the address, for any name
    assert throttle.attempt("mina", "10.0.0.2").retry_after == 0.0
    clock.now += 900.0  # a quiet window: forgotten
    assert throttle.attempt("ada", "10.0.0.1").retry_after == 0.0


def test_throttle_success_clears_the_account_and_the_address_for_it_only():
    clock = Clock()
    throttle = LoginThrottle(free=3, clock=clock)
    for name in ("ada", "ada", "bob"):
        throttle.attempt(name, "10.0.0.1")
    throttle.succeeded("ada", "10.0.0.1")
    assert throttle.attempt("ada", "10.0.0.1").failures == 2  # bob's failure and this attempt
    assert throttle.attempt("bob", "10.0.0.1").retry_after == 0.0
    assert throttle.attempt("carl", "10.0.0.1").retry_after > 0  # bob, ada, bob: the address has had 3


def test_throttle_memory_is_bounded_and_old_entries_go():
    clock = Clock()
    throttle = LoginThrottle(max_keys=100, window=60.0, clock=clock)
    for i in range(1000):
        throttle.attempt(f"user{i}", f"10.0.{i // 250}.{i % 250}")
    assert len(throttle._failures) <= 100
    for _ in range(50):
        throttle.attempt("ada", "10.9.9.9")
    assert max(len(v) for v in throttle._failures.values()) <= throttle._keep
    clock.now += 61.0
    throttle.attempt("ada", "10.9.9.9")
    assert len(throttle._failures) == 2


def test_throttle_counts_parallel_attempts_before_their_passwords_are_checked():
    throttle = LoginThrottle(free=5, clock=Clock())
    barrier = threading.Barrier(16)

    def attempt(_: int) -> bool:
        barrier.wait()
        return throttle.attempt("ada", "10.0.0.1").retry_after == 0.0

    with ThreadPoolExecutor(16) as pool:
        assert sum(pool.map(attempt, range(16))) == 5


def test_ipv6_clients_are_throttled_by_their_slash_64():
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert address_key("::ffff:10.0.0.1") == "10.0.0.1" and address_key("testclient") == "testclient"


@pytest.fixture
def clock(app) -> Clock:
    clock = Clock()
    app.state.login_throttle = LoginThrottle(clock=clock)
    return clock


@pytest.mark.parametrize("name", ["ada", "nobody"])
def test_login_is_throttled_with_429_and_retry_after_without_checking_the_password(login, app, clock, name,
                                                                                    caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger="garmentparse.web.auth")
    c = login()
    for _ in range(5):
        assert c.login(name, "a wrong guess!").status_code == 401
    checked = []
    authenticate = app.state.store.authenticate
    monkeypatch.setattr(app.state.store, "authenticate", lambda *a: checked.append(a) or authenticate(*a))
    r = c.login(name, USERS.get(name, ("x",))[0])
    assert r.status_code == 429 and r.headers["retry-after"] == "1" and not checked
    assert "Too many failed logins. Wait 1 s and try again." in r.text
    c.http.cookies.set("lang", "ko")
    assert "로그인 실패가 너무 많습니다. 1초 후에 다시 시도하세요." in c.login(name, "a wrong guess!").text
    clock.now += 1.0
    if name == "ada":
        assert c.login("ada").status_code == 303 and checked  # let through: the right password works
        assert c.login("ada", "a wrong guess!").status_code == 401  # the counter was cleared
    else:
        assert c.login(name, "a wrong guess!").status_code == 401
        assert c.login(name, "a wrong guess!").status_code == 429  # 2 s now
    messages = [r.getMessage() for r in caplog.records if r.name == "garmentparse.web.auth"]
    assert sum("login failed for" in m for m in messages) == 6
    assert sum("login refused for" in m for m in messages) == (2 if name == "ada" else 3)
    assert all(repr(name) in m and "testclient" in m for m in messages)
    assert "(failures: 5, next attempt waits 1 s)" in messages[4] and "(failures: 5, retry in 1 s)" in messages[5]
    assert not any("wrong guess" in m or "long password" in m for m in messages)  # never a password


def test_a_throttled_client_address_is_refused_for_other_names_too(login, clock):
    c = login()
    for i in range(5):
        assert c.login(f"guess{i}", "a wrong guess!").status_code == 401
    assert c.login("mina").status_code == 429
    clock.now += 1.0
    assert c.login("mina").status_code == 303


# ----------------------------------------------------------------------------- HTTPS and proxies

def _app(db_url, tmp_path, **kw):
    from garmentparse.web import create_app

    return create_app(db_url, secret="s", upload_dir=tmp_path / "up", **kw)


def test_https_only_marks_the_cookies_secure_and_sends_hsts(db_url, tmp_path, login):
    plain = login()
    r = plain.login("mina")
    assert "secure" not in r.headers["set-cookie"].lower()
    assert "secure" not in plain.get("/lang/ko", follow_redirects=False).headers["set-cookie"].lower()
    assert "strict-transport-security" not in plain.get("/login").headers
    app = _app(db_url, tmp_path, https_only=True)
    c = Client(app)
    c.http.base_url = "https://127.0.0.1"  # Secure cookies go back over HTTPS only
    r = c.login("mina")
    assert r.status_code == 303 and "; secure" in r.headers["set-cookie"].lower()
    assert c.get("/gallery").status_code == 200
    assert "; secure" in c.get("/lang/ko", follow_redirects=False).headers["set-cookie"].lower()
    assert c.get("/login").headers["strict-transport-security"] == "max-age=31536000"
    app.state.store.close()


def _throttled_address(app, peer: str, forwarded: str) -> str:
    """The address the login throttle saw for a failed login from ``peer`` sending ``forwarded``."""
    client = Client(app)
    client.http = TestClient(app, base_url="http://127.0.0.1", client=(peer, 40000))
    page = client.get("/login")
    client.http.post("/login", data={"name": "mina", "password": "a wrong guess!", "csrf_token": csrf_of(page.text)},
                     headers={"X-Forwarded-For": forwarded, "X-Forwarded-Proto": "https"})
    keys = [k for k in app.state.login_throttle._failures if k.startswith("a:")]
    app.state.login_throttle._failures.clear()
    return keys[0][2:]


def test_forwarded_headers_count_only_from_trusted_proxies(db_url, tmp_path, app):
    assert _throttled_address(app, "198.51.100.7", "203.0.113.9") == "198.51.100.7"  # nothing trusted by default
    assert _throttled_address(app, "127.0.0.1", "203.0.113.9") == "127.0.0.1"  # not even localhost
    proxied = _app(db_url, tmp_path, trusted_proxies=("10.0.0.0/8", "192.0.2.1"))
    assert _throttled_address(proxied, "10.1.2.3", "203.0.113.9") == "203.0.113.9"
    assert _throttled_address(proxied, "192.0.2.1", "203.0.113.9, 10.0.0.4") == "203.0.113.9"
    assert _throttled_address(proxied, "198.51.100.7", "203.0.113.9") == "198.51.100.7"  # a spoof from outside
    proxied.state.store.close()
    everyone = _app(db_url, tmp_path, trusted_proxies="*")
    assert _throttled_address(everyone, "198.51.100.7", "203.0.113.9") == "203.0.113.9"
    everyone.state.store.close()
    with pytest.raises(ValueError, match="not an address or network: 'proxy.local'"):
        _app(db_url, tmp_path, trusted_proxies="10.0.0.1, proxy.local")


def test_a_spoofed_forwarded_for_does_not_dodge_the_throttle(app):
    c = Client(app)
    c.http = TestClient(app, base_url="http://127.0.0.1", client=("198.51.100.7", 40000))
    for i in range(6):
        page = c.get("/login")
        r = c.http.post("/login", data={"name": f"guess{i}", "password": "a wrong guess!",
                                        "csrf_token": csrf_of(page.text)}, headers={"X-Forwarded-For": f"203.0.113.{i}"})
    assert r.status_code == 429


def test_serve_trusts_no_forwarded_headers_by_default_and_checks_trust_proxy(db_url, tmp_path, monkeypatch):
    import uvicorn
    from typer.testing import CliRunner

    from garmentparse.cli import build_app

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    runner, cli, base = CliRunner(), build_app(), ["serve", "--db", db_url, "--uploads", str(tmp_path / "up")]
    for extra, https_only in [([], False), (["--https-only", "--trust-proxy", "10.0.0.1,10.2.0.0/16"], True)]:
        result = runner.invoke(cli, base + extra)
        assert result.exit_code == 0, result.output
        app, kw = calls[-1]
        app.state.store.close()
        assert kw["proxy_headers"] is False and app.state.https_only is https_only
    assert "proxies trusted: 10.0.0.1, 10.2.0.0/16" in " ".join(result.output.split())
    result = runner.invoke(cli, base + ["--trust-proxy", "proxy.local"])
    assert result.exit_code != 0 and "not an address or network" in result.output and len(calls) == 2
