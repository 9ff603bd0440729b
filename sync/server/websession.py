"""Signing in on the web: sessions in a cookie, and the tokens that keep forms from being
posted by another site (CSRF).

A session is a random token in an HttpOnly, SameSite=Strict cookie, stored only as its
SHA-256 (``WebSession.token_hash``). Each session has its own CSRF token, which every
form carries in a hidden field. Visitors who are not signed in (the sign-in and invite
forms, comments on share pages) get a random nonce in a SameSite=Strict cookie instead;
their forms carry an HMAC of that nonce and the form's purpose under a secret the
process keeps to itself, so a value planted in the cookie by someone else is useless.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Form, Request, Response
from sqlalchemy import delete
from sqlmodel import Session, col, select

from sync.server import directory
from sync.server.config import ServerSettings
from sync.server.deps import SessionDep, SettingsDep
from sync.server.errors import ApiError, Forbidden, NotFound
from sync.server.models import Membership, User, WebSession, Workspace, utc_now
from sync.server.security import hash_token, new_token, same

SESSION_COOKIE = "cairn_session"
FORM_COOKIE = "cairn_form"
RANKS = {"member": 0, "reviewer": 1, "admin": 2}
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass(frozen=True)
class SignedIn:
    """The person behind a session cookie."""

    user: User
    web_session: WebSession

    @property
    def csrf_token(self) -> str:
        return self.web_session.csrf_token


def start(session: Session, settings: ServerSettings, user: User) -> str:
    """A new session for ``user`` (the caller commits); returns the cookie's token."""
    now = utc_now()
    # Sweep this person's expired sessions so the table does not grow without end.
    session.execute(
        delete(WebSession).where(
            col(WebSession.user_id) == user.id, col(WebSession.expires_at) <= now
        )
    )
    token = new_token()
    session.add(
        WebSession(
            token_hash=hash_token(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + timedelta(hours=settings.session_hours),
        )
    )
    session.flush()
    return token


def find(session: Session, token: str | None) -> SignedIn | None:
    """The live session for a cookie token, or None (unknown, expired, or the person is
    disabled or no longer has a password)."""
    if not token or len(token) > 200:
        return None
    row = session.exec(
        select(WebSession).where(col(WebSession.token_hash) == hash_token(token))
    ).first()
    if row is None or row.expires_at <= utc_now():
        return None
    user = session.get(User, row.user_id)
    if user is None or user.disabled or user.password_hash is None:
        return None
    return SignedIn(user=user, web_session=row)


def end(session: Session, token: str | None) -> None:
    """Forget the session for this cookie token (the caller commits)."""
    if token:
        session.execute(delete(WebSession).where(col(WebSession.token_hash) == hash_token(token)))


def end_all(session: Session, user: User) -> None:
    """Sign a person out everywhere (e.g. when their password changes)."""
    session.execute(delete(WebSession).where(col(WebSession.user_id) == user.id))


def cookie_secure(settings: ServerSettings, request: Request) -> bool:
    if settings.cookie_secure is not None:
        return settings.cookie_secure
    return request.url.scheme == "https"


def set_session_cookie(
    response: Response, token: str, settings: ServerSettings, request: Request
) -> None:
    response.set_cookie(
        SESSION_COOKIE, token, max_age=settings.session_hours * 3600, path="/",
        secure=cookie_secure(settings, request), httponly=True, samesite="strict",
    )  # fmt: skip


def clear_session_cookie(response: Response, settings: ServerSettings, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=cookie_secure(settings, request), httponly=True,
        samesite="strict",
    )  # fmt: skip


def csrf_matches(signed_in: SignedIn, submitted: str) -> bool:
    return bool(submitted) and same(signed_in.csrf_token, submitted)


# ------------------------------------------------- forms of visitors not signed in

_secret_lock = threading.Lock()


def _form_secret(request: Request) -> bytes:
    """The process's key for anonymous form tokens (a restart makes open forms stale,
    which only asks the visitor to reload)."""
    state = request.app.state
    with _secret_lock:
        secret: bytes | None = getattr(state, "form_secret", None)
        if secret is None:
            secret = secrets.token_bytes(32)
            state.form_secret = secret
    return secret


@dataclass(frozen=True)
class AnonymousForm:
    """The nonce for the visitor's cookie (new or kept) and the field value for a form."""

    nonce: str
    token: str
    new_cookie: bool


def _form_token(request: Request, nonce: str, purpose: str) -> str:
    message = purpose.encode() + b"\0" + nonce.encode()
    return hmac.new(_form_secret(request), message, hashlib.sha256).hexdigest()


def anonymous_form(request: Request, purpose: str) -> AnonymousForm:
    """A token for a form shown to someone not signed in; set the cookie if it is new."""
    nonce = request.cookies.get(FORM_COOKIE, "")
    new_cookie = not (16 <= len(nonce) <= 100 and nonce.isascii())
    if new_cookie:
        nonce = secrets.token_urlsafe(24)
    return AnonymousForm(nonce, _form_token(request, nonce, purpose), new_cookie)


def set_form_cookie(
    response: Response, form: AnonymousForm, settings: ServerSettings, request: Request
) -> None:
    if form.new_cookie:
        response.set_cookie(
            FORM_COOKIE, form.nonce, path="/", secure=cookie_secure(settings, request),
            httponly=True, samesite="strict",
        )  # fmt: skip


def anonymous_form_valid(request: Request, purpose: str, submitted: str) -> bool:
    """Whether a posted form carries the token for this visitor's cookie and purpose."""
    nonce = request.cookies.get(FORM_COOKIE, "")
    if not nonce or not submitted or len(nonce) > 100:
        return False
    return same(_form_token(request, nonce, purpose), submitted)


# ------------------------------------------------------------------ errors


class SignInRequired(ApiError):
    """A page asked for by someone not signed in: off to the sign-in page."""

    status = 303
    code = "sign_in_required"

    def __init__(self, back_to: str) -> None:
        target = "/sign-in" if back_to in ("", "/") else f"/sign-in?next={quote(back_to)}"
        super().__init__("sign in to see this page", headers={"Location": target})


class FormRefused(Forbidden):
    code = "csrf_failed"

    def __init__(self) -> None:
        super().__init__(
            "This form has expired or was not sent from this site. Go back, reload the page "
            "and try again."
        )


# ----------------------------------------------- who is asking (route dependencies)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def maybe_signed_in(request: Request, session: SessionDep) -> SignedIn | None:
    return find(session, request.cookies.get(SESSION_COOKIE))


MaybeSignedIn = Annotated[SignedIn | None, Depends(maybe_signed_in)]


def current_user(request: Request, found: MaybeSignedIn) -> SignedIn:
    """The signed-in person; pages send others to sign in, forms refuse them."""
    if found is not None:
        return found
    if request.method in ("GET", "HEAD"):
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(path)
    raise Forbidden("Sign in first.", code="not_signed_in")


CurrentUser = Annotated[SignedIn, Depends(current_user)]


def check_origin(request: Request, settings: ServerSettings) -> None:
    """Refuse a form a browser says came from another site. Browsers send ``Origin:
    null`` for our forms (the pages have Referrer-Policy: no-referrer), so a missing or
    null Origin proves nothing either way: the CSRF token is what decides."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise FormRefused()
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return
    allowed = {f"{request.url.scheme}://{request.headers.get('host', '')}".lower()}
    if settings.public_url:
        public = urlsplit(settings.public_url)
        allowed.add(f"{public.scheme}://{public.netloc}".lower())
    if origin.lower().rstrip("/") not in allowed:
        raise FormRefused()


def checked_form(
    request: Request,
    signed_in: CurrentUser,
    settings: SettingsDep,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> SignedIn:
    """The signed-in person behind a form that carries their session's CSRF token."""
    check_origin(request, settings)
    if not csrf_matches(signed_in, csrf_token):
        raise FormRefused()
    return signed_in


FormUser = Annotated[SignedIn, Depends(checked_form)]


def check_anonymous_form(
    request: Request, settings: ServerSettings, purpose: str, csrf_token: str
) -> None:
    check_origin(request, settings)
    if not anonymous_form_valid(request, purpose, csrf_token):
        raise FormRefused()


@dataclass(frozen=True)
class Access:
    """A signed-in person's standing in one workspace."""

    signed_in: SignedIn
    workspace: Workspace
    role: str  # reviewer | admin (server admins are admins everywhere)
    membership: Membership | None

    @property
    def user(self) -> User:
        return self.signed_in.user

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def author_role(self) -> str:
        return "admin" if self.is_admin else "reviewer"


def not_found() -> NotFound:
    return NotFound("there is nothing at this address")


def workspace_access(
    session: Session, signed_in: SignedIn, workspace_id: str, min_role: str
) -> Access:
    """``signed_in``'s access to a workspace: 404 without a role there, 403 below ``min_role``."""
    workspace = session.get(Workspace, workspace_id) if _UUID.match(workspace_id) else None
    if workspace is None:
        raise not_found()
    membership = directory.membership_of(session, workspace.id, signed_in.user.id)
    role = "admin" if signed_in.user.is_admin else membership.role if membership else None
    if role is None:
        raise not_found()  # do not reveal that the workspace exists
    if RANKS.get(role, -1) < RANKS[min_role]:
        needed = "an admin" if min_role == "admin" else "a reviewer or admin"
        raise Forbidden(f"This needs {needed} of the workspace.", code="role_too_low")
    return Access(signed_in=signed_in, workspace=workspace, role=role, membership=membership)


def require_workspace_role(min_role: str, *, form: bool = False) -> Callable[..., Access]:
    """A dependency for routes under ``/w/{workspace_id}``: the caller's access there,
    at least ``min_role``; with ``form`` also the CSRF check of a posted form."""
    if form:

        def posted(workspace_id: str, session: SessionDep, signed_in: FormUser) -> Access:
            return workspace_access(session, signed_in, workspace_id, min_role)

        return posted

    def shown(workspace_id: str, session: SessionDep, signed_in: CurrentUser) -> Access:
        return workspace_access(session, signed_in, workspace_id, min_role)

    return shown


ReviewerPage = Annotated[Access, Depends(require_workspace_role("reviewer"))]
ReviewerForm = Annotated[Access, Depends(require_workspace_role("reviewer", form=True))]
AdminPage = Annotated[Access, Depends(require_workspace_role("admin"))]
AdminForm = Annotated[Access, Depends(require_workspace_role("admin", form=True))]


def require_server_admin(signed_in: FormUser) -> SignedIn:
    if not signed_in.user.is_admin:
        raise Forbidden("This needs a server admin.", code="role_too_low")
    return signed_in


ServerAdminForm = Annotated[SignedIn, Depends(require_server_admin)]
