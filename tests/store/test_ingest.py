"""Ingest: the realistic CCP tag output goes in whole, twice adds nothing, bad lines are named."""

from __future__ import annotations

import hashlib
import json
import resource
from pathlib import Path

import sqlalchemy as sa

from garmentparse import masks
from garmentparse.store import GalleryFilter, Store
from garmentparse.store.models import Accepted, Correction, Garment, Photo, Prediction, TagRun

from .conftest import HEADS, tag_lines, write_tag_output


def _rows(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {m.__tablename__: conn.scalar(sa.select(sa.func.count()).select_from(m))
                for m in (TagRun, Photo, Garment, Prediction, Accepted, Correction)}


def test_ingest_loads_every_garment_and_twice_adds_nothing(db_url, tag_output, ccp_coco_dict, ccp_dir):
    n = len(ccp_coco_dict["annotations"])
    with Store.upgrade(db_url) as store:
        rep = store.ingest(tag_output, ccp_dir / "images", batch_size=7)
        assert rep.counts["garments"] == n and rep.counts["photos_new"] == 25
        assert rep.counts["predictions"] == n * len(HEADS)
        # broken.jpg is not under the image root: reported, still ingested (with its error)
        assert [p.reason for p in rep.problems] == ["photo_unreadable"]
        first = _rows(store)
        assert first == {"tag_runs": 1, "photos": 25, "garments": n, "predictions": n * len(HEADS),
                         "accepted": n * (len(HEADS) + 1), "corrections": 0}
        again = store.ingest(tag_output, ccp_dir / "images", batch_size=1000)
        assert again.counts["garments"] == 0 and again.counts["photos_new"] == 0
        assert again.counts["photos_already_in"] == 24
        assert _rows(store) == first

        # what went in is what tag wrote: mask, box, labels, sha256 of the file
        line = tag_lines(ccp_coco_dict)[0]
        page = store.gallery(GalleryFilter(), limit=1000)
        mine = sorted((g for g in page.items if g.photo_path == line["path"]), key=lambda g: g.id)
        detail = store.garment(mine[0].id)
        want = line["garments"][0]
        assert detail.mask == want["mask"]
        assert masks.area(detail.mask) > 0
        assert list(detail.garment.box) == want["box"]
        assert detail.heads["colour"].value == want["attributes"]["colour"]["label"]
        assert detail.heads["colour"].top_k[0] == (want["attributes"]["colour"]["label"],
                                                    want["attributes"]["colour"]["probability"])
        assert detail.heads["part"].value == want["part"]
        photo = store.photo(detail.garment.photo_id)
        assert photo.sha256 == hashlib.sha256((ccp_dir / "images" / line["path"]).read_bytes()).hexdigest()
        assert (photo.width, photo.height) == (line["width"], line["height"])
        run = store.runs()[0]
        assert run.models["detector"] and run.settings["heads"] == list(HEADS)


def test_a_resumed_run_adds_only_the_new_photos(sqlite_url, tmp_path, ccp_coco_dict):
    lines = tag_lines(ccp_coco_dict)
    out = write_tag_output(tmp_path / "r.jsonl", lines[:10])
    with Store.upgrade(sqlite_url) as store:
        store.ingest(out)
        write_tag_output(out, lines)  # tag --resume appended the rest
        rep = store.ingest(out)
        assert rep.counts["photos_new"] == 14 and rep.counts["photos_already_in"] == 10
        assert store.dashboard().garments == len(ccp_coco_dict["annotations"])
        # a run with other models is another run: its garments go in beside the first
        other = write_tag_output(tmp_path / "other.jsonl", lines, models="v2")
        assert store.ingest(other).counts["garments"] == len(ccp_coco_dict["annotations"])
        assert len(store.runs()) == 2


def test_korean_labels_are_stored_as_english_ids(sqlite_url, tmp_path, ccp_coco_dict):
    out = write_tag_output(tmp_path / "ko.jsonl", tag_lines(ccp_coco_dict, lang="ko"), lang="ko")
    with Store.upgrade(sqlite_url) as store:
        rep = store.ingest(out)
        assert rep.ok, rep.problems
        english = tag_lines(ccp_coco_dict)
        parts = {g["part"] for line in english for g in line["garments"]}
        assert set(store.dashboard().by_part) == parts
        first = store.gallery(GalleryFilter(), limit=1000).items[-1]  # the oldest: line 1, garment 1
        assert store.garment(first.id).heads["colour"].value == english[0]["garments"][0]["attributes"]["colour"]["label"]


def test_bad_lines_are_reported_with_line_and_reason_and_the_rest_goes_in(sqlite_url, tmp_path, ccp_coco_dict):
    good = tag_lines(ccp_coco_dict)[:3]
    broken_mask = json.loads(json.dumps(good[0]))
    broken_mask["path"] = "other.jpg"
    broken_mask["garments"][0]["mask"]["size"] = [1, 1]
    unknown = json.loads(json.dumps(good[1]))
    unknown["path"] = "unknown.jpg"
    unknown["garments"][0]["attributes"]["colour"]["label"] = "ultraviolet"
    no_box = json.loads(json.dumps(good[2]))
    no_box["path"] = "nobox.jpg"
    del no_box["garments"][0]["box"]
    out = tmp_path / "bad.jsonl"
    write_tag_output(out, good)
    with open(out, "a", encoding="utf-8") as fh:
        fh.write("{not json\n")                              # line 4
        fh.write(json.dumps(broken_mask) + "\n")             # line 5
        fh.write(json.dumps(unknown) + "\n")                 # line 6
        fh.write(json.dumps(no_box) + "\n")                  # line 7
        fh.write(json.dumps([1, 2]) + "\n")                  # line 8
        fh.write(json.dumps({**good[0], "garments": [{**good[0]["garments"][0], "part": "hat"}],
                             "path": "hat.jpg"}) + "\n")      # line 9
    with Store.upgrade(sqlite_url) as store:
        rep = store.ingest(out)
        got = {(p.file.rsplit(":", 1)[1], p.reason) for p in rep.problems}
        assert got == {("4", "not_json"), ("5", "mask_size"), ("6", "unknown_label"), ("7", "schema"),
                       ("8", "schema"), ("9", "unknown_part")}
        assert all(p.file.startswith(str(out) + ":") for p in rep.problems)
        assert "ultraviolet" in next(p.detail for p in rep.problems if p.reason == "unknown_label")
        assert "box" in next(p.detail for p in rep.problems if p.file.endswith(":7"))
        assert rep.counts["bad_lines"] == 6
        assert store.dashboard().photos == 3
        assert store.dashboard().garments == sum(len(line["garments"]) for line in good)


def test_missing_run_record_is_reported_and_the_run_still_identified(sqlite_url, tmp_path, ccp_coco_dict):
    out = write_tag_output(tmp_path / "plain.jsonl", tag_lines(ccp_coco_dict)[:2])
    Path(str(out) + ".run.json").unlink()
    with Store.upgrade(sqlite_url) as store:
        rep = store.ingest(out)
        assert [p.reason for p in rep.problems] == ["run_record_missing"]
        assert store.ingest(out).counts["garments"] == 0  # same file, same run


def test_ingest_streams_a_large_file(sqlite_url, tmp_path, ccp_coco_dict):
    """Memory stays flat in the file size: a 16 MB file (parsed: far more) grows the process by a few MB."""
    line = json.dumps(tag_lines(ccp_coco_dict)[0])
    out = tmp_path / "big.jsonl"
    with open(out, "w", encoding="utf-8") as fh:
        for i in range(4000):
            fh.write(line.replace('"0001.jpg"', f'"p{i:05d}.jpg"') + "\n")
    with Store.upgrade(sqlite_url) as store:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        rep = store.ingest(out, batch_size=500)
        grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        assert rep.counts["photos_new"] == 4000
        assert out.stat().st_size > 15e6 and grown_mb < 40, f"ingest grew the process by {grown_mb:.0f} MB"


ODD_VALUES = [None, True, 0, 1, 2, -1, 0.5, 1e300, "", "x", "x" * 600, "ultraviolet", "네이비", "상의", [], [0, 0],
              {}, {"label": "navy", "probability": 0.5}, ["stripe"] * 40]


def _variants(obj: object):
    """Copies of ``obj`` with one value replaced by each odd value, or one key removed or renamed."""
    obj = json.loads(json.dumps(obj))  # tuples as lists, as the line is read
    paths: list[tuple] = []

    def walk(node: object, path: tuple) -> None:
        paths.append(path)
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in items:
            walk(child, (*path, key))

    walk(obj, ())

    def at(path: tuple) -> tuple[object, object]:  # a fresh copy, and the parent of path in it
        copy = json.loads(json.dumps(obj))
        parent = copy
        for key in path[:-1]:
            parent = parent[key]
        return copy, parent

    for path in paths:
        copy, parent = at(path) if path else (None, None)
        same_as_float = [float(parent[path[-1]])] if path and type(parent[path[-1]]) is int else []  # 400 -> 400.0
        for value in ODD_VALUES + same_as_float:
            if not path:
                yield value
                continue
            copy, parent = at(path)
            parent[path[-1]] = value
            yield copy
        if path and isinstance(path[-1], str):
            copy, parent = at(path)
            del parent[path[-1]]
            yield copy
            for name in ("", "part", "h" * 33, "my_head"):  # a head of its own takes labels as written
                copy, parent = at(path)
                parent[name] = parent.pop(path[-1])
                yield copy


def test_the_quick_check_agrees_with_the_full_check_on_every_broken_value(ccp_coco_dict):
    """Well-formed lines take a quick path; it must accept nothing the full check rejects and give
    the same result. Real lines (English, Korean, multi-label) with every value broken in turn."""
    from garmentparse.store.ingest import BadLine, _checked_line, _well_formed_line, parse_line

    def outcome(fn, *args):
        try:
            return fn(*args)
        except BadLine as exc:
            return exc.reason, exc.detail

    quick = checked = 0
    for lang in ("en", "ko"):
        line = tag_lines(ccp_coco_dict, lang=lang)[0]
        assert _well_formed_line(line, 1) == _checked_line(line, 1, lang)  # not None: taken quickly
        for base in ({**line, "garments": line["garments"][:2]}, {**line, "garments": []}):
            for variant in _variants(base):
                raw = json.dumps(variant, ensure_ascii=False)
                assert outcome(parse_line, raw, 1, lang) == outcome(_checked_line, json.loads(raw), 1, lang), raw
                quick += _well_formed_line(json.loads(raw), 1) is not None
                checked += 1
    assert checked > 3000 and 0 < quick < checked / 2


def test_a_nul_character_anywhere_in_a_line_is_a_bad_line_on_every_database(db_url, tmp_path, ccp_coco_dict, ccp_dir):
    """PostgreSQL can store no NUL (the whole ingest stopped there, and a NUL in a path stopped it
    everywhere with "embedded null byte"); the line is named and the rest goes in."""
    lines = tag_lines(ccp_coco_dict)[:4]
    lines[0]["path"] = "0001\x00.jpg"
    lines[1]["garments"][0]["mask"]["counts"] += "\x00"
    lines[2]["garments"][0]["attributes"]["co\x00lour"] = {"label": "red", "probability": 0.5}
    out = write_tag_output(tmp_path / "nul" / "results.jsonl", lines)
    with Store.upgrade(db_url) as store:
        rep = store.ingest(out, ccp_dir / "images")
        assert rep.counts["bad_lines"] == 3 and rep.counts["photos_new"] == 1
        assert [(p.file.rsplit(":", 1)[1], p.detail) for p in rep.problems] == [
            ("1", "path: a NUL character (\\u0000)"), ("2", "garments[0].mask.counts: a NUL character (\\u0000)"),
            ("3", "garments[0].attributes: a NUL character (\\u0000)")]
