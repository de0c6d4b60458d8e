"""Configs: every YAML under configs/classification loads through the shared loader."""

from __future__ import annotations

import pytest
import yaml

from garmentparse.classifiers import BACKBONES, ClassifierConfig, load_classifier_config
from garmentparse.config import ConfigError, from_dict, to_dict

from tests.conftest import REPO, CLS_TINY, invoke

CONFIGS = sorted((REPO / "configs" / "classification").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_every_config_loads_and_round_trips(path):
    cfg = load_classifier_config(path)
    assert cfg.model.backbone in BACKBONES
    assert from_dict(ClassifierConfig, to_dict(cfg)) == cfg


def test_base_heads_and_label_kinds():
    cfg = load_classifier_config(REPO / "configs/classification/base.yaml")
    names = [h.attribute for h in cfg.model.heads]
    assert {"category", "colour", "sleeve_length", "neckline", "fit", "print"} <= set(names)
    assert cfg.head("print").multi_label is True  # from the vocabulary
    assert cfg.head("category").multi_label is False


def test_set_overrides_and_errors():
    cfg = load_classifier_config(CLS_TINY, ["solver.lr=0.01", "model.split=shared_dense",
                                        "model.heads=[{attribute: material}, {attribute: fit}]"])
    assert cfg.solver.lr == 0.01 and cfg.model.split == "shared_dense"
    assert [h.attribute for h in cfg.model.heads] == ["material", "fit"]
    assert cfg.head("material").multi_label is True
    with pytest.raises(ConfigError, match="solver.lrr"):
        load_classifier_config(CLS_TINY, ["solver.lrr=0.01"])
    with pytest.raises(ConfigError, match="pooled"):
        load_classifier_config(CLS_TINY, ["model.split=middle"])
    with pytest.raises(ConfigError, match="not one of"):
        load_classifier_config(CLS_TINY, ["model.heads=[{attribute: smell}]"])


def test_hue_jitter_refused_with_a_colour_head():
    with pytest.raises(ConfigError, match="colour"):
        load_classifier_config(CLS_TINY, ["augment.hue=0.05"])
    cfg = load_classifier_config(CLS_TINY, ["augment.hue=0.05", "model.heads=[{attribute: category}]",
                                        "data.balance_head=null"])
    assert cfg.augment.hue == 0.05


def test_print_config_cli():
    text = invoke("train", "classifier", "--config", CLS_TINY, "--set", "train.epochs=7", "--print-config")
    data = yaml.safe_load(text)
    assert data["train"]["epochs"] == 7
    assert data["model"]["backbone"] == load_classifier_config(CLS_TINY).model.backbone
