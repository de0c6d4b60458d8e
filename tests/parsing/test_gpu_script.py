"""scripts/gpu_detector.sh stays runnable: valid bash, and every repo file it names exists.
(Its CPU path was run end to end with tiny settings; see the script header for the command.)"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.conftest import REPO

SCRIPT = REPO / "scripts" / "gpu_detector.sh"


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_gpu_script_parses_and_names_existing_files():
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)
    text = SCRIPT.read_text()
    for rel in set(re.findall(r"\$REPO/([\w./-]+)", text)):
        assert (REPO / rel).exists(), rel
    for command in ("convert kfashion", "split", "train detector", "eval detector"):
        assert f"garmentparse {command}" in text


def test_gpu_script_requires_its_inputs(tmp_path):
    result = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode != 0 and "usage" in result.stderr
    result = subprocess.run(["bash", str(SCRIPT), str(tmp_path)], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "OUT": str(tmp_path / "out")})
    assert result.returncode == 2 and "images/ and labels/" in result.stdout + result.stderr
