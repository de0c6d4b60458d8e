"""The shared ``train:`` section: the same keys in both stages, renamed keys refused with the
new name (YAML and --set), migrated silently in old checkpoints, and configs that need no torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

from garmentparse.classifiers.config import ClassifierConfig, load_classifier_config
from garmentparse.config import ConfigError, from_dict, to_dict
from garmentparse.engine.config import TrainConfig
from garmentparse.parsing.config import DetectorConfig, load_detector_config
from tests.conftest import CLS_TINY, DET_TINY, REPO

RENAMES = [
    (load_detector_config, DET_TINY, "model.amp", "false", "train.amp"),
    (load_detector_config, DET_TINY, "solver.clip_grad_norm", "1.0", "train.grad_clip"),
    (load_detector_config, DET_TINY, "solver.time_budget_s", "60", "train.time_budget_s"),
    (load_classifier_config, CLS_TINY, "data.seed", "1", "train.seed"),
    (load_classifier_config, CLS_TINY, "train.max_minutes", "5", "train.time_budget_s"),
]


def old_detector_layout() -> dict:
    """Today's defaults in the layout checkpoints were saved with before the shared section."""
    data = to_dict(DetectorConfig())
    train = data["train"]
    data["model"]["amp"] = train.pop("amp")
    data["solver"]["clip_grad_norm"] = train.pop("grad_clip")
    data["solver"]["time_budget_s"] = train.pop("time_budget_s")
    for key in ("patience", "monitor"):
        del train[key]
    return data


def old_classifier_layout(minutes: float | None = 5) -> dict:
    data = to_dict(ClassifierConfig())
    train = data["train"]
    data["data"]["seed"] = train.pop("seed")
    del train["time_budget_s"]
    train["max_minutes"] = minutes
    for key in ("checkpoint_period", "log_period", "eval_period"):
        del train[key]
    return data


def test_both_stages_share_the_train_section():
    det, cls = DetectorConfig().train, ClassifierConfig().train
    shared = {f for f in TrainConfig.__dataclass_fields__}
    assert isinstance(det, TrainConfig) and isinstance(cls, TrainConfig)
    assert shared == {"seed", "amp", "grad_clip", "time_budget_s", "checkpoint_period", "log_period",
                      "eval_period", "patience", "monitor", "accumulate", "sync_bn", "find_unused_parameters",
                      "dist_timeout_s"}
    assert shared <= set(to_dict(det)) and shared <= set(to_dict(cls))


@pytest.mark.parametrize("load, base, old, value, new", RENAMES, ids=[r[2] for r in RENAMES])
def test_renamed_key_names_the_new_one(tmp_path, load, base, old, value, new):
    with pytest.raises(ConfigError, match=rf"'{old}' was renamed to '{new}'") as err:
        load(base, [f"{old}={value}"])
    assert "--set" in str(err.value)
    section, key = old.split(".")
    path = tmp_path / "old.yaml"
    path.write_text(f"_base_: {base}\n{section}:\n  {key}: {value}\n")
    with pytest.raises(ConfigError, match=rf"'{old}' was renamed to '{new}'") as err:
        load(path)
    assert str(path) in str(err.value)


def test_old_saved_configs_migrate():
    det = from_dict(DetectorConfig, old_detector_layout() | {"solver": {**old_detector_layout()["solver"],
                                                                        "clip_grad_norm": 2.0}})
    assert det.train.grad_clip == 2.0 and det.train.amp is True and det == from_dict(DetectorConfig, to_dict(det))
    cls = from_dict(ClassifierConfig, old_classifier_layout(5))
    assert cls.train.time_budget_s == 300 and cls.train.seed == 0
    assert from_dict(ClassifierConfig, old_classifier_layout(None)).train.time_budget_s == 0


def test_unknown_and_invalid_shared_keys():
    with pytest.raises(ConfigError, match="train.monitor"):
        load_detector_config(DET_TINY, ["train.monitor=accuracy"])
    with pytest.raises(ConfigError, match="train.monitor"):
        load_classifier_config(CLS_TINY, ["train.monitor=segm.AP"])
    with pytest.raises(ConfigError, match="train.grad_clip"):
        load_classifier_config(CLS_TINY, ["train.grad_clip=-1"])


def test_config_modules_import_no_torch():
    code = ("import sys, garmentparse.parsing.config, garmentparse.classifiers.config, garmentparse.engine.config; "
            "garmentparse.parsing.load_detector_config(sys.argv[1]); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code, str(DET_TINY)], check=True, cwd=REPO)
