"""The sync client against a real workspace server: enrolment and key pinning, uploads,
submissions and their receipts, pull with verified feedback, refusals as typed errors;
and its pure parts (backoff, retry decisions, endorsement chains)."""

from __future__ import annotations

import base64
import hashlib
import io
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import col, select

from sync.client import (
    Backoff,
    ServerKeys,
    WorkspaceClient,
    endorsed_predecessors,
    endorsed_successors,
    is_retryable,
    retry_after_seconds,
)
from sync.errors import (
    AttachmentChanged,
    BadServerSignature,
    InvalidServerAddress,
    InviteInvalid,
    Rejected,
    ServerBusy,
    ServerFailed,
    ServerKeyChanged,
    ServerUnreachable,
    TokenRevoked,
    TokenUnknown,
)
from sync.protocol import (
    FEEDBACK_FORMAT,
    KEY_ENDORSEMENT_FORMAT,
    SHARE_FORMAT,
    AttachmentRef,
    FeedbackDocument,
    KeyEndorsement,
    ResourceInfo,
    SharePayload,
    ShareRequest,
    ShareUpdate,
    SubmissionPayload,
    parse_body,
    sign_document,
)
from sync.server import directory, events, keys, resources, reviews, shares
from sync.server.models import Membership, ServerKey, utc_now
from tests.live_server import LiveServer
from tests.server.client import make_invite, make_org, snapshot
from tests.sync.conftest import enrol_device, submissions_with_id
from tests.sync.proxy import FaultProxy


def _server_key(server: LiveServer) -> bytes:
    return bytes.fromhex(requests.get(server.api("/server"), timeout=10).json()["server_key"])


def _add_feedback(server: LiveServer, submission_id: uuid.UUID, text: str) -> None:
    with server.session() as session:
        submission = reviews.submission_or_404(session, str(submission_id))
        reviewer = directory.user_for_email(session, "reviewer@example.org")
        reviews.add_feedback(session, submission, reviewer, "reviewer", "comment", text=text)
        session.commit()


# ------------------------------------------------------------------ enrolment


def test_an_invite_code_enrols_once_and_pins_the_servers_key(server: LiveServer) -> None:
    org = make_org(server)
    code = make_invite(server, org)
    identity = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    client = WorkspaceClient(server.url + "/")
    assert client.pinned_key is None

    enrolment = client.enrol(f"  {code} ", identity, "Sam's laptop")

    assert client.token == enrolment.device_token
    assert client.pinned_key == _server_key(server)
    account = client.me()
    assert str(account.workspace.id) == org.workspace_id
    assert {p.name for p in account.points} == {"Q3 evidence"}

    with pytest.raises(InviteInvalid) as used:
        WorkspaceClient(server.url).enrol(code, identity, "Second laptop")
    assert used.value.code == "invite_used"
    assert "already been used" in str(used.value)
    assert not is_retryable(used.value)
    with pytest.raises(InviteInvalid):
        WorkspaceClient(server.url).enrol("abc", identity, "Laptop")  # refused before sending


def test_a_redirect_is_followed_only_to_the_same_server(
    server: LiveServer, proxy: FaultProxy
) -> None:
    device = enrol_device(server, proxy.url)

    def redirect_to(location: str):  # type: ignore[no-untyped-def]
        def change(block: bytes) -> bytes | None:
            status = b"HTTP/1.1 200 OK\r\n"
            if not block.startswith(status):
                return None
            return block.replace(status, f"HTTP/1.1 302 Found\r\nLocation: {location}\r\n".encode())

        return change

    proxy.rewrite_answer(redirect_to("/api/v1/me?again=1"))
    assert device.client.me().workspace.id == device.enrolment.workspace.id

    with FaultProxy(server.port) as elsewhere:
        proxy.rewrite_answer(redirect_to(f"{elsewhere.url}/api/v1/me"))
        with pytest.raises(Rejected) as refused:
            device.client.me()
        assert elsewhere.connections == 0  # the token never went there
    assert refused.value.code == "redirected"
    assert refused.value.status == 302


def test_a_server_address_must_be_http_or_https() -> None:
    for address in ("ftp://example.org", "example.org", "https://", "https://u:pw@example.org"):
        with pytest.raises(InvalidServerAddress):
            WorkspaceClient(address)


