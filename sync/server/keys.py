"""The server's Ed25519 signing key: receipts, feedback and events are signed with it.

Exactly one key is active. ``rotate`` retires it and makes a new one, endorsed by the
old key, so clients that pinned the old key can follow a planned rotation; a key that
appears without an endorsement is refused by clients (see sync/protocol.py).
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel
from sqlalchemy import Row, select
from sqlmodel import Session
from sqlmodel import select as select_models

from sync.protocol import (
    KEY_ENDORSEMENT_FORMAT,
    KeyEndorsement,
    SignedDocument,
    key_id,
    sign_document,
)
from sync.server.db import detached, table_of
from sync.server.models import ServerKey, utc_now

_KEYS = table_of(ServerKey)
#: Every request that signs, or asks who the server is, reads the keys: Core queries,
#: a quarter of the cost of loading ORM objects.
_ACTIVE_QUERY = select(_KEYS).where(_KEYS.c.retired_at.is_(None))
_ALL_QUERY = select(_KEYS).order_by(_KEYS.c.created_at)


def _row_key(row: Row[Any]) -> ServerKey:
    key = detached(ServerKey, row)
    assert key is not None  # the primary key is never null
    return key


def active_key(session: Session) -> ServerKey:
    """The key in use, made on first use (the caller commits)."""
    session.flush()  # a Core query does not flush what the session holds (a retired key)
    row = session.connection().execute(_ACTIVE_QUERY).first()
    if row is None:
        return _new_key(session)
    return _row_key(row)


def active_key_and_endorsements(session: Session) -> tuple[ServerKey, list[SignedDocument]]:
    """The key in use and every endorsement, oldest first, in one query (the key is made
    on first use; the caller commits)."""
    session.flush()  # as in active_key
    rows = [_row_key(row) for row in session.connection().execute(_ALL_QUERY)]
    active = next((key for key in rows if key.retired_at is None), None)
    if active is None:
        active = _new_key(session)
    return active, [SignedDocument.model_validate_json(key.endorsement)
                    for key in rows if key.endorsement]  # fmt: skip


def _new_key(session: Session) -> ServerKey:
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes_raw()
    row = ServerKey(
        id=key_id(public), public_key=public.hex(), private_key=private.private_bytes_raw().hex()
    )
    session.add(row)
    session.flush()
    return row


#: Private keys by key id, read once per process (a key id names one key for good).
_PRIVATE_KEYS: dict[str, Ed25519PrivateKey] = {}


def private_key(row: ServerKey) -> Ed25519PrivateKey:
    key = _PRIVATE_KEYS.get(row.id)
    if key is None:
        key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(row.private_key))
        _PRIVATE_KEYS[row.id] = key
    return key


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


def public_keys(session: Session) -> dict[str, bytes]:
    """Every key this server has used, by key id (for checking old signatures)."""
    return {row.id: bytes.fromhex(row.public_key) for row in session.exec(select_models(ServerKey))}
