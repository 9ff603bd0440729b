"""The kinds of sync record this package keeps in a space, and how their ids are made.

Every record is sealed whole in the space file (see store/records.py). Ids that
follow from what a record is about (a submission, an event) are derived with UUID5,
so writing the same thing twice, e.g. after a crash between the server's answer and
our commit, replaces the record instead of adding a second one.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

ACCOUNT = "account"
OUTBOX = "outbox"
RECEIPT = "receipt"
FEEDBACK = "feedback"
REVIEW_REQUEST = "review_request"
SHARE = "share"
SHARE_COMMENT = "share_comment"
RESOURCE = "resource"
#: A document's bytes (see app/syncing/resources.py), apart from its "resource" record.
RESOURCE_FILE = "resource_file"

#: The namespace of derived record ids (any fixed UUID would do; never change it).
_NAMESPACE = uuid.UUID("4f0d7a52-58a4-4c1e-9a5e-2f3c8e0b6a11")


def derived_id(*parts: str) -> str:
    """A record id that depends only on ``parts`` (e.g. ``("receipt", submission_id)``)."""
    return str(uuid.uuid5(_NAMESPACE, "\0".join(parts)))


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """A moment as stored in records: UTC, ISO 8601, sorts as text."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