# -------------------------------------------------------- uploads and submissions


def test_an_attachment_and_a_submission_arrive_and_the_receipt_is_verified(
    server: LiveServer, tmp_path: Path
) -> None:
    device = enrol_device(server, mode="open", piece_bytes=1024 * 1024)
    client = device.client
    data = bytes(range(256)) * 12_000  # 3 MB: three pieces and a bit
    path = tmp_path / "interview.wav"
    path.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    seen: list[tuple[int, int]] = []

    status = client.upload(sha, len(data), lambda: path.open("rb"),
                           progress=lambda done, size: seen.append((done, size)))  # fmt: skip

    assert status.complete
    assert seen[0] == (0, len(data))
    assert seen[-1] == (len(data), len(data))
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    # Uploading again sends nothing: the server has it all.
    again: list[tuple[int, int]] = []
    assert client.upload(sha, len(data), lambda: path.open("rb"),
                         lambda done, size: again.append((done, size))).complete  # fmt: skip
    assert again == [(len(data), len(data))]

    ref = AttachmentRef(sha256=sha, name="interview.wav", size=len(data), media_type="audio/wav")
    signed = device.signed([snapshot(attachments=[ref])])
    answer, receipt = client.submit(signed)
    assert answer.status == "received"
    assert receipt.payload_sha256 == hashlib.sha256(signed.body_bytes()).hexdigest()
    assert client.submit(signed) == (answer, receipt)  # a retry: the same receipt
    assert client.get_submission(answer.submission_id, signed) == (answer, receipt)
    assert [s.submission_id for s in client.list_submissions()] == [answer.submission_id]
    assert len(submissions_with_id(server, answer.submission_id)) == 1

    withdrawn = client.withdraw(answer.submission_id)
    assert withdrawn.status == "withdrawn"
    page = client.pull()
    assert [item.event.kind for item in page.items][-1] == "withdrawn"
    assert page.items[-1].event.data["submission_id"] == str(answer.submission_id)


def test_an_upload_of_a_file_that_changed_on_disk_is_refused(server: LiveServer) -> None:
    device = enrol_device(server)
    data = b"x" * 5000
    with pytest.raises(AttachmentChanged, match="no longer has the size") as changed:
        device.client.upload(hashlib.sha256(data).hexdigest(), len(data),
                             lambda: io.BytesIO(data[:4000]))  # fmt: skip
    assert not is_retryable(changed.value)
    wrong = b"y" * 5000  # right size, other bytes: the server's hash check finds it
    with pytest.raises(AttachmentChanged, match="changed after it was chosen"):
        device.client.upload(hashlib.sha256(data).hexdigest(), len(data),
                             lambda: io.BytesIO(wrong))  # fmt: skip


def test_a_refused_submission_is_a_typed_error_with_the_servers_reason(
    server: LiveServer,
) -> None:
    device = enrol_device(server, mode="locked")
    device.client.submit(device.signed())
    with pytest.raises(Rejected) as refused:
        device.client.submit(device.signed())
    assert refused.value.code == "point_locked"
    assert refused.value.status == 409
    assert "locked" in str(refused.value)
    assert not is_retryable(refused.value)


def test_a_receipt_with_a_broken_signature_is_rejected_and_a_good_one_recovered(
    server: LiveServer, proxy: FaultProxy
) -> None:
    device = enrol_device(server, proxy.url)
    signed = device.signed()

    def break_receipt_signature(block: bytes) -> bytes | None:
        marker = b'"signature":"'
        at = block.find(marker)
        if at < 0:
            return None
        at += len(marker)
        flipped = b"B" if block[at : at + 1] == b"A" else b"A"
        return block[:at] + flipped + block[at + 1 :]

    proxy.rewrite_answer(break_receipt_signature)
    with pytest.raises(BadServerSignature, match="receipt"):
        device.client.submit(signed)

    # The server did store it, once; its true receipt comes back and verifies.
    submission_id = parse_body(signed.body_bytes(), SubmissionPayload).submission_id
    answer, receipt = device.client.get_submission(submission_id, signed)
    assert receipt.submission_id == submission_id
    assert len(submissions_with_id(server, submission_id)) == 1


# ------------------------------------------------------------------------ pull


