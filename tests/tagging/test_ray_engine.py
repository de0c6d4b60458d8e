"""The Ray engine on a local Ray (2 CPUs) against the local engine, on real CCP photos with broken
files: the same lines byte for byte, the same CSV, overlays and crops; resume; ingest; the CLI."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from PIL import Image

from garmentparse.cli import build_app
from garmentparse.store import Store
from garmentparse.tagging import Tagger, run_record_path, tag_folder
from tests.conftest import invoke, runner

ray = pytest.importorskip("ray", reason='the Ray engine is the optional extra garmentparse[ray]')
from garmentparse.tagging.ray_engine import CheckpointLoader, RayOptions, tag_folder_ray  # noqa: E402

SCORE = 0.01  # tiny models trained for seconds score low; keep their detections


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the module (start-up is the slow part); the engine uses it as it is."""
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def loader(detector_run, classifier_run) -> CheckpointLoader:
    return CheckpointLoader(detector=str(detector_run["model"]), classifier=str(classifier_run / "model.pt"),
                            device="cpu", score_threshold=SCORE)


@pytest.fixture()
def photos(tmp_path, ccp_dir) -> Path:
    """Seven real photos (nested, odd modes, a non-UTF-8 name) and four that cannot be tagged."""
    root = tmp_path / "photos"
    (root / "street").mkdir(parents=True)
    for name in ["0021", "0022", "0023"]:
        shutil.copy(ccp_dir / "images" / f"{name}.jpg", root / f"{name}.jpg")
    shutil.copy(ccp_dir / "images" / "0024.jpg", root / "street" / "0024.JPG")
    Image.open(ccp_dir / "images" / "0001.jpg").convert("L").save(root / "street" / "gray.png")
    Image.open(ccp_dir / "images" / "0002.jpg").save(root / "studio.tif")
    shutil.copy(ccp_dir / "images" / "0004.jpg", os.path.join(os.fsencode(root), b"caf\xe9.jpg"))
    data = (ccp_dir / "images" / "0003.jpg").read_bytes()
    (root / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (root / "notes.jpg").write_text("this is not a photo")
    (root / "empty.png").write_bytes(b"")
    (root / "gone.jpg").symlink_to(root / "deleted.jpg")
    return root


def sorted_lines(path: Path) -> list[str]:
    return sorted(path.read_text(encoding="utf-8").splitlines())


def test_ray_engine_gives_the_local_engines_output(local_ray, loader, photos, tmp_path):
    tagger = loader.load()
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    tag_folder(photos, tagger, local / "tags.jsonl", csv_path=local / "tags.csv", overlays_dir=local / "ov",
               crops_dir=local / "cr", workers=0, batch_size=3)
    progress: list[tuple[int, int | None]] = []
    summary = tag_folder_ray(photos, tagger, on_ray / "tags.jsonl", loader=loader, options=RayOptions(actors=1),
                             csv_path=on_ray / "tags.csv", overlays_dir=on_ray / "ov", crops_dir=on_ray / "cr",
                             batch_size=3, on_progress=lambda done, total=None, message="": progress.append((done, total)))
    assert (summary.images, summary.errors, summary.skipped) == (11, 4, 0)
    assert progress[0] == (0, 11) and progress[-1] == (11, 11)
    lines = sorted_lines(on_ray / "tags.jsonl")
    assert lines == sorted_lines(local / "tags.jsonl")  # byte for byte, one line per photo
    errors = {r["path"]: r["error"] for r in map(json.loads, lines) if r["error"]}
    assert set(errors) == {"truncated.jpg", "notes.jpg", "empty.png", "gone.jpg"} and "broken link" in errors["gone.jpg"]
    assert sum(len(json.loads(line)["garments"]) for line in lines) == summary.garments > 0
    assert sorted_lines(on_ray / "tags.csv") == sorted_lines(local / "tags.csv")
    for extra in ("ov", "cr"):
        files = sorted(p.relative_to(on_ray / extra) for p in (on_ray / extra).rglob("*.png"))
        assert files and files == sorted(p.relative_to(local / extra) for p in (local / extra).rglob("*.png"))
    record = json.loads(run_record_path(on_ray / "tags.jsonl").read_text(encoding="utf-8"))
    assert record["runs"][-1]["engine"] == "ray" and record["runs"][-1]["finished"]
    assert record["settings"] == json.loads(run_record_path(local / "tags.jsonl").read_text())["settings"]

    # interrupted after 4 lines with a torn fifth: --resume on Ray finishes it, no duplicates
    out = on_ray / "tags.jsonl"
    kept = out.read_text(encoding="utf-8").splitlines(keepends=True)[:4]
    out.write_text("".join(kept) + '{"path": "torn', encoding="utf-8")
    done_before = sum(json.loads(line)["error"] is None for line in kept)
    again = tag_folder_ray(photos, tagger, out, loader=loader, resume=True, batch_size=3)
    assert again.skipped == done_before and again.images == 11 - done_before
    resumed = out.read_text(encoding="utf-8").splitlines(keepends=True)
    assert [line for line in kept if json.loads(line)["error"] is None] == resumed[:done_before]
    assert sorted(json.loads(line)["path"] for line in resumed) == sorted(json.loads(line)["path"] for line in lines)
    # and the catalogue takes the Ray output as it is
    with Store.upgrade(f"sqlite:///{tmp_path / 'catalogue.db'}") as store:
        report = store.ingest(out, images_root=photos)
        assert report.counts["bad_lines"] == 0 and report.counts["photos_new"] == report.counts["lines"] == 11
        assert store.dashboard().garments == summary.garments


def test_output_at_a_url_resumed_on_another_machine(local_ray, loader, photos, tmp_path):
    """`--out` may be an fsspec URL (here the in-memory filesystem; s3:// or gs:// the same way):
    lines are appended to a staged local copy and uploaded whole. A resume whose staging folder
    is gone (another driver machine) starts from the URL's copy: no line lost or doubled."""
    import fsspec

    tagger = loader.load()
    reference = tmp_path / "local.jsonl"
    tag_folder(photos, tagger, reference, workers=0, batch_size=1)  # batches of 1 whatever is left to do
    fs = fsspec.filesystem("memory")
    lines = reference.read_text(encoding="utf-8").splitlines(keepends=True)
    fs.pipe_file("/bucket/run/tags.jsonl", "".join(lines[:3] + lines[5:]).encode())  # 2 photos not done yet
    fs.pipe_file("/bucket/run/tags.jsonl.run.json", run_record_path(reference).read_bytes())
    summary = tag_folder_ray(photos, tagger, "memory://bucket/run/tags.jsonl", loader=loader, resume=True,
                             batch_size=1, csv_path="memory://bucket/run/tags.csv", staging_dir=tmp_path / "elsewhere")
    done_before = sum(json.loads(line)["error"] is None for line in lines[:3] + lines[5:])
    assert summary.skipped == done_before and summary.images == 11 - done_before
    uploaded = fs.cat_file("/bucket/run/tags.jsonl").decode("utf-8")
    assert sorted(uploaded.splitlines()) == sorted_lines(reference)
    assert fs.cat_file("/bucket/run/tags.csv").decode("utf-8").count("\n") == 1 + sum(
        len(json.loads(line)["garments"]) for line in lines)
    runs = json.loads(fs.cat_file("/bucket/run/tags.jsonl.run.json"))["runs"]
    assert [r["engine"] for r in runs] == ["local", "ray"] and runs[-1]["finished"]


def test_cli_resumes_a_local_run_on_ray(local_ray, loader, photos, tmp_path):
    """`tag --engine ray --resume` finishes a run begun by the local engine (same settings; the
    engine is not one): the new photo and the 4 broken ones, retried, on 2 actors."""
    tagger: Tagger = loader.load()
    out = tmp_path / "mixed.jsonl"
    (photos / "street" / "gray.png").rename(tmp_path / "gray.png")  # not there for the first run
    tag_folder(photos, tagger, out, workers=0)
    (tmp_path / "gray.png").rename(photos / "street" / "gray.png")
    stdout = invoke("tag", photos, "--detector", loader.detector, "--classifier", loader.classifier, "--out", out,
                    "--score-threshold", SCORE, "--device", "cpu", "--resume", "--engine", "ray", "--actors", "2",
                    "--json")
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert (summary["images"], summary["skipped"], summary["errors"]) == (5, 6, 4)
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == len({r["path"] for r in records}) == 11
    assert [r["engine"] for r in json.loads(run_record_path(out).read_text())["runs"]] == ["local", "ray"]


def test_cli_names_the_missing_extra(monkeypatch, detector_run, photos, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` does where Ray is not installed
    result = runner.invoke(build_app(), ["tag", str(photos), "--detector", str(detector_run["model"]),
                                         "--out", str(tmp_path / "x.jsonl"), "--engine", "ray"])
    assert result.exit_code == 2 and 'pip install "garmentparse[ray]"' in " ".join(result.output.split())
    assert not (tmp_path / "x.jsonl").exists()


def test_gpus_per_actor_default_and_block_sizes():
    from garmentparse.tagging.ray_engine import block_count

    gpu = CheckpointLoader(detector="det.pt")
    assert RayOptions().actor_gpus(8, gpu) == 1.0  # a GPU cluster: one GPU per actor
    assert RayOptions().actor_gpus(0, gpu) == 0.0  # none there
    assert RayOptions().actor_gpus(8, CheckpointLoader(detector="det.pt", device="cpu")) == 0.0
    assert RayOptions().actor_gpus(8, None) == 0.0  # a shipped Tagger runs where it was loaded
    assert RayOptions(gpus_per_actor=0.5).actor_gpus(8, gpu) == 0.5  # two actors per GPU
    with pytest.raises(ValueError, match="actors"):
        RayOptions(actors=0)
    assert [block_count(n) for n in (1, 12, 200, 1600, 300_000)] == [1, 12, 200, 200, 37_500]
