"""The outbox over a bad connection and an unreliable server (a real server behind a
fault-injecting proxy): whatever happens, nothing queued is lost, retries go on where
they stopped, the server ends with exactly one copy, and what cannot be trusted is
refused and reported."""

from __future__ import annotations

import hashlib
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import col, select

from app.space import Space
from app.syncing import kinds
from app.syncing.accounts import client_for, connect, get_account
from app.syncing.outbox import entries, next_attempt_in, push, retry
from app.syncing.pulling import pull
from app.syncing.status import asset_status
from app.syncing.worker import sync_once
from store.kdf import KdfPolicy
from sync.client import Backoff
from sync.protocol import FEEDBACK_FORMAT, FeedbackDocument, SignedDocument, sign_document
from sync.server import events, keys
from sync.server.blobs import blob_path
from sync.server.models import Membership, ServerKey, utc_now
from tests.app.test_syncing import (
    add_feedback,
    attach_random,
    connected,
    queued,
    smart_plan,
    stored_submissions,
)
from tests.conftest import PASSPHRASE
from tests.live_server import LiveServer, running_server
from tests.server.client import make_invite
from tests.sync.proxy import FaultProxy

MB = 1_000_000
MiB = 1024 * 1024
#: Waits exactly 30 s after any failure, so a test can step past it without sleeping.
STEADY = Backoff(base=30.0, cap=30.0, uniform=lambda: 1.0)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with running_server(tmp_path_factory.mktemp("syncing-faults"), "sqlite") as live:
        yield live


@pytest.fixture
def proxy(server: LiveServer) -> Iterator[FaultProxy]:
    with FaultProxy(server.port) as faulty:
        yield faulty


def _stored_sha256(server: LiveServer, sha256: str) -> str:
    digest = hashlib.sha256()
    with blob_path(server.settings(), sha256).open("rb") as stored:
        while block := stored.read(MiB):
            digest.update(block)
    return digest.hexdigest()


def test_a_submission_made_while_the_server_is_down_waits_and_goes_when_it_is_back(
    space: Space, server: LiveServer, proxy: FaultProxy
) -> None:
    account, _ = connected(space, server, url=proxy.url)
    entry = queued(space, account, smart_plan(space).id)
    proxy.down()
    start = kinds.utc_now()

    report = push(space, account, backoff=STEADY, now=lambda: start)

    assert report.unreachable
    assert report.delivered == []
    [waiting] = entries(space)
    assert (waiting.state, waiting.attempts) == ("queued", 1)
    assert "cannot reach the workspace server" in (waiting.last_error or "")
    assert next_attempt_in(space, start) == pytest.approx(30.0)
    assert stored_submissions(server, entry.id) == []
    tried = proxy.connections
    assert push(space, account, backoff=STEADY, now=lambda: start).delivered == []
    assert proxy.connections == tried  # not due yet: not even tried

    proxy.up()
    later = start + timedelta(seconds=31)
    assert push(space, account, backoff=STEADY, now=lambda: later).delivered == [entry.id]
    assert len(stored_submissions(server, entry.id)) == 1
    assert next_attempt_in(space) is None