def test_pull_verifies_feedback_and_reports_a_forged_one_by_its_number(
    server: LiveServer,
) -> None:
    device = enrol_device(server)
    answer, _ = device.client.submit(device.signed())
    _add_feedback(server, answer.submission_id, "Good plan; add a date for the review.")
    # An event the server signed, holding feedback signed by some other key.
    with server.session() as session:
        member = session.get(Membership, str(device.enrolment.member_id))
        assert member is not None
        forged = FeedbackDocument(
            feedback_id=uuid.uuid4(), submission_id=answer.submission_id,
            workspace_id=device.enrolment.workspace.id, asset_ids=[], kind="decision",
            author="Someone", author_role="reviewer", decision="validated",
            created_at=utc_now(),
        )  # fmt: skip
        document = sign_document(Ed25519PrivateKey.generate(), FEEDBACK_FORMAT, forged)
        events.publish(session, member, "feedback", document.model_dump(mode="json"))
        session.commit()
    _add_feedback(server, answer.submission_id, "And one more thing.")

    with pytest.raises(BadServerSignature) as bad:
        device.client.pull()
    assert bad.value.seq == 2
    [good] = bad.value.verified
    assert good.seq == 1
    assert good.feedback is not None
    assert good.feedback.text == "Good plan; add a date for the review."
    assert good.feedback.submission_id == answer.submission_id
    assert "event 2" in str(bad.value)

    # The caller may report it and go on after it.
    page = device.client.pull(after=bad.value.seq)
    assert [item.seq for item in page.items] == [3]
    assert page.items[0].feedback is not None
    assert page.items[0].feedback.text == "And one more thing."
    assert page.cursor == 3
    assert not page.more


def test_an_assigned_peer_reviews_from_the_device_and_the_submitter_pulls_it(
    server: LiveServer,
) -> None:
    submitter = enrol_device(server)
    peer = enrol_device(server, org=submitter.org)
    answer, _ = submitter.client.submit(submitter.signed())
    with server.session() as session:
        submission = reviews.submission_or_404(session, str(answer.submission_id))
        member = session.get(Membership, str(peer.enrolment.member_id))
        assert member is not None
        admin = directory.user_for_email(session, "admin@example.org")
        reviews.assign_peer(session, submission, member, admin)
        session.commit()

    [request] = peer.client.pull().items
    assert request.event.kind == "review_request"
    assert request.event.data["submission_id"] == str(answer.submission_id)
    review = peer.client.peer_review(answer.submission_id, "Clear and specific.", rating=4)
    assert review == peer.client.peer_review(answer.submission_id, "Clear and specific.", 4)
    assert review.kind == "peer_review"
    assert review.rating == 4

    [received] = submitter.client.pull().items
    assert received.feedback == review
    with pytest.raises(Rejected) as not_asked:
        submitter.client.peer_review(answer.submission_id, "My own work is great.")
    assert not_asked.value.code == "not_assigned"


# ------------------------------------------------------------ shares, resources


def test_a_share_is_published_once_changed_field_by_field_listed_and_revoked(
    server: LiveServer,
) -> None:
    device = enrol_device(server)
    share_id = uuid.uuid4()
    payload = SharePayload(
        share_id=share_id, identity_key=device.identity.public_key().public_bytes_raw().hex(),
        title="My retrospective plan", created_at=datetime.now(UTC), assets=[snapshot()],
    )  # fmt: skip
    request = ShareRequest(
        share_id=share_id, snapshot=sign_document(device.identity, SHARE_FORMAT, payload)
    )

    created = device.client.publish_share(request)
    assert created.url is not None
    with server.session() as session:
        found = shares.find_by_token(session, created.url.rsplit("/s/", 1)[1])
        assert found is not None
        assert found.id == str(share_id)
    assert device.client.publish_share(request).url is None  # a retry: no second address

    expiry = datetime.now(UTC).replace(microsecond=0) + timedelta(days=7)
    assert device.client.update_share(share_id, ShareUpdate(comments_enabled=True)).comments_enabled
    changed = device.client.update_share(share_id, ShareUpdate(expires_at=expiry))
    assert changed.comments_enabled  # untouched: only the fields set are sent
    assert changed.expires_at == expiry
    assert device.client.update_share(share_id, ShareUpdate(expires_at=None)).expires_at is None

    [listed] = device.client.list_shares()
    assert listed.share_id == share_id
    assert listed.url is None
    assert device.client.revoke_share(share_id).revoked
    assert device.client.revoke_share(share_id).revoked  # again is fine


