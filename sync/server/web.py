"""Server-rendered pages (no script at all): signing in, accepting an invite, the review
queue and review pages for reviewers and admins, administration, and public share pages.

Who may do what is decided in a few dependencies, the same for every route:

- not signed in: pages redirect to the sign-in page (303), forms are refused (403);
- signed in without a role in a workspace: 404, as if the workspace did not exist;
- a member (desktop app only) on a reviewer's page: 403;
- reviewers see the queue and review pages, give feedback, assign peers, invite members;
- admins of the workspace and server admins also manage roles, points and resources;
- server admins see every workspace and create workspaces.

Every form carries a CSRF token (``websession``), and a browser's Origin or
Sec-Fetch-Site saying the form came from another site refuses it too. Submitted
content is escaped by Jinja's autoescape; Markdown fields go through ``markdown`` and
then ``nh3``, so nothing a member sends can become markup that runs.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from html import escape as html_escape
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, func, select

from sync.protocol import (
    SHARE_FORMAT,
    SUBMISSION_FORMAT,
    InvalidDocument,
    SharePayload,
    SubmissionPayload,
    parse_body,
)
from sync.server import directory, resources, reviews, shares, websession
from sync.server.config import ServerSettings
from sync.server.deps import SessionDep, SettingsDep
from sync.server.errors import ApiError, Forbidden, NotFound, Unprocessable
from sync.server.models import (
    Device,
    Feedback,
    Invite,
    Membership,
    PeerAssignment,
    Share,
    Submission,
    SubmissionAsset,
    SubmissionAttachment,
    SubmissionPoint,
    User,
    Workspace,
    utc_now,
)
from sync.server.rendering import (
    INLINE_IMAGES,
    STATIC,
    asset_views,
    blob_file,
    css_url,
    environment,
    render,
    signature_view,
)
from sync.server.security import check_password, hash_password, hash_token, normalise_invite_code
from sync.server.shares import MAX_COMMENT_NAME as MAX_COMMENTER_NAME
from sync.server.shares import MAX_COMMENT_TEXT
from sync.server.websession import (
    SESSION_COOKIE,
    Access,
    AdminForm,
    AdminPage,
    CurrentUser,
    FormUser,
    MaybeSignedIn,
    ReviewerForm,
    ReviewerPage,
    ServerAdminForm,
    SignedIn,
    check_anonymous_form,
    client_address,
    not_found,
)

router = APIRouter(include_in_schema=False)
logger = logging.getLogger(__name__)

QUEUE_PAGE_SIZE = 50
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
MAX_COMMENT = 20_000
#: Types a download is labelled with as sent; anything else goes as octet-stream.
_DOWNLOAD_TYPES = INLINE_IMAGES | {"application/pdf", "text/plain", "text/csv"}
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SHARE_TOKEN = re.compile(r"^[A-Za-z0-9_\-]{16,128}$")


# -------------------------------------------------------------------- errors


def error_page(
    request: Request, status: int, message: str, headers: Mapping[str, str] | None = None
) -> HTMLResponse:
    """A page for an error in the browser (also what app.py answers web paths with)."""
    all_headers = {**(headers or {}), "Cache-Control": "no-store"}
    settings: ServerSettings | None = getattr(request.app.state, "settings", None)
    try:
        html = (
            environment()
            .get_template("error.html")
            .render(
                server_name=settings.name if settings else "Cairn",
                status=status,
                message=message,
                title=_ERROR_TITLES.get(status, "Something is not right"),
                location=all_headers.get("Location"),
                signed_in=None,
                css=css_url(),
            )
        )
    except Exception:  # an error page must never fail in its turn
        logger.exception("the error page could not be rendered")
        html = (
            "<!doctype html><html lang='en'><meta charset='utf-8'><title>Cairn</title>"
            f"<h1>Something is not right</h1><p>{html_escape(message)}</p></html>"
        )
    return HTMLResponse(html, status_code=status, headers=all_headers)


_ERROR_TITLES = {
    303: "Please sign in",
    400: "That request cannot be handled",
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "That cannot be done now",
    410: "No longer available",
    413: "Too large",
    422: "Please check what you entered",
    429: "Too many attempts",
}


def _see_other(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303, headers={"Cache-Control": "no-store"})


@router.get("/static/cairn.css")
def stylesheet() -> Response:
    return Response(
        (STATIC / "cairn.css").read_bytes(),
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": "public, max-age=86400"},
    )


TextField = Annotated[str, Form(max_length=200_000)]
ShortField = Annotated[str, Form(max_length=2000)]


# ------------------------------------------------------------ signing in


def _safe_next(target: str) -> str:
    """Only a path on this site: never another host (``//evil``, ``/\\evil``, ``http:``)."""
    if (
        not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 32 for c in target)
        or len(target) > 2000
    ):
        return "/"
    return target


