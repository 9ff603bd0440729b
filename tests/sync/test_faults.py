"""The sync client over a bad connection: a fault-injecting proxy between it and a real
server drops connections in the middle of uploads and requests, loses answers after
the server acted, and plays a server that is down, restarting or overloaded. Whatever
happens, the work stays with the client, a retry goes on where it stopped, and the
server ends with exactly one copy."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from pathlib import Path
from uuid import UUID

import pytest

from sync.client import Backoff, WorkspaceClient, is_retryable
from sync.errors import ServerBusy, ServerUnreachable
from sync.protocol import AttachmentRef, SignedDocument, SubmissionPayload, parse_body
from sync.server.blobs import blob_path
from tests.live_server import LiveServer, free_port
from tests.server.client import snapshot
from tests.sync.conftest import enrol_device, submissions_with_id
from tests.sync.proxy import FaultProxy

MB = 1_000_000
MiB = 1024 * 1024


def _big_file(folder: Path, size: int) -> tuple[Path, str]:
    path = folder / "recording.mp4"
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for _ in range(size // MiB):
            block = os.urandom(MiB)
            digest.update(block)
            out.write(block)
    return path, digest.hexdigest()


def _stored_sha256(server: LiveServer, sha256: str) -> str:
    digest = hashlib.sha256()
    with blob_path(server.settings(), sha256).open("rb") as stored:
        while block := stored.read(MiB):
            digest.update(block)
    return digest.hexdigest()


def _submission_id(signed: SignedDocument) -> UUID:
    return parse_body(signed.body_bytes(), SubmissionPayload).submission_id


def test_a_server_that_is_down_leaves_the_submission_with_the_client_until_it_is_back(
    server: LiveServer, proxy: FaultProxy
) -> None:
    device = enrol_device(server, proxy.url)
    signed = device.signed()
    proxy.down()
    with pytest.raises(ServerUnreachable) as down:
        device.client.submit(signed)
    assert is_retryable(down.value)
    assert f"127.0.0.1:{proxy.port}" in str(down.value)
    assert submissions_with_id(server, _submission_id(signed)) == []

    nobody = WorkspaceClient(f"http://127.0.0.1:{free_port()}", token="t", pinned_key=b"k" * 32)
    with pytest.raises(ServerUnreachable):  # nothing listens there at all
        nobody.me()

    proxy.up()
    answer, receipt = device.client.submit(signed)
    assert receipt.submission_id == answer.submission_id
    assert len(submissions_with_id(server, answer.submission_id)) == 1


def test_an_upload_cut_midway_resumes_where_it_stopped_and_the_server_has_the_exact_file(
    server: LiveServer, proxy: FaultProxy, tmp_path: Path
) -> None:
    device = enrol_device(server, proxy.url)
    size = 50 * MiB
    path, sha = _big_file(tmp_path, size)
    device.client.check_server_key()
    proxy.cut_upstream_after(20 * MB)

    tracemalloc.start()
    try:
        with pytest.raises(ServerUnreachable):
            device.client.upload(sha, size, lambda: path.open("rb"))
        kept = device.client.upload_status(sha, size).received
        sent_before = proxy.bytes_up
        status = device.client.upload(sha, size, lambda: path.open("rb"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert kept == 16 * MiB  # the two 8 MiB pieces that arrived whole; the cut one is dropped
    resent = proxy.bytes_up - sent_before
    assert size - kept <= resent < size - kept + 64 * 1024  # only the rest, plus headers
    assert status.complete
    assert _stored_sha256(server, sha) == sha
    assert peak < 16 * MiB  # the file is streamed, never read whole (nor a whole piece)

    ref = AttachmentRef(sha256=sha, name="recording.mp4", size=size, media_type="video/mp4")
    answer, _ = device.client.submit(device.signed([snapshot(attachments=[ref])]))
    assert len(submissions_with_id(server, answer.submission_id)) == 1


def test_a_server_restarting_mid_upload_is_resumed_after(
    server: LiveServer, proxy: FaultProxy, tmp_path: Path
) -> None:
    device = enrol_device(server, proxy.url, piece_bytes=4 * MiB)
    size = 12 * MiB
    path, sha = _big_file(tmp_path, size)
    restarted = False

    def restart_once_past_six_mib(done: int, _size: int) -> None:
        nonlocal restarted
        if done > 6 * MiB and not restarted:
            restarted = True
            proxy.down()  # the server goes away in the middle of a piece...
            server.restart()
            proxy.up()  # ...and comes back

    with pytest.raises(ServerUnreachable):
        device.client.upload(sha, size, lambda: path.open("rb"), restart_once_past_six_mib)
    assert restarted
    assert device.client.upload_status(sha, size).received == 4 * MiB
    assert device.client.upload(sha, size, lambda: path.open("rb")).complete
    assert _stored_sha256(server, sha) == sha


def test_a_submission_cut_in_the_middle_of_the_request_is_sent_again_and_stored_once(
    server: LiveServer, proxy: FaultProxy
) -> None:
    device = enrol_device(server, proxy.url)
    signed = device.signed([snapshot(reflection="I learned to listen first. " * 8000)])
    device.client.check_server_key()
    proxy.cut_upstream_after(len(signed.body) // 2)

    with pytest.raises(ServerUnreachable):
        device.client.submit(signed)
    assert submissions_with_id(server, _submission_id(signed)) == []

    answer, receipt = device.client.submit(signed)
    assert receipt.payload_sha256 == hashlib.sha256(signed.body_bytes()).hexdigest()
    assert len(submissions_with_id(server, answer.submission_id)) == 1


def test_a_receipt_lost_after_the_server_stored_the_submission_comes_back_on_retry(
    server: LiveServer, proxy: FaultProxy
) -> None:
    device = enrol_device(server, proxy.url)
    signed = device.signed()
    proxy.cut_answer_to(b"POST /api/v1/submissions ")

    with pytest.raises(ServerUnreachable):
        device.client.submit(signed)
    [stored] = submissions_with_id(server, _submission_id(signed))

    # The app was killed before the receipt arrived; it starts again and retries.
    again = device.restarted()
    answer, receipt = again.submit(signed)
    assert answer.receipt == SignedDocument.model_validate_json(stored.receipt)
    assert str(receipt.submission_id) == stored.id
    assert again.get_submission(answer.submission_id, signed) == (answer, receipt)
    assert len(submissions_with_id(server, answer.submission_id)) == 1


def test_an_overloaded_server_is_retried_no_sooner_than_it_asks(
    server: LiveServer, proxy: FaultProxy
) -> None:
    device = enrol_device(server, proxy.url)
    # A reverse proxy in front of the server answers 503 while it is overloaded.
    proxy.rewrite_answer(
        lambda block: block.replace(
            b"HTTP/1.1 200 OK\r\n", b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\n"
        ) if block.startswith(b"HTTP/1.1 200 OK\r\n") else None
    )  # fmt: skip

    with pytest.raises(ServerBusy) as busy:
        device.client.me()
    assert busy.value.status == 503
    assert busy.value.retry_after == 7
    assert is_retryable(busy.value)
    assert Backoff(uniform=lambda: 0.0).delay_after(busy.value, 0) == 7
    assert device.client.me().workspace.id == device.enrolment.workspace.id