def test_a_resource_heard_of_by_pull_downloads_whole_and_checked(
    server: LiveServer, tmp_path: Path
) -> None:
    device = enrol_device(server)
    content = b"%PDF-1.4 a guide to reflective writing" * 1000
    with server.session() as session:
        workspace = directory.find_workspace(session, device.org.workspace_id)
        resources.publish(
            session,
            server.settings(),
            workspace,
            name="Writing guide",
            kind="document",
            content=content,
            media_type="application/pdf",
        )
        session.commit()

    folder = tmp_path / "downloads"
    folder.mkdir()
    [item] = device.client.pull().items
    announced = ResourceInfo.model_validate(item.event.data)  # verified by pull
    assert device.client.resources() == [announced]
    saved = device.client.download_resource(
        announced.id, announced.version, folder / "guide.pdf",
        sha256=announced.sha256, size=announced.size,
    )  # fmt: skip
    assert saved.read_bytes() == content

    with pytest.raises(BadServerSignature, match="not the one the server announced"):
        device.client.download_resource(announced.id, announced.version, folder / "other.pdf",
                                        sha256="0" * 64)  # fmt: skip
    assert [p.name for p in folder.iterdir()] == ["guide.pdf"]  # nothing half-written
    with pytest.raises(Rejected) as missing:
        device.client.download_resource(announced.id, 9, folder / "nine.pdf")
    assert missing.value.status == 404


# ---------------------------------------------------------------- device revoked


def test_a_revoked_device_is_told_so_and_what_it_holds_is_kept(server: LiveServer) -> None:
    device = enrol_device(server)
    signed = device.signed()
    with server.session() as session:
        directory.revoke_device(session, str(device.enrolment.device_id))
        session.commit()

    with pytest.raises(TokenRevoked) as revoked:
        device.client.me()
    assert "revoked" in str(revoked.value)
    assert not is_retryable(revoked.value)
    with pytest.raises(TokenRevoked):
        device.client.submit(signed)
    assert submissions_with_id(server, device.payload().submission_id) == []
    assert signed.body_bytes()  # the signed document is still the caller's to keep

    with pytest.raises(TokenUnknown):
        WorkspaceClient(server.url, token="not-a-token", pinned_key=b"k" * 32).me()


# ------------------------------------------------------------------ server keys


def test_a_planned_key_rotation_is_followed_and_old_receipts_still_verify(
    server: LiveServer,
) -> None:
    device = enrol_device(server, mode="open")
    first, _ = device.client.submit(device.signed())
    _add_feedback(server, first.submission_id, "Before the rotation.")
    old_key = device.client.pinned_key
    assert old_key is not None
    with server.session() as session:
        keys.rotate(session)
        session.commit()
    new_key = _server_key(server)
    assert new_key != old_key

    pinned: list[ServerKeys] = []
    client = device.restarted(on_keys_changed=pinned.append)
    second, receipt = client.submit(device.signed())  # signed by the new key

    assert pinned == [ServerKeys(new_key, (old_key,))]
    assert client.pinned_key == new_key
    assert receipt.submission_id == second.submission_id
    assert client.get_submission(first.submission_id)[1].submission_id == first.submission_id
    assert client.check_server_key() == new_key

    # A second device of the same person, enrolled after the rotation, verifies the
    # feedback that was signed before it.
    other = enrol_device(server, org=device.org, email=device.enrolment.email)
    assert other.client.keys is not None
    assert other.client.keys.current == new_key
    assert other.client.keys.earlier[-1] == old_key
    [item] = [i for i in other.client.pull().items if i.event.kind == "feedback"]
    assert item.feedback is not None
    assert item.feedback.text == "Before the rotation."


