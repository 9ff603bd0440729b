"""Alembic environment: the engine comes from sync.server.db (no alembic.ini)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import sync.server.models  # noqa: F401  (registers the tables)

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
