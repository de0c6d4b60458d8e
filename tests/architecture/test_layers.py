"""The layer order of docs/architecture.md holds, and the check would catch a break.

``lint-imports`` (import-linter, contracts in pyproject.toml) also runs in ``make test`` before
pytest; these tests keep the contracts honest: they pass on the package as it is, and fail on a
copy with a planted upward import and on one with a planted cycle.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT.exists(), reason="import-linter is not installed (pip install -e '.[dev]')")


def lint(package_parent: Path) -> subprocess.CompletedProcess:
    """Run the pyproject contracts against the ``garmentparse`` found under ``package_parent``."""
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run([str(LINT), "--config", str(REPO / "pyproject.toml"), "--no-cache"],
                          cwd=package_parent, env=env, capture_output=True, text=True, timeout=120)


def planted_copy(tmp_path: Path, module: str, line: str) -> Path:
    shutil.copytree(REPO / "garmentparse", tmp_path / "garmentparse",
                    ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / "garmentparse" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}  # planted\n", encoding="utf-8")
    return tmp_path


def test_contracts_hold_for_the_package():
    result = lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


def test_planted_upward_import_is_caught(tmp_path):
    """The ground floor importing the CLI breaks the layers contract (and drags Rich in)."""
    result = lint(planted_copy(tmp_path, "vocab.py", "import garmentparse.cli.common"))
    assert result.returncode != 0
    assert "garmentparse.vocab is not allowed to import garmentparse.cli" in result.stdout
    assert "not allowed to import rich" in result.stdout


def test_planted_cycle_is_caught(tmp_path):
    """converters importing tagging is both an upward import and a cycle between siblings."""
    result = lint(planted_copy(tmp_path, "converters/coco.py", "import garmentparse.tagging"))
    assert result.returncode != 0
    assert "garmentparse.converters is not allowed to import garmentparse.tagging" in result.stdout
