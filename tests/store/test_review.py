"""Gallery and queue pages, review decisions, optimistic locking, concurrent writers, users."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from garmentparse.store import (CONFIRMED, CORRECTED, PREDICTED, REJECTED, Decision, GalleryFilter, NotFound,
                                ReviewConflict, Store)


@pytest.fixture
def store(db_url, tag_output):
    with Store.upgrade(db_url) as s:
        s.ingest(tag_output)
        s.add_user("mina", "mina's password", "reviewer")
        s.add_user("joon", "joon's password", "reviewer")
        s.add_user("viewer", "viewer password", "viewer")
        yield s


def _all(fetch, **kw):
    items, cursor = [], None
    while True:
        page = fetch(cursor=cursor, **kw)
        items += page.items
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor


def test_gallery_pages_cover_every_garment_once_and_filter(store):
    total = store.dashboard().garments
    everything = _all(lambda cursor: store.gallery(limit=7, cursor=cursor))
    assert len(everything) == total == len({g.id for g in everything})
    assert [g.id for g in everything] == sorted((g.id for g in everything), reverse=True)
    tops = _all(lambda cursor: store.gallery(GalleryFilter(part="top"), limit=5, cursor=cursor))
    assert tops and all(g.part == "top" for g in tops)
    assert len(tops) == store.dashboard().by_part["top"]
    some = everything[3]
    colour = store.garment(some.id).heads["colour"].value
    same = _all(lambda cursor: store.gallery(GalleryFilter(head="colour", value=colour), limit=4, cursor=cursor))
    assert some.id in {g.id for g in same}
    assert all(store.garment(g.id).heads["colour"].value == colour for g in same)
    low = store.gallery(GalleryFilter(max_confidence=0.3), limit=1000).items
    assert low and all(g.confidence <= 0.3 for g in low)


def test_queue_is_lowest_confidence_first_and_reviewed_garments_leave_it(store):
    queue = _all(lambda cursor: store.queue(limit=6, cursor=cursor))
    keys = [(g.confidence, g.id) for g in queue]
    assert keys == sorted(keys) and len(queue) == store.dashboard().garments
    first = queue[0]
    store.review(first.id, version=first.version, user="mina", decisions=[Decision("part", CONFIRMED)])
    assert first.id not in {g.id for g in _all(lambda cursor: store.queue(limit=50, cursor=cursor))}


def test_review_records_every_change_in_the_log(store):
    g = store.queue(limit=1).items[0]
    before = store.garment(g.id)
    after = store.review(g.id, version=before.version, user="mina", comment="navy, not black",
                         decisions=[Decision("colour", CORRECTED, "navy"), Decision("part", CONFIRMED),
                                    Decision("print", REJECTED)])
    assert after.version == before.version + 1 and after.garment.state == CORRECTED
    assert after.heads["colour"].value == "navy" and after.heads["colour"].state == CORRECTED
    assert after.heads["colour"].predicted == before.heads["colour"].value  # the model's word is kept
    assert after.heads["sleeve_length"].state == PREDICTED
    log = {c.head: c for c in after.history}
    assert set(log) == {"colour", "part", "print"}
    assert (log["colour"].old_value, log["colour"].new_value) == (before.heads["colour"].value, "navy")
    assert log["colour"].username == "mina" and log["colour"].comment == "navy, not black"
    assert log["colour"].created_at.tzinfo is not None
    # Korean names are accepted and stored as ids; unknown labels are refused, nothing written
    again = store.review(g.id, version=after.version, user="joon", decisions=[Decision("colour", CORRECTED, "베이지")])
    assert again.heads["colour"].value == "beige"
    with pytest.raises(ValueError, match="unknown colour label"):
        store.review(g.id, version=again.version, user="joon", decisions=[Decision("colour", CORRECTED, "plaid")])
    with pytest.raises(PermissionError):
        store.review(g.id, version=again.version, user="viewer", decisions=[Decision("part", CONFIRMED)])
    assert store.garment(g.id).version == again.version
    rejected = store.review(g.id, version=again.version, user="joon", decisions=[Decision("part", REJECTED)])
    assert rejected.garment.state == REJECTED
    dash = store.dashboard()
    assert dash.corrections == 5 and dash.reviewers == {"mina": 3, "joon": 2}
    assert dash.by_state[REJECTED] == 1 and dash.heads["colour"][CORRECTED] == 1


def test_two_reviewers_on_one_garment_second_gets_a_conflict_and_nothing_is_lost(store):
    g = store.queue(limit=1).items[0]
    seen_by_mina = store.garment(g.id)
    seen_by_joon = store.garment(g.id)
    store.review(g.id, version=seen_by_mina.version, user="mina", decisions=[Decision("colour", CORRECTED, "red")])
    with pytest.raises(ReviewConflict) as info:
        store.review(g.id, version=seen_by_joon.version, user="joon",
                     decisions=[Decision("colour", CORRECTED, "blue")])
    conflict = info.value
    assert conflict.current.heads["colour"].value == "red"
    assert [(c.username, c.new_value) for c in conflict.changes] == [("mina", "red")]
    assert "mina" in str(conflict)
    # joon decides again on what is there now: both changes are in the log
    done = store.review(g.id, version=conflict.current.version, user="joon",
                        decisions=[Decision("colour", CORRECTED, "blue")])
    assert [(c.username, c.old_value, c.new_value) for c in done.history] == [
        ("mina", seen_by_mina.heads["colour"].value, "red"), ("joon", "red", "blue")]
    with pytest.raises(NotFound):
        store.review(10**9, version=1, user="mina", decisions=[Decision("part", CONFIRMED)])


def test_racing_reviewers_exactly_one_wins_each_round(store):
    """Threads on separate connections decide the same garment at the same version at once."""
    g = store.queue(limit=1).items[0]
    version = store.garment(g.id).version
    barrier = threading.Barrier(4)
    results = []

    def decide(i: int) -> None:
        barrier.wait()
        try:
            store.review(g.id, version=version, user="mina" if i % 2 else "joon",
                         decisions=[Decision("colour", CORRECTED, ["red", "blue", "green", "navy"][i])])
            results.append("ok")
        except ReviewConflict:
            results.append("conflict")

    threads = [threading.Thread(target=decide, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["conflict"] * 3 + ["ok"]
    assert len(store.garment(g.id).history) == 1


def test_many_writers_on_sqlite_never_see_database_is_locked(sqlite_url, tag_output):
    """8 processes' worth of writers (threads, own connections) review different garments at once."""
    with Store.upgrade(sqlite_url) as setup:
        setup.ingest(tag_output)
        setup.add_user("mina", "mina's password", "reviewer")
        ids = [g.id for g in setup.gallery(limit=1000).items]
    stores = [Store.open(sqlite_url) for _ in range(8)]  # 8 engines: 8 separate connection pools

    def work(k: int) -> int:
        s, done = stores[k], 0
        for gid in ids[k::8]:
            for head, value in (("colour", "navy"), ("part", None)):
                detail = s.garment(gid)
                decision = Decision(head, CORRECTED, value) if value else Decision(head, CONFIRMED)
                s.review(gid, version=detail.version, user="mina", decisions=[decision])
                done += 1
        return done

    with ThreadPoolExecutor(8) as pool:
        done = sum(pool.map(work, range(8)))  # any "database is locked" would raise here
    for s in stores:
        s.close()
    with Store.open(sqlite_url) as s:
        assert done == 2 * len(ids) and s.dashboard().corrections == done
        assert s.dashboard().by_state == {CORRECTED: len(ids)}


