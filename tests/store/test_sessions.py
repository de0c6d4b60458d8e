"""Login sessions, the last admin, and a product registration in one transaction, on every database."""

from __future__ import annotations

import pytest

from garmentparse.store import NotFound, Store


@pytest.fixture
def store(db_url, tag_output):
    with Store.upgrade(db_url) as store:
        store.ingest(tag_output)
        store.add_user("ada", "ada's long password", "admin")
        store.add_user("mina", "mina's long password", "reviewer")
        yield store


def test_a_session_lives_until_it_is_ended_and_its_token_alone_is_stored(store):
    first, second = store.start_session("mina"), store.start_session("mina")
    assert store.session_user(first).name == store.session_user(second).name == "mina"
    assert store.session_counts() == {"mina": 2}
    store.end_session(first)
    assert store.session_user(first) is None and store.session_user(second).name == "mina"
    store.end_session("no such token")
    with store.engine.connect() as conn:  # a copy of the table opens nothing: only hashes are kept
        ids = [row[0] for row in conn.exec_driver_sql("SELECT id FROM sessions")]
    assert second not in ids and len(ids) == 1 and len(ids[0]) == 64


def test_ending_every_session_of_a_user_leaves_others_alone(store):
    minas, adas = [store.start_session("mina") for _ in range(3)], store.start_session("ada")
    assert store.end_sessions("mina") == 3
    assert all(store.session_user(t) is None for t in minas) and store.session_user(adas).name == "ada"
    assert store.session_user(store.start_session("mina")).name == "mina"  # she can log in again
    with pytest.raises(NotFound):
        store.end_sessions("nobody")


@pytest.mark.parametrize("change", ["role", "password", "remove"])
def test_role_password_and_removal_end_the_sessions(store, change):
    token = store.start_session("mina")
    if change == "role":
        store.set_role("mina", "viewer")
    elif change == "password":
        store.set_password("mina", "mina's new password")
    else:
        store.remove_user("mina")
        store.add_user("mina", "mina's long password", "reviewer")  # the same name again: not the same user
    assert store.session_user(token) is None


def test_an_expired_session_is_over_and_dropped(store):
    old = store.start_session("mina", hours=-1)
    assert store.session_user(old) is None and store.session_counts() == {}
    store.start_session("ada")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM sessions").scalar() == 1


def test_the_last_admin_cannot_be_demoted_or_removed(store):
    for attempt in (lambda: store.set_role("ada", "reviewer"), lambda: store.remove_user("ada")):
        with pytest.raises(ValueError, match="ada is the last admin: make another user admin first"):
            attempt()
    assert store.user("ada").role == "admin"
    store.set_role("mina", "admin")
    store.set_role("ada", "viewer")  # another admin is left
    with pytest.raises(ValueError, match="mina is the last admin"):
        store.remove_user("mina")
    store.set_role("mina", "admin")  # the same role: allowed, nothing changes


def test_names_are_normalised_and_compared_exactly(store):
    assert store.user(" ada\t").name == "ada"
    assert store.authenticate("ada" + " " * 31, "ada's long password").name == "ada"
    with pytest.raises(NotFound):
        store.user("ADA")
    with pytest.raises(ValueError, match="exists"):
        store.add_user("ada  ", "another long password")


def _photo_garments(store, photo_id: int) -> list[int]:
    from garmentparse.store import GalleryFilter

    return [g.id for g in store.gallery(GalleryFilter(photo_id=photo_id), limit=50).items]


def test_a_registration_is_one_transaction_limited_to_its_photos(store):
    photos = sorted({g.photo_id for g in store.gallery(limit=200).items})
    p1, p2 = photos[:2]
    kw = {"user": "mina"}
    with pytest.raises(NotFound, match="no photo 999999"):
        store.register_product("SKU-1", "", {"colour": "navy"}, photo_ids=[p1, 999999], garment_ids=[], **kw)
    with pytest.raises(ValueError, match=f"garment {_photo_garments(store, p2)[0]} is not on this product's photos"):
        store.register_product("SKU-1", "", {"colour": "navy"}, photo_ids=[p1],
                               garment_ids=_photo_garments(store, p2), **kw)
    assert store.products() == [] and store.photo(p1).product_id is None  # nothing written
    assert all(store.garment(g).garment.state == "predicted" for g in _photo_garments(store, p2))
    product = store.register_product("SKU-1", "navy", {"colour": "navy"}, photo_ids=[p1],
                                     garment_ids=_photo_garments(store, p1), **kw)
    assert store.product(product.id).photo_ids == [p1]
    assert all(store.garment(g).heads["colour"].value == "navy" for g in _photo_garments(store, p1))
    with pytest.raises(ValueError, match=f"photo {p1} already shows another product"):
        store.register_product("SKU-2", "", {}, photo_ids=[p1], garment_ids=[], **kw)
    with pytest.raises(PermissionError):
        store.register_product("SKU-2", "", {}, photo_ids=[p2], garment_ids=[], user="nobody")
    assert [p.sku for p in store.products()] == ["SKU-1"]