def _anonymous_page(
    request: Request, name: str, purpose: str, *, status: int = 200, **context: Any
) -> HTMLResponse:
    form = websession.anonymous_form(request, purpose)
    response = render(request, name, status=status, csrf_token=form.token, **context)
    websession.set_form_cookie(response, form, request.app.state.settings, request)
    return response


@router.get("/sign-in")
def sign_in_page(
    request: Request, found: MaybeSignedIn, next: Annotated[str, Query(max_length=2000)] = "/"
) -> Response:
    if found is not None:
        return _see_other(_safe_next(next))
    return _anonymous_page(
        request, "sign_in.html", "sign-in", next=_safe_next(next), email="", error=None
    )


@router.post("/sign-in")
def sign_in(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: ShortField = "",
    password: ShortField = "",
    next: ShortField = "/",
    csrf_token: ShortField = "",
) -> Response:
    check_anonymous_form(request, settings, "sign-in", csrf_token)
    limiter = request.app.state.sign_in_limiter
    keys = [f"address:{client_address(request)}", f"email:{email.strip().lower()[:254]}"]
    for key in keys:
        limiter.ensure_allowed(key)
    user = None
    try:
        address = directory.normalise_email(email)
        user = session.exec(select(User).where(col(User.email) == address)).first()
    except Unprocessable:
        pass
    usable = user is not None and not user.disabled and len(password) <= MAX_PASSWORD
    # check_password does the same work for an unknown person, so timing tells nothing.
    if not check_password(user.password_hash if user and usable else None, password[:MAX_PASSWORD]):
        for key in keys:
            limiter.record_failure(key)
        return _anonymous_page(
            request, "sign_in.html", "sign-in", status=401, next=_safe_next(next),
            email=email.strip()[:254], error="The email address or the password is not right.",
        )  # fmt: skip
    assert user is not None
    websession.end(session, request.cookies.get(SESSION_COOKIE))
    token = websession.start(session, settings, user)
    session.commit()
    response = _see_other(_safe_next(next))
    websession.set_session_cookie(response, token, settings, request)
    return response


@router.post("/sign-out")
def sign_out(
    request: Request, signed_in: FormUser, session: SessionDep, settings: SettingsDep
) -> Response:
    websession.end(session, request.cookies.get(SESSION_COOKIE))
    session.commit()
    response = _see_other("/sign-in")
    websession.clear_session_cookie(response, settings, request)
    return response


# --------------------------------------------------------- accepting invites


@router.get("/invite")
def invite_page(request: Request) -> Response:
    return _anonymous_page(request, "invite.html", "invite", code="", display_name="", error=None)


