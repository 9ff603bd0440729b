"""Attachment chunks sealed the `age` STREAM way: a per-attachment key, a counter
nonce and a last-chunk flag, so dropped, reordered, truncated or appended chunks
fail to open instead of yielding wrong data."""

from __future__ import annotations

import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from store.errors import DamagedRecord
from store.keys import hkdf

CHUNK_SIZE = 1024 * 1024
TAG_LENGTH = 16
_MAX_COUNTER = (1 << 88) - 1


def _nonce(index: int, last: bool) -> bytes:
    if not 0 <= index <= _MAX_COUNTER:
        raise ValueError("chunk counter out of range")
    return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


class ChunkCipher:
    """Seals and opens the chunks of one attachment."""

    def __init__(self, attachments_key: bytes | bytearray, attachment_id: str) -> None:
        self.attachment_id = attachment_id
        self._aad = b"cairn/v1/chunk\x00" + uuid.UUID(attachment_id).bytes
        key = hkdf(attachments_key, uuid.UUID(attachment_id).bytes, b"cairn/v1/attachment")
        self._aead = AESGCM(bytes(key))
        key[:] = bytes(len(key))

    def seal(self, index: int, data: bytes, last: bool) -> bytes:
        return self._aead.encrypt(_nonce(index, last), data, self._aad)

    def open(self, index: int, blob: bytes) -> tuple[bytes, bool]:
        """Open chunk `index`; returns (plaintext, is_last)."""
        # Only the last chunk may be short, so try the likely flag first.
        likely_last = len(blob) != CHUNK_SIZE + TAG_LENGTH
        for last in (likely_last, not likely_last):
            try:
                return self._aead.decrypt(_nonce(index, last), blob, self._aad), last
            except InvalidTag:
                continue
        raise DamagedRecord("attachment", self.attachment_id, f"chunk {index}")
