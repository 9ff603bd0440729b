"""Bad requests to the device API get a clear 4xx with a machine-readable code, and
leave nothing behind; the OpenAPI document describes every route. Over HTTP, on SQLite
and PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from sqlmodel import col, func, select

from sync import protocol
from sync.server import directory
from sync.server.models import Device, Share, Submission, Upload
from tests.live_server import LiveServer
from tests.server.client import Member, join, make_org

JSON = {"Content-Type": "application/json"}


def _stored(server: LiveServer, member: Member) -> int:
    """Submissions, shares and uploads this member has on the server."""
    with server.session() as session:
        return sum(
            session.exec(
                select(func.count()).select_from(table).where(
                    col(table.membership_id) == member.member_id  # type: ignore[attr-defined]
                )
            ).one()
            for table in (Submission, Share, Upload)
        )  # fmt: skip


def _code(answer: requests.Response) -> str:
    return str(answer.json()["error"]["code"])


def _raw(server: LiveServer, head: str, body: bytes = b"") -> tuple[int, dict[str, Any]]:
    """Send a request by hand (a body the server may stop reading part way) and read the
    answer's status and JSON."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as raw:

        def send() -> None:
            # The server may answer and close before it has read all of it.
            with contextlib.suppress(OSError):
                raw.sendall(head.encode() + body)

        sender = threading.Thread(target=send)
        sender.start()
        received = b""
        while b"\r\n\r\n" not in received or len(received) < _expected(received):
            chunk = raw.recv(65536)
            if not chunk:
                break
            received += chunk
        sender.join(30)
    head_bytes, _, payload = received.partition(b"\r\n\r\n")
    status = int(head_bytes.split(b" ", 2)[1])
    return status, json.loads(payload)


def _expected(received: bytes) -> int:
    head, _, _ = received.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(head) + 4 + int(value)
    return len(received) + 1


def test_malformed_json_wrong_types_and_unknown_fields_are_refused(server: LiveServer) -> None:
    org = make_org(server)
    member = join(server, org)
    signed = member.sign(member.payload(org.point_id)).model_dump()
    bad_bodies: list[tuple[str, str]] = [
        ("/submissions", '{"body": "abc", '),
        ("/submissions", json.dumps({**signed, "signature": 12345})),
        ("/submissions", json.dumps({**signed, "extra": True})),
        ("/submissions", json.dumps({k: v for k, v in signed.items() if k != "key_id"})),
        ("/submissions", json.dumps([signed])),
        ("/shares", json.dumps({"share_id": "not-a-uuid", "snapshot": signed})),
        ("/shares", json.dumps({"share_id": str(uuid.uuid4()), "snapshot": signed,
                                "comments_enabled": "maybe"})),
        ("/shares", json.dumps({"share_id": str(uuid.uuid4()), "snapshot": signed,
                                "expires_at": "next tuesday"})),
        ("/enrol", json.dumps({"invite_code": "x" * 65, "identity_key": "0" * 64,
                               "device_name": "Laptop"})),
        ("/enrol", json.dumps({"invite_code": "ABCD-EFGH", "identity_key": "0" * 64,
                               "device_name": "L" * 201})),
        ("/enrol", json.dumps({"invite_code": "ABCD-EFGH", "identity_key": "Z" * 64,
                               "device_name": "Laptop"})),
    ]  # fmt: skip
    for path, body in bad_bodies:
        answer = member.post(path, data=body, headers=JSON)
        assert answer.status_code == 422, (path, body, answer.text)
        error = answer.json()["error"]
        assert error["code"] == "invalid_request"
        assert error["details"]
        assert body[:40] not in answer.text  # the input is never echoed back
    # Numbers too large for the database are refused as input, not failed on.
    too_big = (
        "/pull?after=9223372036854775808",
        f"/resources/{uuid.uuid4()}/versions/2147483648",
        "/pull?limit=1e3",
        "/submissions?after=123",
    )
    for path in too_big:
        answer = member.get(path)
        assert answer.status_code == 422, (path, answer.text)
        assert _code(answer) == "invalid_request"
    assert _stored(server, member) == 0