@router.post("/invite")
def accept_invite(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    code: ShortField = "",
    display_name: ShortField = "",
    password: ShortField = "",
    password_again: ShortField = "",
    csrf_token: ShortField = "",
) -> Response:
    """Reviewers and admins accept an invite here with a password; member invites are for
    the desktop app and are left untouched."""
    check_anonymous_form(request, settings, "invite", csrf_token)
    limiter = request.app.state.enrol_limiter
    address = client_address(request)
    limiter.ensure_allowed(address)
    display_name = display_name.strip()

    def again(message: str, status: int = 422) -> HTMLResponse:
        return _anonymous_page(
            request, "invite.html", "invite", status=status, code=code.strip()[:64],
            display_name=display_name[:200], error=message,
        )  # fmt: skip

    invite = session.exec(
        select(Invite).where(col(Invite.code_hash) == hash_token(normalise_invite_code(code)))
    ).first()
    problem = None
    if invite is None:
        problem = (404, "This invite code is not known. Check it and try again.")
    elif invite.redeemed_at is not None:
        problem = (410, "This invite code has already been used.")
    elif invite.expires_at <= utc_now():
        problem = (410, "This invite code has expired. Ask for a new one.")
    if problem is not None or invite is None:
        limiter.record_failure(address)
        status, message = problem or (404, "")
        return again(message, status)
    workspace = session.get(Workspace, invite.workspace_id)
    assert workspace is not None  # foreign key
    if invite.role == "member":
        return render(request, "invite_member.html", workspace=workspace.name)

    if not 1 <= len(display_name) <= 200:
        return again("Please give your name as colleagues will see it (up to 200 characters).")
    user = directory.user_for_email(session, invite.email)
    if user.disabled:
        return again("This account has been disabled on this server.", 403)
    if user.password_hash is not None:
        # Someone who already signs in here keeps their password: it must be given.
        if not check_password(user.password_hash, password[:MAX_PASSWORD]):
            limiter.record_failure(address)
            return again(
                f"{invite.email} already has an account on this server: enter its current "
                "password (in both boxes)."
            )
    else:
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            return again(f"The password needs at least {MIN_PASSWORD} characters.")
        if password != password_again:
            return again("The two passwords are not the same.")
        user.password_hash = hash_password(password)
    user.display_name = display_name
    session.add(user)
    taken = directory.take_invite(session, code)
    membership = directory.join(session, workspace.id, user, taken.role)
    taken.redeemed_by = membership.id
    session.add(taken)
    token = websession.start(session, settings, user)
    session.commit()
    response = _see_other(f"/w/{workspace.id}")
    websession.set_session_cookie(response, token, settings, request)
    return response


# ---------------------------------------------------------------- home


@dataclass(frozen=True)
class WorkspaceRow:
    id: str
    name: str
    role: str
    submissions: int


@router.get("/")
def home(request: Request, signed_in: CurrentUser, session: SessionDep) -> Response:
    return _home(request, signed_in, session)


def _home(
    request: Request, signed_in: SignedIn, session: Session, *, status: int = 200,
    error: str | None = None, workspace_name: str = "",
) -> HTMLResponse:  # fmt: skip
    user = signed_in.user
    counts = dict(
        session.exec(
            select(Submission.workspace_id, func.count()).group_by(col(Submission.workspace_id))
        ).all()
    )
    rows: list[WorkspaceRow] = []
    if user.is_admin:
        rows = [
            WorkspaceRow(w.id, w.name, "admin", counts.get(w.id, 0))
            for w in directory.list_workspaces(session)
        ]
    else:
        found = session.exec(
            select(Workspace, Membership.role)
            .join(Membership, col(Membership.workspace_id) == col(Workspace.id))
            .where(
                col(Membership.user_id) == user.id,
                col(Membership.role).in_(["reviewer", "admin"]),
            )
            .order_by(col(Workspace.name))
        ).all()
        rows = [WorkspaceRow(w.id, w.name, role, counts.get(w.id, 0)) for w, role in found]
    return render(
        request, "home.html", status=status, signed_in=signed_in, workspaces=rows, error=error,
        workspace_name=workspace_name,
    )  # fmt: skip


@router.post("/workspaces")
def create_workspace(
    request: Request, signed_in: ServerAdminForm, session: SessionDep, name: ShortField = ""
) -> Response:
    try:
        workspace = directory.create_workspace(session, name)
    except ApiError as exc:
        session.rollback()
        return _home(request, signed_in, session, status=exc.status, error=exc.message,
                     workspace_name=name[:200])  # fmt: skip
    session.commit()
    return _see_other(f"/w/{workspace.id}/admin")


# ------------------------------------------------------------------ queue


