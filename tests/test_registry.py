"""Registries: duplicates refused, providers imported on the first lookup."""

from __future__ import annotations

import pytest

from garmentparse.registry import Registry


def test_registry_rejects_duplicates():
    reg: Registry = Registry("backbone")
    reg.register("a")(1)
    with pytest.raises(KeyError, match="already registered"):
        reg.register("a")(2)
    with pytest.raises(KeyError, match="known: a"):
        reg.get("b")
    assert reg.names() == ["a"]


def test_providers_are_imported_on_first_lookup(tmp_path, monkeypatch):
    """Naming an entry imports nothing; the first lookup imports the provider, which registers
    itself (so the registry never imports implementations at import time)."""
    import sys

    (tmp_path / "gp_fake_provider.py").write_text(
        "from tests.test_registry import FAKES\n@FAKES.register('small')\ndef small():\n    return 1\n",
        encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "gp_fake_provider" not in sys.modules
    assert FAKES.get("small")() == 1 and "gp_fake_provider" in sys.modules
    assert FAKES.names() == ["small"] and "small" in FAKES
    with pytest.raises(KeyError, match="unknown fake 'big'; known: small"):
        FAKES.get("big")


FAKES: Registry = Registry("fake", providers=["gp_fake_provider"])
