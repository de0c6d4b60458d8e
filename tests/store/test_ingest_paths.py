"""Ingest and the image root: a relative --images is stored absolute (the app resolves photos
against it wherever it runs), photo paths that leave the root are refused without being read,
and two ingests of the same file at the same moment both finish on every database."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import sqlalchemy as sa

from garmentparse.store import Store
from garmentparse.store.ingest import outside_root
from garmentparse.store.models import Garment, Photo, TagRun

from .conftest import tag_lines, write_tag_output


def test_a_relative_image_root_is_stored_absolute(sqlite_url, tmp_path, ccp_coco_dict, ccp_dir, monkeypatch):
    photos = tmp_path / "work" / "photos"
    shutil.copytree(ccp_dir / "images", photos)
    out = write_tag_output(tmp_path / "tags.jsonl", tag_lines(ccp_coco_dict)[:3])
    monkeypatch.chdir(tmp_path / "work")
    with Store.upgrade(sqlite_url) as store:
        report = store.ingest(out, "photos")
        assert report.ok, report.to_dict()
        with store.engine.connect() as conn:
            root = conn.scalar(sa.select(TagRun.images_root))
            assert conn.scalar(sa.select(sa.func.count()).select_from(Photo).where(Photo.sha256.is_not(None))) == 3
    assert root == str(photos.resolve()) and os.path.isabs(root)


def test_photo_paths_outside_the_root_are_reported_and_not_read(sqlite_url, tmp_path, ccp_coco_dict, ccp_dir):
    root = tmp_path / "root"
    shutil.copytree(ccp_dir / "images", root)
    secret = tmp_path / "secret.jpg"
    shutil.copy(ccp_dir / "images" / "0001.jpg", secret)
    (root / "link-out.jpg").symlink_to(secret)
    good = tag_lines(ccp_coco_dict)[:2]
    bad = [dict(good[0], path=p) for p in (str(secret), "../secret.jpg", "sub/../../secret.jpg", "link-out.jpg")]
    out = write_tag_output(tmp_path / "tags.jsonl", good + bad)
    with Store.upgrade(sqlite_url) as store:
        report = store.ingest(out, root)
        with store.engine.connect() as conn:
            paths = set(conn.scalars(sa.select(Photo.path)))
    assert paths == {g["path"] for g in good}  # the good lines all in
    refused = [p for p in report.problems if p.reason == "photo_outside_root"]
    assert len(refused) == 4 and report.counts["bad_lines"] == 4
    assert all(":" in p.file and "not read" in p.detail for p in refused)
    assert outside_root("a/b.jpg", None) is None and outside_root("C:/x.jpg", None) == "an absolute path"


def test_two_ingests_of_one_file_at_once_both_finish(db_url, tmp_path, ccp_coco_dict, ccp_dir):
    lines = tag_lines(ccp_coco_dict)
    out = write_tag_output(tmp_path / "tags.jsonl", lines)
    Store.upgrade(db_url).close()
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def ingest() -> None:
        try:
            with Store.open(db_url) as store:
                barrier.wait()
                store.ingest(out, ccp_dir / "images", batch_size=5)
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)

    threads = [threading.Thread(target=ingest) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    with Store.open(db_url) as store, store.engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(Photo)) == len(lines)
        assert conn.scalar(sa.select(sa.func.count()).select_from(Garment)) == len(ccp_coco_dict["annotations"])
        assert conn.scalar(sa.select(sa.func.count()).select_from(TagRun)) == 1


def test_every_count_is_in_the_summary_zeros_included(sqlite_url, tmp_path, ccp_coco_dict, ccp_dir):
    from garmentparse.store.ingest import INGEST_COUNTS

    out = write_tag_output(tmp_path / "tags.jsonl", tag_lines(ccp_coco_dict)[:2])
    with Store.upgrade(sqlite_url) as store:
        store.ingest(out, ccp_dir / "images")
        again = store.ingest(out, ccp_dir / "images")
    assert set(INGEST_COUNTS) <= set(again.counts)
    assert again.counts["photos_new"] == 0 and again.counts["photos_already_in"] == 2
