"""Sealed field values: AES-256-GCM bound to (space, table, column, row, version, schema).

Blob layout: ``format(1) ‖ key_id(4) ‖ nonce(12) ‖ ciphertext ‖ tag(16)``. The
plaintext is the value's compact JSON, padded (ISO/IEC 7816-4) to a multiple of
PAD_BLOCK bytes so that ciphertext sizes reveal lengths only coarsely.
"""

from __future__ import annotations

import json
import os
import struct
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from store.errors import DamagedRecord

BLOB_FORMAT = 1
NONCE_LENGTH = 12
HEADER_LENGTH = 1 + 4 + NONCE_LENGTH
PAD_BLOCK = 32
_AAD_PREFIX = b"cairn/v1/field\x00"
# Made once: json.dumps/json.loads build a new encoder or decoder on every call.
_encode_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_decode_json = json.JSONDecoder().decode


def pad(data: bytes) -> bytes:
    padded = data + b"\x80"
    return padded + b"\x00" * (-len(padded) % PAD_BLOCK)


def unpad(data: bytes) -> bytes:
    end = data.rstrip(b"\x00")
    if not end.endswith(b"\x80"):
        raise ValueError("bad padding")
    return end[:-1]


def _text(value: str) -> bytes:
    raw = value.encode()
    return struct.pack(">H", len(raw)) + raw


def uuid_bytes(value: str) -> bytes:
    """The 16 bytes of a canonical UUID string; anything else is a ValueError.

    Faster than uuid.UUID() on the hot paths, and stricter: only the form the
    store writes (36 characters, lower-case hex with dashes) is accepted.
    """
    if (
        len(value) != 36
        or value[8] != "-"
        or value[13] != "-"
        or value[18] != "-"
        or value[23] != "-"
    ):
        raise ValueError("not a canonical UUID")
    hex_digits = value.replace("-", "")
    raw = bytes.fromhex(hex_digits)
    if len(raw) != 16 or hex_digits != hex_digits.lower():
        raise ValueError("not a canonical UUID")
    return raw


class FieldSealer:
    """Seals and opens the encrypted columns of one space."""

    def __init__(
        self, key: bytes | bytearray, key_id: bytes, space_id: bytes, schema_version: int
    ) -> None:
        self._aead = AESGCM(bytes(key))
        self.key_id = key_id
        self.space_id = space_id
        self.schema_version = schema_version
        self._header = bytes((BLOB_FORMAT,)) + key_id
        self._prefixes: dict[tuple[str, str], bytes] = {}
        self._schema = struct.pack(">I", schema_version)

    def associated_data(
        self, table: str, column: str, row_id: str, row_version: int, owner: str | None = None
    ) -> bytes:
        """What a sealed value is bound to; `owner` is the id of the asset a
        history row or attachment belongs to, so it cannot be moved to another."""
        prefix = self._prefixes.get((table, column))
        if prefix is None:
            prefix = _AAD_PREFIX + self.space_id + _text(table) + _text(column)
            self._prefixes[(table, column)] = prefix
        return b"".join(
            (
                prefix,
                uuid_bytes(row_id),
                row_version.to_bytes(8, "big"),
                self._schema,
                uuid_bytes(owner) if owner is not None else b"",
            )
        )

    def seal(
        self,
        table: str,
        column: str,
        row_id: str,
        row_version: int,
        value: Any,
        owner: str | None = None,
    ) -> bytes:
        plaintext = pad(_encode_json(value).encode())
        nonce = os.urandom(NONCE_LENGTH)
        aad = self.associated_data(table, column, row_id, row_version, owner)
        return self._header + nonce + self._aead.encrypt(nonce, plaintext, aad)

    def open(
        self,
        blob: bytes,
        table: str,
        column: str,
        row_id: str,
        row_version: int,
        owner: str | None = None,
    ) -> Any:
        """Decrypt a sealed value; anything wrong raises DamagedRecord, never bad data."""
        if (
            not isinstance(blob, bytes | bytearray | memoryview)
            or len(blob) < HEADER_LENGTH + 16
            or blob[:5] != self._header
        ):
            raise DamagedRecord(table, row_id, column)
        nonce = bytes(blob[5:HEADER_LENGTH])
        try:
            aad = self.associated_data(table, column, row_id, row_version, owner)
            plaintext = self._aead.decrypt(nonce, bytes(blob[HEADER_LENGTH:]), aad)
            return _decode_json(unpad(plaintext).decode())
        except (InvalidTag, ValueError, TypeError) as exc:
            raise DamagedRecord(table, row_id, column) from exc