def test_an_upload_cut_midway_resumes_from_the_space_and_the_server_keeps_one_copy(
    space: Space, server: LiveServer, proxy: FaultProxy, tmp_path: Path
) -> None:
    account, _ = connected(space, server, url=proxy.url)
    plan = smart_plan(space)
    size = 20 * MiB
    attach_random(space, plan.id, tmp_path, size, "talk.mp4")
    entry = queued(space, account, plan.id)
    [info] = space.attachments(plan.id)
    client = client_for(space, account, piece_bytes=4 * MiB)
    client.check_server_key()
    proxy.cut_upstream_after(10 * MB)

    tracemalloc.start()
    try:
        assert push(space, account, client=client, only_due=False).unreachable
        kept = client.upload_status(info.sha256, size).received
        sent_before = proxy.bytes_up
        report = push(space, account, client=client, only_due=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        client.close()

    assert kept == 8 * MiB  # two whole pieces arrived; the cut one was dropped
    assert report.delivered == [entry.id]
    assert proxy.bytes_up - sent_before < size - kept + 256 * 1024  # only the rest was sent
    assert peak < 12 * MiB  # streamed out of the space, never read whole
    assert _stored_sha256(server, info.sha256) == info.sha256
    assert len(stored_submissions(server, entry.id)) == 1


def test_a_submission_cut_in_the_middle_of_the_request_is_stored_once(
    space: Space, server: LiveServer, proxy: FaultProxy
) -> None:
    account, _ = connected(space, server, url=proxy.url)
    long_text = "What I would do differently next time. " * 6000
    entry = queued(space, account, smart_plan(space, measurable=long_text).id)
    client = client_for(space, account)
    client.check_server_key()
    proxy.cut_upstream_after(100_000)

    assert push(space, account, client=client).unreachable
    assert stored_submissions(server, entry.id) == []
    assert push(space, account, client=client, only_due=False).delivered == [entry.id]
    assert len(stored_submissions(server, entry.id)) == 1
    client.close()


def test_a_receipt_lost_before_the_app_was_killed_comes_back_the_same_after_a_restart(
    space: Space, space_path: Path, kdf_policy: KdfPolicy, server: LiveServer,
    proxy: FaultProxy,
) -> None:  # fmt: skip
    account, _ = connected(space, server, url=proxy.url)
    plan = smart_plan(space)
    entry = queued(space, account, plan.id)
    proxy.cut_answer_to(b"POST /api/v1/submissions ")

    assert push(space, account).unreachable
    [stored] = stored_submissions(server, entry.id)  # the server has it; we never heard
    assert entries(space)[0].state == "queued"
    space.lock()  # the app is killed here

    with Space.open(space_path, PASSPHRASE, kdf_policy=kdf_policy, index="lazy") as again:
        report = push(again, get_account(again, account.id), only_due=False)
        assert report.delivered == [entry.id]
        [submission] = asset_status(again, plan.id).submissions
        assert submission.receipt is not None
        record = again.sync_record(submission.receipt.id)
        assert record is not None
        assert SignedDocument.model_validate(record.data["receipt"]) == (
            SignedDocument.model_validate_json(stored.receipt)
        )
    assert len(stored_submissions(server, entry.id)) == 1


def test_a_server_restarting_mid_transfer_is_resumed_after(
    space: Space, server: LiveServer, proxy: FaultProxy, tmp_path: Path
) -> None:
    account, _ = connected(space, server, url=proxy.url)
    plan = smart_plan(space)
    attach_random(space, plan.id, tmp_path, 12 * MiB, "slides.pdf")
    entry = queued(space, account, plan.id)
    [info] = space.attachments(plan.id)
    restarted = False

    def restart_past_six_mib(event: object) -> None:
        nonlocal restarted
        if getattr(event, "done", 0) > 6 * MiB and not restarted:
            restarted = True
            proxy.down()
            server.restart()
            proxy.up()

    with client_for(space, account, piece_bytes=4 * MiB) as client:
        assert push(space, account, client=client, progress=restart_past_six_mib).unreachable
        assert restarted
        assert client.upload_status(info.sha256, info.size).received == 4 * MiB
        assert push(space, account, client=client, only_due=False).delivered == [entry.id]
    assert _stored_sha256(server, info.sha256) == info.sha256
    assert len(stored_submissions(server, entry.id)) == 1


def test_a_receipt_with_a_bad_signature_is_rejected_reported_and_recovered_by_retry(
    space: Space, server: LiveServer, proxy: FaultProxy
) -> None:
    account, _ = connected(space, server, url=proxy.url)
    plan = smart_plan(space)
    entry = queued(space, account, plan.id)

    def break_receipt_signature(block: bytes) -> bytes | None:
        marker = b'"signature":"'
        at = block.find(marker)
        if at < 0:
            return None
        at += len(marker)
        flipped = b"B" if block[at : at + 1] == b"A" else b"A"
        return block[:at] + flipped + block[at + 1 :]

    proxy.rewrite_answer(break_receipt_signature)
    report = push(space, account)

    [(failed, reason)] = report.failed
    assert failed == entry.id
    assert "receipt" in reason
    [state] = asset_status(space, plan.id).submissions
    assert (state.state, state.receipt) == ("failed", None)  # nothing untrusted was kept
    assert state.entry is not None
    assert state.entry.error_code == "bad_receipt"
    [stored] = stored_submissions(server, entry.id)

    retry(space, entry.id)
    assert push(space, account).delivered == [entry.id]
    [state] = asset_status(space, plan.id).submissions
    assert state.receipt is not None
    assert state.receipt.payload_sha256 == stored.payload_sha256
    assert len(stored_submissions(server, entry.id)) == 1


def test_feedback_with_a_bad_signature_is_rejected_and_nothing_after_it_is_taken(
    space: Space, server: LiveServer
) -> None:
    account, _ = connected(space, server)
    plan = smart_plan(space)
    entry = queued(space, account, plan.id)
    push(space, account)
    add_feedback(server, entry.id, "Good plan.")
    with server.session() as session:  # an event holding feedback signed by another key
        member = session.get(Membership, account.member_id)
        assert member is not None
        forged = FeedbackDocument(
            feedback_id=uuid.uuid4(), submission_id=uuid.UUID(entry.id),
            workspace_id=uuid.UUID(account.workspace_id), asset_ids=[plan.id],
            kind="decision", author="Mallory", author_role="reviewer", decision="validated",
            created_at=utc_now(),
        )  # fmt: skip
        document = sign_document(Ed25519PrivateKey.generate(), FEEDBACK_FORMAT, forged)
        events.publish(session, member, "feedback", document.model_dump(mode="json"))
        session.commit()
    add_feedback(server, entry.id, "After the forged one.")

    report = pull(space, account)

    assert report.bad_event == 2
    assert report.stopped_code == "bad_signature"
    assert "does not carry" in (report.stopped or "")
    status = asset_status(space, plan.id)
    assert [f.text for f in status.feedback] == ["Good plan."]
    assert status.decision is None
    kept = get_account(space, account.id)
    assert kept.cursor == 1
    assert kept.problem is not None
    assert kept.problem["seq"] == 2
    assert pull(space, account).bad_event == 2  # reported again, never taken


def test_a_revoked_device_is_told_clearly_and_the_outbox_is_kept(
    space: Space, server: LiveServer, cli
) -> None:  # type: ignore[no-untyped-def]
    from sync.server import directory

    account, _ = connected(space, server)
    entry = queued(space, account, smart_plan(space).id)
    with server.session() as session:
        directory.revoke_device(session, account.device_id)
        session.commit()

    report = push(space, account)

    assert report.stopped_code == "token_revoked"
    assert "nothing was lost" in (report.stopped or "")
    [waiting] = entries(space)
    assert (waiting.id, waiting.state, waiting.attempts) == (entry.id, "queued", 0)
    assert get_account(space, account.id).problem["code"] == "token_revoked"  # type: ignore[index]
    space.lock()
    result = cli("sync", space.path)
    assert result.code == 11
    assert "disconnected this device" in result.err
    assert "queued" in cli("outbox", space.path).out


def test_the_entries_of_a_stopped_workspace_are_not_due_until_the_person_acts(
    space: Space, server: LiveServer, proxy: FaultProxy
) -> None:
    from sync.server import directory

    account, org = connected(space, server, url=proxy.url)
    other, _ = connected(space, server)  # another workspace, which still works
    entry = queued(space, account, smart_plan(space).id)
    with server.session() as session:
        directory.revoke_device(session, account.device_id)
        session.commit()
    assert push(space, account).stopped_code == "token_revoked"
    tried = proxy.connections

    # Nothing is due: a background worker that asks when to wake is not woken for it...
    assert next_attempt_in(space) is None
    # ...and a background round leaves it alone: it would only be refused again.
    stopped = get_account(space, account.id)
    assert push(space, stopped).stopped_code == "token_revoked"
    round_ = sync_once(space, [account.id])
    assert round_.accounts[0].push.stopped_code == "token_revoked"
    assert round_.accounts[0].pull is None
    assert proxy.connections == tried
    assert entries(space)[0].attempts == 0

    queued(space, other, smart_plan(space, "For the other workspace").id)
    assert next_attempt_in(space) == 0.0  # the other workspace's entries still count
    assert push(space, other).delivered
    assert next_attempt_in(space) is None
    assert push(space, stopped, only_due=False).stopped_code == "token_revoked"  # asked: tried
    assert proxy.connections > tried

    # A new invite connects the workspace again: what waited is due, and goes.
    again = connect(space, proxy.url, make_invite(server, org, email=account.email), "Laptop")
    assert next_attempt_in(space) == 0.0
    assert push(space, again).delivered == [entry.id]


# Last in the module: the server's key is replaced for good.
def test_a_server_whose_key_changed_unexpectedly_gets_nothing_and_the_outbox_is_kept(
    space: Space, server: LiveServer, cli
) -> None:  # type: ignore[no-untyped-def]
    account, _ = connected(space, server)
    entry = queued(space, account, smart_plan(space).id)
    with server.session() as session:  # the server is set up again with a new key
        for row in session.exec(select(ServerKey).where(col(ServerKey.retired_at).is_(None))):
            row.retired_at = utc_now()
            session.add(row)
        keys.active_key(session)
        session.commit()

    report = push(space, account)

    assert report.stopped_code == "server_key_changed"
    assert "changed unexpectedly" in (report.stopped or "")
    assert stored_submissions(server, entry.id) == []
    assert entries(space)[0].state == "queued"
    assert get_account(space, account.id).server_key == account.server_key  # not re-pinned
    assert pull(space, account).stopped_code == "server_key_changed"
    space.lock()
    result = cli("sync", space.path)
    assert result.code == 12
    assert "changed unexpectedly" in result.err
    assert "queued" in cli("outbox", space.path).out

    # The organisation confirms the server was set up again, and gives the new key's id.
    new_id = requests.get(server.api("/server"), timeout=10).json()["server_key_id"]
    assert new_id in result.err  # the message names the key the server shows
    assert cli("trust-key", space.path, account.workspace_name, "0" * 16).code == 12
    trusted = cli("trust-key", space.path, account.workspace_name, new_id)
    assert trusted.code == 0, trusted.err
    assert cli("sync", space.path).code == 0
    assert len(stored_submissions(server, entry.id)) == 1
