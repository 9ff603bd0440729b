"""The manifest: an HMAC over (space id, generation, every row's table, uuid, version).

Recomputing one HMAC over every row at each commit would cost O(rows), so the
manifest keeps a keyed set hash: the XOR of HMAC(k, table ‖ uuid ‖ version) over
all rows, plus the row count. Each commit updates it with the rows it adds or
removes, and the stored tag is HMAC(k, space id ‖ generation ‖ count ‖ xor).
Without the key nobody can remove, add or roll back a row and fix up the sum.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from store.sealing import uuid_bytes

_TERM_PREFIX = b"cairn/v1/manifest-row\x00"
_TAG_PREFIX = b"cairn/v1/manifest\x00"


@dataclass(frozen=True)
class ManifestState:
    generation: int
    count: int
    accumulator: int
    tag: bytes


class ManifestKey:
    """Computes manifest terms and tags with the manifest sub-key."""

    def __init__(self, key: bytes | bytearray, space_id: bytes) -> None:
        self._key = key  # the caller's buffer: wiped when the data key is wiped
        self.space_id = space_id

    def term(self, table: str, row_id: str, version: int) -> int:
        message = b"".join(
            (_TERM_PREFIX, table.encode(), b"\x00", uuid_bytes(row_id), version.to_bytes(8, "big"))
        )
        return int.from_bytes(hmac.digest(self._key, message, hashlib.sha256), "big")

    def tag(self, generation: int, count: int, accumulator: int) -> bytes:
        message = (
            _TAG_PREFIX
            + self.space_id
            + generation.to_bytes(8, "big")
            + count.to_bytes(8, "big")
            + accumulator.to_bytes(32, "big")
        )
        return hmac.digest(self._key, message, hashlib.sha256)

    def state(self, generation: int, count: int, accumulator: int) -> ManifestState:
        return ManifestState(
            generation, count, accumulator, self.tag(generation, count, accumulator)
        )

    def tag_is_valid(self, state: ManifestState) -> bool:
        expected = self.tag(state.generation, state.count, state.accumulator)
        return hmac.compare_digest(expected, state.tag)
