"""The reviewers' and admins' web pages, over HTTP on a live server (SQLite and
PostgreSQL): signing in, CSRF, invites, the queue, review pages, feedback and
administration."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlmodel import col, func, select

from sync.protocol import AttachmentRef, SnapshotField
from sync.server import directory
from sync.server.models import (
    Event,
    Feedback,
    Invite,
    Membership,
    PeerAssignment,
    Submission,
    SubmissionPoint,
    User,
    WebSession,
)
from sync.server.security import hash_token
from tests.live_server import LiveServer
from tests.server.browser import (
    HOSTILE,
    PASSWORD,
    PNG,
    Browser,
    executable_markup,
    make_staff,
    parse,
    signed_in,
    table_rows,
    upload,
    user_row,
)
from tests.server.client import Member, enrol, join, make_invite, make_org, snapshot


def _submit(member: Member, point_id: str, **kwargs: object) -> str:
    answer = member.submit(member.sign(member.payload(point_id, **kwargs)))  # type: ignore[arg-type]
    assert answer.status_code == 201, answer.text
    return str(answer.json()["submission_id"])


def _count(server: LiveServer, model: type, *where: object) -> int:
    with server.session() as session:
        return session.exec(select(func.count()).select_from(model).where(*where)).one()


def _cookie_header(answer: requests.Response, name: str) -> str:
    for header in answer.raw.headers.getlist("Set-Cookie"):
        if header.startswith(f"{name}="):
            return str(header)
    raise AssertionError(f"no {name} cookie set")


# ------------------------------------------------------------------ signing in


def test_signing_in_gives_a_strict_http_only_session_and_signing_out_ends_it(
    server: LiveServer,
) -> None:
    org = make_org(server)
    reviewer = make_staff(server, org, "reviewer")
    browser = Browser(server)

    first = browser.get("/")
    assert first.status_code == 303
    assert first.headers["Location"] == "/sign-in"
    deep = browser.get(f"/w/{org.workspace_id}")
    assert deep.status_code == 303
    assert deep.headers["Location"] == f"/sign-in?next=/w/{org.workspace_id}"

    answer = browser.submit(
        f"/sign-in?next=/w/{org.workspace_id}", "/sign-in", email=reviewer.email.upper(),
        password=PASSWORD,
    )  # fmt: skip
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"/w/{org.workspace_id}"
    cookie = _cookie_header(answer, "cairn_session").lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/" in cookie
    assert "secure" not in cookie.replace("samesite", "")  # plain http, cookie_secure unset
    token = browser.http.cookies["cairn_session"]
    with server.session() as session:
        row = session.exec(
            select(WebSession).where(col(WebSession.token_hash) == hash_token(token))
        ).one()
        assert row.expires_at - row.created_at == timedelta(hours=12)

    home = browser.get("/")
    assert home.status_code == 200
    assert org.name in home.text
    assert home.headers["Cache-Control"] == "no-store"

    out = browser.post("/sign-out", {"csrf_token": browser.csrf_token})
    assert out.status_code == 303
    assert browser.get("/").status_code == 303
    stolen = requests.get(server.url + "/", cookies={"cairn_session": token},
                          allow_redirects=False, timeout=10)  # fmt: skip
    assert stolen.status_code == 303  # the old token is gone on the server too


def test_wrong_passwords_disabled_people_and_members_without_passwords_cannot_sign_in(
    server: LiveServer,
) -> None:
    org = make_org(server)
    reviewer = make_staff(server, org, "reviewer")
    member = make_invite(server, org, email=f"m-{uuid.uuid4().hex[:6]}@example.org")
    enrol(server, member)
    browser = Browser(server)

    for email, password in [
        (reviewer.email, "not the password"),
        (f"nobody-{uuid.uuid4().hex[:6]}@example.org", PASSWORD),
        ("not an email", PASSWORD),
    ]:
        answer = browser.submit("/sign-in", "/sign-in", email=email, password=password)
        assert answer.status_code == 401
        assert "The email address or the password is not right." in answer.text
        assert "cairn_session" not in browser.http.cookies

    already_in = signed_in(server, reviewer)
    assert already_in.get("/").status_code == 200
    with server.session() as session:
        user = directory.user_for_email(session, reviewer.email)
        user.disabled = True
        session.add(user)
        session.commit()
    answer = browser.submit("/sign-in", "/sign-in", email=reviewer.email, password=PASSWORD)
    assert answer.status_code == 401
    assert already_in.get("/").status_code == 303  # a disabled person is signed out too


def test_sign_in_is_rate_limited_per_address_and_per_email(server: LiveServer) -> None:
    if server.backend != "sqlite":
        pytest.skip("the limiter lives in the server process: one database is enough")
    org = make_org(server)
    reviewer = make_staff(server, org, "reviewer")
    attacker = Browser(server)
    tabs = [Browser(server) for _ in range(10)]  # one attacker, many tabs at once
    for tab in tabs:
        tab.http.headers["X-Forwarded-For"] = attacker.address
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda tab: tab.submit(
            "/sign-in", "/sign-in", email=reviewer.email, password="guess"), tabs))  # fmt: skip
    assert [answer.status_code for answer in answers] == [401] * 10
    refused = attacker.submit("/sign-in", "/sign-in", email=reviewer.email, password=PASSWORD)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    # The email is locked for a while from every address, even with the right password...
    elsewhere = Browser(server)
    answer = elsewhere.submit("/sign-in", "/sign-in", email=reviewer.email, password=PASSWORD)
    assert answer.status_code == 429
    # ...while other people sign in as usual.
    other = make_staff(server, org, "reviewer")
    signed_in(server, other)


def test_sign_in_only_returns_to_pages_on_this_site(server: LiveServer) -> None:
    browser = signed_in(server, make_staff(server, make_org(server), "reviewer"))
    for target in ["//evil.example/", "https://evil.example/", "/\\evil.example", "evil"]:
        answer = browser.get("/sign-in", params={"next": target})
        assert answer.status_code == 303
        assert answer.headers["Location"] == "/"
    fine = browser.get("/sign-in", params={"next": "/w/x?page=2"})
    assert fine.headers["Location"] == "/w/x?page=2"


# ------------------------------------------------------------------------ CSRF


def test_forms_without_the_sessions_csrf_token_or_from_another_site_change_nothing(
    server: LiveServer,
) -> None:
    org = make_org(server)
    member = join(server, org)
    submission_id = _submit(member, org.point_id)
    reviewer = make_staff(server, org, "reviewer")
    browser = signed_in(server, reviewer)
    page = f"/w/{org.workspace_id}/submissions/{submission_id}"
    action = f"{page}/comments"
    fields = browser.form(page, action)
    assert fields["csrf_token"]

    refusals = [
        ({"text": "no token"}, {}),
        ({"text": "wrong token", "csrf_token": "x" * 43}, {}),
        ({"text": "another site", **fields}, {"Origin": "https://evil.example"}),
        ({"text": "another site", **fields}, {"Sec-Fetch-Site": "cross-site"}),
    ]
    for data, headers in refusals:
        answer = browser.post(action, {**data, "text": data["text"]}, headers=headers)
        assert answer.status_code == 403, data
        assert "This form has expired or was not sent from this site" in answer.text
    # Someone else's valid token does not work either.
    other = signed_in(server, make_staff(server, org, "reviewer"))
    answer = browser.post(action, {"text": "borrowed", "csrf_token": other.csrf_token})
    assert answer.status_code == 403
    # Not signed in: refused, not redirected.
    anonymous = Browser(server).post(action, {"text": "hello", **fields})
    assert anonymous.status_code == 403
    assert _count(server, Feedback, col(Feedback.submission_id) == submission_id) == 0

    # Browsers send Origin: null for our forms (Referrer-Policy: no-referrer): still fine.
    ok = browser.post(action, {**fields, "text": "Looks good"},
                      headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"})  # fmt: skip
    assert ok.status_code == 303
    same_origin = browser.post(action, {**fields, "text": "Again"},
                               headers={"Origin": server.url})  # fmt: skip
    assert same_origin.status_code == 303
    assert _count(server, Feedback, col(Feedback.submission_id) == submission_id) == 2


def test_the_sign_in_form_needs_its_own_token_too(server: LiveServer) -> None:
    reviewer = make_staff(server, make_org(server), "reviewer")
    browser = Browser(server)
    answer = browser.post("/sign-in", {"email": reviewer.email, "password": PASSWORD})
    assert answer.status_code == 403
    fields = browser.form("/sign-in", "/sign-in")
    # A token from one visitor's page does not work with another visitor's cookie.
    stranger = Browser(server)
    stranger.get("/sign-in")
    answer = stranger.post("/sign-in", {**fields, "email": reviewer.email, "password": PASSWORD})
    assert answer.status_code == 403
    assert "cairn_session" not in stranger.http.cookies


# --------------------------------------------------------------------- invites


def test_a_reviewer_accepts_an_invite_on_the_web_and_is_signed_in(server: LiveServer) -> None:
    org = make_org(server)
    email = f"rev-{uuid.uuid4().hex[:6]}@example.org"
    code = make_invite(server, org, email=email, role="reviewer")
    browser = Browser(server)

    short = browser.submit("/invite", "/invite", code=code, display_name="Ada",
                           password="short", password_again="short")  # fmt: skip
    assert short.status_code == 422
    assert "at least 12 characters" in short.text
    mismatch = browser.submit("/invite", "/invite", code=code, display_name="Ada",
                              password=PASSWORD, password_again=PASSWORD + "!")  # fmt: skip
    assert mismatch.status_code == 422
    assert "not the same" in mismatch.text
    assert PASSWORD not in mismatch.text  # a password is never put back in a page
    with server.session() as session:
        invite = session.exec(select(Invite).where(col(Invite.email) == email)).one()
        assert invite.redeemed_at is None
    assert user_row(server, email) is None  # nothing stored from refused attempts

    answer = browser.submit("/invite", "/invite", code=code.lower().replace("-", " "),
                            display_name="Ada Lovelace", password=PASSWORD,
                            password_again=PASSWORD)  # fmt: skip
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"/w/{org.workspace_id}"
    queue = browser.get(f"/w/{org.workspace_id}")
    assert queue.status_code == 200
    assert "Ada Lovelace" in queue.text
    with server.session() as session:
        invite = session.exec(select(Invite).where(col(Invite.email) == email)).one()
        assert invite.redeemed_at is not None
        user = directory.user_for_email(session, email)
        assert directory.membership_of(session, org.workspace_id, user.id).role == "reviewer"  # type: ignore[union-attr]

    again = Browser(server).submit("/invite", "/invite", code=code, display_name="Eve",
                                   password=PASSWORD, password_again=PASSWORD)  # fmt: skip
    assert again.status_code == 410
    assert "already been used" in again.text
    Browser(server).sign_in(email, PASSWORD)  # the new password works


def test_someone_who_already_signs_in_keeps_their_password_when_invited_again(
    server: LiveServer,
) -> None:
    first, second = make_org(server), make_org(server)
    reviewer = make_staff(server, first, "reviewer")
    code = make_invite(server, second, email=reviewer.email, role="admin")
    browser = Browser(server)
    new = "a brand new password"
    wrong = browser.submit("/invite", "/invite", code=code, display_name="R", password=new,
                           password_again=new)  # fmt: skip
    assert wrong.status_code == 422
    assert "already has an account" in wrong.text
    answer = browser.submit("/invite", "/invite", code=code, display_name="R",
                            password=PASSWORD, password_again=PASSWORD)  # fmt: skip
    assert answer.status_code == 303
    assert browser.get(f"/w/{second.workspace_id}/admin").status_code == 200


def test_member_invites_are_left_for_the_desktop_app(server: LiveServer) -> None:
    org = make_org(server)
    code = make_invite(server, org, role="member")
    answer = Browser(server).submit("/invite", "/invite", code=code, display_name="Mo",
                                    password=PASSWORD, password_again=PASSWORD)  # fmt: skip
    assert answer.status_code == 200
    assert "Cairn desktop app" in answer.text
    assert "cairn_session" not in answer.cookies
    enrol(server, code)  # still good in the app


def test_unknown_invite_codes_are_refused_and_rate_limited(server: LiveServer) -> None:
    browser = Browser(server)
    guess = {"code": "AAAA-BBBB-CCCC-DDDD", "display_name": "X", "password": PASSWORD,
             "password_again": PASSWORD}  # fmt: skip
    for _ in range(10):
        answer = browser.submit("/invite", "/invite", **guess)
        assert answer.status_code == 404
        assert "not known" in answer.text
    assert browser.submit("/invite", "/invite", **guess).status_code == 429


# ------------------------------------------------------------ the review flow


def test_a_reviewer_sees_a_submission_in_the_queue_comments_and_validates_it(
    server: LiveServer,
) -> None:
    org = make_org(server)
    member = join(server, org)
    peer = join(server, org)
    submission_id = _submit(
        member, org.point_id,
        assets=[snapshot("Ran our first retrospective",
                         specific="We ran it on **Friday**.\n\n- five people came")],
    )  # fmt: skip
    reviewer = make_staff(server, org, "reviewer", name="Rita Reviewer")
    browser = signed_in(server, reviewer)

    queue = browser.get(f"/w/{org.workspace_id}")
    assert queue.status_code == 200
    assert "Ran our first retrospective" in queue.text
    assert "Q3 evidence" in queue.text
    assert "Valid" in queue.text
    assert "Awaiting review" in queue.text

    page = f"/w/{org.workspace_id}/submissions/{submission_id}"
    review = browser.get(page)
    assert review.status_code == 200
    assert "Signature valid" in review.text
    assert "<strong>Friday</strong>" in review.text  # Markdown rendered
    assert "<li>five people came</li>" in review.text
    assert ">Specific<" in review.text  # the field's label
    offered = [a.get("value") for t, a in parse(review.text).tags if t == "option"]
    assert peer.member_id in offered
    assert member.member_id not in offered  # not their own
    assert reviewer.membership_id not in offered  # peer reviews are written in the app

    answer = browser.submit(page, f"{page}/comments", text="Lovely: say what changed next.")
    assert answer.status_code == 303
    shown = browser.get(answer.headers["Location"])
    assert "Your comment was added" in shown.text
    assert "Lovely: say what changed next." in shown.text

    answer = browser.submit(page, f"{page}/decisions", decision="validated", rating=4,
                            rubric="Reflection", text="Well evidenced.")  # fmt: skip
    assert answer.status_code == 303
    answer = browser.submit(page, f"{page}/peers", peer=peer.member_id)
    assert answer.status_code == 303

    with server.session() as session:
        feedback = session.exec(
            select(Feedback).where(col(Feedback.submission_id) == submission_id)
            .order_by(col(Feedback.created_at))
        ).all()  # fmt: skip
        assert [(f.kind, f.decision) for f in feedback] == [
            ("comment", None), ("decision", "validated")
        ]  # fmt: skip
        events = session.exec(
            select(Event).where(col(Event.membership_id) == member.member_id)
        ).all()
        assert sorted(e.kind for e in events) == ["feedback", "feedback"]
        assert (
            session.exec(
                select(PeerAssignment).where(col(PeerAssignment.submission_id) == submission_id)
            )
            .one()
            .membership_id
            == peer.member_id
        )

    pulled = member.get("/pull", params={"after": 0})
    if pulled.status_code != 404:  # the pull route is another helper's; once it is there
        assert pulled.status_code == 200, pulled.text
        assert [item["kind"] for item in pulled.json()["items"]] == ["feedback", "feedback"]

    queue = browser.get(f"/w/{org.workspace_id}")
    assert "Validated" in queue.text
    assert "1 assigned" in queue.text
    review = browser.get(page)
    assert "Rating 4 of 5 on “Reflection”" in review.text
    assert "Rita Reviewer" in review.text
    assert "Well evidenced." in review.text


def test_refused_feedback_shows_the_page_again_and_stores_nothing(server: LiveServer) -> None:
    org = make_org(server)
    member = join(server, org)
    join(server, org)  # someone who could be asked for a peer review
    submission_id = _submit(member, org.point_id)
    browser = signed_in(server, make_staff(server, org, "reviewer"))
    page = f"/w/{org.workspace_id}/submissions/{submission_id}"

    empty = browser.submit(page, f"{page}/comments", text="   ")
    assert empty.status_code == 422
    assert "Write a comment first." in empty.text
    bad = browser.submit(page, f"{page}/decisions", decision="excellent", text="my draft note")
    assert bad.status_code == 422
    assert "my draft note" in bad.text  # what was typed is kept
    rating = browser.submit(page, f"{page}/decisions", decision="validated", rating=9)
    assert rating.status_code == 422
    own = browser.submit(page, f"{page}/peers", peer=member.member_id)
    assert own.status_code == 422
    elsewhere = join(server, make_org(server))
    other = browser.submit(page, f"{page}/peers", peer=elsewhere.member_id)
    assert other.status_code == 422
    assert _count(server, Feedback, col(Feedback.submission_id) == submission_id) == 0
    assert _count(server, PeerAssignment, col(PeerAssignment.submission_id) == submission_id) == 0
    assert _count(server, Event, col(Event.membership_id) == member.member_id) == 0


def test_hostile_content_is_shown_as_text_and_never_runs(server: LiveServer) -> None:
    org = make_org(server)
    member = join(server, org)
    sha = upload(member, b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>")
    asset = snapshot(
        HOSTILE,
        attachments=[AttachmentRef(sha256=sha, name='"><img src=x onerror=alert(1)>.svg',
                                   size=59, media_type="image/svg+xml")],
    )  # fmt: skip
    asset.kind = "<b onmouseover=alert(1)>kind</b>"
    asset.tags = ["<img src=x onerror=alert(1)>"]
    asset.skills = ['"><iframe src="javascript:alert(1)">']
    asset.fields = [
        SnapshotField(name="md", label="<i onclick=alert(1)>Label</i>", type="markdown",
                      value="[click](javascript:alert(1)) <img src=x onerror=alert(1)> "
                            "<iframe src='https://evil.example'></iframe> <script>x()</script>"
                            "\n\n<a href='JaVaScRiPt:alert(1)'>y</a> <div style='x'>s</div>"),
        SnapshotField(name="plain", label="Plain", type="text", value=HOSTILE),
        SnapshotField(name="list", label="List", type="list",
                      value=[HOSTILE, {"<b>k</b>": "<img src=x onerror=alert(1)>"}, 3, True]),
    ]  # fmt: skip
    submission_id = _submit(member, org.point_id, assets=[asset])
    browser = signed_in(server, make_staff(server, org, "reviewer"))

    for path in [f"/w/{org.workspace_id}", f"/w/{org.workspace_id}/submissions/{submission_id}"]:
        page = browser.get(path)
        assert page.status_code == 200
        assert executable_markup(page.text) == [], path
        assert HOSTILE in "".join(parse(page.text).text)  # shown, as text
    review = browser.get(f"/w/{org.workspace_id}/submissions/{submission_id}")
    assert '<a rel="noopener noreferrer nofollow">click</a>' in review.text
    # SVG is never shown inline, and downloads as an opaque file.
    tags = parse(review.text).tags
    assert not [a for t, a in tags if t == "img"]
    download = browser.get(f"/w/{org.workspace_id}/submissions/{submission_id}/attachments/{sha}")
    assert download.status_code == 200
    assert download.headers["Content-Type"] == "application/octet-stream"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in download.headers["Content-Security-Policy"]


def test_a_tampered_submission_is_shown_with_a_warning(server: LiveServer) -> None:
    org = make_org(server)
    member = join(server, org)
    submission_id = _submit(member, org.point_id)
    with server.session() as session:
        stored = session.get(Submission, submission_id)
        assert stored is not None
        stored.payload = stored.payload.replace(b"retrospective", b"retrospectivX")
        session.add(stored)
        session.commit()
    browser = signed_in(server, make_staff(server, org, "reviewer"))
    page = browser.get(f"/w/{org.workspace_id}/submissions/{submission_id}")
    assert "Warning: the signature does not match." in page.text
    assert "Signature valid" not in page.text


def test_attachments_download_and_pictures_show_only_for_their_own_submission(
    server: LiveServer,
) -> None:
    org = make_org(server)
    member = join(server, org)
    png = upload(member, PNG)
    notes = upload(member, b"meeting notes\n")
    submission_id = _submit(member, org.point_id, assets=[snapshot(attachments=[
        AttachmentRef(sha256=png, name="board.png", size=len(PNG), media_type="image/png"),
        AttachmentRef(sha256=notes, name="notes.txt", size=14, media_type="text/plain"),
    ])])  # fmt: skip
    other_org = make_org(server)
    other_member = join(server, other_org)
    secret = upload(other_member, b"someone else's file")
    other_id = _submit(other_member, other_org.point_id, assets=[snapshot(attachments=[
        AttachmentRef(sha256=secret, name="s.txt", size=19, media_type="text/plain"),
    ])])  # fmt: skip
    browser = signed_in(server, make_staff(server, org, "reviewer"))
    base = f"/w/{org.workspace_id}/submissions/{submission_id}"

    page = browser.get(base)
    images = [a["src"] for t, a in parse(page.text).tags if t == "img"]
    assert images == [f"{base}/attachments/{png}"]
    assert "board.png" in page.text
    assert "notes.txt" in page.text
    picture = browser.get(f"{base}/attachments/{png}")
    assert picture.content == PNG
    assert picture.headers["Content-Type"] == "image/png"
    text = browser.get(f"{base}/attachments/{notes}")
    assert text.content == b"meeting notes\n"
    assert 'filename="notes.txt"' in text.headers["Content-Disposition"]

    assert browser.get(f"{base}/attachments/{secret}").status_code == 404
    assert browser.get(f"{base}/attachments/nothex").status_code == 404
    other = f"/w/{other_org.workspace_id}/submissions/{other_id}/attachments/{secret}"
    assert browser.get(other).status_code == 404
    assert browser.get(f"/w/{org.workspace_id}/submissions/{other_id}").status_code == 404


def test_the_queue_comes_in_pages_newest_first(server: LiveServer) -> None:
    org = make_org(server, mode="open")
    member = join(server, org)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda n: _submit(member, org.point_id, assets=[
            snapshot(f"Entry number {n:02d}")]), range(50)))  # fmt: skip
    _submit(member, org.point_id, assets=[snapshot("Second newest")])
    _submit(member, org.point_id, assets=[snapshot("The newest")])
    browser = signed_in(server, make_staff(server, org, "reviewer"))

    first = table_rows(browser.get(f"/w/{org.workspace_id}").text)[1:]
    second_page = browser.get(f"/w/{org.workspace_id}?page=2")
    second = table_rows(second_page.text)[1:]
    assert [len(first), len(second)] == [50, 2]
    assert [row[0] for row in first[:2]] == ["The newest", "Second newest"]
    titles = {row[0] for row in first + second}
    assert len(titles) == 52
    assert "Page 2 of 2" in second_page.text
    assert table_rows(browser.get(f"/w/{org.workspace_id}?page=3").text) == []


# ------------------------------------------------------------- authorisation


def test_people_without_a_role_see_nothing_and_members_cannot_review(server: LiveServer) -> None:
    org = make_org(server)
    member = join(server, org)
    submission_id = _submit(member, org.point_id)
    paths = [
        f"/w/{org.workspace_id}",
        f"/w/{org.workspace_id}/submissions/{submission_id}",
        f"/w/{org.workspace_id}/members",
        f"/w/{org.workspace_id}/admin",
    ]
    stranger = signed_in(server, make_staff(server, make_org(server), "admin"))
    for path in paths:
        answer = stranger.get(path)
        assert answer.status_code == 404, path
        assert org.name not in answer.text
    unknown = stranger.get(f"/w/{uuid.uuid4()}")
    assert unknown.status_code == 404
    assert unknown.text == stranger.get(paths[0]).text  # the same page either way
    comment = stranger.post(f"{paths[1]}/comments",
                            {"csrf_token": stranger.csrf_token, "text": "hi"})  # fmt: skip
    assert comment.status_code == 404

    with_password = make_staff(server, org, "member")
    browser = signed_in(server, with_password)
    for path in paths:
        assert browser.get(path).status_code == 403, path
    assert org.name not in browser.get("/").text


def test_reviewers_review_and_invite_members_but_only_admins_manage(server: LiveServer) -> None:
    org = make_org(server)
    member = join(server, org)
    reviewer = signed_in(server, make_staff(server, org, "reviewer"))
    admin_staff = make_staff(server, org, "admin")
    admin = signed_in(server, admin_staff)
    base = f"/w/{org.workspace_id}"

    assert reviewer.get(f"{base}/admin").status_code == 403
    token = reviewer.csrf_token
    assert reviewer.post(f"{base}/points", {"csrf_token": token, "name": "X"}).status_code == 403
    assert reviewer.post(f"{base}/members/{member.member_id}/role",
                         {"csrf_token": token, "role": "admin"}).status_code == 403  # fmt: skip
    assert reviewer.post(f"{base}/invites", {"csrf_token": token, "email": "r@example.org",
                                             "role": "reviewer"}).status_code == 403  # fmt: skip
    members_page = reviewer.get(f"{base}/members")
    assert members_page.status_code == 200
    invite = reviewer.submit(members_page, f"{base}/invites", email="new@example.org")
    assert invite.status_code == 201
    code = parse(invite.text).text
    code_text = next(t for t in code if t.count("-") == 3 and len(t) == 19)
    joined = enrol(server, code_text)  # the code works in the desktop app
    assert joined.workspace_id == org.workspace_id
    assert code_text not in reviewer.get(f"{base}/members").text  # shown once only

    # The admin changes a role and makes a submission point.
    answer = admin.submit(f"{base}/members", f"{base}/members/{member.member_id}/role",
                          role="reviewer")  # fmt: skip
    assert answer.status_code == 303
    with server.session() as session:
        assert session.get(Membership, member.member_id).role == "reviewer"  # type: ignore[union-attr]
    answer = admin.submit(f"{base}/admin", f"{base}/points", name="Portfolio review",
                          mode="open", deadline="2031-06-30")  # fmt: skip
    assert answer.status_code == 303
    with server.session() as session:
        point = session.exec(
            select(SubmissionPoint).where(col(SubmissionPoint.name) == "Portfolio review",
                                          col(SubmissionPoint.workspace_id) == org.workspace_id)
        ).one()  # fmt: skip
        assert point.mode == "open"
        assert point.deadline == datetime(2031, 6, 30, 23, 59, 59, tzinfo=UTC)
    points = [p["name"] for p in joined.get("/me").json()["points"]]
    assert "Portfolio review" in points
    bad = admin.submit(f"{base}/admin", f"{base}/points", name="", mode="sometimes")
    assert bad.status_code == 422
    # An admin of the workspace cannot lock themselves out by changing their own role.
    own = admin.post(f"{base}/members/{admin_staff.membership_id}/role",
                     {"csrf_token": admin.csrf_token, "role": "member"})  # fmt: skip
    assert own.status_code == 409


TEMPLATE = b'id = "reflection"\nversion = "1.0.0"\nname = "Reflection"\n'


def test_admins_publish_templates_documents_and_links_to_members(server: LiveServer) -> None:
    org = make_org(server)
    member = join(server, org)
    admin = signed_in(server, make_staff(server, org, "admin"))
    page = f"/w/{org.workspace_id}/admin"
    action = f"/w/{org.workspace_id}/resources"
    fields = admin.form(page, action)

    toml = {"file": ("reflection.toml", TEMPLATE, "application/toml")}
    template = admin.post(action, {**fields, "kind": "template"}, files=toml)
    assert template.status_code == 303
    pdf = {"file": ("handbook.pdf", b"%PDF-1.4 ...", "application/pdf")}
    document = admin.post(action, {**fields, "kind": "document", "name": "Handbook"}, files=pdf)
    assert document.status_code == 303
    link = admin.post(action, {**fields, "kind": "link", "name": "Guidance",
                               "url": "https://example.org/guidance"})  # fmt: skip
    assert link.status_code == 303
    broken = admin.post(action, {**fields, "kind": "template", "name": "Broken"},
                        files={"file": ("broken.toml", b"id = ", "application/toml")})  # fmt: skip
    assert broken.status_code == 422
    assert "not valid TOML" in broken.text
    script = admin.post(action, {**fields, "kind": "link", "name": "Bad",
                                 "url": "javascript:alert(1)"})  # fmt: skip
    assert script.status_code == 422

    rows = table_rows(admin.get(page).text)
    names = [row[0] for row in rows if row and row[0] != "Name"]
    assert "Handbook" in names
    assert "reflection.toml" in names
    assert "Guidance https://example.org/guidance" in names
    with server.session() as session:
        kinds = session.exec(
            select(Event.kind).where(col(Event.membership_id) == member.member_id)
        ).all()
    assert list(kinds) == ["resource", "resource", "resource"]

    reviewer = signed_in(server, make_staff(server, org, "reviewer"))
    refused = reviewer.post(action, {"csrf_token": reviewer.csrf_token, "kind": "link",
                                     "name": "Mine", "url": "https://example.org"})  # fmt: skip
    assert refused.status_code == 403


def test_server_admins_see_every_workspace_and_create_workspaces(server: LiveServer) -> None:
    org = make_org(server)
    root = signed_in(server, make_staff(server, None, server_admin=True))
    assert org.name in root.get("/").text
    assert root.get(f"/w/{org.workspace_id}/admin").status_code == 200
    name = f"Cohort {uuid.uuid4().hex[:6]}"
    answer = root.submit("/", "/workspaces", name=name)
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith("/admin")
    assert name in root.get("/").text
    taken = root.submit("/", "/workspaces", name=name)
    assert taken.status_code == 409

    reviewer = signed_in(server, make_staff(server, org, "admin"))
    refused = reviewer.post("/workspaces", {"csrf_token": reviewer.csrf_token, "name": "Mine"})
    assert refused.status_code == 403


def test_the_members_page_lists_people_roles_and_devices(server: LiveServer) -> None:
    org = make_org(server)
    member = join(server, org)
    enrol(server, make_invite(server, org, email=_email_of(server, member)))  # a second device
    admin = make_staff(server, org, "admin", name="Ann Admin")
    page = signed_in(server, admin).get(f"/w/{org.workspace_id}/members")
    rows = table_rows(page.text)
    assert rows[0] == ["Name", "Email", "Role", "Devices"]
    people = {row[1]: row for row in rows[1:]}
    row = people[_email_of(server, member)]
    assert "Change" in row[2]  # the admin may change this person's role
    assert row[3] == "2"
    assert people[admin.email][0] == "Ann Admin (you)"
    assert people[admin.email][2:] == ["admin", "0"]  # no control to change one's own role


def _email_of(server: LiveServer, member: Member) -> str:
    with server.session() as session:
        membership = session.get(Membership, member.member_id)
        assert membership is not None
        user = session.get(User, membership.user_id)
        assert user is not None
        return user.email


# ----------------------------------------------------------------- error pages


def test_error_pages_are_pages(server: LiveServer) -> None:
    answer = requests.get(server.url + "/no/such/page", timeout=10)
    assert answer.status_code == 404
    assert answer.headers["Content-Type"].startswith("text/html")
    assert '<html lang="en">' in answer.text
    assert "<title>Not found" in answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    css = requests.get(server.url + "/static/cairn.css", timeout=10)
    assert css.status_code == 200
    assert css.headers["Content-Type"].startswith("text/css")
