"""Comparison fixtures: two realistic ``tag`` outputs of the 24 bundled CCP photos (built from
their converted labels by the store's ``tag_lines``) that differ in known ways, and the labels
themselves as the reviewed truth."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from garmentparse.converters.coco import save_coco
from tests.store.conftest import ccp_coco_dict, tag_lines, write_tag_output  # noqa: F401 (fixture)

BROKEN = {"path": "broken.jpg", "width": None, "height": None, "error": "image file is truncated", "garments": []}


@dataclass(frozen=True)
class Outputs:
    a: Path
    b: Path
    truth: Path
    coco: dict


def by_path(lines: list[dict]) -> dict[str, dict]:
    return {line["path"]: line for line in lines}


def changed_copy(lines: list[dict]) -> list[dict]:
    """Run B: A with one colour, one category and one part changed, a garment dropped, the last
    photo dropped (every change known, on its own photo)."""
    b = copy.deepcopy(lines)
    photos = by_path(b)
    photos["0001.jpg"]["garments"][0]["attributes"]["colour"]["label"] = "red"        # was black
    photos["0003.jpg"]["garments"][0]["attributes"]["category"]["label"] = "jacket"   # was coat
    photos["0004.jpg"]["garments"][2]["part"] = "onepiece"                            # was bottom
    photos["0002.jpg"]["garments"].pop()                                              # the dress
    return [line for line in b if line["path"] != "0024.jpg"]


@pytest.fixture
def outputs(tmp_path: Path, ccp_coco_dict: dict) -> Outputs:  # noqa: F811
    """A (English, one failed photo), B (A changed; one failed photo and one broken line; a name
    that HTML must escape), and the labels as truth."""
    a_lines = tag_lines(ccp_coco_dict)
    a = write_tag_output(tmp_path / "a.jsonl", [*a_lines, BROKEN], models="run-a")
    b = write_tag_output(tmp_path / "b<i>.jsonl", [*changed_copy(a_lines), BROKEN], models="run-b")
    with open(b, "a", encoding="utf-8") as fh:
        fh.write('{"path": "0005.jpg", "width": 1\n')  # line 25: not JSON
    truth = tmp_path / "truth.json"
    save_coco(ccp_coco_dict, truth)
    return Outputs(a, b, truth, ccp_coco_dict)


def set_record(jsonl: Path, **changes: object) -> None:
    """Change top-level keys of a run record (``runs`` entries get ``images_dir`` via ``images_dir=``)."""
    path = Path(str(jsonl) + ".run.json")
    record = json.loads(path.read_text(encoding="utf-8"))
    if "images_dir" in changes:
        record["runs"][-1]["images_dir"] = str(changes.pop("images_dir"))
    record.update(changes)
    path.write_text(json.dumps(record), encoding="utf-8")
