"""One database URL everywhere: engines, SQLite tuning, and migrations run from code.

``--db`` / ``GARMENTPARSE_DB`` / ``sqlite:///garmentparse.db``. SQLite gets WAL, a busy timeout
and ``BEGIN IMMEDIATE`` for write transactions, so many writers wait instead of failing with
"database is locked"; PostgreSQL (``postgresql+psycopg://``) and MySQL/MariaDB
(``mysql+pymysql://``) need nothing special.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

DEFAULT_URL = "sqlite:///garmentparse.db"
MIGRATIONS = Path(__file__).parent / "migrations"
_WRITE = "garmentparse_write"  # execution option: this transaction will write


def resolve_url(url: str | None = None) -> str:
    """The URL given, else ``$GARMENTPARSE_DB``, else a SQLite file in the current folder."""
    return url or os.environ.get("GARMENTPARSE_DB") or DEFAULT_URL


def create_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """An engine for ``url`` (see :func:`resolve_url`); SQLite files get WAL + busy timeout."""
    url = resolve_url(url)
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise ValueError(f"not a database URL: {url!r} (e.g. sqlite:///catalogue.db, "
                         "postgresql+psycopg://user@host/db, mysql+pymysql://user@host/db)") from None
    if parsed.get_backend_name() == "mysql":
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    kwargs.setdefault("json_serializer", _dumps)
    engine = sa.create_engine(parsed, **kwargs)
    if engine.dialect.name == "sqlite":
        _tune_sqlite(engine)
    return engine


def _dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def writer(engine: Engine) -> Engine:
    """The same engine, marked so SQLite takes the write lock when a transaction begins."""
    return engine.execution_options(**{_WRITE: True})


def _tune_sqlite(engine: Engine) -> None:
    database = engine.url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout = 30000")
        cur.execute("PRAGMA journal_mode = WAL")
        # Under WAL, NORMAL syncs at checkpoints, not at every commit: an application crash loses
        # nothing committed, a power cut at most the last commits, and the file is never corrupt.
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        # Up to 64 MiB of pages per connection (default 2): a batch of ingest inserts keeps the
        # indexes it touches in memory instead of re-reading them from the file.
        cur.execute("PRAGMA cache_size = -65536")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        # A deferred transaction that reads and then writes can fail at once with SQLITE_BUSY
        # (the busy timeout does not apply); writers take the lock up front and wait for it.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")


def alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Create or migrate the schema to ``revision``; returns the revision now in place."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)
    return current_revision(engine) or ""


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS)).get_current_head() or ""


class SchemaOutdated(RuntimeError):
    """The database is not at the migrations' head: run ``garmentparse db upgrade``."""


def check_schema(engine: Engine) -> None:
    """Raise :class:`SchemaOutdated` unless the database is migrated to the head revision."""
    have, want = current_revision(engine), head_revision()
    if have != want:
        where = engine.url.render_as_string(hide_password=True)
        raise SchemaOutdated(f"{where}: database schema is at {have or 'nothing'}, needs {want}; "
                             f"run: garmentparse db upgrade --db {where}")
