"""Store additions for the web app: gallery by product / path text / confidence order, the queue
by head, value counts, products with attributes, and results ingested from memory."""

from __future__ import annotations

import json

import pytest

from garmentparse.store import CORRECTED, Decision, GalleryFilter, NotFound, Store

from .conftest import tag_lines


@pytest.fixture
def store(db_url, tag_output):
    s = Store.upgrade(db_url)
    s.ingest(tag_output)
    s.add_user("mina", "correct horse battery", "reviewer")
    yield s
    s.close()


def _all(fetch, **kw):
    items, cursor = [], None
    while True:
        page = fetch(cursor=cursor, limit=7, **kw)
        items += page.items
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor


def test_gallery_by_confidence_pages_cover_everything_in_order(store):
    everything = _all(store.gallery)
    by_conf = _all(store.gallery, order="confidence")
    assert sorted(g.id for g in by_conf) == sorted(g.id for g in everything)
    keys = [(g.confidence, g.id) for g in by_conf]
    assert keys == sorted(keys)
    with pytest.raises(ValueError):
        store.gallery(order="random")


def test_gallery_path_text_is_a_literal_substring(store):
    some = store.gallery(limit=1).items[0]
    stem = some.photo_path[:4]
    hits = _all(store.gallery, filters=GalleryFilter(path_text=stem.upper()))
    assert hits and all(stem.lower() in g.photo_path.lower() for g in hits)
    assert _all(store.gallery, filters=GalleryFilter(path_text="%")) == []  # a wildcard is just a character
    assert _all(store.gallery, filters=GalleryFilter(path_text="x' OR '1'='1")) == []


def test_products_with_attributes_and_photos_filter_the_gallery(store):
    p = store.add_product("SKU-1", "네이비 블라우스", {"category": "블라우스", "colour": "navy"})
    assert p.attributes == {"category": "blouse", "colour": "navy"}
    photo_id = store.gallery(limit=1).items[0].photo_id
    store.link_photo(photo_id, p.id)
    got = store.product(p.id)
    assert got.photo_ids == [photo_id] and got.name == "네이비 블라우스"
    hits = _all(store.gallery, filters=GalleryFilter(product_id=p.id))
    assert hits and {g.photo_id for g in hits} == {photo_id}
    assert [q.sku for q in store.products()] == ["SKU-1"]
    with pytest.raises(ValueError):
        store.add_product("SKU-1")
    with pytest.raises(ValueError):
        store.add_product("SKU-2", attributes={"colour": "not-a-colour"})
    with pytest.raises(NotFound):
        store.product(999)


def test_queue_by_head_is_lowest_probability_first_and_leaves_reviewed_heads(store):
    queue = _all(store.queue, head="colour")
    probs = [store.garment(g.id).heads["colour"].probability for g in queue]
    assert probs == sorted(probs) and len(queue) == store.dashboard().garments
    first = store.garment(queue[0].id)
    store.review(first.garment.id, version=first.version, user="mina",
                 decisions=[Decision("colour", CORRECTED, "navy")])
    assert first.garment.id not in {g.id for g in _all(store.queue, head="colour")}
    assert first.garment.id in {g.id for g in _all(store.queue, head="category")}


def test_value_counts(store):
    counts = store.value_counts("part")
    assert sum(counts.values()) == store.dashboard().garments
    assert list(counts.values()) == sorted(counts.values(), reverse=True)


def test_ingest_results_from_memory_is_idempotent(store, ccp_coco_dict, tmp_path):
    lines = tag_lines(ccp_coco_dict)[:2]
    for line in lines:
        line["path"] = "uploads/" + line["path"]
    settings = {"models": {"detector": "d"}, "source": "web"}
    first = store.ingest_results(lines, settings, tmp_path)
    again = store.ingest_results(lines, settings, tmp_path)
    assert first.counts["photos_new"] == 2 and again.counts["photos_new"] == 0
    photo = store.photo_by_path(lines[0]["path"])
    assert store.gallery(GalleryFilter(photo_id=photo.id)).items
    assert json.dumps(settings) and any(r.settings == settings for r in store.runs())
