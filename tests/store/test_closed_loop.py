"""The closed loop: prediction margins from ingest, the queue by margin and by disagreement with
another run, garment matches between runs, and each run's accuracy against reviewed truth."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from garmentparse.store import CONFIRMED, CORRECTED, REJECTED, Decision, GalleryFilter, MatchCounts, Store
from garmentparse.store.models import Accepted, Garment, GarmentMatch

from .conftest import second_run_lines, tag_lines, write_tag_output


def test_ingest_fills_head_and_garment_margins_from_top_k(db_url, tag_output, ccp_coco_dict):
    with Store.upgrade(db_url) as store:
        store.ingest(tag_output)
        line = tag_lines(ccp_coco_dict)[0]
        photo = store.photo_by_path(line["path"])
        garments = sorted(store.gallery(GalleryFilter(photo_id=photo.id)).items, key=lambda g: g.id)
        assert len(garments) == len(line["garments"])
        for g, want in zip(garments, line["garments"]):
            expected = {}
            for head, attr in want["attributes"].items():
                first, second = sorted((t["probability"] for t in attr["top_k"]), reverse=True)[:2]
                expected[head] = first - second  # the fixture's top-k is not always sorted
            detail = store.garment(g.id)
            assert {h: hv.margin for h, hv in detail.heads.items()} == {**expected, "part": 1.0}
            assert g.margin == min(expected.values())
        with store.engine.connect() as conn:  # every row got one: none left at the column default
            assert conn.scalar(sa.select(sa.func.count()).select_from(Accepted).where(
                Accepted.head != "part", Accepted.margin == 1.0)) == 0
            assert conn.scalar(sa.select(sa.func.max(Garment.margin))) < 1.0


# ----------------------------------------------------------------------------- two runs of one catalogue

@pytest.fixture
def two_runs(db_url, tmp_path, ccp_coco_dict):
    lines_a = tag_lines(ccp_coco_dict)
    with Store.upgrade(db_url) as store:
        store.ingest(write_tag_output(tmp_path / "a.jsonl", lines_a))
        store.ingest(write_tag_output(tmp_path / "b.jsonl", second_run_lines(lines_a), models="v2"))
        store.add_user("mina", "mina's long password", "reviewer")
        a, b = (r.id for r in store.runs())
        yield store, a, b, lines_a


def _ids(store: Store, run: int, path: str) -> list[int]:
    photo = store.photo_by_path(path)
    return sorted(g.id for g in store.gallery(GalleryFilter(photo_id=photo.id, run_id=run)).items)


def _all(fetch, **kw):
    items, cursor = [], None
    while True:
        page = fetch(cursor=cursor, **kw)
        items += page.items
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor


def _matches(store: Store) -> list[tuple]:
    with store.engine.connect() as conn:
        return sorted(conn.execute(sa.select(GarmentMatch.run_a, GarmentMatch.run_b, GarmentMatch.photo_id,
                                             GarmentMatch.garment_a, GarmentMatch.garment_b,
                                             GarmentMatch.disagreements)).all(), key=repr)


def test_match_runs_counts_and_is_idempotent(two_runs):
    store, a, b, lines = two_runs
    common = sum(len(line["garments"]) for line in lines[:20])
    counts = store.match_runs(a, b)
    assert counts == MatchCounts(photos=20, matched=common - 1, only_a=1, only_b=1, changed=2)
    first = _matches(store)
    assert len(first) == common + 1
    assert store.match_runs(a, b) == counts and _matches(store) == first  # replaced, not added
    assert store.match_runs(b, a) == MatchCounts(20, common - 1, 1, 1, 2)  # the other order is its own pair
    assert len(_matches(store)) == 2 * len(first)
    page = store.compare(a, b, limit=3)
    changed = [m for p in page.photos for m in p.matches if m.disagreements]
    x, = _ids(store, a, lines[0]["path"])[:1]
    assert [p.path for p in page.photos[:1]] == [lines[1]["path"]]  # the missed garment: 5 heads differ
    assert any(m.garment_a == x and m.heads == {"colour": (lines[0]["garments"][0]["attributes"]["colour"]["label"],
                                                           "red")} for m in changed)
    assert all(0.5 <= m.iou < 1 for p in page.photos for m in p.matches if m.garment_a and m.garment_b)
    pages, cursor = [page], page.next_cursor
    while cursor:
        pages.append(store.compare(a, b, limit=3, cursor=cursor))
        cursor = pages[-1].next_cursor
    photos = [p for pg in pages for p in pg.photos]
    assert len(photos) == 20 and [p.disagreements for p in photos] == sorted((p.disagreements for p in photos),
                                                                              reverse=True)
    with pytest.raises(ValueError):
        store.match_runs(a, a)


def test_queue_by_margin_and_by_disagreement_with_keyset_pages(two_runs):
    store, a, b, lines = two_runs
    by_margin = _all(store.queue, order="margin", limit=7)
    assert [(g.margin, g.id) for g in by_margin] == sorted((g.margin, g.id) for g in by_margin)
    assert len(by_margin) == store.dashboard().garments
    colour = _all(store.queue, order="margin", head="colour", run_id=a, limit=5)
    margins = [(store.garment(g.id).heads["colour"].margin, g.id) for g in colour]
    assert margins == sorted(margins) and {g.run_id for g in colour} == {a}

    assert _matches(store) == []
    queue = _all(store.queue, order="disagreement", run_id=a, other_run=b, limit=2)  # matched on first use
    assert _matches(store)
    z = _ids(store, a, lines[1]["path"])[0]
    x, y = _ids(store, a, lines[0]["path"])[0], _ids(store, a, lines[2]["path"])[0]
    agreeing = sorted(set(g for line in lines[:20] for g in _ids(store, a, line["path"])) - {x, y, z})
    assert [g.id for g in queue] == [z, x, y, *agreeing]  # 5 heads differ, then 1 (by id), then none
    detail = store.garment(z)
    store.review(z, version=detail.version, user="mina", decisions=[Decision("part", REJECTED)])
    assert [g.id for g in store.queue(order="disagreement", run_id=a, other_run=b, limit=2).items] == [x, y]
    with pytest.raises(ValueError):
        store.queue(order="disagreement", run_id=a)
    with pytest.raises(ValueError):
        store.queue(order="sideways")


def test_run_accuracy_against_reviewed_truth(two_runs):
    store, a, b, lines = two_runs

    def review(gid: int, *decisions: Decision) -> None:
        store.review(gid, version=store.garment(gid).version, user="mina", decisions=list(decisions))

    def accept(gid: int) -> None:
        review(gid, *(Decision(h, CONFIRMED) for h in store.garment(gid).heads))

    accept(_ids(store, a, lines[0]["path"])[0])                                    # X: B said another colour
    review(_ids(store, a, lines[2]["path"])[0], Decision("part", CONFIRMED),
           Decision("category", CORRECTED, "jacket"))                              # Y: B was right
    review(_ids(store, a, lines[1]["path"])[0], Decision("part", REJECTED))        # Z: not a garment; B missed it
    accept(_ids(store, a, lines[20]["path"])[0])                                   # V: a photo B has not
    review(_ids(store, b, lines[3]["path"])[-1], Decision("part", REJECTED))       # W: B's extra garment
    review(_ids(store, b, lines[4]["path"])[0], Decision("colour", CORRECTED, "navy"))  # U: both said beige
    assert lines[4]["garments"][0]["attributes"]["colour"]["label"] == "beige"

    ra, rb = store.run_accuracy()
    n = [len(line["garments"]) for line in lines]
    assert (ra.run_id, ra.photos, ra.garments, ra.reviewed) == (a, 24, sum(n), 4)
    assert (rb.run_id, rb.photos, rb.garments, rb.reviewed) == (b, 20, sum(n[:20]), 2)
    acc = {h: (v.correct, v.total) for h, v in ra.heads.items()}
    assert acc == {"part": (3, 4), "category": (2, 3), "colour": (2, 3), "print": (2, 2), "sleeve_length": (2, 2)}
    assert (ra.truth, ra.found, ra.false_positives, ra.recall) == (4, 4, 1, 1.0)
    acc = {h: (v.correct, v.total) for h, v in rb.heads.items()}
    assert acc == {"part": (2, 3), "category": (2, 2), "colour": (0, 2), "print": (1, 1), "sleeve_length": (1, 1)}
    assert (rb.truth, rb.found, rb.false_positives, rb.recall) == (3, 3, 1, 1.0)
    assert ra.accuracy == 11 / 14 and list(ra.heads)[0] == "part"
    assert ra.models["detector"][1] == store.runs()[0].models["detector"]
