"""The store commands end to end through the real CLI on a SQLite file (and PostgreSQL for upgrade)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from garmentparse.cli import build_app
from garmentparse.converters.coco import load_coco
from garmentparse.store import Store
from garmentparse.store.db import head_revision


@pytest.fixture
def cli():
    app, runner = build_app(), CliRunner()

    def run(*args: str, input: str | None = None, ok: bool = True):
        result = runner.invoke(app, list(args), input=input)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return run


def test_upgrade_ingest_users_export(cli, sqlite_url, tag_output, tmp_path, ccp_dir):
    db = ["--db", sqlite_url]
    assert f"revision {head_revision()}" in cli("db", "upgrade", *db).output
    assert f"revision {head_revision()}" in cli("db", "upgrade", *db).output  # again: nothing to do, no error
    with open(tag_output, "a", encoding="utf-8") as fh:
        fh.write('{"path": "x.jpg"}\n')
    first = cli("ingest", str(tag_output), *db, "--images", str(ccp_dir / "images"), "--json")
    rep = json.loads(first.stdout.strip().splitlines()[-1])
    assert rep["counts"]["garments"] > 0 and rep["counts"]["bad_lines"] == 1
    bad_line = next(p for p in rep["problems"] if p["reason"] == "schema")
    assert bad_line["file"] == f"{tag_output}:26" and bad_line["detail"] == "missing width, height, garments, error"
    assert "schema: missing width, height, garments, error" in " ".join(first.stderr.split())
    again = json.loads(cli("ingest", str(tag_output), *db, "--json").stdout.strip().splitlines()[-1])
    assert again["counts"].get("garments", 0) == 0
    assert cli("ingest", str(tag_output), *db, "--strict", ok=False).exit_code == 1

    cli("users", "add", "mina", "--role", "reviewer", "--password-stdin", *db, input="a good password\n")
    cli("users", "add", "ana", "--password-stdin", *db, input="another password\n")
    cli("users", "set-role", "ana", "admin", *db)
    listed = json.loads(cli("users", "list", *db, "--json").stdout)
    assert [(u["name"], u["role"]) for u in listed] == [("ana", "admin"), ("mina", "reviewer")]
    with Store.open(sqlite_url) as store:
        token = store.start_session("mina")
    assert "ended 1 session of mina" in cli("users", "revoke", "mina", *db).output
    cli("users", "set-password", "mina", "--password-stdin", *db, input="a better password\n")
    with Store.open(sqlite_url) as store:
        assert store.session_user(token) is None and store.authenticate("mina", "a better password").name == "mina"
    assert cli("users", "revoke", "nobody", *db, ok=False).exit_code != 0
    gone = cli("users", "remove", "nobody", *db, ok=False)
    assert gone.exit_code == 2 and "no user 'nobody'" in gone.output
    bad = cli("users", "add", "x", "--role", "owner", "--password-stdin", *db, input="long password\n", ok=False)
    assert bad.exit_code == 2 and "unknown role" in bad.output

    empty = cli("export", *db, "--format", "coco", "--out", str(tmp_path / "coco"))
    assert "no garments in state confirmed, corrected yet" in " ".join(empty.output.split())
    assert load_coco(tmp_path / "coco" / "coco.json")["annotations"] == []
    full = cli("export", *db, "--format", "coco", "--out", str(tmp_path / "all"), "--state", "predicted")
    assert "wrote" in full.output and load_coco(tmp_path / "all" / "coco.json")["annotations"]
    no_images = cli("export", *db, "--format", "manifest", "--out", str(tmp_path / "m"), ok=False)
    assert no_images.exit_code == 2 and "--images" in no_images.output


def test_commands_on_an_unmigrated_database_say_what_to_run(cli, sqlite_url, tag_output):
    result = cli("ingest", str(tag_output), "--db", sqlite_url, ok=False)
    assert result.exit_code == 2 and "garmentparse db upgrade" in result.output
    assert "Traceback" not in result.output


def test_db_url_from_the_environment(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("GARMENTPARSE_DB", f"sqlite:///{tmp_path / 'env.db'}")
    cli("db", "upgrade")
    assert (tmp_path / "env.db").is_file()


def test_upgrade_on_postgresql(cli, postgresql_server):
    from .conftest import _fresh_database

    url = _fresh_database(postgresql_server)
    assert f"revision {head_revision()}" in cli("db", "upgrade", "--db", url).output
