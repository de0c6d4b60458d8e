"""Fixtures for the whole suite: paths to the real sample data, the CLI runner, and the tiny
detector and classifier trained ONCE per test session on real CCP photos (CPU, seconds).

Tests mirror the package (``tests/engine/``, ``tests/converters/``, ``tests/parsing/``, ...);
fixtures that only one area needs (database servers, label files) live in that area's conftest.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from garmentparse.cli import build_app

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
SHARED_DATA = REPO.parent / "shared" / "data"
DET_TINY = REPO / "configs" / "detection" / "tiny.yaml"
CLS_TINY = REPO / "configs" / "classification" / "tiny.yaml"
CROP_SIZE = 96  # the classifier fixtures cut crops at this size

runner = CliRunner()


def invoke(*args: object) -> str:
    """Run the CLI in-process; fail with its output when it exits non-zero. Returns stdout."""
    result = runner.invoke(build_app(), [str(a) for a in args])
    assert result.exit_code == 0, f"{args}\n{result.output}\n{result.exception!r}"
    return result.stdout


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Tiny models train as fast on one thread as on two idle cores, and on busy shared cores two
    spinning OpenMP threads made the tiny runs ~8-10x slower (measured)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    return EXAMPLES


@pytest.fixture(scope="session")
def kfashion_real_dir() -> Path:
    return EXAMPLES / "kfashion"


@pytest.fixture(scope="session")
def ccp_dir() -> Path:
    """24 real CCP photos with K-Fashion-schema labels and the original pixel masks."""
    return EXAMPLES / "ccp"


@pytest.fixture(scope="session")
def shared_ccp_dir() -> Path:
    """The full 900-photo CCP set in ../shared/data (skips when absent)."""
    path = SHARED_DATA / "kfashion-ccp"
    if not path.is_dir():
        pytest.skip("../shared/data/kfashion-ccp not present")
    return path


@pytest.fixture(scope="session")
def ccp_coco(tmp_path_factory, ccp_dir) -> dict[str, Path]:
    """``train.json`` (photos 0001-0020) and ``val.json`` (0021-0024) from the real CCP labels,
    converted by the K-Fashion converter; ``images`` is their photo folder."""
    from garmentparse.converters import convert_kfashion

    work = tmp_path_factory.mktemp("ccp_coco")
    labels = sorted((ccp_dir / "labels").glob("*.json"))
    out = {"images": ccp_dir / "images"}
    for name, chunk in (("train", labels[:20]), ("val", labels[20:24])):
        folder = work / f"{name}_labels"
        folder.mkdir()
        for label in chunk:
            shutil.copy(label, folder)
        coco, _ = convert_kfashion(folder, ccp_dir / "images")
        assert len(coco["images"]) == len(chunk) and coco["annotations"]
        out[name] = work / f"{name}.json"
        out[name].write_text(json.dumps(coco), encoding="utf-8")
    return out


@pytest.fixture(scope="session")
def detector_run(tmp_path_factory, ccp_coco) -> dict:
    """The tiny detector config trained on the 20 train photos via ``garmentparse train detector``
    (evaluated on the 4 others): ``run`` folder, ``model`` file, the CLI's JSON ``summary``."""
    run = tmp_path_factory.mktemp("det") / "run"
    stdout = invoke("train", "detector", "--config", DET_TINY, "--train", ccp_coco["train"],
                    "--images", ccp_coco["images"], "--out", run, "--val", ccp_coco["val"],
                    "--device", "cpu", "--no-progress", "--json")
    return {"run": run, "model": run / "model.pt", "summary": json.loads(stdout)}


@pytest.fixture(scope="session")
def ccp_crops(tmp_path_factory, ccp_dir) -> Path:
    """manifest.csv of the 52 garments of the 24 CCP photos, cut at 96 px by ``crop_dataset``."""
    from garmentparse.converters import convert_kfashion, crop_dataset

    out = tmp_path_factory.mktemp("ccp_crops")
    coco, _ = convert_kfashion(ccp_dir / "labels", ccp_dir / "images")
    report = crop_dataset(coco, ccp_dir / "images", out, size=CROP_SIZE)
    assert report.counts["crops"] == len(coco["annotations"]) > 40
    return out / "manifest.csv"


@pytest.fixture(scope="session")
def classifier_run(tmp_path_factory, ccp_crops) -> Path:
    """RUN_DIR of the tiny classifier config trained on all CCP crops (CPU, via the CLI)."""
    run = tmp_path_factory.mktemp("cls_run")
    invoke("train", "classifier", "--config", CLS_TINY, "--manifest", ccp_crops, "--out", run,
           "--device", "cpu", "--no-progress")
    return run


# (스타일, 서브스타일) given in turn to the CCP labels: no public data carries K-Fashion styles.
STYLES = [("로맨틱", "섹시"), ("스트리트", "힙합"), ("클래식", None)]


@pytest.fixture(scope="session")
def styled_kfashion(tmp_path_factory, ccp_dir) -> dict[str, Path]:
    """K-Fashion-schema labels that carry the outfit's style: the 24 CCP labels, each given a
    스타일 (and 서브스타일) of :data:`STYLES` in turn. ``labels``, ``images`` and ``coco`` (converted)."""
    from garmentparse.converters import convert_kfashion

    folder = tmp_path_factory.mktemp("styled") / "labels"
    folder.mkdir()
    for i, label in enumerate(sorted((ccp_dir / "labels").glob("*.json"))):
        data = json.loads(label.read_text(encoding="utf-8"))
        main, sub = STYLES[i % len(STYLES)]
        data["데이터셋 정보"]["데이터셋 상세설명"]["라벨링"]["스타일"] = [{"스타일": main, **({"서브스타일": sub} if sub else {})}]
        (folder / label.name).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    coco, _ = convert_kfashion(folder, ccp_dir / "images")
    (folder.parent / "coco.json").write_text(json.dumps(coco), encoding="utf-8")
    return {"labels": folder, "images": ccp_dir / "images", "coco": folder.parent / "coco.json"}
