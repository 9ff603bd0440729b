"""The server's Ed25519 signing key: receipts, feedback and events are signed with it.

Exactly one key is active. ``rotate`` retires it and makes a new one, endorsed by the
old key, so clients that pinned the old key can follow a planned rotation; a key that
appears without an endorsement is refused by clients (see sync/protocol.py).
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel
from sqlmodel import Session, col, select

from sync.protocol import (
    KEY_ENDORSEMENT_FORMAT,
    KeyEndorsement,
    SignedDocument,
    key_id,
    sign_document,
)
from sync.server.models import ServerKey, utc_now


def active_key(session: Session) -> ServerKey:
    """The key in use, made on first use (the caller commits)."""
    row = session.exec(select(ServerKey).where(col(ServerKey.retired_at).is_(None))).first()
    if row is None:
        row = _new_key(session)
    return row


def _new_key(session: Session) -> ServerKey:
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes_raw()
    row = ServerKey(
        id=key_id(public), public_key=public.hex(), private_key=private.private_bytes_raw().hex()
    )
    session.add(row)
    session.flush()
    return row


def private_key(row: ServerKey) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(row.private_key))


def sign(session: Session, purpose: str, document: BaseModel | dict[str, Any]) -> SignedDocument:
    """Sign ``document`` with the active key."""
    return sign_document(private_key(active_key(session)), purpose, document)


def rotate(session: Session) -> ServerKey:
    """Retire the active key and make a new one that it endorses (the caller commits)."""
    old = active_key(session)
    old.retired_at = utc_now()
    session.add(old)
    session.flush()
    new = _new_key(session)
    endorsement = KeyEndorsement(
        previous_key=old.public_key, next_key=new.public_key, created_at=utc_now()
    )
    new.endorsement = sign_document(
        private_key(old), KEY_ENDORSEMENT_FORMAT, endorsement
    ).model_dump_json()
    session.add(new)
    session.flush()
    return new


def endorsements(session: Session) -> list[SignedDocument]:
    """Every endorsement, oldest first."""
    rows = session.exec(
        select(ServerKey)
        .where(col(ServerKey.endorsement).is_not(None))
        .order_by(col(ServerKey.created_at))
    ).all()
    return [SignedDocument.model_validate_json(row.endorsement or "") for row in rows]


def public_keys(session: Session) -> dict[str, bytes]:
    """Every key this server has used, by key id (for checking old signatures)."""
    return {row.id: bytes.fromhex(row.public_key) for row in session.exec(select(ServerKey))}
