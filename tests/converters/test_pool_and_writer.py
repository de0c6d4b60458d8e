"""The shared process pool (pool.py) and the one COCO writer, to a file or to memory (coco.py)."""

from __future__ import annotations

import json

import pytest

from garmentparse.converters import CocoStreamWriter, load_coco, map_chunks


def square_chunk(chunk: list[int], offset: int) -> list[int]:
    if 13 in chunk:
        raise ValueError("unlucky")
    return [x * x + offset for x in chunk]


def failed(item: int, exc: Exception, offset: int) -> str:
    return f"{item}: {exc}"


@pytest.mark.parametrize("workers", [1, 2])
def test_map_chunks_keeps_order_carries_context_and_goes_past_a_failing_item(workers):
    results = list(map_chunks(square_chunk, iter(range(30)), 1, workers=workers, chunk_size=4, on_error=failed))
    assert [item for item, _ in results] == list(range(30))
    assert results[13] == (13, "13: unlucky")
    assert all(r == x * x + 1 for x, r in results if x != 13)  # its chunk-mates are still computed


def test_map_chunks_without_on_error_raises():
    with pytest.raises(ValueError, match="unlucky"):
        list(map_chunks(square_chunk, range(20), 0, chunk_size=4))


def write(writer: CocoStreamWriter) -> None:
    writer.add_image({"id": 1, "file_name": "한글.jpg", "width": 3, "height": 2})
    writer.add_annotation({"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1.5, 1]})
    writer.add_annotation_fragment(2, 1, '"category_id":2,"bbox":[0,0,1,1]}')


def test_one_writer_for_file_and_memory(tmp_path):
    header = {"info": {"description": "t"}, "licenses": []}
    categories = [{"id": 1, "name": "outer"}, {"id": 2, "name": "top"}]
    with CocoStreamWriter(tmp_path / "out" / "coco.json", header, categories) as to_file:
        write(to_file)
    memory = CocoStreamWriter.in_memory(header, categories)
    write(memory)
    assert memory.close() is None
    from_file = load_coco(tmp_path / "out" / "coco.json")
    assert memory.dataset() == from_file
    assert list(from_file) == ["info", "licenses", "categories", "images", "annotations"]
    assert from_file["annotations"][1] == {"id": 2, "image_id": 1, "category_id": 2, "bbox": [0, 0, 1, 1]}
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["coco.json"]  # no temporary left
    assert json.loads((tmp_path / "out" / "coco.json").read_text(encoding="utf-8")) == from_file


def test_default_workers_are_the_usable_cores():
    import os

    from garmentparse.converters.pool import default_workers

    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert default_workers() == expected >= 1
