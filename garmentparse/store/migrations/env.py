"""Alembic environment: run from code (``garmentparse db upgrade``), batch mode for SQLite."""

from __future__ import annotations

from alembic import context

from garmentparse.store.models import Base

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
