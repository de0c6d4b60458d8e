"""`serve` registers products with the models `tag` uses by default (the release pair), with
none on `--detector none`, and names them when it starts."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from garmentparse.cli import build_app
from garmentparse.release import default_model


@pytest.mark.parametrize("extra, expected", [
    ([], (default_model("detector").name, default_model("classifier").name)),
    (["--classifier", "none"], (default_model("detector").name, None)),
    (["--detector", "none"], None),
])
def test_serve_uses_tags_default_models(tmp_path, monkeypatch, extra, expected):
    import uvicorn

    from garmentparse.store import Store

    sqlite_url = f"sqlite:///{tmp_path / 'catalogue.db'}"
    Store.upgrade(sqlite_url).close()

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(app))
    result = CliRunner().invoke(build_app(), ["serve", "--db", sqlite_url, "--uploads", str(tmp_path / "up"), *extra])
    assert result.exit_code == 0, result.output
    app = calls[-1]
    app.state.store.close()
    said = " ".join(result.output.split())
    if expected is None:
        assert app.state.tagging is None and "(models: none;" in said
    else:
        assert app.state.tagging is not None
        assert f"(models: {', '.join(m for m in expected if m)};" in said
