"""Public share pages (/s/{token}) over HTTP, on SQLite and PostgreSQL: a member
publishes from the app's API, a visitor reads the page, downloads attachments and
comments; revoked, expired and unknown addresses all look the same."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sqlmodel import col, func, select

from sync.protocol import (
    SHARE_FORMAT,
    AssetSnapshot,
    AttachmentRef,
    SharePayload,
    ShareRequest,
    SnapshotField,
    sign_document,
)
from sync.server.models import Event, Share, ShareComment
from tests.live_server import LiveServer
from tests.server.browser import HOSTILE, PNG, Browser, executable_markup, parse, upload
from tests.server.client import Member, join, make_org, snapshot


def _publish(
    member: Member, assets: list[AssetSnapshot] | None = None, title: str = "My learning plan",
    **options: Any,
) -> tuple[str, str]:  # fmt: skip
    """Publish a share as the desktop app does; returns its id and its page's path."""
    share_id = uuid.uuid4()
    payload = SharePayload(
        share_id=share_id, identity_key=member.identity_hex, title=title,
        created_at=datetime.now(UTC), assets=assets or [snapshot()],
    )  # fmt: skip
    request = ShareRequest(
        share_id=share_id, snapshot=sign_document(member.identity, SHARE_FORMAT, payload),
        **options,
    )  # fmt: skip
    answer = member.post("/shares", data=request.model_dump_json(),
                         headers={"Content-Type": "application/json"})  # fmt: skip
    assert answer.status_code == 201, answer.text
    return str(share_id), "/s/" + str(answer.json()["url"]).rsplit("/s/", 1)[1]


def _comments(server: LiveServer, share_id: str) -> list[ShareComment]:
    with server.session() as session:
        return list(session.exec(
            select(ShareComment).where(col(ShareComment.share_id) == share_id)
        ).all())  # fmt: skip


def test_a_visitor_reads_a_shared_snapshot_that_is_not_indexed_or_cached(
    server: LiveServer,
) -> None:
    member = join(server, make_org(server))
    asset = snapshot("Retrospective, March", specific="We met on *Friday*.")
    asset.tags = ["teamwork"]
    asset.skills = ["Facilitation"]
    _, path = _publish(member, [asset], title="My retrospective")
    page = Browser(server).get(path)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["X-Robots-Tag"].startswith("noindex")
    assert "<title>My retrospective" in page.text
    assert "Retrospective, March" in page.text
    assert "<em>Friday</em>" in page.text
    assert "Facilitation" in page.text
    assert "teamwork" in page.text
    assert "Signature valid" in page.text
    assert "Leave a comment" not in page.text  # comments are off unless asked for
    assert not [f for f in parse(page.text).forms if f.action.startswith("/s/")]
    # No form on the page, and none behind it either.
    answer = Browser(server).post(path + "/comments", {"author_name": "A", "text": "hi"})
    assert answer.status_code == 403


def test_revoked_expired_and_unknown_addresses_are_the_same_404(server: LiveServer) -> None:
    member = join(server, make_org(server))
    revoked_id, revoked = _publish(member)
    assert member.delete(f"/shares/{revoked_id}").ok
    expiring_id, expiring = _publish(member, expires_at=datetime.now(UTC) + timedelta(hours=1))
    with server.session() as session:
        share = session.get(Share, expiring_id)
        assert share is not None
        share.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        session.add(share)
        session.commit()
    browser = Browser(server)
    paths = [revoked, expiring, "/s/" + "A" * 43, "/s/short", f"{revoked}/attachments/{'0' * 64}"]
    pages = [browser.get(path) for path in paths]
    assert {page.status_code for page in pages} == {404}
    assert len({page.text for page in pages}) == 1
    for page in pages:
        assert page.headers["X-Robots-Tag"].startswith("noindex")
    comment = browser.post(revoked + "/comments", {"author_name": "A", "text": "B"})
    assert comment.status_code == 404


def test_comments_are_taken_shown_and_sent_to_the_sharer(server: LiveServer) -> None:
    member = join(server, make_org(server))
    share_id, path = _publish(member, comments_enabled=True)
    visitor = Browser(server)
    answer = visitor.submit(path, f"{path}/comments", author_name="Grace",
                            text="Lovely plan.\nWhat will you measure?")  # fmt: skip
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"{path}#comments"
    page = visitor.get(path)
    assert "Grace" in page.text
    assert "Lovely plan.\nWhat will you measure?" in page.text
    assert [c.author_name for c in _comments(server, share_id)] == ["Grace"]
    with server.session() as session:
        kinds = session.exec(
            select(Event.kind).where(col(Event.membership_id) == member.member_id)
        ).all()
    assert list(kinds) == ["share_comment"]


def test_bad_comments_are_refused_and_what_was_typed_is_kept(server: LiveServer) -> None:
    member = join(server, make_org(server))
    share_id, path = _publish(member, comments_enabled=True)
    visitor = Browser(server)
    nameless = visitor.submit(path, f"{path}/comments", author_name="  ", text="My thoughts")
    assert nameless.status_code == 422
    assert "My thoughts" in nameless.text
    too_long = visitor.submit(path, f"{path}/comments", author_name="Al", text="x" * 5001)
    assert too_long.status_code == 422
    assert _comments(server, share_id) == []