def test_a_key_that_appears_without_endorsement_is_refused_before_anything_is_sent(
    server: LiveServer,
) -> None:
    device = enrol_device(server)
    with server.session() as session:  # the server is set up again with a new key
        for row in session.exec(select(ServerKey).where(col(ServerKey.retired_at).is_(None))):
            row.retired_at = utc_now()
            session.add(row)
        keys.active_key(session)
        session.commit()

    with pytest.raises(ServerKeyChanged) as changed:
        device.client.check_server_key()
    assert changed.value.pinned == device.client.pinned_key
    assert changed.value.offered == _server_key(server)
    assert "changed unexpectedly" in str(changed.value)
    assert not is_retryable(changed.value)

    restarted = device.restarted()
    signed = device.signed()
    with pytest.raises(ServerKeyChanged):
        restarted.submit(signed)
    assert submissions_with_id(server, parse_body(signed.body_bytes(), SubmissionPayload)
                               .submission_id) == []  # fmt: skip
    assert restarted.pinned_key == device.client.pinned_key  # nothing was re-pinned


# ------------------------------------------------------------------ pure parts


def test_backoff_doubles_with_full_jitter_up_to_its_cap() -> None:
    top = Backoff(base=1.0, cap=300.0, uniform=lambda: 0.999)
    assert [round(top.delay(n)) for n in range(6)] == [1, 2, 4, 8, 16, 32]
    assert top.delay(9) == pytest.approx(299.7)
    assert top.delay(10_000) == pytest.approx(299.7)  # no overflow
    assert Backoff(uniform=lambda: 0.0).delay(5) == 0.0
    floor = Backoff(uniform=lambda: 0.0)
    assert floor.delay(0, retry_after=30) == 30
    assert floor.delay(0, retry_after=86_400) == 300  # a server cannot park us for a day
    spread = {round(Backoff().delay(4), 3) for _ in range(50)}
    assert len(spread) > 10
    assert all(0 <= d <= 16 for d in spread)
    with pytest.raises(ValueError, match="attempts"):
        top.delay(-1)


def test_only_transient_failures_are_retryable() -> None:
    assert is_retryable(ServerUnreachable("no answer"))
    assert is_retryable(ServerBusy("busy", status=429, retry_after=3))
    assert is_retryable(ServerFailed("failed", status=500))
    assert not is_retryable(Rejected("point_locked", "locked", 409))
    assert not is_retryable(TokenRevoked("token_revoked", "revoked", 401))
    assert not is_retryable(BadServerSignature("bad"))
    assert not is_retryable(ServerKeyChanged(b"a" * 32, b"b" * 32))
    assert not is_retryable(ValueError("not ours"))


def test_retry_after_is_read_as_seconds_or_as_a_date() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=90), usegmt=True),
                               now) == 90  # fmt: skip
    assert retry_after_seconds(format_datetime(now - timedelta(hours=1), usegmt=True), now) == 0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_an_endorsement_chain_leads_only_where_each_key_signed() -> None:
    first, second, third = (Ed25519PrivateKey.generate() for _ in range(3))
    intruder = Ed25519PrivateKey.generate()

    def raw(key: Ed25519PrivateKey) -> bytes:
        return key.public_key().public_bytes_raw()

    def endorse(signer: Ed25519PrivateKey, previous: bytes, following: bytes):  # type: ignore[no-untyped-def]
        body = KeyEndorsement(previous_key=previous.hex(), next_key=following.hex(),
                              created_at=utc_now())  # fmt: skip
        return sign_document(signer, KEY_ENDORSEMENT_FORMAT, body)

    chain = [endorse(first, raw(first), raw(second)), endorse(second, raw(second), raw(third))]
    # The intruder claims first's key endorsed it: signed by the intruder, so worthless.
    forged = endorse(intruder, raw(first), raw(intruder))
    tampered = chain[1].model_copy(update={"body": base64.b64encode(
        chain[1].body_bytes().replace(raw(third).hex().encode(), raw(intruder).hex().encode())
    ).decode()})  # fmt: skip

    everyone = [raw(first), raw(second), raw(third)]
    assert endorsed_successors(raw(first), [forged, *chain]) == everyone
    assert endorsed_successors(raw(first), [chain[0], tampered]) == [raw(first), raw(second)]
    assert endorsed_successors(raw(second), chain) == [raw(second), raw(third)]
    assert endorsed_predecessors(raw(third), chain) == [raw(first), raw(second)]
    assert endorsed_predecessors(raw(first), chain) == []
