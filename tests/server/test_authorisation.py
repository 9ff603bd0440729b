"""Who gets in where: every route of the server, for every role, on a real server.

The matrix below names, for each route, the roles that get in. The test first checks
that the matrix covers exactly the server's routes (a new route without a rule fails
here), then asks each route as each role and compares. "Gets in" means the route did
its work or judged the request on its merits (2xx, a redirect elsewhere, 409, 422...);
kept out means 401, 403, 404, or a redirect to the sign-in page.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from sync.protocol import SHARE_FORMAT, PeerReviewRequest, SharePayload, ShareRequest
from sync.server import directory, resources, reviews
from sync.server.app import create_app
from sync.server.config import ServerSettings
from sync.server.models import Membership, Submission, User
from tests.live_server import LiveServer
from tests.server.browser import Browser, make_staff, signed_in, upload
from tests.server.client import Member, Org, enrol, make_invite, make_org, snapshot

API_ROLES = ("anonymous", "outsider", "member", "reviewer", "admin")
WEB_ROLES = (*API_ROLES, "server_admin")

ALL = frozenset(WEB_ROLES)
SIGNED_IN = ALL - {"anonymous"}
DEVICES = frozenset({"outsider", "member", "reviewer", "admin"})
IN_WORKSPACE = frozenset({"member", "reviewer", "admin"})
OWNER = frozenset({"member"})
REVIEWERS = frozenset({"reviewer", "admin", "server_admin"})
ADMINS = frozenset({"admin", "server_admin"})

#: (method, path) -> the roles that get in. API rows are asked by devices; web rows by
#: browsers. The "member" owns the submissions and shares; the "reviewer" is also
#: the assigned peer reviewer of the submission; the "outsider" belongs to another
#: workspace; "server_admin" administers the server but is in no workspace.
MATRIX: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/api/v1/openapi.json"): ALL,
    ("GET", "/api/v1/server"): ALL,
    ("POST", "/api/v1/enrol"): ALL,
    ("GET", "/api/v1/me"): DEVICES,
    ("POST", "/api/v1/submissions"): IN_WORKSPACE,
    ("GET", "/api/v1/submissions"): DEVICES,
    ("GET", "/api/v1/submissions/{submission_id}"): OWNER,
    ("POST", "/api/v1/submissions/{submission_id}/withdraw"): OWNER,
    ("POST", "/api/v1/reviews/{submission_id}"): frozenset({"reviewer"}),
    ("GET", "/api/v1/blobs/{sha256}"): DEVICES,
    ("PUT", "/api/v1/blobs/{sha256}"): DEVICES,
    ("POST", "/api/v1/shares"): DEVICES,
    ("GET", "/api/v1/shares"): DEVICES,
    ("PATCH", "/api/v1/shares/{share_id}"): OWNER,
    ("DELETE", "/api/v1/shares/{share_id}"): OWNER,
    ("GET", "/api/v1/pull"): DEVICES,
    ("GET", "/api/v1/resources"): DEVICES,
    ("GET", "/api/v1/resources/{resource_id}/versions/{version}"): IN_WORKSPACE,
    # Web pages: public ones first.
    ("GET", "/static/cairn.css"): ALL,
    ("GET", "/sign-in"): ALL,
    ("POST", "/sign-in"): ALL,
    ("GET", "/invite"): ALL,
    ("POST", "/invite"): ALL,
    ("GET", "/s/{token}"): ALL,
    ("POST", "/s/{token}/comments"): ALL,
    ("GET", "/s/{token}/attachments/{sha256}"): ALL,
    ("POST", "/sign-out"): SIGNED_IN,
    ("GET", "/"): SIGNED_IN,
    ("POST", "/workspaces"): frozenset({"server_admin"}),
    ("GET", "/w/{workspace_id}"): REVIEWERS,
    ("GET", "/w/{workspace_id}/submissions/{submission_id}"): REVIEWERS,
    ("POST", "/w/{workspace_id}/submissions/{submission_id}/comments"): REVIEWERS,
    ("POST", "/w/{workspace_id}/submissions/{submission_id}/decisions"): REVIEWERS,
    ("POST", "/w/{workspace_id}/submissions/{submission_id}/peers"): REVIEWERS,
    ("GET", "/w/{workspace_id}/submissions/{submission_id}/attachments/{sha256}"): REVIEWERS,
    ("GET", "/w/{workspace_id}/members"): REVIEWERS,
    ("POST", "/w/{workspace_id}/invites"): REVIEWERS,
    ("POST", "/w/{workspace_id}/members/{membership_id}/role"): ADMINS,
    ("GET", "/w/{workspace_id}/admin"): ADMINS,
    ("POST", "/w/{workspace_id}/points"): ADMINS,
    ("POST", "/w/{workspace_id}/resources"): ADMINS,
}


def _app_routes(tmp_path: Any) -> set[tuple[str, str]]:
    settings = ServerSettings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/routes.db")
    app = create_app(settings)
    found: set[tuple[str, str]] = set()

    def walk(routes: list[Any], prefix: str) -> None:
        for route in routes:
            # FastAPI (0.16x) wraps an included router; look inside it.
            if (inner := getattr(route, "original_router", None)) is not None:
                walk(inner.routes, prefix + route.include_context.prefix)
                continue
            for method in getattr(route, "methods", None) or ():
                if method != "HEAD":
                    found.add((method, prefix + route.path))

    walk(app.routes, "")
    return found


def test_the_matrix_covers_every_route_of_the_server(tmp_path: Any) -> None:
    routes = _app_routes(tmp_path)
    assert routes - MATRIX.keys() == set(), "routes without a rule in the matrix"
    assert MATRIX.keys() - routes == set(), "rules for routes that no longer exist"


# ----------------------------------------------------------------- the world


@dataclass
class World:
    server: LiveServer
    org: Org
    other: Org
    devices: dict[str, Member]
    browsers: dict[str, Callable[[], Browser]]
    emails: dict[str, str]
    submission_id: str
    withdrawable_id: str
    share_ids: dict[str, str]
    share_token: str
    share_sha: str
    attachment_sha: str
    resource_id: str
    member_membership_id: str
    sessions: dict[str, Browser] = field(default_factory=dict)

    def browser(self, role: str) -> Browser:
        if role not in self.sessions:
            self.sessions[role] = self.browsers[role]()
        return self.sessions[role]


def _person(server: LiveServer, org: Org, role: str) -> tuple[Member, Callable[[], Browser], str]:
    """Someone with ``role`` in ``org``: a password for the web and an enrolled device."""
    staff = make_staff(server, org, role)
    device = enrol(server, make_invite(server, org, email=staff.email, role=role))
    return device, lambda: signed_in(server, staff), staff.email


def _share(member: Member, comments: bool = True, attachments: list[Any] | None = None) -> Any:
    share_id = uuid.uuid4()
    payload = SharePayload(
        share_id=share_id, identity_key=member.identity_hex, title="How I ran a retrospective",
        created_at=datetime.now(UTC), assets=[snapshot(attachments=attachments)],
    )  # fmt: skip
    request = ShareRequest(
        share_id=share_id, snapshot=member.sign(payload, SHARE_FORMAT),  # type: ignore[arg-type]
        comments_enabled=comments,
    )  # fmt: skip
    answer = member.post("/shares", data=request.model_dump_json(),
                         headers={"Content-Type": "application/json"})  # fmt: skip
    assert answer.status_code == 201, answer.text
    return share_id, answer.json()["url"]


@pytest.fixture(scope="module")
def world(server: LiveServer) -> World:
    from sync.protocol import AttachmentRef

    org = make_org(server, mode="open")
    other = make_org(server, mode="open")
    member, member_browser, member_email = _person(server, org, "member")
    reviewer, reviewer_browser, reviewer_email = _person(server, org, "reviewer")
    admin, admin_browser, admin_email = _person(server, org, "admin")
    outsider, outsider_browser, outsider_email = _person(server, other, "reviewer")
    server_admin = make_staff(server, None, server_admin=True)

    data = b"retro board photo " * 1000
    sha = upload(member, data)
    ref = AttachmentRef(sha256=sha, name="board.png", size=len(data), media_type="image/png")
    signed = member.sign(member.payload(org.point_id, [snapshot(attachments=[ref])]))
    submitted = member.submit(signed)
    assert submitted.status_code == 201, submitted.text
    submission_id = submitted.json()["submission_id"]
    withdrawable = member.submit(member.sign(member.payload(org.point_id)))
    assert withdrawable.status_code == 201, withdrawable.text

    with server.session() as session:
        submission = session.get(Submission, submission_id)
        peer = session.get(Membership, reviewer.member_id)
        assigner = session.get(User, server_admin.user_id)
        assert submission is not None
        assert peer is not None
        assert assigner is not None
        reviews.assign_peer(session, submission, peer, assigner)
        workspace = directory.find_workspace(session, org.workspace_id)
        version = resources.publish(
            session, server.settings(), workspace, name="Handbook", kind="document",
            content=b"handbook", media_type="text/plain",
        )  # fmt: skip
        session.commit()
        resource_id = version.resource_id

    patchable, url = _share(member, attachments=[ref])
    deletable, _ = _share(member)
    return World(
        server=server, org=org, other=other,
        devices={"member": member, "reviewer": reviewer, "admin": admin, "outsider": outsider},
        browsers={"member": member_browser, "reviewer": reviewer_browser,
                  "admin": admin_browser, "outsider": outsider_browser,
                  "server_admin": lambda: signed_in(server, server_admin)},
        emails={"member": member_email, "reviewer": reviewer_email, "admin": admin_email,
                "outsider": outsider_email, "server_admin": server_admin.email},
        submission_id=submission_id, withdrawable_id=withdrawable.json()["submission_id"],
        share_ids={"patch": str(patchable), "delete": str(deletable)},
        share_token=url.rsplit("/s/", 1)[1], share_sha=sha, attachment_sha=sha,
        resource_id=resource_id, member_membership_id=member.member_id,
    )  # fmt: skip


# ------------------------------------------------------------------ requests


def _api(world: World, role: str, method: str, path: str) -> requests.Response:
    """Ask an API route as ``role`` with a request that is right for it."""
    device = world.devices.get(role)
    http = device.http if device else requests.Session()
    url = world.server.api(path.removeprefix("/api/v1"))
    json_body: Any = None
    params: dict[str, Any] = {}
    data: bytes | None = None
    if path == "/api/v1/enrol":
        key = uuid.uuid4().bytes * 2
        json_body = {"invite_code": make_invite(world.server, world.org),
                     "identity_key": key.hex(), "device_name": "Matrix laptop"}  # fmt: skip
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        json_body["identity_key"] = (
            Ed25519PrivateKey.generate().public_key().public_bytes_raw().hex()
        )
    elif method == "POST" and path == "/api/v1/submissions":
        signer = device or world.devices["member"]
        json_body = signer.sign(signer.payload(world.org.point_id)).model_dump(mode="json")
    elif path.startswith("/api/v1/blobs/"):
        data = b"piece"
        sha = __import__("hashlib").sha256(data).hexdigest()
        url = world.server.api(f"/blobs/{sha}")
        params = {"size": len(data)} if method == "GET" else {"offset": 0, "size": len(data)}
    elif method == "POST" and path == "/api/v1/shares":
        signer = device or world.devices["member"]
        share_id = uuid.uuid4()
        payload = SharePayload(
            share_id=share_id, identity_key=signer.identity_hex, title="Matrix",
            created_at=datetime.now(UTC), assets=[snapshot()],
        )  # fmt: skip
        json_body = ShareRequest(
            share_id=share_id, snapshot=signer.sign(payload, SHARE_FORMAT)  # type: ignore[arg-type]
        ).model_dump(mode="json")
    elif path == "/api/v1/reviews/{submission_id}":
        json_body = PeerReviewRequest(text="Clear and well evidenced.").model_dump()
    elif path == "/api/v1/shares/{share_id}" and method == "PATCH":
        json_body = {"comments_enabled": True}
    filled = (
        url.replace("{submission_id}", world.submission_id)
        .replace("/submissions/" + world.submission_id + "/withdraw",
                 "/submissions/" + world.withdrawable_id + "/withdraw")
        .replace("{share_id}", world.share_ids["patch" if method == "PATCH" else "delete"])
        .replace("{resource_id}", world.resource_id)
        .replace("{version}", "1")
    )  # fmt: skip
    headers = {"Content-Type": "application/octet-stream"} if data is not None else {}
    return http.request(method, filled, json=json_body, params=params, data=data,
                        headers=headers, timeout=30)  # fmt: skip


def _web(world: World, role: str, method: str, path: str) -> requests.Response:
    """Ask a web route as ``role``: signed in (except "anonymous"), with the session's
    CSRF token on forms, and a form that is harmless if it gets in."""
    if path in ("/sign-in", "/invite") and method == "POST":
        # Public forms, the same for everyone (a signed-in person is sent on from them).
        browser = Browser(world.server)
    elif path == "/sign-out":
        # A session of its own: signing out must not end the one the other rows use.
        browser = Browser(world.server) if role == "anonymous" else world.browsers[role]()
    else:
        browser = Browser(world.server) if role == "anonymous" else world.browser(role)
    filled = (
        path.replace("{workspace_id}", world.org.workspace_id)
        .replace("{submission_id}", world.submission_id)
        .replace("{membership_id}", world.member_membership_id)
        .replace("{token}", world.share_token)
        .replace("{sha256}", world.attachment_sha)
    )
    if method == "GET":
        return browser.get(filled)
    if path == "/sign-in":
        return browser.submit("/sign-in", "/sign-in", email="nobody@example.org",
                              password="not the password")  # fmt: skip
    if path == "/invite":
        return browser.submit("/invite", "/invite", code="0000-0000-0000-0000",
                              name="Nobody", password="x", password_again="y")  # fmt: skip
    if path == "/s/{token}/comments":
        return browser.submit(filled.removesuffix("/comments"), filled, name="Visitor",
                              text=f"A comment from {role}.")  # fmt: skip
    token = "" if role == "anonymous" else browser.csrf_token
    # Forms that get in are refused on their merits (empty fields), so nothing changes,
    # except the role change, which sets the member's role to what it already is.
    fields: dict[str, str] = {"csrf_token": token}
    if path.endswith("/role"):
        fields["role"] = "member"
    return browser.post(filled, fields)


def _got_in(method: str, path: str, answer: requests.Response) -> bool:
    status = answer.status_code
    if method == "POST" and path in ("/sign-in", "/invite"):
        # Public forms: they judge the (wrong) password or (unknown) code on its merits,
        # with 401 or 404; only a refused form token (403) keeps anyone out.
        return status != 403
    if status in (401, 403, 404):
        return False
    if status in (301, 302, 303, 307, 308):
        # Signing out ends at the sign-in page by design; elsewhere that means "sign in".
        return path == "/sign-out" or "/sign-in" not in answer.headers.get("location", "")
    return status < 500


def test_every_route_lets_in_exactly_the_roles_it_should(world: World) -> None:
    wrong = []
    for (method, path), allowed in sorted(MATRIX.items()):
        api = path.startswith("/api/")
        for role in API_ROLES if api else WEB_ROLES:
            answer = (_api if api else _web)(world, role, method, path)
            assert answer.status_code < 500, (method, path, role, answer.text[:300])
            if _got_in(method, path, answer) != (role in allowed):
                wrong.append(f"{method} {path} as {role}: {answer.status_code} "
                             f"({'let in' if role not in allowed else 'kept out'})")  # fmt: skip
    assert wrong == [], "\n".join(wrong)
