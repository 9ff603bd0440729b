"""Test-side helpers for the server's web pages: a person in a browser (cookies, forms
with their hidden fields), reviewers and admins made straight in the database, and a
check that a page holds no markup that could run."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from html.parser import HTMLParser
from typing import Any

import requests

from sync.server import directory
from sync.server.models import User
from sync.server.security import hash_password
from tests.live_server import LiveServer
from tests.server.client import Member, Org

PASSWORD = "correct horse battery staple"
HOSTILE = "<script>alert(1)</script>"
#: A 1x1 PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2"
    "26050b0000000049454e44ae426082"
)


@dataclass
class HtmlForm:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)


class PageParser(HTMLParser):
    """Collects forms (with the values of their inputs), tags, attributes and text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[HtmlForm] = []
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.tags.append((tag, values))
        if tag == "form":
            self.forms.append(HtmlForm(values.get("action", ""), values.get("method", "get")))
        elif tag == "input" and self.forms and "name" in values:
            kind = values.get("type", "text")
            if kind not in ("radio", "checkbox") or "checked" in values:
                self.forms[-1].fields[values["name"]] = values.get("value", "")
        elif tag == "textarea" and self.forms:
            self._textarea = values.get("name")

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._textarea and self.forms:
            self.forms[-1].fields[self._textarea] = data


class TableParser(HTMLParser):
    """The text of each table row's cells."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th") and self.rows:
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def table_rows(html: str) -> list[list[str]]:
    """Each table row of a page as the text of its cells (headings included)."""
    parser = TableParser()
    parser.feed(html)
    parser.close()
    return parser.rows


def parse(html: str) -> PageParser:
    parser = PageParser()
    parser.feed(html)
    parser.close()
    return parser


#: Attributes that hold addresses a browser would follow or load.
_URL_ATTRIBUTES = ("href", "src", "action", "formaction", "xlink:href", "data", "srcset")


def executable_markup(html: str) -> list[str]:
    """Everything in ``html`` that could run script: empty for a safe page."""
    problems = []
    for tag, attrs in parse(html).tags:
        if tag in ("script", "iframe", "object", "embed", "frame", "svg", "math", "base"):
            problems.append(f"<{tag}>")
        for name, value in attrs.items():
            if name.startswith("on"):
                problems.append(f"<{tag} {name}=...>")
            if name in _URL_ATTRIBUTES and "javascript:" in value.replace(" ", "").lower():
                problems.append(f"<{tag} {name}={value!r}>")
            if name == "style":
                problems.append(f"<{tag} style=...>")
            if tag == "meta" and value.lower().startswith("refresh"):
                problems.append("<meta http-equiv=refresh>")
    return problems


class Browser:
    """One person's browser: keeps cookies, never follows redirects by itself, and
    comes from its own address (uvicorn trusts X-Forwarded-For from 127.0.0.1), so each
    test has its own rate-limit windows."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.http = requests.Session()
        self.address = "10." + ".".join(str(secrets.randbelow(250) + 1) for _ in range(3))
        self.http.headers["X-Forwarded-For"] = self.address

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.get(self.server.url + path, allow_redirects=False, timeout=30, **kwargs)

    def post(
        self, path: str, data: dict[str, Any] | None = None, **kwargs: Any
    ) -> requests.Response:
        return self.http.post(
            self.server.url + path, data=data, allow_redirects=False, timeout=30, **kwargs
        )

    def form(self, page: str | requests.Response, action: str) -> dict[str, str]:
        """The fields (hidden ones included) of the form posting to ``action`` on a page."""
        answer = self.get(page) if isinstance(page, str) else page
        assert answer.status_code == 200, (answer.status_code, answer.text[:500])
        for found in parse(answer.text).forms:
            if found.action == action:
                return dict(found.fields)
        raise AssertionError(f"no form posts to {action} on {answer.url}")

    def submit(
        self, page: str | requests.Response, action: str, **fields: Any
    ) -> requests.Response:
        """Fill in the form posting to ``action`` as a person would, and send it."""
        data = self.form(page, action)
        data.update({k: str(v) for k, v in fields.items()})
        return self.post(action, data)

    def sign_in(self, email: str, password: str = PASSWORD) -> requests.Response:
        answer = self.submit("/sign-in", "/sign-in", email=email, password=password)
        assert answer.status_code == 303, (answer.status_code, answer.text[:500])
        return answer

    @property
    def csrf_token(self) -> str:
        """The session's CSRF token, from any signed-in page."""
        return self.form("/", "/sign-out")["csrf_token"]


@dataclass
class Staff:
    """A reviewer or admin who signs in on the web."""

    email: str
    user_id: str
    membership_id: str | None
    password: str = PASSWORD


def make_staff(
    server: LiveServer, org: Org | None, role: str = "reviewer", *, server_admin: bool = False,
    name: str = "",
) -> Staff:  # fmt: skip
    """A person with a password, and ``role`` in ``org`` (if given)."""
    email = f"{role}-{uuid.uuid4().hex[:8]}@example.org"
    with server.session() as session:
        user = directory.user_for_email(session, email)
        user.password_hash = password_hash()
        user.display_name = name
        user.is_admin = server_admin
        session.add(user)
        membership_id = None
        if org is not None:
            membership_id = directory.join(session, org.workspace_id, user, role).id
        session.commit()
        return Staff(email=email, user_id=user.id, membership_id=membership_id)


def signed_in(server: LiveServer, staff: Staff) -> Browser:
    """A browser with a session for ``staff``, made in the database: signing in through
    the form costs an Argon2id check, which tests of the form itself pay for."""
    from sync.server import websession

    with server.session() as session:
        user = session.get(User, staff.user_id)
        assert user is not None
        token = websession.start(session, server.settings(), user)
        session.commit()
    browser = Browser(server)
    browser.http.cookies.set(websession.SESSION_COOKIE, token, path="/")
    return browser


@lru_cache(maxsize=1)
def password_hash() -> str:
    """The Argon2id hash of PASSWORD, made once (each hash takes a third of a second)."""
    return hash_password(PASSWORD)


def upload(member: Member, data: bytes) -> str:
    """Upload an attachment as a desktop app does; returns its SHA-256."""
    sha = hashlib.sha256(data).hexdigest()
    assert member.get(f"/blobs/{sha}", params={"size": len(data)}).ok
    answer = member.put(
        f"/blobs/{sha}", params={"offset": 0, "size": len(data)}, data=data,
        headers={"Content-Type": "application/octet-stream"},
    )  # fmt: skip
    assert answer.ok, answer.text
    assert answer.json()["complete"]
    return sha


def user_row(server: LiveServer, email: str) -> User | None:
    from sqlmodel import col, select

    with server.session() as session:
        return session.exec(select(User).where(col(User.email) == email)).first()
