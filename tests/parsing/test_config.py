"""Detector configs: the shipped files load, `_base_` inherits, overrides apply, and every
mistake is an error that names the key (and the file where the loader knows it)."""

from __future__ import annotations


import pytest
import yaml

from garmentparse.config import to_dict
from garmentparse.parsing import ConfigError, DetectorConfig, load_detector_config

from tests.conftest import REPO, DET_TINY, invoke

CONFIGS = sorted((REPO / "configs" / "detection").glob("*.yaml"))


def test_shipped_configs_load():
    names = {p.stem for p in CONFIGS}
    assert {"base", "r50_fpn_v2", "cpu_light", "tiny"} <= names
    for path in CONFIGS:
        assert isinstance(load_detector_config(path), DetectorConfig)


def test_base_chain_and_overrides():
    tiny = load_detector_config(DET_TINY)
    assert tiny.model.backbone == "resnet18_fpn"  # tiny.yaml
    assert tiny.solver.optimizer == "adamw"  # from cpu_light.yaml
    assert tiny.augment.hflip == 0.5  # from base.yaml
    gpu = load_detector_config(REPO / "configs/detection/r50_fpn_v2.yaml")
    assert gpu.model.backbone == "resnet50_fpn_v2" and gpu.train.amp
    over = load_detector_config(DET_TINY, ["solver.base_lr=0.01", "input.min_size_train=[64, 80]",
                                       "model.init=coco"])
    assert over.solver.base_lr == 0.01 and over.input.min_size_train == [64, 80]
    assert over.model.init == "coco"


def test_print_config_round_trips(tmp_path):
    text = invoke("train", "detector", "--config", DET_TINY, "--set", "solver.max_iter=7", "--print-config")
    data = yaml.safe_load(text)
    assert data["solver"]["max_iter"] == 7
    saved = tmp_path / "resolved.yaml"
    saved.write_text(text)
    assert to_dict(load_detector_config(saved)) == to_dict(load_detector_config(DET_TINY, ["solver.max_iter=7"]))


@pytest.mark.parametrize("body, key", [
    ("solver:\n  lr: 0.1\n", "solver.lr"),  # unknown key
    ("model:\n  backbon: resnet18_fpn\n", "model.backbon"),  # typo
    ("solver:\n  max_iter: ten\n", "solver.max_iter"),  # wrong type
    ("data:\n  sampler: balanced\n", "data.sampler"),  # not a choice
])
def test_config_errors_name_key_and_file(tmp_path, body, key):
    path = tmp_path / "bad.yaml"
    path.write_text(f"_base_: {DET_TINY}\n{body}")
    with pytest.raises(ConfigError) as err:
        load_detector_config(path)
    assert key in str(err.value) and str(path) in str(err.value)


@pytest.mark.parametrize("override, key", [
    ("model.init=weights.txt", "model.init"),
    ("input.max_size_train=64", "input.max_size_train"),
    ("augment.hflip=1.5", "augment.hflip"),
    ("solver.steps=[30, 10]", "solver.steps"),
])
def test_semantic_errors_name_key(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_detector_config(DET_TINY, [override])


def test_cli_config_error_exit_code(tmp_path):
    from typer.testing import CliRunner

    from garmentparse.cli import build_app

    result = CliRunner().invoke(build_app(), ["train", "detector", "--config", str(DET_TINY), "--set",
                                              "solver.maxiter=3", "--print-config"])
    assert result.exit_code == 2
    assert "solver.maxiter" in result.output
