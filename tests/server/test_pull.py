"""Incremental pull and peer review from a device, over HTTP on SQLite and PostgreSQL:
feedback written on the server reaches the submitter, signed, in order, and only them."""

from __future__ import annotations

from typing import Any

from sync.protocol import (
    EVENT_FORMAT,
    FEEDBACK_FORMAT,
    EventDocument,
    FeedbackDocument,
    SignedDocument,
    open_document,
)
from sync.server import directory, reviews
from sync.server.models import Device, Membership, Submission
from tests.live_server import LiveServer
from tests.server.client import Member, Org, join, make_org, snapshot


def _submit(member: Member, org: Org, title: str = "SMART plan") -> str:
    payload = member.payload(org.point_id, [snapshot(title)])
    answer = member.submit(member.sign(payload))
    assert answer.status_code == 201, answer.text
    return str(payload.submission_id)


def _comment(server: LiveServer, org: Org, submission_id: str, text: str) -> None:
    """A reviewer writes on the server (as the review pages do)."""
    with server.session() as session:
        reviewer = directory.user_for_email(session, "reviewer@example.org")
        directory.join(session, org.workspace_id, reviewer, "reviewer")
        submission = session.get(Submission, submission_id)
        assert submission is not None
        reviews.add_feedback(session, submission, reviewer, "reviewer", "comment", text=text)
        session.commit()


def _open(member: Member, item: dict[str, Any]) -> EventDocument:
    signed = SignedDocument.model_validate(item["event"])
    return open_document(signed, bytes.fromhex(member.server_key), EVENT_FORMAT, EventDocument)


def _feedback(member: Member, event: EventDocument) -> FeedbackDocument:
    signed = SignedDocument.model_validate(event.data)
    return open_document(signed, bytes.fromhex(member.server_key), FEEDBACK_FORMAT,
                         FeedbackDocument)  # fmt: skip


def test_feedback_arrives_by_pull_signed_by_the_server_and_only_for_the_submitter(
    server: LiveServer,
) -> None:
    org = make_org(server, mode="open")
    member = join(server, org)
    colleague = join(server, org)
    submission_id = _submit(member, org)
    assert member.get("/pull").json() == {"items": [], "cursor": 0, "more": False}

    _comment(server, org, submission_id, "Good start: say how you will measure it.")
    answer = member.get("/pull", params={"after": 0})
    assert answer.status_code == 200, answer.text
    [item] = answer.json()["items"]
    assert item["kind"] == "feedback"
    event = _open(member, item)
    assert str(event.member_id) == member.member_id
    feedback = _feedback(member, event)
    assert str(feedback.submission_id) == submission_id
    assert feedback.kind == "comment"
    assert feedback.text == "Good start: say how you will measure it."
    assert answer.json()["cursor"] == item["seq"]

    # Nothing new since that cursor, and nothing at all for a colleague.
    assert member.get("/pull", params={"after": item["seq"]}).json()["items"] == []
    assert colleague.get("/pull").json()["items"] == []


def test_pull_pages_with_a_cursor_and_says_when_there_is_more(server: LiveServer) -> None:
    org = make_org(server, mode="open")
    member = join(server, org)
    submission_id = _submit(member, org)
    for number in range(5):
        _comment(server, org, submission_id, f"Comment {number}")

    texts: list[str] = []
    cursor = 0
    pages = 0
    while True:
        page = member.get("/pull", params={"after": cursor, "limit": 2}).json()
        pages += 1
        assert len(page["items"]) <= 2
        texts += [_feedback(member, _open(member, item)).text for item in page["items"]]
        assert page["cursor"] >= cursor
        cursor = page["cursor"]
        if not page["more"]:
            break
    assert texts == [f"Comment {number}" for number in range(5)]
    assert pages == 3

    # Asking for more than a page gives a page; nonsense is refused.
    assert member.get("/pull", params={"limit": 100_000}).status_code == 200
    for params in ({"after": -1}, {"limit": -5}, {"after": "x"}):
        refused = member.get("/pull", params=params)
        assert refused.status_code == 422
        assert refused.json()["error"]["code"] == "invalid_request"


def _assign(server: LiveServer, submission_id: str, peer: Member) -> None:
    with server.session() as session:
        submission = session.get(Submission, submission_id)
        membership = session.get(Membership, peer.member_id)
        assert submission is not None
        assert membership is not None
        admin = directory.user_for_email(session, "assigner@example.org")
        reviews.assign_peer(session, submission, membership, admin)
        session.commit()


def test_an_assigned_peer_reviews_from_their_device_and_the_submitter_receives_it(
    server: LiveServer,
) -> None:
    org = make_org(server)
    member = join(server, org)
    peer = join(server, org)
    submission_id = _submit(member, org, title="Retrospective plan")
    _assign(server, submission_id, peer)

    [request] = [_open(peer, item) for item in peer.get("/pull").json()["items"]]
    assert request.kind == "review_request"
    assert request.data["submission_id"] == submission_id
    assert request.data["assets"][0]["title"] == "Retrospective plan"

    review = {"text": "Clear goal; add a date for the follow-up.", "rating": 4}
    answer = peer.post(f"/reviews/{submission_id}", json=review)
    assert answer.status_code == 201, answer.text
    signed = SignedDocument.model_validate(answer.json())
    sent = open_document(signed, bytes.fromhex(peer.server_key), FEEDBACK_FORMAT, FeedbackDocument)
    assert sent.kind == "peer_review"
    assert sent.author_role == "peer"
    assert sent.rating == 4
    # Sending the same review again (a retry) does not add a second one.
    again = peer.post(f"/reviews/{submission_id}", json=review)
    assert again.status_code == 200
    assert again.json() == answer.json()

    [item] = member.get("/pull").json()["items"]
    received = _feedback(member, _open(member, item))
    assert received.feedback_id == sent.feedback_id
    assert received.text == review["text"]
    with server.session() as session:
        assert len(reviews.thread(session, submission_id)) == 1


def test_only_an_assigned_peer_may_review(server: LiveServer) -> None:
    org = make_org(server)
    member = join(server, org)
    bystander = join(server, org)
    submission_id = _submit(member, org)
    for who, target in ((bystander, submission_id), (member, submission_id),
                        (bystander, "00000000-0000-4000-8000-000000000000")):  # fmt: skip
        answer = who.post(f"/reviews/{target}", json={"text": "Looks fine"})
        assert answer.status_code == 403
        assert answer.json()["error"]["code"] == "not_assigned"
    peer = join(server, org)
    _assign(server, submission_id, peer)
    for bad in ({"text": ""}, {"text": "x", "rating": 6}, {"text": "x", "extra": 1}):
        assert peer.post(f"/reviews/{submission_id}", json=bad).status_code == 422
    assert member.get("/pull").json()["items"] == []

    # A device without the review scope is refused even when assigned.
    with server.session() as session:
        device = session.get(Device, peer.device_id)
        assert device is not None
        device.scopes = "pull submit share"
        session.add(device)
        session.commit()
    scoped = peer.post(f"/reviews/{submission_id}", json={"text": "Fine"})
    assert scoped.status_code == 403
    assert scoped.json()["error"]["code"] == "scope_missing"
    assert member.get("/pull").json()["items"] == []
    with server.session() as session:
        assert reviews.thread(session, submission_id) == []
