"""The Alembic migrations build exactly the tables the models describe, on SQLite and on
PostgreSQL, and running them again (every server start does) changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, inspect, text
from sqlmodel import SQLModel

import sync.server.models
from sync.server.config import ServerSettings
from sync.server.db import alembic_config, make_engine, migrate
from tests.live_server import PostgresCluster


def server_metadata() -> MetaData:
    """The server's tables only: the desktop's store (store/tables.py) shares
    SQLModel.metadata, and the test run imports both."""
    metadata = MetaData()
    for model in vars(sync.server.models).values():
        if (
            isinstance(model, type)
            and issubclass(model, SQLModel)
            and model.__module__ == sync.server.models.__name__
            and hasattr(model, "__table__")
        ):
            model.__table__.to_metadata(metadata)
    return metadata


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(
    request: pytest.FixtureRequest, tmp_path: Path, postgres: PostgresCluster | None
) -> Iterator[Engine]:
    """An engine on a new, empty database."""
    url = None
    if request.param == "postgresql":
        if postgres is None:
            pytest.skip("PostgreSQL is not available here (set CAIRN_REQUIRE_POSTGRES to fail)")
        url = postgres.new_database()
    engine = make_engine(ServerSettings(data_dir=tmp_path, database_url=url))
    try:
        yield engine
    finally:
        engine.dispose()
        if postgres is not None and url:
            postgres.drop_database(url)


def _schema(engine: Engine) -> dict[str, Any]:
    """Every table's columns, indexes, keys and the recorded revision, as plain data."""
    with engine.connect() as connection:
        inspector = inspect(connection)
        schema: dict[str, Any] = {
            table: (
                [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
                sorted(str(sorted(i.items())) for i in inspector.get_indexes(table)),
                sorted(str(sorted(k.items())) for k in inspector.get_foreign_keys(table)),
                inspector.get_pk_constraint(table)["constrained_columns"],
            )
            for table in inspector.get_table_names()
        }
        schema["revision"] = MigrationContext.configure(connection).get_current_revision()
    return schema


def test_migrating_an_empty_database_builds_exactly_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        assert inspect(connection).get_table_names() == []

    migrate(engine)

    expected = server_metadata()
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, expected)
        tables = set(inspect(connection).get_table_names())
        revision = context.get_current_revision()
    # A model changed without a migration (or the other way round) shows up here: write
    # a new revision in sync/server/migrations/versions/.
    assert differences == []
    assert tables == set(expected.tables) | {"alembic_version"}
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    assert revision == head


def test_migrating_again_changes_nothing_and_keeps_the_data(engine: Engine) -> None:
    migrate(engine)
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO workspace (id, name, created_at) VALUES ('w1', 'Kept', :now)"),
            {"now": "2026-01-01 00:00:00+00:00"},
        )
    before = _schema(engine)

    migrate(engine)

    assert _schema(engine) == before
    with engine.connect() as connection:
        names = connection.execute(text("SELECT name FROM workspace")).scalars().all()
    assert names == ["Kept"]
