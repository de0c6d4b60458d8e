"""The closed loop: prediction margins from ingest, the queue by margin and by disagreement with
another run, garment matches between runs, and each run's accuracy against reviewed truth."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from garmentparse.store import GalleryFilter, Store
from garmentparse.store.models import Accepted, Garment

from .conftest import tag_lines


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