def test_comment_forms_from_elsewhere_are_refused(server: LiveServer) -> None:
    member = join(server, make_org(server))
    share_id, path = _publish(member, comments_enabled=True)
    visitor = Browser(server)
    fields = visitor.form(path, f"{path}/comments")
    attempts: list[tuple[Browser, dict[str, str], dict[str, str]]] = [
        (visitor, {"author_name": "A", "text": "no token"}, {}),
        (
            visitor,
            {**fields, "author_name": "A", "text": "evil"},
            {"Origin": "https://evil.example"},
        ),
        (visitor, {**fields, "author_name": "A", "text": "evil"}, {"Sec-Fetch-Site": "cross-site"}),
        # The token is bound to the visitor's own cookie: a page fetched by someone
        # else (an attacker) gives a token that is useless in the victim's browser.
        (Browser(server), {**fields, "author_name": "A", "text": "no cookie"}, {}),
    ]
    for browser, data, headers in attempts:
        answer = browser.post(f"{path}/comments", data, headers=headers)
        assert answer.status_code == 403, data
    # A token for one share does not work on another.
    _, other = _publish(member, comments_enabled=True)
    assert visitor.post(f"{other}/comments", {**fields, "author_name": "A", "text": "x"}
                        ).status_code == 403  # fmt: skip
    assert _comments(server, share_id) == []


def test_comments_are_rate_limited_per_address(server: LiveServer) -> None:
    if server.backend != "sqlite":
        pytest.skip("the limiter lives in the server process: one database is enough")
    member = join(server, make_org(server))
    share_id, path = _publish(member, comments_enabled=True)
    visitor = Browser(server)
    for number in range(5):
        answer = visitor.submit(path, f"{path}/comments", author_name="Bo", text=f"n{number}")
        assert answer.status_code == 303
    answer = visitor.submit(path, f"{path}/comments", author_name="Bo", text="one more")
    assert answer.status_code == 429
    assert len(_comments(server, share_id)) == 5
    other = Browser(server)
    assert other.submit(path, f"{path}/comments", author_name="Cy", text="hi").status_code == 303


def test_hostile_shared_content_and_comments_never_run(server: LiveServer) -> None:
    member = join(server, make_org(server))
    asset = snapshot(HOSTILE)
    asset.fields = [
        SnapshotField(name="md", label="Notes", type="markdown",
                      value="[x](javascript:alert(1)) <img src=x onerror=alert(1)> "
                            "<iframe src='https://evil.example'></iframe>"),
        SnapshotField(name="t", label=HOSTILE, type="text", value={"a": [HOSTILE]}),
    ]  # fmt: skip
    _, path = _publish(member, [asset], title=HOSTILE, comments_enabled=True)
    visitor = Browser(server)
    comment = '<img src=x onerror="alert(1)"> [y](javascript:alert(1))'
    answer = visitor.submit(path, f"{path}/comments", author_name=HOSTILE, text=comment)
    assert answer.status_code == 303
    page = visitor.get(path)
    assert executable_markup(page.text) == []
    text = "".join(parse(page.text).text)
    assert HOSTILE in text
    assert '<img src=x onerror="alert(1)">' in text  # the comment, shown as typed


def test_only_the_shares_own_attachments_can_be_downloaded(server: LiveServer) -> None:
    member = join(server, make_org(server))
    png = upload(member, PNG)
    html = upload(member, b"<html><script>alert(1)</script></html>")
    kept_back = upload(member, b"not shared")
    _, path = _publish(member, [snapshot(attachments=[
        AttachmentRef(sha256=png, name="board.png", size=len(PNG), media_type="image/png"),
        AttachmentRef(sha256=html, name="page.html", size=38, media_type="text/html"),
    ])])  # fmt: skip
    visitor = Browser(server)
    page = visitor.get(path)
    assert [a["src"] for t, a in parse(page.text).tags if t == "img"] == [
        f"{path}/attachments/{png}"
    ]
    picture = visitor.get(f"{path}/attachments/{png}")
    assert picture.content == PNG
    assert picture.headers["X-Robots-Tag"].startswith("noindex")
    assert picture.headers["Cache-Control"] == "no-store"
    page_file = visitor.get(f"{path}/attachments/{html}")
    assert page_file.headers["Content-Type"] == "application/octet-stream"
    assert page_file.headers["Content-Disposition"].startswith("attachment;")
    assert visitor.get(f"{path}/attachments/{kept_back}").status_code == 404
    anonymous = requests.get(f"{server.url}{path}/attachments/{kept_back}", timeout=10)
    assert anonymous.status_code == 404


def test_a_share_whose_bytes_were_changed_shows_a_warning(server: LiveServer) -> None:
    member = join(server, make_org(server))
    share_id, path = _publish(member, title="Original title")
    with server.session() as session:
        share = session.get(Share, share_id)
        assert share is not None
        share.payload = share.payload.replace(b"Original title", b"Changed title!")
        session.add(share)
        session.commit()
        assert session.exec(select(func.count()).select_from(Share)).one() >= 1
    page = Browser(server).get(path)
    assert "Changed title!" in page.text
    assert "Warning: the signature does not match." in page.text
