"""Enrolment and submissions over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta

import requests
from sqlmodel import col, func, select

from sync.protocol import (
    EVENT_FORMAT,
    RECEIPT_FORMAT,
    EventDocument,
    ReceiptBody,
    SignedDocument,
    open_document,
    sha256_hex,
)
from sync.server.models import Submission, SubmissionPoint
from tests.live_server import LiveServer
from tests.server.client import Member, enrol, join, make_invite, make_org, snapshot


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


# ------------------------------------------------ open points, listing, withdrawing


def _withdraw(member: Member, submission_id: str) -> requests.Response:
    return member.post(f"/submissions/{submission_id}/withdraw")


def _events(member: Member, kind: str) -> list[dict[str, object]]:
    items = member.get("/pull", params={"limit": 500}).json()["items"]
    documents = [
        open_document(SignedDocument.model_validate(item["event"]),
                      bytes.fromhex(member.server_key), EVENT_FORMAT, EventDocument)
        for item in items
    ]  # fmt: skip
    return [document.data for document in documents if document.kind == kind]


def _set_deadline(server: LiveServer, point_id: str, deadline: datetime) -> None:
    with server.session() as session:
        point = session.get(SubmissionPoint, point_id)
        assert point is not None
        point.deadline = deadline
        session.add(point)
        session.commit()


def test_an_open_point_takes_several_versions_until_its_deadline(server: LiveServer) -> None:
    org = make_org(server, mode="open", deadline=datetime.now(UTC) + timedelta(days=1))
    member = join(server, org)
    first = member.submit(member.sign(member.payload(org.point_id, [snapshot("Draft")])))
    second = member.submit(member.sign(member.payload(org.point_id, [snapshot("Final")])))
    assert first.status_code == 201
    assert second.status_code == 201

    _set_deadline(server, org.point_id, datetime.now(UTC) - timedelta(seconds=1))
    late = member.submit(member.sign(member.payload(org.point_id, [snapshot("Too late")])))
    assert late.status_code == 409
    assert late.json()["error"]["code"] == "deadline_passed"
    assert [s["titles"] for s in member.get("/submissions").json()] == [["Draft"], ["Final"]]


def test_a_point_whose_deadline_has_passed_refuses_submissions(server: LiveServer) -> None:
    org = make_org(server, mode="locked", deadline=datetime.now(UTC) - timedelta(minutes=1))
    member = join(server, org)
    payload = member.payload(org.point_id)
    answer = member.submit(member.sign(payload))
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "deadline_passed"
    assert _count(server, str(payload.submission_id)) == 0
    point = next(p for p in member.get("/me").json()["points"] if p["id"] == org.point_id)
    assert point["accepting"] is False


def test_the_submission_list_holds_only_ones_own_and_pages_through_them(
    server: LiveServer,
) -> None:
    org = make_org(server, mode="open")
    member = join(server, org)
    colleague = join(server, org)
    sent = []
    for number in range(5):
        payload = member.payload(org.point_id, [snapshot(f"Entry {number}")])
        assert member.submit(member.sign(payload)).status_code == 201
        sent.append(str(payload.submission_id))
    assert colleague.submit(colleague.sign(colleague.payload(org.point_id))).status_code == 201

    seen: list[str] = []
    after = None
    while True:
        params: dict[str, object] = {"limit": 2}
        if after:
            params["after"] = after
        page = member.get("/submissions", params=params).json()
        if not page:
            break
        assert len(page) <= 2
        seen += [s["submission_id"] for s in page]
        after = page[-1]["submission_id"]
    assert sorted(seen) == sorted(sent)  # all five, none of the colleague's
    first = member.get("/submissions", params={"limit": 1}).json()[0]
    assert first["point_id"] == org.point_id
    assert first["status"] == "received"
    assert first["titles"][0].startswith("Entry")
    # Someone else's submission id cannot be used as a cursor, nor seen.
    theirs = colleague.get("/submissions").json()[0]["submission_id"]
    assert member.get("/submissions", params={"after": theirs}).status_code == 404
    assert member.get(f"/submissions/{theirs}").status_code == 404
    assert member.get("/submissions", params={"limit": 0}).status_code == 422


def test_a_submission_to_an_open_point_can_be_withdrawn_before_the_deadline(
    server: LiveServer,
) -> None:
    org = make_org(server, mode="open", deadline=datetime.now(UTC) + timedelta(days=1))
    member = join(server, org)
    colleague = join(server, org)
    payload = member.payload(org.point_id)
    receipt = member.submit(member.sign(payload)).json()["receipt"]
    submission_id = str(payload.submission_id)

    assert _withdraw(colleague, submission_id).status_code == 404
    withdrawn = _withdraw(member, submission_id)
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "withdrawn"
    assert withdrawn.json()["receipt"] == receipt  # the proof of receipt stays
    assert _withdraw(member, submission_id).json()["status"] == "withdrawn"  # again is fine
    assert member.get(f"/submissions/{submission_id}").json()["status"] == "withdrawn"
    assert member.get("/submissions").json()[0]["status"] == "withdrawn"
    assert [e["submission_id"] for e in _events(member, "withdrawn")] == [submission_id]
    assert _events(colleague, "withdrawn") == []


def test_withdrawing_is_refused_at_a_locked_point_and_after_the_deadline(
    server: LiveServer,
) -> None:
    locked = make_org(server, mode="locked")
    member = join(server, locked)
    payload = member.payload(locked.point_id)
    assert member.submit(member.sign(payload)).status_code == 201
    refused = _withdraw(member, str(payload.submission_id))
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "withdraw_not_allowed"

    open_org = make_org(server, mode="open", deadline=datetime.now(UTC) + timedelta(days=1))
    member = join(server, open_org)
    payload = member.payload(open_org.point_id)
    assert member.submit(member.sign(payload)).status_code == 201
    _set_deadline(server, open_org.point_id, datetime.now(UTC) - timedelta(seconds=1))
    late = _withdraw(member, str(payload.submission_id))
    assert late.status_code == 409
    assert late.json()["error"]["code"] == "withdraw_not_allowed"
    assert member.get(f"/submissions/{payload.submission_id}").json()["status"] == "received"
    assert _events(member, "withdrawn") == []


def test_one_invite_code_redeemed_twice_at_once_enrols_exactly_one_device(
    server: LiveServer,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import requests
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    org = make_org(server)
    code = make_invite(server, org)

    def redeem(_: int) -> int:
        key = Ed25519PrivateKey.generate().public_key().public_bytes_raw().hex()
        answer = requests.post(server.api("/enrol"), json={
            "invite_code": code, "identity_key": key, "device_name": "Racing laptop",
        }, timeout=30)  # fmt: skip
        return answer.status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(redeem, range(8)))
    assert statuses == [201] + [410] * 7
    with server.session() as session:
        from sync.server.models import Device, Membership

        devices = session.exec(
            select(func.count())
            .select_from(Device)
            .join(Membership, col(Membership.id) == col(Device.membership_id))
            .where(col(Membership.workspace_id) == org.workspace_id)
        ).one()
    assert devices == 1


def test_guessing_invite_codes_is_rate_limited_but_honest_enrolments_are_not(
    server: LiveServer,
) -> None:
    import requests
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    org = make_org(server)
    # Each address has its own window; uvicorn takes the address from 127.0.0.1's proxy.
    address = {"X-Forwarded-For": f"10.9.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"}

    def redeem(code: str) -> requests.Response:
        key = Ed25519PrivateKey.generate().public_key().public_bytes_raw().hex()
        return requests.post(server.api("/enrol"), headers=address, timeout=30, json={
            "invite_code": code, "identity_key": key, "device_name": "Laptop"})  # fmt: skip

    for _ in range(12):  # more honest enrolments than the limit allows guesses
        assert redeem(make_invite(server, org)).status_code == 201
    for _ in range(10):
        assert redeem("AAAA-BBBB-CCCC-DDDD").status_code == 404
    refused = redeem(make_invite(server, org))
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) > 0
