"""Release models by name: manifests, sha256 checks, the CLI, names in every model option, and
the shipped weights package (installed by `make setup`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from garmentparse import release
from garmentparse.checkpoint import FORMAT_VERSION, file_sha256, load_checkpoint
from tests.conftest import runner
from garmentparse.cli import build_app


def write_manifest(folder: Path, entries: list[dict]) -> None:
    (folder / release.MANIFEST).write_text(json.dumps({"format": 1, "models": entries}), encoding="utf-8")


def entry(name: str, task: str, file: Path, default: bool = True) -> dict:
    return {"name": name, "task": task, "file": file.name, "sha256": file_sha256(file), "default": default,
            "backbone": "tiny", "licence": "Apache-2.0", "metrics": {"held_out": {"box AP": 1.0}}}


@pytest.fixture()
def own_models(tmp_path, monkeypatch, detector_run, classifier_run) -> Path:
    """A weights folder of our own ($GARMENTPARSE_MODELS_DIR) with the tiny session models as defaults."""
    folder = tmp_path / "weights"
    folder.mkdir()
    det = shutil.copy(detector_run["model"], folder / "tiny-det.pt")
    cls = shutil.copy(classifier_run / "model.pt", folder / "tiny-cls.pt")
    write_manifest(folder, [entry("tiny-det", "detector", Path(det)), entry("tiny-cls", "classifier", Path(cls))])
    monkeypatch.setenv(release.MODELS_DIR_ENV, str(folder))
    release.reset_catalogue()
    yield folder
    release.reset_catalogue()


def cli(*args: object):
    return runner.invoke(build_app(), [str(a) for a in args])


def test_a_name_resolves_to_its_verified_file(own_models):
    assert release.resolve_model("tiny-det") == own_models / "tiny-det.pt"
    assert release.default_model("detector").name == "tiny-det"  # our folder is searched first
    assert load_checkpoint("tiny-cls", expect_kind="classifier").kind == "classifier"
    with pytest.raises(ValueError, match="tiny-cls is a classifier model, not a detector"):
        release.get_model("tiny-cls", "detector")
    path = own_models / "tiny-det.pt"
    assert release.resolve_model(path) == path  # a path stays a path


def test_unknown_name_lists_the_names_and_exits_2(own_models, ccp_dir):
    with pytest.raises(release.UnknownModelError, match="unknown model 'nope'.*tiny-det"):
        release.resolve_model("nope")
    result = cli("tag", ccp_dir / "images" / "0001.jpg", "--out", own_models / "t.jsonl", "--detector", "nope")
    assert result.exit_code == 2 and "tiny-det" in result.output
    result = cli("models", "info", "nope")
    assert result.exit_code == 2 and "unknown model 'nope'" in result.output


def test_a_changed_weights_file_is_refused_naming_both_hashes(own_models):
    path = own_models / "tiny-det.pt"
    expected = file_sha256(path)
    with open(path, "ab") as fh:
        fh.write(b"tampered")
    release.reset_catalogue()
    with pytest.raises(release.WeightsHashError) as err:
        release.resolve_model("tiny-det")
    assert expected in str(err.value) and file_sha256(path) in str(err.value)
    assert cli("models", "info", "tiny-det").exit_code == 2


def test_a_checkpoint_of_a_newer_format_says_which_version(tmp_path, detector_run):
    data = torch.load(detector_run["model"], weights_only=True)
    data["format_version"] = FORMAT_VERSION + 1
    newer = tmp_path / "newer.pt"
    torch.save(data, newer)
    with pytest.raises(ValueError, match=f"format version {FORMAT_VERSION + 1}.*up to {FORMAT_VERSION}"):
        load_checkpoint(newer)


def test_models_list_and_info(own_models):
    result = cli("models", "list", "--json")
    assert result.exit_code == 0, result.output
    listed = {m["name"]: m for m in json.loads(result.stdout)}
    assert listed["tiny-det"]["task"] == "detector" and listed["tiny-det"]["size_bytes"] > 0
    assert listed["tiny-cls"]["licence"] == "Apache-2.0"
    info = json.loads(cli("models", "info", "tiny-cls", "--json").stdout)
    assert info["sha256_checked"] and info["sha256"] == file_sha256(own_models / "tiny-cls.pt")
    table = cli("models", "list")
    assert table.exit_code == 0 and "tiny-det" in table.output and "*" in table.output


def test_tag_with_no_model_options_uses_the_default_pair(own_models, ccp_dir, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for p in sorted((ccp_dir / "images").glob("*.jpg"))[:2]:
        shutil.copy(p, photos)
    out = tmp_path / "tags.jsonl"
    result = cli("tag", photos, "--out", out, "--workers", "0", "--device", "cpu", "--score-threshold", "0.05")
    assert result.exit_code == 0, result.output
    record = json.loads(Path(str(out) + ".run.json").read_text())
    files = json.dumps(record)
    assert "tiny-det" in files and "tiny-cls" in files
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 2
    garments = [g for line in lines for g in line["garments"]]
    assert garments and all("attributes" in g or "category" in json.dumps(g) for g in garments)


def test_fine_tuning_starts_from_a_release_model_by_name(own_models, detector_run):
    from garmentparse.parsing.config import config_from_dict
    from garmentparse.parsing.model import build_model, initialise

    ckpt = load_checkpoint("tiny-det")
    cfg = config_from_dict({**ckpt.config, "model": {**ckpt.config["model"], "init": "tiny-det"}})
    model = build_model(cfg, len(ckpt.vocabulary["part"]) + 1)  # + background
    report = initialise(model, cfg.model)
    assert report.loaded == report.total  # every tensor of the same architecture came from the release


# ------------------------------------------------------------------ the shipped weights package

V2_BUNDLED_HELD = 0.6  # measured 6 of 10 (v1: see the assertion; 81 % on the 549 test photos)
DEFAULTS = ("ccp-products-lite0-detector", "ccp-products-lite0-classifier", "ccp-products-lite0-embedder")
V1 = ("ccp-lite0-detector", "ccp-lite0-classifier", "ccp-lite0-embedder")
SHIPPED = DEFAULTS + V1


def shipped() -> list[str]:
    release.reset_catalogue()
    return [n for n in SHIPPED if n in release.catalogue() and release.catalogue()[n].package == release.WEIGHTS_PACKAGE]


@pytest.mark.skipif(len(shipped()) < 6, reason="garmentparse-models not installed (make setup installs it)")
def test_the_shipped_models_verify_and_load():
    for name in SHIPPED:
        model = release.get_model(name)
        assert release.verify(model).is_file() and model.default == (name in DEFAULTS)
        ckpt = load_checkpoint(name)
        assert ckpt.kind == model.task
        assert "optimizer" not in ckpt.extra  # no training state shipped
        assert model.card["metrics"]["held_out"], name
    assert [release.default_model(t).name for t in ("detector", "classifier", "embedder")] == list(DEFAULTS)
    heads = load_checkpoint("ccp-products-lite0-classifier").vocabulary
    assert {"category", "colour", "sleeve_length", "length"} <= set(heads)
    total = sum(release.get_model(n).size_bytes for n in SHIPPED)
    assert total < 100 * 2**20


@pytest.mark.skipif(len(shipped()) < 6, reason="garmentparse-models not installed (make setup installs it)")
def test_tag_with_the_shipped_pair_finds_garments(ccp_dir, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for p in sorted((ccp_dir / "images").glob("*.jpg"))[:2]:
        shutil.copy(p, photos)
    out = tmp_path / "tags.jsonl"
    result = cli("tag", photos, "--out", out, "--workers", "0", "--device", "cpu")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    garments = [g for line in lines for g in line["garments"]]
    assert len(garments) >= 2
    assert all(g["part"] in ("top", "bottom", "outer", "onepiece") for g in garments)
    assert all("category" in g["attributes"] and "colour" in g["attributes"] for g in garments)


@pytest.mark.skipif(len(shipped()) < 6, reason="garmentparse-models not installed (make setup installs it)")
def test_the_default_pair_reads_the_bundled_product_photos(tmp_path):
    """The 12 bundled CC0 product photos (photographers of the v2 test split, never trained on):
    the contract of docs/models.md holds on most of the ten contract photos, hats and shoes get no
    garment; v1 by name still tags."""
    from tests.conftest import EXAMPLES, invoke

    products = EXAMPLES / "products"
    coco = tmp_path / "products.json"
    invoke("convert", "photos", products / "labels.csv", "--images", products / "images", "--out", coco)
    summaries = {}
    for pair in ((), ("--detector", "ccp-lite0-detector", "--classifier", "ccp-lite0-classifier")):
        out = tmp_path / f"tags{len(pair)}.jsonl"
        invoke("tag", products / "images", "--out", out, "--device", "cpu", *pair)
        summaries[pair] = json.loads(invoke("eval", "products", out, "--coco", coco, "--json").strip().splitlines()[-1])
    v2, v1 = summaries[()]["contract_classes"], summaries[pair]["contract_classes"]
    assert v2["held"] >= V2_BUNDLED_HELD and v2["held"] > v1["held"], (v2, v1)
    assert v2["per_class"]["Hat"]["held"] + v2["per_class"]["Shoes"]["held"] >= 1
