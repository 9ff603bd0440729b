"""Fixtures for the sync client: a real workspace server on 127.0.0.1 (SQLite: the
client's behaviour does not depend on the server's database, whose own tests run on
PostgreSQL too) and a fault-injecting proxy in front of it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import col, select

from sync.client import WorkspaceClient
from sync.protocol import (
    SUBMISSION_FORMAT,
    AssetSnapshot,
    EnrolResponse,
    SignedDocument,
    SubmissionPayload,
    sign_document,
)
from sync.server.models import Submission
from tests.live_server import LiveServer, running_server
from tests.server.client import Org, make_invite, make_org, snapshot
from tests.sync.proxy import FaultProxy


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server per test module; tests keep apart by making their own workspaces, and
    enrol afresh, so a test that changes the server's key disturbs no other."""
    with running_server(tmp_path_factory.mktemp("sync-server"), "sqlite") as live:
        yield live


@pytest.fixture
def proxy(server: LiveServer) -> Iterator[FaultProxy]:
    with FaultProxy(server.port) as faulty:
        yield faulty


# --------------------------------------------------------------------- helpers


@dataclass
class Device:
    """A space that has enrolled through the client: its identity key and the client."""

    client: WorkspaceClient
    identity: Ed25519PrivateKey
    enrolment: EnrolResponse
    org: Org

    def payload(
        self, assets: list[AssetSnapshot] | None = None, point_id: str | None = None
    ) -> SubmissionPayload:
        return SubmissionPayload(
            submission_id=uuid.uuid4(),
            workspace_id=self.enrolment.workspace.id,
            point_id=uuid.UUID(point_id or self.org.point_id),
            identity_key=self.identity.public_key().public_bytes_raw().hex(),
            created_at=datetime.now(UTC),
            assets=assets or [snapshot()],
        )

    def signed(self, assets: list[AssetSnapshot] | None = None) -> SignedDocument:
        return sign_document(self.identity, SUBMISSION_FORMAT, self.payload(assets))

    def restarted(self, url: str | None = None, **options: Any) -> WorkspaceClient:
        """A new client from what the app keeps (token, keys): the app after a restart."""
        keys = self.client.keys
        assert keys is not None
        assert self.client.token
        return WorkspaceClient(url or self.client.base_url, token=self.client.token,
                               pinned_key=keys.current, earlier_keys=keys.earlier,
                               **options)  # fmt: skip


def enrol_device(
    server: LiveServer, url: str | None = None, *, org: Org | None = None,
    mode: str = "locked", email: str | None = None, **options: Any,
) -> Device:  # fmt: skip
    """A new person (or ``email``'s new device) in ``org`` (a new one by default),
    enrolled with the client at ``url`` (the server itself by default)."""
    org = org or make_org(server, mode=mode)
    identity = Ed25519PrivateKey.generate()
    client = WorkspaceClient(url or server.url, **options)
    enrolment = client.enrol(
        make_invite(server, org, email=email), identity.public_key().public_bytes_raw(), "Laptop"
    )
    return Device(client=client, identity=identity, enrolment=enrolment, org=org)


def submissions_with_id(server: LiveServer, submission_id: uuid.UUID) -> list[Submission]:
    with server.session() as session:
        return list(
            session.exec(select(Submission).where(col(Submission.id) == str(submission_id)))
        )
