"""Resources pushed down to members: published in the server, heard of by pull, listed
and downloaded over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from sync.protocol import EVENT_FORMAT, EventDocument, SignedDocument, open_document
from sync.server import directory, resources
from sync.server.errors import ApiError, Conflict
from sync.server.models import Membership, ResourceVersion, User
from tests.live_server import LiveServer
from tests.server.client import Member, Org, enrol, join, make_invite, make_org

TEMPLATE = b'id = "reflection"\nversion = "1.0.0"\nname = "Reflection"\n'


def _publish(server: LiveServer, org: Org, **kwargs: Any) -> ResourceVersion:
    with server.session() as session:
        workspace = directory.find_workspace(session, org.workspace_id)
        admin = directory.user_for_email(session, "resources-admin@example.org")
        version = resources.publish(session, server.settings(), workspace, created_by=admin,
                                    **kwargs)  # fmt: skip
        session.commit()
        return version


def _resource_events(member: Member) -> list[dict[str, Any]]:
    answer = member.get("/pull", params={"after": 0, "limit": 500})
    assert answer.status_code == 200, answer.text
    found = []
    for item in answer.json()["items"]:
        signed = SignedDocument.model_validate(item["event"])
        event = open_document(signed, bytes.fromhex(member.server_key), EVENT_FORMAT, EventDocument)
        if event.kind == "resource":
            found.append(event.data)
    return found


def test_a_published_template_reaches_members_by_pull_and_downloads_as_a_file(
    server: LiveServer,
) -> None:
    org = make_org(server)
    member = join(server, org)
    _publish(server, org, name="Reflection", kind="template", content=TEMPLATE)

    [event] = _resource_events(member)
    assert event["name"] == "Reflection"
    assert event["kind"] == "template"
    assert event["version"] == 1
    listed = member.get("/resources").json()
    assert listed == [event]

    answer = member.get(f"/resources/{event['id']}/versions/1")
    assert answer.status_code == 200
    assert answer.content == TEMPLATE
    assert answer.headers["content-type"].startswith("application/toml")
    assert answer.headers["content-disposition"].startswith("attachment")
    assert 'filename="Reflection.toml"' in answer.headers["content-disposition"]
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_publishing_the_same_name_again_makes_a_new_version_and_keeps_the_old_one(
    server: LiveServer,
) -> None:
    org = make_org(server)
    member = join(server, org)
    _publish(server, org, name="Reflection", kind="template", content=TEMPLATE)
    second = TEMPLATE.replace(b"1.0.0", b"1.1.0")
    _publish(server, org, name="Reflection", kind="template", content=second)

    assert [e["version"] for e in _resource_events(member)] == [1, 2]
    [latest] = member.get("/resources").json()
    assert latest["version"] == 2
    path = f"/resources/{latest['id']}/versions"
    assert member.get(f"{path}/1").content == TEMPLATE
    assert member.get(f"{path}/2").content == second
    missing = member.get(f"{path}/3")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "resource_not_found"


def test_bad_resources_are_refused_and_nothing_is_sent(server: LiveServer) -> None:
    org = make_org(server)
    member = join(server, org)
    refused: list[dict[str, Any]] = [
        {"name": "Broken", "kind": "template", "content": b"id = = 'x'"},
        {"name": "Binary", "kind": "template", "content": b"\xff\xfe"},
        {"name": "Script", "kind": "link", "url": "javascript:alert(1)"},
        {"name": "Spaces", "kind": "link", "url": "https://example.org/a b"},
        {"name": "Nothing", "kind": "document"},
        {"name": "", "kind": "document", "content": b"x"},
        {"name": "Odd", "kind": "video", "content": b"x"},
        {"name": "Typed", "kind": "document", "content": b"x", "media_type": "not a type"},
    ]
    for kwargs in refused:
        with pytest.raises(ApiError) as caught:
            _publish(server, org, **kwargs)
        assert caught.value.status == 422, kwargs
    _publish(server, org, name="Guide", kind="document", content=b"%PDF-1.7",
             media_type="application/pdf")  # fmt: skip
    with pytest.raises(Conflict):
        _publish(server, org, name="Guide", kind="link", url="https://example.org/guide")
    assert [e["name"] for e in _resource_events(member)] == ["Guide"]


def test_a_document_and_a_link_as_members_see_them(server: LiveServer) -> None:
    org = make_org(server)
    member = join(server, org)
    page = b"<html><script>alert(1)</script></html>"
    _publish(server, org, name="Guide page", kind="document", content=page, media_type="text/html")
    _publish(server, org, name="Handbook", kind="link", url="https://example.org/handbook")

    guide, handbook = member.get("/resources").json()
    assert handbook["url"] == "https://example.org/handbook"
    assert handbook["sha256"] is None
    no_file = member.get(f"/resources/{handbook['id']}/versions/1")
    assert no_file.status_code == 404
    assert no_file.json()["error"]["code"] == "no_file"

    answer = member.get(f"/resources/{guide['id']}/versions/1")
    assert answer.content == page
    assert guide["size"] == len(page)
    # Never shown as a page from the server's origin: saved as a file, no sniffing, no script.
    assert answer.headers["content-disposition"].startswith("attachment")
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in answer.headers["content-security-policy"]


def test_members_of_another_workspace_cannot_see_or_fetch_a_resource(server: LiveServer) -> None:
    org = make_org(server)
    _publish(server, org, name="Reflection", kind="template", content=TEMPLATE)
    with server.session() as session:
        [resource] = resources.latest(session, org.workspace_id)
    outsider = join(server, make_org(server))
    assert outsider.get("/resources").json() == []
    assert _resource_events(outsider) == []
    answer = outsider.get(f"/resources/{resource.id}/versions/1")
    assert answer.status_code == 404
    anonymous = outsider.http.get(server.api(f"/resources/{resource.id}/versions/1"),
                                  headers={"Authorization": ""}, timeout=30)  # fmt: skip
    assert anonymous.status_code == 401


def test_a_new_member_is_sent_the_latest_version_of_every_resource_once(
    server: LiveServer,
) -> None:
    org = make_org(server)
    _publish(server, org, name="Reflection", kind="template", content=TEMPLATE)
    _publish(server, org, name="Reflection", kind="template",
             content=TEMPLATE.replace(b"1.0.0", b"2.0.0"))  # fmt: skip
    _publish(server, org, name="Handbook", kind="link", url="https://example.org/handbook")

    newcomer = join(server, org)
    sent = _resource_events(newcomer)
    assert sorted((e["name"], e["version"]) for e in sent) == [("Handbook", 1), ("Reflection", 2)]

    # The same person's second device pulls those same events, not new copies.
    with server.session() as session:
        membership = session.get(Membership, newcomer.member_id)
        assert membership is not None
        user = session.get(User, membership.user_id)
        assert user is not None
        email = user.email
    second_device = enrol(server, make_invite(server, org, email=email))
    assert second_device.member_id == newcomer.member_id
    assert len(_resource_events(second_device)) == 2


def test_someone_who_joined_on_the_web_gets_each_resource_once_on_their_first_device(
    server: LiveServer,
) -> None:
    org = make_org(server)
    email = "joined-on-the-web@example.org"
    with server.session() as session:
        user = directory.user_for_email(session, email)
        directory.join(session, org.workspace_id, user, "reviewer")
        session.commit()
    _publish(server, org, name="Handbook", kind="link", url="https://example.org/handbook")

    laptop = enrol(server, make_invite(server, org, email=email, role="reviewer"))
    assert [e["name"] for e in _resource_events(laptop)] == ["Handbook"]
