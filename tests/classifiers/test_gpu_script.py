"""scripts/gpu_classifier.sh on CPU with tiny settings: the lent-GPU run must have no typos."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_gpu_script_cpu_path(tmp_path, ccp_dir):
    out = tmp_path / "out"
    env = {**os.environ, "OUT": str(out), "CONFIG": "configs/classification/tiny.yaml", "MINUTES": "0.5",
           "DEVICE": "cpu", "CROP_SIZE": "64", "WORKERS": "1", "WORK": str(tmp_path / "work"),
           "SETS": "train.epochs=2;model.heads=[{attribute: category},{attribute: colour}]",
           "OMP_NUM_THREADS": "1", "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"}
    proc = subprocess.run(["bash", "scripts/gpu_classifier.sh", str(ccp_dir)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    heads = json.loads((out / "eval_test.json").read_text())
    assert set(heads) == {"category", "colour"} and heads["category"]["n"] > 0
    assert (out / "eval" / "confusion_category.png").is_file()
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2
    assert "held-out crops" in proc.stdout