@dataclass
class QueueRow:
    id: str
    member: str
    email: str
    point: str
    titles: list[str] = field(default_factory=list)
    signature_valid: bool = False
    status: str = "received"
    received_at: datetime | None = None
    decision: str | None = None
    peers: int = 0


def queue_rows(session: Session, workspace_id: str, page: int) -> tuple[list[QueueRow], int]:
    """One page of what the workspace received (newest first), and how many in all."""
    total = session.exec(
        select(func.count())
        .select_from(Submission)
        .where(col(Submission.workspace_id) == workspace_id)
    ).one()
    # Columns, not rows: a Submission row carries its whole signed payload.
    found = session.execute(
        select_columns(
            col(Submission.id), col(Submission.signature_valid), col(Submission.status),
            col(Submission.received_at), col(User.display_name), col(User.email),
            col(SubmissionPoint.name),
        )
        .join(Membership, col(Membership.id) == col(Submission.membership_id))
        .join(User, col(User.id) == col(Membership.user_id))
        .join(SubmissionPoint, col(SubmissionPoint.id) == col(Submission.point_id))
        .where(col(Submission.workspace_id) == workspace_id)
        .order_by(col(Submission.received_at).desc(), col(Submission.id))
        .offset((page - 1) * QUEUE_PAGE_SIZE)
        .limit(QUEUE_PAGE_SIZE)
    ).all()  # fmt: skip
    rows = {
        sid: QueueRow(id=sid, member=name or email, email=email, point=point,
                      signature_valid=valid, status=status, received_at=received)
        for sid, valid, status, received, name, email, point in found
    }  # fmt: skip
    ids = list(rows)
    if ids:
        for sid, title in session.exec(
            select(SubmissionAsset.submission_id, SubmissionAsset.title)
            .where(col(SubmissionAsset.submission_id).in_(ids))
            .order_by(col(SubmissionAsset.id))
        ).all():
            rows[sid].titles.append(title)
        # Oldest first, so the last one seen for a submission is its latest decision.
        for sid, decision in session.exec(
            select(Feedback.submission_id, Feedback.decision)
            .where(col(Feedback.submission_id).in_(ids), col(Feedback.kind) == "decision")
            .order_by(col(Feedback.created_at), col(Feedback.id))
        ).all():
            rows[sid].decision = decision
        for sid, count in session.exec(
            select(PeerAssignment.submission_id, func.count())
            .where(col(PeerAssignment.submission_id).in_(ids))
            .group_by(col(PeerAssignment.submission_id))
        ).all():
            rows[sid].peers = count
    return list(rows.values()), total


