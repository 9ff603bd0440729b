"""Resumable, content-addressed attachment uploads over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlmodel import Session, col, select

from sync.protocol import AttachmentRef
from sync.server import blobs
from sync.server.blobs import EMPTY_SHA256, blob_path
from sync.server.config import ServerSettings
from sync.server.db import make_engine
from sync.server.deps import DeviceContext
from sync.server.models import Blob, Device, Membership, Upload, User, Workspace
from tests.live_server import LiveServer
from tests.server.client import Member, join, make_org, snapshot


def _status(member: Member, sha: str, size: int) -> requests.Response:
    return member.get(f"/blobs/{sha}", params={"size": size})


def _put(member: Member, sha: str, offset: int, size: int, piece: bytes) -> requests.Response:
    return member.put(f"/blobs/{sha}", params={"offset": offset, "size": size}, data=piece)


def _upload(member: Member, data: bytes, piece_size: int = 1000) -> dict[str, object]:
    sha = hashlib.sha256(data).hexdigest()
    received = _status(member, sha, len(data)).json()["received"]
    answer = None
    while received < len(data):
        answer = _put(member, sha, received, len(data), data[received : received + piece_size])
        assert answer.status_code == 200, answer.text
        received = answer.json()["received"]
    return answer.json() if answer is not None else _status(member, sha, len(data)).json()


def _ref(data: bytes, name: str = "notes.txt") -> AttachmentRef:
    return AttachmentRef(sha256=hashlib.sha256(data).hexdigest(), name=name, size=len(data),
                         media_type="text/plain")  # fmt: skip


def _submit_with(member: Member, point_id: str, ref: AttachmentRef) -> requests.Response:
    return member.submit(member.sign(member.payload(point_id, [snapshot(attachments=[ref])])))


def _send_half_a_piece(member: Member, sha: str, offset: int, size: int, piece: bytes) -> None:
    """A connection that dies in the middle of a piece: the headers promise ``piece`` but
    only half of it is sent before the socket closes."""
    with socket.create_connection(("127.0.0.1", member.server.port), timeout=10) as raw:
        head = (
            f"PUT /api/v1/blobs/{sha}?offset={offset}&size={size} HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\nAuthorization: Bearer {member.token}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {len(piece)}\r\n\r\n"
        )
        raw.sendall(head.encode() + piece[: len(piece) // 2])
        raw.shutdown(socket.SHUT_WR)
        raw.recv(1)  # wait until the server has given up on this request


def test_an_attachment_uploads_in_pieces_resumes_after_an_interruption_and_is_stored_once(
    server: LiveServer,
) -> None:
    org = make_org(server)
    member = join(server, org)
    data = os.urandom(2500)
    sha = hashlib.sha256(data).hexdigest()

    first = _status(member, sha, len(data))
    assert first.status_code == 200, first.text
    assert first.json() == {"sha256": sha, "size": 2500, "received": 0, "complete": False}
    assert _put(member, sha, 0, 2500, data[:1000]).json()["received"] == 1000

    _send_half_a_piece(member, sha, 1000, 2500, data[1000:2000])
    resumed_from = _status(member, sha, len(data)).json()["received"]
    assert resumed_from == 1000  # nothing of the broken piece was kept

    assert _put(member, sha, 1000, 2500, data[1000:2000]).json()["received"] == 2000
    last = _put(member, sha, 2000, 2500, data[2000:])
    assert last.status_code == 200, last.text
    assert last.json() == {"sha256": sha, "size": 2500, "received": 2500, "complete": True}
    assert blob_path(server.settings(), sha).read_bytes() == data
    with server.session() as session:
        blob = session.get(Blob, sha)
        assert blob is not None
        assert blob.size == 2500
    # Asking again later still says complete, and nothing more needs sending.
    assert _status(member, sha, len(data)).json()["complete"] is True
    assert _put(member, sha, 2500, 2500, b"").json()["complete"] is True
    assert _status(member, sha, len(data)).json()["received"] == 2500


def test_a_piece_at_the_wrong_offset_says_where_to_resume(server: LiveServer) -> None:
    member = join(server, make_org(server))
    data = os.urandom(300)
    sha = hashlib.sha256(data).hexdigest()
    assert _put(member, sha, 0, 300, data[:100]).status_code == 200

    for offset in (0, 50, 200):
        answer = _put(member, sha, offset, 300, data[offset : offset + 100])
        assert answer.status_code == 409
        error = answer.json()["error"]
        assert error["code"] == "offset_mismatch"
        assert error["details"] == [{"received": 100, "size": 300}]
        assert "100" in error["message"]
    assert _status(member, sha, 300).json()["received"] == 100


def test_bytes_that_do_not_match_the_hash_are_discarded_and_the_upload_starts_again(
    server: LiveServer,
) -> None:
    org = make_org(server)
    member = join(server, org)
    data = os.urandom(200)
    sha = hashlib.sha256(data).hexdigest()
    assert _put(member, sha, 0, 200, data[:100]).status_code == 200
    wrong = _put(member, sha, 100, 200, os.urandom(100))
    assert wrong.status_code == 422
    assert wrong.json()["error"]["code"] == "hash_mismatch"
    assert _status(member, sha, 200).json() == {
        "sha256": sha, "size": 200, "received": 0, "complete": False,
    }  # fmt: skip
    assert not blob_path(server.settings(), sha).exists()
    assert _submit_with(member, org.point_id, _ref(data)).json()["error"]["code"] == (
        "attachment_missing"
    )
    # Sent again correctly, it is accepted.
    assert _upload(member, data)["complete"] is True
    assert blob_path(server.settings(), sha).read_bytes() == data


def test_oversized_attachments_and_pieces_past_the_end_are_refused(server: LiveServer) -> None:
    member = join(server, make_org(server))
    sha = hashlib.sha256(b"x").hexdigest()
    too_big = server.settings().max_attachment_bytes + 1
    answer = _status(member, sha, too_big)
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "too_large"
    assert _put(member, sha, 0, too_big, b"x").status_code == 413

    past_the_end = _put(member, sha, 0, 1, b"xy")
    assert past_the_end.status_code == 422
    assert past_the_end.json()["error"]["code"] == "beyond_size"
    assert _status(member, sha, 1).json()["received"] == 0

    negative = _put(member, sha, -1, 1, b"x")
    assert negative.status_code == 422
    json_piece = member.put(f"/blobs/{sha}", params={"offset": 0, "size": 1}, json="x")
    assert json_piece.status_code == 415
    not_a_hash = _status(member, "ABC", 1)
    assert not_a_hash.status_code == 422
    with server.session() as session:
        sizes = session.exec(
            select(Upload.size).where(col(Upload.membership_id) == member.member_id)
        ).all()
        assert sizes == [1]  # only the upload that was started properly


def test_an_empty_attachment_is_complete_at_once_and_can_be_submitted(server: LiveServer) -> None:
    org = make_org(server)
    member = join(server, org)
    wrong = _status(member, hashlib.sha256(b"not empty").hexdigest(), 0)
    assert wrong.status_code == 422
    assert wrong.json()["error"]["code"] == "hash_mismatch"

    answer = _status(member, EMPTY_SHA256, 0)
    assert answer.json() == {"sha256": EMPTY_SHA256, "size": 0, "received": 0, "complete": True}
    assert blob_path(server.settings(), EMPTY_SHA256).read_bytes() == b""
    assert _submit_with(member, org.point_id, _ref(b"")).status_code == 201


def test_a_submission_needs_its_attachments_uploaded_in_full_by_the_same_member(
    server: LiveServer,
) -> None:
    org = make_org(server, mode="open")
    member = join(server, org)
    other = join(server, org)
    data = os.urandom(500)
    sha = hashlib.sha256(data).hexdigest()

    never = _submit_with(member, org.point_id, _ref(data))
    assert never.status_code == 409
    assert never.json()["error"]["code"] == "attachment_missing"
    assert never.json()["error"]["details"] == [{"sha256": sha, "size": 500}]

    assert _put(member, sha, 0, 500, data[:250]).status_code == 200
    partial = _submit_with(member, org.point_id, _ref(data))
    assert partial.status_code == 409
    assert partial.json()["error"]["code"] == "attachment_missing"

    _upload(member, data)
    assert _submit_with(member, org.point_id, _ref(data)).status_code == 201

    # Another member cannot lean on that upload, nor learn that the server has the file.
    assert _status(other, sha, 500).json()["received"] == 0
    refused = _submit_with(other, org.point_id, _ref(data))
    assert refused.json()["error"]["code"] == "attachment_missing"
    assert _upload(other, data, piece_size=500)["complete"] is True
    assert _submit_with(other, org.point_id, _ref(data)).status_code == 201


def test_the_same_piece_sent_twice_at_once_is_appended_once(server: LiveServer) -> None:
    member = join(server, make_org(server))
    data = os.urandom(64 * 1024)
    sha = hashlib.sha256(data).hexdigest()
    half = len(data) // 2
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: _put(member, sha, 0, len(data), data[:half]), range(8)))
    codes = sorted(a.status_code for a in answers)
    assert codes.count(200) == 1, [a.text for a in answers]
    assert set(codes) == {200, 409}
    assert _status(member, sha, len(data)).json()["received"] == half
    assert _put(member, sha, half, len(data), data[half:]).json()["complete"] is True
    assert blob_path(server.settings(), sha).read_bytes() == data


def test_a_hash_taken_before_the_lock_is_not_trusted_if_the_upload_changed_meanwhile(
    server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last piece's hash is taken before the upload's lock (on SQLite that lock holds
    up every other change). If the upload was started again and refilled with other
    bytes in that moment, the hash is taken again: nothing wrong is ever kept."""
    member = join(server, make_org(server))
    first, second = os.urandom(3000), os.urandom(3000)
    sha = hashlib.sha256(first).hexdigest()
    settings = ServerSettings(data_dir=server.data_dir, database_url=server.database_url)
    engine = make_engine(settings)
    with Session(engine, expire_on_commit=False) as session:
        device = session.get(Device, member.device_id)
        assert device is not None
        membership = session.get(Membership, device.membership_id)
        assert membership is not None
        ctx = DeviceContext(device, membership, session.get(User, membership.user_id),
                            session.get(Workspace, membership.workspace_id))  # type: ignore[arg-type]  # fmt: skip
    assert _status(member, sha, len(first)).status_code == 200
    assert _put(member, sha, 0, len(first), first[:2000]).status_code == 200

    taken_ahead = blobs._hash_ahead

    def meanwhile(*args: Any) -> Any:
        found = taken_ahead(*args)
        # Another device of the member starts the upload again (another size, then this
        # one) and sends other bytes up to the same offset.
        assert _status(member, sha, 1).status_code == 200
        assert _status(member, sha, len(first)).status_code == 200
        assert _put(member, sha, 0, len(first), second[:2000]).status_code == 200
        return found

    monkeypatch.setattr(blobs, "_hash_ahead", meanwhile)
    piece = tmp_path / "last.piece"
    piece.write_bytes(first[2000:])
    with Session(engine, expire_on_commit=False) as session:
        started = blobs.start_piece(session, settings, ctx, sha, 2000, len(first))
        assert isinstance(started, str)
        with pytest.raises(blobs.HashMismatch):
            blobs.finish_piece(session, settings, ctx, sha, 2000, len(first), started, piece,
                               1000)  # fmt: skip
    engine.dispose()
    assert not blob_path(settings, sha).exists()
    with server.session() as session:
        upload = session.exec(select(Upload).where(col(Upload.sha256) == sha)).one()
        assert upload.received == 0  # discarded: the client sends it again from 0


def test_an_attachment_sent_in_one_piece_is_kept_whole(server: LiveServer) -> None:
    """A piece that is the whole attachment is renamed into the store (no copy through a
    partial file, none left behind); with the wrong bytes it is refused and nothing is
    kept."""
    member = join(server, make_org(server))
    data = os.urandom(5000)
    sha = hashlib.sha256(data).hexdigest()
    partial = server.settings().files_dir / "partial"
    before = set(partial.iterdir()) if partial.exists() else set()
    wrong = _put(member, sha, 0, len(data), os.urandom(5000))
    assert wrong.status_code == 422
    assert wrong.json()["error"]["code"] == "hash_mismatch"
    assert not blob_path(server.settings(), sha).exists()

    answer = _put(member, sha, 0, len(data), data)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"sha256": sha, "size": 5000, "received": 5000, "complete": True}
    assert blob_path(server.settings(), sha).read_bytes() == data
    # Sent again (an answer lost on the way): all of it is here already.
    again = _put(member, sha, 0, len(data), data)
    assert again.status_code == 409
    assert again.json()["error"]["details"] == [{"received": 5000, "size": 5000}]
    assert set(partial.iterdir()) <= before  # no partial file was left behind
