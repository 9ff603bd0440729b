"""Test-side helpers: set up workspaces and people on a live server, and act as a
desktop app over HTTP (enrol, sign, submit) with plain ``requests``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.protocol import (
    SUBMISSION_FORMAT,
    AssetSnapshot,
    AttachmentRef,
    SignedDocument,
    SnapshotField,
    SubmissionPayload,
    sign_document,
)
from sync.server import directory
from tests.live_server import LiveServer


@dataclass
class Org:
    """A workspace with one submission point, made straight in the server's database."""

    workspace_id: str
    name: str
    point_id: str


def make_org(server: LiveServer, *, mode: str = "locked", deadline: datetime | None = None) -> Org:
    name = f"Workspace {uuid.uuid4().hex[:8]}"
    with server.session() as session:
        workspace = directory.create_workspace(session, name)
        point = directory.create_point(session, workspace, "Q3 evidence", mode, deadline)
        session.commit()
        return Org(workspace_id=workspace.id, name=name, point_id=point.id)


def make_invite(
    server: LiveServer, org: Org, email: str | None = None, role: str = "member"
) -> str:
    with server.session() as session:
        workspace = directory.find_workspace(session, org.workspace_id)
        _, code = directory.create_invite(
            session, workspace, email or f"{uuid.uuid4().hex[:8]}@example.org", role
        )
        session.commit()
        return code


@dataclass
class Member:
    """A desktop app that has enrolled: its identity key, token and workspace."""

    server: LiveServer
    identity: Ed25519PrivateKey
    token: str
    device_id: str
    member_id: str
    workspace_id: str
    server_key: str
    http: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        self.http.headers["Authorization"] = f"Bearer {self.token}"

    @property
    def identity_hex(self) -> str:
        return self.identity.public_key().public_bytes_raw().hex()

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.get(self.server.api(path), timeout=30, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.post(self.server.api(path), timeout=30, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.put(self.server.api(path), timeout=30, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.delete(self.server.api(path), timeout=30, **kwargs)

    def payload(
        self, point_id: str, assets: list[AssetSnapshot] | None = None,
        submission_id: uuid.UUID | None = None,
    ) -> SubmissionPayload:  # fmt: skip
        return SubmissionPayload(
            submission_id=submission_id or uuid.uuid4(),
            workspace_id=uuid.UUID(self.workspace_id),
            point_id=uuid.UUID(point_id),
            identity_key=self.identity_hex,
            created_at=datetime.now(UTC),
            assets=assets or [snapshot()],
        )

    def sign(self, payload: SubmissionPayload, purpose: str = SUBMISSION_FORMAT) -> SignedDocument:
        return sign_document(self.identity, purpose, payload)

    def submit(self, signed: SignedDocument) -> requests.Response:
        return self.post("/submissions", data=signed.model_dump_json(),
                         headers={"Content-Type": "application/json"})  # fmt: skip


def enrol(server: LiveServer, code: str, identity: Ed25519PrivateKey | None = None) -> Member:
    identity = identity or Ed25519PrivateKey.generate()
    answer = requests.post(
        server.api("/enrol"),
        json={
            "invite_code": code,
            "identity_key": identity.public_key().public_bytes_raw().hex(),
            "device_name": "Test laptop",
        },
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    return Member(
        server=server, identity=identity, token=body["device_token"],
        device_id=body["device_id"], member_id=body["member_id"],
        workspace_id=body["workspace"]["id"], server_key=body["server_key"],
    )  # fmt: skip


def join(server: LiveServer, org: Org, role: str = "member") -> Member:
    """A new person, invited to ``org`` and enrolled with a new space key."""
    return enrol(server, make_invite(server, org, role=role))


def snapshot(
    title: str = "SMART plan: run a retrospective",
    attachments: list[AttachmentRef] | None = None,
    **fields: Any,
) -> AssetSnapshot:
    values = fields or {"specific": "Run our team's first retrospective by March."}
    return AssetSnapshot(
        asset_id=uuid.uuid4().hex, version=1, kind="plan", title=title, template="smart-plan",
        fields=[SnapshotField(name=k, label=k.title(), type="markdown", value=v)
                for k, v in values.items()],
        attachments=attachments or [],
    )  # fmt: skip