def test_users_roles_and_passwords(store):
    assert store.authenticate("mina", "mina's password").role == "reviewer"
    assert store.authenticate("mina", "wrong password") is None
    assert store.authenticate("nobody", "whatever pass") is None
    with pytest.raises(ValueError, match="exists"):
        store.add_user("mina", "another password", "viewer")
    with pytest.raises(ValueError, match="unknown role"):
        store.add_user("x", "some password", "owner")
    with pytest.raises(ValueError, match="too short"):
        store.add_user("y", "short", "viewer")
    assert store.set_role("viewer", "admin").role == "admin"
    store.set_password("viewer", "a new password")
    assert store.authenticate("viewer", "a new password") is not None
    g = store.queue(limit=1).items[0]
    store.review(g.id, version=g.version, user="joon", decisions=[Decision("part", CONFIRMED)])
    store.remove_user("joon")
    assert [u.name for u in store.users()] == ["mina", "viewer"]
    assert store.garment(g.id).history[0].username == "joon"  # the log keeps who it was
    with pytest.raises(NotFound):
        store.remove_user("joon")


def test_role_and_password_changes_bump_the_session_version(store):
    start = store.user("mina").session_version
    assert store.authenticate("mina", "mina's password").session_version == start
    assert store.set_role("mina", "reviewer").session_version == start  # the same role: nothing changes
    assert store.set_role("mina", "viewer").session_version == start + 1
    store.set_password("mina", "a new password")
    assert store.user("mina").session_version == start + 2
    assert [u.session_version for u in store.users() if u.name == "mina"] == [start + 2]
    old = store.user("mina")
    store.remove_user("mina")
    again = store.add_user("mina", "a new password", "viewer")
    assert (again.id, again.session_version) != (old.id, old.session_version)  # ids may be reused (SQLite)
