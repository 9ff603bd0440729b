"""Feedback on submissions: comments, peer reviews and decisions (append-only, each
signed by the server), and peer-review assignments. Every piece of feedback is also
queued as a signed event for the submitter's devices."""

from __future__ import annotations

import json
import uuid

from sqlmodel import Session, col, select

from sync.protocol import (
    FEEDBACK_FORMAT,
    FeedbackDocument,
    SignedDocument,
    SubmissionPayload,
    parse_body,
)
from sync.server import events, keys
from sync.server.errors import Conflict, Forbidden, NotFound, Unprocessable
from sync.server.models import (
    Feedback,
    Membership,
    PeerAssignment,
    Submission,
    SubmissionAsset,
    User,
    utc_now,
)

DECISIONS = ("validated", "needs_more_evidence", "not_yet")
DECISION_LABELS = {
    "validated": "Validated",
    "needs_more_evidence": "Needs more evidence",
    "not_yet": "Not yet",
}


def add_feedback(
    session: Session,
    submission: Submission,
    author: User,
    author_role: str,
    kind: str,
    text: str = "",
    decision: str | None = None,
    rating: int | None = None,
    rubric: str | None = None,
) -> Feedback:
    """Append one signed piece of feedback and queue it for the submitter (caller commits).

    ``author_role`` is how the author took part: "reviewer", "admin" or "peer".
    """
    text = text.strip()
    if kind not in ("comment", "peer_review", "decision"):
        raise Unprocessable("unknown kind of feedback", code="invalid_feedback")
    if kind == "decision" and decision not in DECISIONS:
        raise Unprocessable("a decision is validated, needs_more_evidence or not_yet",
                            code="invalid_decision")  # fmt: skip
    if kind != "decision" and (decision is not None or not text):
        raise Unprocessable("a comment or review needs text, and no decision",
                            code="invalid_feedback")  # fmt: skip
    if rating is not None and not 1 <= rating <= 5:
        raise Unprocessable("a rating is from 1 to 5", code="invalid_rating")
    if len(text) > 100_000 or (rubric is not None and len(rubric) > 200):
        raise Unprocessable("the feedback is too long", code="too_long")
    if submission.status == "withdrawn":
        raise Conflict("this submission has been withdrawn", code="submission_withdrawn")

    asset_ids = list(
        session.exec(
            select(SubmissionAsset.asset_id).where(
                col(SubmissionAsset.submission_id) == submission.id
            )
        ).all()
    )
    feedback_id = str(uuid.uuid4())
    document = FeedbackDocument(
        feedback_id=uuid.UUID(feedback_id),
        submission_id=uuid.UUID(submission.id),
        workspace_id=uuid.UUID(submission.workspace_id),
        asset_ids=asset_ids,
        kind=kind,  # type: ignore[arg-type]
        author=author.display_name or author.email,
        author_role=author_role,  # type: ignore[arg-type]
        text=text,
        decision=decision,  # type: ignore[arg-type]
        rating=rating,
        rubric=rubric or None,
        created_at=utc_now(),
    )
    signed = keys.sign(session, FEEDBACK_FORMAT, document)
    row = Feedback(
        id=feedback_id, submission_id=submission.id, author_id=author.id, kind=kind,
        decision=decision, document=signed.model_dump_json(), created_at=document.created_at,
    )  # fmt: skip
    session.add(row)
    submitter = session.get(Membership, submission.membership_id)
    assert submitter is not None  # foreign key
    events.publish(session, submitter, "feedback", json.loads(signed.model_dump_json()))
    session.flush()
    return row


def thread(session: Session, submission_id: str) -> list[FeedbackDocument]:
    """Every piece of feedback on a submission, oldest first."""
    rows = session.exec(
        select(Feedback)
        .where(col(Feedback.submission_id) == submission_id)
        .order_by(col(Feedback.created_at), col(Feedback.id))
    ).all()
    return [
        parse_body(SignedDocument.model_validate_json(row.document).body_bytes(), FeedbackDocument)
        for row in rows
    ]


def latest_decision(session: Session, submission_id: str) -> str | None:
    row = session.exec(
        select(Feedback)
        .where(col(Feedback.submission_id) == submission_id, col(Feedback.kind) == "decision")
        .order_by(col(Feedback.created_at).desc())
    ).first()
    return row.decision if row else None


def assign_peer(
    session: Session, submission: Submission, peer: Membership, assigned_by: User
) -> PeerAssignment:
    """Ask another member of the workspace to review ``submission`` (caller commits).
    The peer's devices receive a ``review_request`` event with the snapshot."""
    if peer.workspace_id != submission.workspace_id:
        raise Forbidden("a peer must be a member of the same workspace", code="wrong_workspace")
    if peer.id == submission.membership_id:
        raise Unprocessable("a person cannot peer-review their own submission",
                            code="own_submission")  # fmt: skip
    existing = session.exec(
        select(PeerAssignment).where(
            col(PeerAssignment.submission_id) == submission.id,
            col(PeerAssignment.membership_id) == peer.id,
        )
    ).first()
    if existing is not None:
        return existing
    assignment = PeerAssignment(
        submission_id=submission.id, membership_id=peer.id, assigned_by=assigned_by.id
    )
    session.add(assignment)
    session.flush()
    payload = parse_body(submission.payload, SubmissionPayload)
    events.publish(session, peer, "review_request", {
        "submission_id": submission.id,
        "assignment_id": assignment.id,
        "assets": [asset.model_dump(mode="json") for asset in payload.assets],
    })  # fmt: skip
    return assignment


def is_assigned_peer(session: Session, submission_id: str, membership_id: str) -> bool:
    return (
        session.exec(
            select(PeerAssignment.id).where(
                col(PeerAssignment.submission_id) == submission_id,
                col(PeerAssignment.membership_id) == membership_id,
            )
        ).first()
        is not None
    )


def submission_or_404(session: Session, submission_id: str) -> Submission:
    submission = session.get(Submission, submission_id)
    if submission is None:
        raise NotFound("there is no such submission", code="submission_not_found")
    return submission


def review_as_peer(
    session: Session,
    submission_id: str,
    peer: Membership,
    author: User,
    text: str,
    rating: int | None = None,
) -> tuple[Feedback, bool]:
    """An assigned peer's review (from their device); returns it and whether it is new.
    Forbidden ``not_assigned`` unless ``peer`` was asked to review this submission (the
    same answer whether or not it exists). The same review sent again is not added twice.
    The caller commits."""
    # The assignment's row lock makes a retry that races the first request wait for it.
    assignment = session.exec(
        select(PeerAssignment)
        .where(
            col(PeerAssignment.submission_id) == submission_id,
            col(PeerAssignment.membership_id) == peer.id,
        )
        .with_for_update()
    ).first()
    if assignment is None:
        raise Forbidden("you have not been asked to review this submission", code="not_assigned")
    submission = submission_or_404(session, submission_id)
    text = text.strip()
    for row in session.exec(
        select(Feedback).where(
            col(Feedback.submission_id) == submission.id,
            col(Feedback.author_id) == author.id,
            col(Feedback.kind) == "peer_review",
        )
    ).all():
        earlier = parse_body(
            SignedDocument.model_validate_json(row.document).body_bytes(), FeedbackDocument
        )
        if earlier.text == text and earlier.rating == rating:
            return row, False
    feedback = add_feedback(session, submission, author, "peer", "peer_review", text=text,
                            rating=rating)  # fmt: skip
    return feedback, True
