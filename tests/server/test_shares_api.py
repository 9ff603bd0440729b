"""Public share links from a device (publish, list, change, revoke) and the calls the
share page makes (find_by_token, add_comment), on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sqlmodel import col, func, select

from sync.protocol import (
    EVENT_FORMAT,
    SHARE_FORMAT,
    SUBMISSION_FORMAT,
    AssetSnapshot,
    AttachmentRef,
    EventDocument,
    SharePayload,
    ShareRequest,
    SignedDocument,
    open_document,
    sign_document,
)
from sync.server import shares
from sync.server.errors import Forbidden, Gone, Unprocessable
from sync.server.models import Share, ShareComment
from tests.live_server import LiveServer
from tests.server.client import Member, join, make_org, snapshot


def _request(
    member: Member,
    share_id: uuid.UUID | None = None,
    assets: list[AssetSnapshot] | None = None,
    title: str = "My retrospective plan",
    purpose: str = SHARE_FORMAT,
    **options: Any,
) -> ShareRequest:
    share_id = share_id or uuid.uuid4()
    payload = SharePayload(
        share_id=share_id, identity_key=member.identity_hex, title=title,
        created_at=datetime.now(UTC), assets=assets or [snapshot()],
    )  # fmt: skip
    signed = sign_document(member.identity, purpose, payload)
    return ShareRequest(share_id=share_id, snapshot=signed, **options)


def _publish(member: Member, request: ShareRequest) -> requests.Response:
    return member.post("/shares", data=request.model_dump_json(),
                       headers={"Content-Type": "application/json"})  # fmt: skip


def _token(answer: requests.Response) -> str:
    return str(answer.json()["url"]).rsplit("/s/", 1)[1]


def _count_shares(server: LiveServer, member: Member) -> int:
    with server.session() as session:
        return session.exec(
            select(func.count()).select_from(Share)
            .where(col(Share.membership_id) == member.member_id)
        ).one()  # fmt: skip


def _share_events(member: Member) -> list[dict[str, Any]]:
    items = member.get("/pull", params={"after": 0, "limit": 500}).json()["items"]
    opened = [
        open_document(
            SignedDocument.model_validate(item["event"]),
            bytes.fromhex(member.server_key),
            EVENT_FORMAT,
            EventDocument,
        )  # fmt: skip
        for item in items
    ]
    return [event.data for event in opened if event.kind == "share_comment"]


def test_a_published_share_has_an_address_given_once_and_retries_are_harmless(
    server: LiveServer,
) -> None:
    member = join(server, make_org(server))
    request = _request(member, comments_enabled=True)

    created = _publish(member, request)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["url"].startswith(f"{server.url}/s/")
    assert body["title"] == "My retrospective plan"
    assert body["comments_enabled"] is True
    assert body["revoked"] is False
    token = _token(created)
    assert len(token) >= 43
    with server.session() as session:
        found = shares.find_by_token(session, token)
        assert found is not None
        assert found.id == str(request.share_id)
        assert found.token_hash != token  # only a hash of the address is kept
        assert (
            shares.find_by_token(session, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
        )

    again = _publish(member, request)
    assert again.status_code == 200
    assert again.json()["url"] is None
    assert {k: v for k, v in again.json().items() if k != "url"} == {
        k: v for k, v in body.items() if k != "url"
    }
    other = _publish(member, _request(member, share_id=request.share_id, title="Other"))
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "share_id_reused"
    assert _count_shares(server, member) == 1


def test_a_share_is_refused_unless_signed_for_sharing_by_the_device_key(
    server: LiveServer,
) -> None:
    member = join(server, make_org(server))
    stranger = join(server, make_org(server))
    as_submission = _publish(member, _request(member, purpose=SUBMISSION_FORMAT))
    assert as_submission.status_code == 422
    assert as_submission.json()["error"]["code"] == "invalid_signature"
    someone_elses = _request(stranger)
    assert _publish(member, someone_elses).json()["error"]["code"] == "invalid_signature"
    mismatched = _request(member)
    mismatched = mismatched.model_copy(update={"share_id": uuid.uuid4()})
    assert _publish(member, mismatched).json()["error"]["code"] == "invalid_document"
    assert _count_shares(server, member) == 0


def test_a_share_needs_its_attachments_uploaded_by_the_same_member(server: LiveServer) -> None:
    member = join(server, make_org(server))
    data = os.urandom(300)
    sha = hashlib.sha256(data).hexdigest()
    ref = AttachmentRef(sha256=sha, name="photo.jpg", size=300, media_type="image/jpeg")
    request = _request(member, assets=[snapshot(attachments=[ref])])
    missing = _publish(member, request)
    assert missing.status_code == 409
    assert missing.json()["error"]["code"] == "attachment_missing"
    assert _count_shares(server, member) == 0

    assert member.get(f"/blobs/{sha}", params={"size": 300}).ok
    assert member.put(f"/blobs/{sha}", params={"offset": 0, "size": 300}, data=data).ok
    assert _publish(member, request).status_code == 201


def test_an_expiry_must_be_in_the_future_with_a_time_zone(server: LiveServer) -> None:
    member = join(server, make_org(server))
    past = _publish(member, _request(member, expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    assert past.status_code == 422
    assert past.json()["error"]["code"] == "invalid_expiry"
    naive = _request(member, expires_at=datetime.now() + timedelta(days=1))  # noqa: DTZ005
    assert _publish(member, naive).json()["error"]["code"] == "invalid_expiry"
    assert _count_shares(server, member) == 0
    later = datetime.now(UTC) + timedelta(days=7)
    created = _publish(member, _request(member, expires_at=later))
    assert created.status_code == 201
    assert datetime.fromisoformat(created.json()["expires_at"]) == later


def test_a_share_can_be_changed_listed_and_revoked_only_by_its_owner(server: LiveServer) -> None:
    org = make_org(server)
    member = join(server, org)
    colleague = join(server, org)
    request = _request(member)
    token = _token(_publish(member, request))
    path = f"/shares/{request.share_id}"

    opened = member.http.patch(server.api(path), json={"comments_enabled": True}, timeout=30)
    assert opened.status_code == 200, opened.text
    assert opened.json()["comments_enabled"] is True
    assert opened.json()["url"] is None
    soon = datetime.now(UTC) + timedelta(hours=2)
    dated = member.http.patch(server.api(path), json={"expires_at": soon.isoformat()}, timeout=30)
    assert datetime.fromisoformat(dated.json()["expires_at"]) == soon
    assert dated.json()["comments_enabled"] is True  # untouched: not in the request
    past = member.http.patch(
        server.api(path), json={"expires_at": "2000-01-01T00:00:00Z"}, timeout=30
    )
    assert past.json()["error"]["code"] == "invalid_expiry"
    cleared = member.http.patch(server.api(path), json={"expires_at": None}, timeout=30)
    assert cleared.json()["expires_at"] is None
    unknown = member.http.patch(server.api(path), json={"title": "x"}, timeout=30)
    assert unknown.status_code == 422

    # A colleague can neither see, change nor revoke it.
    assert colleague.get("/shares").json() == []
    not_theirs = colleague.http.patch(server.api(path), json={"comments_enabled": False},
                                      timeout=30)  # fmt: skip
    assert not_theirs.status_code == 404
    assert not_theirs.json()["error"]["code"] == "share_not_found"
    assert colleague.delete(path).status_code == 404

    listed = member.get("/shares").json()
    assert [s["share_id"] for s in listed] == [str(request.share_id)]

    revoked = member.delete(path)
    assert revoked.status_code == 200
    assert revoked.json()["revoked"] is True
    assert member.delete(path).json()["revoked"] is True  # again is fine
    with server.session() as session:
        assert shares.find_by_token(session, token) is None
    late = member.http.patch(server.api(path), json={"comments_enabled": False}, timeout=30)
    assert late.status_code == 409
    assert late.json()["error"]["code"] == "share_revoked"


def test_the_share_listing_pages_through_every_share(server: LiveServer) -> None:
    member = join(server, make_org(server))
    ids: list[str] = []
    for _ in range(5):
        request = _request(member)
        assert _publish(member, request).status_code == 201
        ids.append(str(request.share_id))
    seen: list[str] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if after:
            params["after"] = after
        page = member.get("/shares", params=params).json()
        if not page:
            break
        assert len(page) <= 2
        seen += [s["share_id"] for s in page]
        after = page[-1]["share_id"]
    assert sorted(seen) == sorted(ids)
    assert len(seen) == 5


def test_comments_reach_the_sharer_only_while_the_share_is_live_and_open(
    server: LiveServer,
) -> None:
    member = join(server, make_org(server))
    closed_request = _request(member)
    closed_token = _token(_publish(member, closed_request))
    open_request = _request(member, comments_enabled=True)
    open_token = _token(_publish(member, open_request))

    with server.session() as session:
        closed = shares.find_by_token(session, closed_token)
        assert closed is not None
        with pytest.raises(Forbidden):
            shares.add_comment(session, closed, "Sam", "Nice work")
        live = shares.find_by_token(session, open_token)
        assert live is not None
        for name, text in (("", "hello"), ("Sam", "   "), ("Sam", "x" * 5001)):
            with pytest.raises(Unprocessable):
                shares.add_comment(session, live, name, text)
        comment = shares.add_comment(session, live, "  Sam\u202e \x00Lee ", "Great plan!\r\nMore?")
        session.commit()
        assert comment.author_name == "Sam Lee"

    events = _share_events(member)
    assert len(events) == 1
    assert events[0]["share_id"] == str(open_request.share_id)
    assert events[0]["author_name"] == "Sam Lee"
    assert events[0]["text"] == "Great plan!\nMore?"

    # Once the share has expired, the page is gone and comments are refused.
    with server.session() as session:
        share = session.get(Share, str(open_request.share_id))
        assert share is not None
        share.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        session.add(share)
        session.commit()
        assert shares.find_by_token(session, open_token) is None
        with pytest.raises(Gone):
            shares.add_comment(session, share, "Sam", "Still there?")
        assert session.exec(select(func.count()).select_from(ShareComment)
                            .where(col(ShareComment.share_id) == share.id)).one() == 1  # fmt: skip
