"""The YAML config loader: _base_ chains, --set overrides, errors naming key and file."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from garmentparse.config import ConfigError, load_config


@dataclass
class Solver:
    lr: float = 0.1
    steps: list[int] = field(default_factory=list)


@dataclass
class Cfg:
    name: str = "x"
    solver: Solver = field(default_factory=Solver)
    amp: bool = False


def test_config_base_inheritance_and_overrides(tmp_path):
    (tmp_path / "base.yaml").write_text("name: base\nsolver:\n  lr: 0.5\n  steps: [1, 2]\n")
    (tmp_path / "child.yaml").write_text("_base_: base.yaml\nsolver:\n  lr: 0.25\n")
    cfg = load_config(Cfg, tmp_path / "child.yaml", ["amp=true", "solver.steps=[3]"])
    assert cfg == Cfg(name="base", solver=Solver(lr=0.25, steps=[3]), amp=True)


def test_config_unknown_key_names_key_and_file(tmp_path):
    (tmp_path / "base.yaml").write_text("solver:\n  lr: 0.5\n")
    (tmp_path / "bad.yaml").write_text("_base_: base.yaml\nsolver:\n  base_lrr: 0.1\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*solver\.base_lrr"):
        load_config(Cfg, tmp_path / "bad.yaml")
    with pytest.raises(ConfigError, match=r"--set.*solver\.lr.*number"):
        load_config(Cfg, tmp_path / "base.yaml", ["solver.lr=fast"])