@router.get("/w/{workspace_id}")
def queue(
    request: Request,
    access: ReviewerPage,
    session: SessionDep,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    rows, total = queue_rows(session, access.workspace.id, page)
    pages = max(1, math.ceil(total / QUEUE_PAGE_SIZE))
    return render(
        request, "queue.html", signed_in=access.signed_in, access=access, rows=rows,
        total=total, page=page, pages=pages,
    )  # fmt: skip


def _download(settings: ServerSettings, sha256: str, name: str, media_type: str) -> Response:
    path = blob_file(settings, sha256)
    if not path.is_file():
        raise NotFound("this attachment has not been received in full", code="blob_missing")
    return FileResponse(
        path,
        media_type=media_type if media_type in _DOWNLOAD_TYPES else "application/octet-stream",
        filename=name,
        content_disposition_type="attachment",
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )


# ----------------------------------------------------------- review page


def submission_in(session: Session, access: Access, submission_id: str) -> Submission:
    submission = session.get(Submission, submission_id) if _UUID.match(submission_id) else None
    if submission is None or submission.workspace_id != access.workspace.id:
        raise not_found()
    return submission


@dataclass(frozen=True)
class PersonView:
    membership_id: str
    name: str
    email: str
    #: Whether they have connected the desktop app, where peer reviews are written.
    has_app: bool


def _people(session: Session, workspace_id: str) -> list[PersonView]:
    found = session.exec(
        select(Membership.id, Membership.identity_key, User.display_name, User.email)
        .join(User, col(User.id) == col(Membership.user_id))
        .where(col(Membership.workspace_id) == workspace_id)
        .order_by(col(User.email))
    ).all()
    return [
        PersonView(mid, name or email, email, has_app=key is not None)
        for mid, key, name, email in found
    ]


def _review_page(
    request: Request,
    session: Session,
    access: Access,
    submission: Submission,
    *,
    status: int = 200,
    error: str | None = None,
    notice: str | None = None,
    draft: Mapping[str, str] | None = None,
) -> HTMLResponse:
    settings: ServerSettings = request.app.state.settings
    base = f"/w/{access.workspace.id}/submissions/{submission.id}"
    try:
        payload: SubmissionPayload | None = parse_body(submission.payload, SubmissionPayload)
    except InvalidDocument:
        payload = None
    assets = (
        asset_views(payload.assets, settings, lambda sha: f"{base}/attachments/{sha}")
        if payload
        else []
    )
    people = _people(session, access.workspace.id)
    submitter = next((p for p in people if p.membership_id == submission.membership_id), None)
    assigned_ids = set(
        session.exec(
            select(PeerAssignment.membership_id).where(
                col(PeerAssignment.submission_id) == submission.id
            )
        ).all()
    )
    point = session.get(SubmissionPoint, submission.point_id)
    return render(
        request, "review.html", status=status, signed_in=access.signed_in, access=access,
        submission=submission, base=base, payload_readable=payload is not None, assets=assets,
        signature=signature_view(submission.identity_key, SUBMISSION_FORMAT, submission.payload,
                                 submission.signature),
        submitter=submitter, point=point.name if point else "",
        thread=reviews.thread(session, submission.id),
        decision=reviews.latest_decision(session, submission.id),
        decisions=reviews.DECISION_LABELS,
        assigned=[p for p in people if p.membership_id in assigned_ids],
        candidates=[p for p in people if p.has_app and p.membership_id not in assigned_ids
                    and p.membership_id != submission.membership_id],
        error=error, notice=notice, draft=draft or {},
    )  # fmt: skip


_NOTICES = {
    "comment": "Your comment was added; the member will receive it.",
    "decision": "Your decision was recorded; the member will receive it.",
    "peer": "The peer review was requested; their app will receive the submission.",
}


@router.get("/w/{workspace_id}/submissions/{submission_id}")
def review_page(
    request: Request,
    access: ReviewerPage,
    session: SessionDep,
    submission_id: str,
    done: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    submission = submission_in(session, access, submission_id)
    return _review_page(request, session, access, submission, notice=_NOTICES.get(done))


def _feedback(
    request: Request,
    session: Session,
    access: Access,
    submission_id: str,
    done: str,
    draft: dict[str, str],
    act: Callable[[Submission], object],
) -> Response:
    """Do ``act`` on the submission and commit; a refused change shows the page again."""
    submission = submission_in(session, access, submission_id)
    try:
        act(submission)
    except ApiError as exc:
        session.rollback()
        return _review_page(request, session, access, submission, status=exc.status,
                            error=exc.message, draft=draft)  # fmt: skip
    session.commit()
    return _see_other(f"/w/{access.workspace.id}/submissions/{submission.id}?done={done}#thread")


@router.post("/w/{workspace_id}/submissions/{submission_id}/comments")
def add_comment(
    request: Request, access: ReviewerForm, session: SessionDep, submission_id: str,
    text: TextField = "",
) -> Response:  # fmt: skip
    def act(submission: Submission) -> object:
        if len(text) > MAX_COMMENT:
            raise Unprocessable(f"A comment has at most {MAX_COMMENT} characters.")
        if not text.strip():
            raise Unprocessable("Write a comment first.")
        return reviews.add_feedback(
            session, submission, access.user, access.author_role, "comment", text
        )

    return _feedback(request, session, access, submission_id, "comment", {"comment": text}, act)


@router.post("/w/{workspace_id}/submissions/{submission_id}/decisions")
def add_decision(
    request: Request, access: ReviewerForm, session: SessionDep, submission_id: str,
    decision: ShortField = "", rating: ShortField = "", rubric: ShortField = "",
    text: TextField = "",
) -> Response:  # fmt: skip
    def act(submission: Submission) -> object:
        if decision not in reviews.DECISIONS:
            raise Unprocessable("Choose a decision.")
        if rating and rating not in ("1", "2", "3", "4", "5"):
            raise Unprocessable("A rating is from 1 to 5.")
        if len(text) > MAX_COMMENT:
            raise Unprocessable(f"A note has at most {MAX_COMMENT} characters.")
        if len(rubric.strip()) > 200:
            raise Unprocessable("A rubric's name has at most 200 characters.")
        return reviews.add_feedback(
            session, submission, access.user, access.author_role, "decision", text,
            decision=decision, rating=int(rating) if rating else None,
            rubric=rubric.strip() or None,
        )  # fmt: skip

    draft = {"decision": decision, "rating": rating, "rubric": rubric, "decision_text": text}
    return _feedback(request, session, access, submission_id, "decision", draft, act)


@router.post("/w/{workspace_id}/submissions/{submission_id}/peers")
def assign_peer(
    request: Request, access: ReviewerForm, session: SessionDep, submission_id: str,
    peer: ShortField = "",
) -> Response:  # fmt: skip
    def act(submission: Submission) -> object:
        membership = session.get(Membership, peer) if _UUID.match(peer) else None
        if membership is None or membership.workspace_id != access.workspace.id:
            raise Unprocessable("Choose a member of this workspace.")
        return reviews.assign_peer(session, submission, membership, access.user)

    return _feedback(request, session, access, submission_id, "peer", {}, act)


@router.get("/w/{workspace_id}/submissions/{submission_id}/attachments/{sha256}")
def submission_attachment(
    access: ReviewerPage, session: SessionDep, settings: SettingsDep, submission_id: str,
    sha256: str,
) -> Response:  # fmt: skip
    submission = submission_in(session, access, submission_id)
    attachment = (
        session.exec(
            select(SubmissionAttachment).where(
                col(SubmissionAttachment.submission_id) == submission.id,
                col(SubmissionAttachment.sha256) == sha256,
            )
        ).first()
        if _SHA256.match(sha256)
        else None
    )
    if attachment is None:
        raise not_found()
    return _download(settings, sha256, attachment.name, attachment.media_type)


# ------------------------------------------------------------ members


@dataclass(frozen=True)
class MemberRow:
    membership_id: str
    name: str
    email: str
    role: str
    devices: int
    is_you: bool


def _members_page(
    request: Request, session: Session, access: Access, *, status: int = 200,
    error: str | None = None, draft: Mapping[str, str] | None = None,
) -> HTMLResponse:  # fmt: skip
    devices = dict(
        session.exec(
            select(Device.membership_id, func.count())
            .join(Membership, col(Membership.id) == col(Device.membership_id))
            .where(
                col(Membership.workspace_id) == access.workspace.id,
                col(Device.revoked_at).is_(None),
            )
            .group_by(col(Device.membership_id))
        ).all()
    )
    found = session.exec(
        select(Membership, User)
        .join(User, col(User.id) == col(Membership.user_id))
        .where(col(Membership.workspace_id) == access.workspace.id)
        .order_by(col(User.email))
    ).all()
    rows = [
        MemberRow(m.id, u.display_name, u.email, m.role, devices.get(m.id, 0),
                  u.id == access.user.id)
        for m, u in found
    ]  # fmt: skip
    return render(
        request, "members.html", status=status, signed_in=access.signed_in, access=access,
        members=rows, roles=directory.ROLES, error=error, draft=draft or {},
    )  # fmt: skip


@router.get("/w/{workspace_id}/members")
def members(request: Request, access: ReviewerPage, session: SessionDep) -> Response:
    return _members_page(request, session, access)


@router.post("/w/{workspace_id}/invites")
def create_invite(
    request: Request, access: ReviewerForm, session: SessionDep, settings: SettingsDep,
    email: ShortField = "", role: ShortField = "member",
) -> Response:  # fmt: skip
    draft = {"email": email[:254], "role": role}
    if role not in directory.ROLES:
        return _members_page(request, session, access, status=422, draft=draft,
                             error="Choose member, reviewer or admin.")  # fmt: skip
    if role != "member" and not access.is_admin:
        raise Forbidden("Only admins invite reviewers and admins.", code="role_too_low")
    try:
        invite, code = directory.create_invite(
            session, access.workspace, email, role, created_by=access.user,
            days=settings.invite_days,
        )  # fmt: skip
    except ApiError as exc:
        session.rollback()
        return _members_page(request, session, access, status=exc.status, draft=draft,
                             error=f"{email!r} is not an email address.")  # fmt: skip
    session.commit()
    return render(
        request, "invite_created.html", status=201, signed_in=access.signed_in, access=access,
        invite=invite, code=code,
    )  # fmt: skip


@router.post("/w/{workspace_id}/members/{membership_id}/role")
def change_role(
    request: Request, access: AdminForm, session: SessionDep, membership_id: str,
    role: ShortField = "",
) -> Response:  # fmt: skip
    membership = session.get(Membership, membership_id) if _UUID.match(membership_id) else None
    if membership is None or membership.workspace_id != access.workspace.id:
        raise not_found()
    if role not in directory.ROLES:
        return _members_page(request, session, access, status=422,
                             error="Choose member, reviewer or admin.")  # fmt: skip
    if membership.user_id == access.user.id and not access.user.is_admin:
        return _members_page(
            request, session, access, status=409,
            error="You cannot change your own role; ask another admin.",
        )  # fmt: skip
    membership.role = role
    session.add(membership)
    session.commit()
    return _see_other(f"/w/{access.workspace.id}/members")


# ------------------------------------------------- points and resources


def _admin_page(
    request: Request, session: Session, access: Access, *, status: int = 200,
    error: str | None = None, draft: Mapping[str, str] | None = None,
) -> HTMLResponse:  # fmt: skip
    points = directory.points_of(session, access.workspace.id)
    return render(
        request, "admin.html", status=status, signed_in=access.signed_in, access=access,
        points=[(p, directory.accepting(p)) for p in points],
        resources=resources.latest(session, access.workspace.id),
        error=error, draft=draft or {},
    )  # fmt: skip


@router.get("/w/{workspace_id}/admin")
def admin(request: Request, access: AdminPage, session: SessionDep) -> Response:
    return _admin_page(request, session, access)


@router.post("/w/{workspace_id}/points")
def create_point(
    request: Request, access: AdminForm, session: SessionDep, name: ShortField = "",
    mode: ShortField = "locked", deadline: ShortField = "",
) -> Response:  # fmt: skip
    draft = {"point_name": name[:200], "mode": mode, "deadline": deadline[:40]}
    try:
        when = directory.parse_deadline(deadline.strip()) if deadline.strip() else None
        directory.create_point(session, access.workspace, name, mode, when)
    except ApiError as exc:
        session.rollback()
        return _admin_page(request, session, access, status=exc.status, error=exc.message,
                           draft=draft)  # fmt: skip
    session.commit()
    return _see_other(f"/w/{access.workspace.id}/admin")


@router.post("/w/{workspace_id}/resources")
def publish_resource(
    request: Request, access: AdminForm, session: SessionDep, settings: SettingsDep,
    name: ShortField = "", kind: ShortField = "", url: ShortField = "",
    file: UploadFile | None = None,
) -> Response:  # fmt: skip
    """A template (TOML), a document (any file) or a link, sent to every member's app.
    (Files come within the server's request size limit, max_body_bytes.)"""
    draft = {"resource_name": name[:200], "kind": kind, "url": url[:2000]}
    has_file = file is not None and bool(file.filename)
    try:
        if kind not in resources.KINDS:
            raise Unprocessable("Choose a template, a document or a link.")
        if kind != "link" and not has_file:
            raise Unprocessable("Choose the file to publish.")
        if kind == "link" and not url.strip():
            raise Unprocessable("Give the link's address.")
        upload = file if kind != "link" and has_file else None
        resources.publish(
            session, settings, access.workspace,
            name=name.strip() or (upload.filename or "" if upload else ""), kind=kind,
            content=upload.file.read() if upload else None,
            url=url.strip() if kind == "link" else None,
            media_type=(upload.content_type or None) if upload and kind == "document" else None,
            created_by=access.user,
        )  # fmt: skip
    except ApiError as exc:
        session.rollback()
        return _admin_page(request, session, access, status=exc.status, error=exc.message,
                           draft=draft)  # fmt: skip
    session.commit()
    return _see_other(f"/w/{access.workspace.id}/admin")


# ------------------------------------------------------------ share pages

_SHARE_HEADERS = {"X-Robots-Tag": "noindex, nofollow", "Cache-Control": "no-store"}


def live_share(session: Session, token: str) -> Share:
    """The share at this address; one 404 for unknown, revoked and expired alike."""
    share = shares.find_by_token(session, token) if _SHARE_TOKEN.match(token) else None
    if share is None:
        raise NotFound("there is nothing at this address", headers=dict(_SHARE_HEADERS))
    return share


def _share_page(
    request: Request, session: Session, share: Share, token: str, *, status: int = 200,
    error: str | None = None, draft: Mapping[str, str] | None = None,
) -> HTMLResponse:  # fmt: skip
    settings: ServerSettings = request.app.state.settings
    try:
        payload: SharePayload | None = parse_body(share.payload, SharePayload)
    except InvalidDocument:
        payload = None
    base = f"/s/{token}"
    assets = (
        asset_views(payload.assets, settings, lambda sha: f"{base}/attachments/{sha}")
        if payload
        else []
    )
    signature = signature_view(
        payload.identity_key if payload else "", SHARE_FORMAT, share.payload, share.signature
    )
    comments = shares.comments_of(session, share) if share.comments_enabled else []
    form = websession.anonymous_form(request, f"share:{share.id}")
    response = render(
        request, "share.html", status=status, headers=_SHARE_HEADERS, share=share,
        title=payload.title if payload else share.title, assets=assets,
        payload_readable=payload is not None, signature=signature, comments=comments,
        base=base, csrf_token=form.token, error=error, draft=draft or {},
        max_comment=MAX_COMMENT_TEXT, max_name=MAX_COMMENTER_NAME,
    )  # fmt: skip
    websession.set_form_cookie(response, form, settings, request)
    return response


@router.get("/s/{token}")
def share_page(request: Request, session: SessionDep, token: str) -> Response:
    return _share_page(request, session, live_share(session, token), token)


@router.post("/s/{token}/comments")
def share_comment(
    request: Request, session: SessionDep, settings: SettingsDep, token: str,
    author_name: ShortField = "", text: TextField = "", csrf_token: ShortField = "",
) -> Response:  # fmt: skip
    share = live_share(session, token)
    check_anonymous_form(request, settings, f"share:{share.id}", csrf_token)
    request.app.state.comment_limiter.check(f"share-comment:{client_address(request)}")
    try:
        shares.add_comment(session, share, author_name, text)
    except Unprocessable as exc:
        session.rollback()
        draft = {"author_name": author_name[:MAX_COMMENTER_NAME], "text": text[:MAX_COMMENT_TEXT]}
        problem = exc.message[:1].upper() + exc.message[1:] + "."
        return _share_page(request, session, share, token, status=exc.status, error=problem,
                           draft=draft)  # fmt: skip
    session.commit()
    return _see_other(f"/s/{token}#comments")


@router.get("/s/{token}/attachments/{sha256}")
def share_attachment(
    session: SessionDep, settings: SettingsDep, token: str, sha256: str
) -> Response:
    share = live_share(session, token)
    try:
        payload = parse_body(share.payload, SharePayload)
    except InvalidDocument:
        payload = None
    found = next(
        (a for asset in (payload.assets if payload else []) for a in asset.attachments
         if a.sha256 == sha256),
        None,
    )  # fmt: skip
    if found is None:
        raise NotFound("there is nothing at this address", headers=dict(_SHARE_HEADERS))
    response = _download(settings, sha256, found.name, found.media_type)
    response.headers.update(_SHARE_HEADERS)
    return response
