"""Fixtures for the converter tests: small real datasets copied from examples/ into tmp folders."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CCP = EXAMPLES / "ccp"


def read_label(stem: str) -> dict:
    """A real K-Fashion-schema label of examples/ccp as a dict."""
    return json.loads((CCP / "labels" / f"{stem}.json").read_text(encoding="utf-8"))


def write_label(path: Path, data: dict, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(json.dumps(data, ensure_ascii=False, indent=1).encode(encoding))
    return path


def polygon_of(data: dict, part_ko: str, index: int = 0) -> dict:
    return data["데이터셋 정보"]["데이터셋 상세설명"]["폴리곤좌표"][part_ko][index]


def labelling_of(data: dict, part_ko: str, index: int = 0) -> dict:
    return data["데이터셋 정보"]["데이터셋 상세설명"]["라벨링"][part_ko][index]


@pytest.fixture
def make_dataset(tmp_path: Path) -> Callable[..., tuple[Path, Path]]:
    """``make_dataset(stems)`` -> (labels_dir, images_dir) with real labels + photos of examples/ccp."""

    def build(stems: list[str] = ("0001", "0002", "0003")) -> tuple[Path, Path]:
        labels, images = tmp_path / "labels", tmp_path / "images"
        labels.mkdir(exist_ok=True)
        images.mkdir(exist_ok=True)
        for s in stems:
            shutil.copy(CCP / "labels" / f"{s}.json", labels / f"{s}.json")
            shutil.copy(CCP / "images" / f"{s}.jpg", images / f"{s}.jpg")
        return labels, images

    return build
