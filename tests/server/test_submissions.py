"""Enrolment and submissions over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import uuid

from sqlmodel import col, func, select

from sync.protocol import (
    RECEIPT_FORMAT,
    ReceiptBody,
    SignedDocument,
    open_document,
    sha256_hex,
)
from sync.server.models import Submission
from tests.live_server import LiveServer
from tests.server.client import enrol, join, make_invite, make_org


def _count(server: LiveServer, submission_id: str) -> int:
    with server.session() as session:
        return session.exec(
            select(func.count()).select_from(Submission).where(col(Submission.id) == submission_id)
        ).one()


def test_a_signed_submission_gets_a_verifiable_receipt_and_a_retry_gets_the_same_one(
    server: LiveServer,
) -> None:
    org = make_org(server)
    member = join(server, org)
    signed = member.sign(member.payload(org.point_id))

    first = member.submit(signed)
    assert first.status_code == 201, first.text
    again = member.submit(signed)
    assert again.status_code == 200, again.text
    assert again.json() == first.json()

    receipt = SignedDocument.model_validate(first.json()["receipt"])
    body = open_document(receipt, bytes.fromhex(member.server_key), RECEIPT_FORMAT, ReceiptBody)
    assert body.payload_sha256 == sha256_hex(signed.body_bytes())
    submission_id = first.json()["submission_id"]
    assert _count(server, submission_id) == 1
    with server.session() as session:
        stored = session.get(Submission, submission_id)
        assert stored is not None
        assert stored.payload == signed.body_bytes()  # the bytes as received


def test_tampered_submission_is_refused_and_nothing_is_stored(server: LiveServer) -> None:
    org = make_org(server)
    member = join(server, org)
    payload = member.payload(org.point_id)
    signed = member.sign(payload)
    body = signed.body_bytes().replace(b"retrospective", b"retrospectivX")
    tampered = signed.model_copy(update={"body": base64.b64encode(body).decode()})

    answer = member.submit(tampered)
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_signature"
    assert _count(server, str(payload.submission_id)) == 0


def test_same_submission_id_with_other_content_is_a_conflict(server: LiveServer) -> None:
    org = make_org(server, mode="open")
    member = join(server, org)
    submission_id = uuid.uuid4()
    assert member.submit(member.sign(member.payload(org.point_id, submission_id=submission_id))).ok
    other = member.sign(member.payload(org.point_id, submission_id=submission_id))
    answer = member.submit(other)
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "submission_id_reused"


def test_a_locked_point_takes_one_submission_per_member(server: LiveServer) -> None:
    org = make_org(server, mode="locked")
    member = join(server, org)
    assert member.submit(member.sign(member.payload(org.point_id))).status_code == 201
    answer = member.submit(member.sign(member.payload(org.point_id)))
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "point_locked"


def test_an_invite_code_works_once(server: LiveServer) -> None:
    org = make_org(server)
    code = make_invite(server, org)
    enrol(server, code)
    import requests
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    again = requests.post(server.api("/enrol"), json={
        "invite_code": code, "device_name": "Second laptop",
        "identity_key": Ed25519PrivateKey.generate().public_key().public_bytes_raw().hex(),
    }, timeout=10)  # fmt: skip
    assert again.status_code == 410
    assert again.json()["error"]["code"] == "invite_used"
