"""Fixtures for the workspace server: a real server on 127.0.0.1, on SQLite and on
PostgreSQL (see tests/live_server.py for where PostgreSQL comes from)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.live_server import (
    LiveServer,
    PostgresCluster,
    PostgresUnavailable,
    postgres_cluster,
    running_server,
)

#: Set by .ci/run: a missing PostgreSQL fails the run instead of skipping its tests.
REQUIRE_POSTGRES = "CAIRN_REQUIRE_POSTGRES"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster | None]:
    try:
        cluster = postgres_cluster()
    except PostgresUnavailable:
        if os.environ.get(REQUIRE_POSTGRES):
            raise
        yield None
        return
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    postgres: PostgresCluster | None,
) -> Iterator[LiveServer]:
    """One server per test module and database; tests keep apart by making their own
    workspaces and people."""
    if request.param == "postgresql" and postgres is None:
        pytest.skip(f"PostgreSQL is not available here (set {REQUIRE_POSTGRES} to make this fail)")
    folder = tmp_path_factory.mktemp(f"server-{request.param}")
    with running_server(folder, request.param, postgres) as live:
        yield live