def test_a_body_over_the_limit_is_refused_before_it_is_read(server: LiveServer) -> None:
    member = join(server, make_org(server))
    limit = server.settings().max_body_bytes
    declared = (
        f"POST /api/v1/submissions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {member.token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {limit + 1}\r\nConnection: close\r\n\r\n"
    )
    status, body = _raw(server, declared)
    assert status == 413
    assert body["error"]["code"] == "too_large"

    # Without a declared length the count is kept while reading, and stops at the limit.
    chunked = (
        f"POST /api/v1/shares HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {member.token}\r\nContent-Type: application/json\r\n"
        f"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    piece = b"A" * (1024 * 1024)
    body_bytes = (f"{len(piece):x}\r\n".encode() + piece + b"\r\n") * (limit // len(piece) + 1)
    status, body = _raw(server, chunked, body_bytes + b"0\r\n\r\n")
    assert status == 413
    assert body["error"]["code"] == "too_large"

    # Attachment pieces have their own limit.
    chunk_limit = server.settings().max_chunk_bytes
    sha = "a" * 64
    piece_head = (
        f"PUT /api/v1/blobs/{sha}?offset=0&size={chunk_limit * 2} HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nAuthorization: Bearer {member.token}\r\n"
        f"Content-Type: application/octet-stream\r\n"
        f"Content-Length: {chunk_limit + 1}\r\nConnection: close\r\n\r\n"
    )
    status, body = _raw(server, piece_head)
    assert status == 413
    assert body["error"]["code"] == "too_large"
    assert _stored(server, member) == 0


def test_tokens_that_are_missing_unknown_expired_or_revoked_are_told_apart(
    server: LiveServer,
) -> None:
    org = make_org(server)
    expired = join(server, org)
    revoked = join(server, org)
    with server.session() as session:
        device = session.get(Device, expired.device_id)
        assert device is not None
        device.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        session.add(device)
        directory.revoke_device(session, revoked.device_id)
        session.commit()

    cases = [
        ({}, "token_missing"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "token_missing"),
        ({"Authorization": "Bearer "}, "token_missing"),
        ({"Authorization": "Bearer not-a-real-token"}, "token_unknown"),
        ({"Authorization": f"Bearer {expired.token}"}, "token_expired"),
        ({"Authorization": f"Bearer {revoked.token}"}, "token_revoked"),
    ]
    for headers, code in cases:
        answer = requests.get(server.api("/me"), headers=headers, timeout=30)
        assert answer.status_code == 401, (headers, answer.text)
        assert answer.json()["error"]["code"] == code
        assert answer.headers["www-authenticate"] == "Bearer"
        # Nor can such a device send anything.
        sent = requests.post(server.api("/submissions"), headers={**headers, **JSON},
                             data=expired.sign(expired.payload(org.point_id)).model_dump_json(),
                             timeout=30)  # fmt: skip
        assert sent.status_code == 401
        assert sent.json()["error"]["code"] == code
    assert _stored(server, expired) == 0
    assert _stored(server, revoked) == 0


def test_a_device_without_a_scope_is_refused_what_needs_it(server: LiveServer) -> None:
    org = make_org(server)
    member = join(server, org)
    with server.session() as session:
        device = session.get(Device, member.device_id)
        assert device is not None
        device.scopes = "pull"
        session.add(device)
        session.commit()
    attempts = [
        member.submit(member.sign(member.payload(org.point_id))),
        member.get("/submissions"),
        member.get(f"/blobs/{'b' * 64}", params={"size": 1}),
        member.get("/shares"),
    ]
    for answer in attempts:
        assert answer.status_code == 403, answer.text
        assert _code(answer) == "scope_missing"
    assert member.get("/pull").status_code == 200
    assert _stored(server, member) == 0


def test_the_openapi_document_describes_every_route_with_protocol_models(
    server: LiveServer,
) -> None:
    answer = requests.get(server.api("/openapi.json"), timeout=30)
    assert answer.status_code == 200
    document = answer.json()
    schemas = set(document["components"]["schemas"])
    ours = {name for name in vars(protocol) if isinstance(getattr(protocol, name), type)}
    # FastAPI's own validation-error models are replaced by our ErrorResponse.
    assert schemas - ours <= {"HTTPValidationError", "ValidationError"}
    expected = {
        ("get", "/server"), ("post", "/enrol"), ("get", "/me"),
        ("post", "/submissions"), ("get", "/submissions"),
        ("get", "/submissions/{submission_id}"), ("post", "/submissions/{submission_id}/withdraw"),
        ("get", "/blobs/{sha256}"), ("put", "/blobs/{sha256}"),
        ("get", "/pull"), ("post", "/reviews/{submission_id}"),
        ("post", "/shares"), ("get", "/shares"), ("patch", "/shares/{share_id}"),
        ("delete", "/shares/{share_id}"),
        ("get", "/resources"), ("get", "/resources/{resource_id}/versions/{version}"),
    }  # fmt: skip
    described = {
        (method, path.removeprefix("/api/v1"))
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert expected <= described
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            success = {k: v for k, v in operation["responses"].items() if k.startswith("2")}
            assert success, (method, path)
            for response in success.values():
                content = response.get("content", {})
                assert content, (method, path)
                schema = content.get("application/json", {}).get("schema")
                assert schema or "application/octet-stream" in content, (method, path)
            assert "4XX" in operation["responses"], (method, path)


def test_nothing_but_the_server_info_and_enrolment_is_open_without_a_token(
    server: LiveServer,
) -> None:
    document = requests.get(server.api("/openapi.json"), timeout=30).json()
    open_routes = {("get", "/api/v1/server"), ("post", "/api/v1/enrol")}
    for path, operations in document["paths"].items():
        concrete = (
            path.replace("{sha256}", "c" * 64).replace("{version}", "1")
            .replace("{submission_id}", str(uuid.uuid4())).replace("{share_id}", str(uuid.uuid4()))
            .replace("{resource_id}", str(uuid.uuid4()))
        )  # fmt: skip
        for method in operations:
            if (method, path) in open_routes:
                continue
            answer = requests.request(method, f"{server.url}{concrete}", timeout=30)
            assert answer.status_code == 401, (method, path, answer.text)
            assert _code(answer) == "token_missing"
