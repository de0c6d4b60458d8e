"""The migration builds exactly the models' schema, on every database, and upgrading twice is harmless."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from garmentparse.store import SchemaOutdated, Store
from garmentparse.store.db import create_engine, current_revision, head_revision, resolve_url
from garmentparse.store.models import Base, User, utcnow


def test_migration_matches_models_and_upgrade_is_idempotent(db_url):
    with Store.upgrade(db_url) as store:
        assert current_revision(store.engine) == head_revision()
    with Store.upgrade(db_url) as store:  # a second upgrade: no error, same revision
        assert current_revision(store.engine) == head_revision()
        with store.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, Base.metadata)
        assert diff == []
        assert set(sa.inspect(store.engine).get_table_names()) >= {
            "products", "blobs", "photos", "tag_runs", "garments", "predictions", "accepted", "corrections", "users"}


def test_times_come_back_aware_utc(db_url):
    with Store.upgrade(db_url) as store:
        user = store.add_user("ana", "long enough password", "viewer")
        assert user.created_at.tzinfo is not None and user.created_at.utcoffset().total_seconds() == 0
        assert abs((user.created_at - utcnow()).total_seconds()) < 60
        # a non-UTC aware time is stored as the same instant
        from datetime import timedelta

        seoul = datetime(2026, 1, 1, 9, 0, tzinfo=timezone(timedelta(hours=9)))
        with store.engine.begin() as conn:
            conn.execute(sa.update(User).where(User.name == "ana").values(created_at=seoul))
        assert store.user("ana").created_at == datetime(2026, 1, 1, 0, 0, tzinfo=timezone.utc)


def test_open_refuses_an_unmigrated_database(sqlite_url):
    with pytest.raises(SchemaOutdated, match="garmentparse db upgrade"):
        Store.open(sqlite_url)


def test_url_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("GARMENTPARSE_DB", raising=False)
    assert resolve_url() == "sqlite:///garmentparse.db"
    monkeypatch.setenv("GARMENTPARSE_DB", "sqlite:////tmp/x.db")
    assert resolve_url() == "sqlite:////tmp/x.db"
    assert resolve_url("postgresql+psycopg://u@h/d") == "postgresql+psycopg://u@h/d"
    with pytest.raises(ValueError, match="not a database URL"):
        create_engine("nonsense")


def test_sqlite_is_in_wal_mode(sqlite_url):
    with Store.upgrade(sqlite_url) as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
