"""Shared fixtures: paths to the real sample data bundled in examples/ and ../shared/data."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
SHARED_DATA = REPO.parent / "shared" / "data"


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
