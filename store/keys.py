"""The data key (DEK) and the purpose-bound sub-keys derived from it with HKDF."""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

DATA_KEY_LENGTH = 32

# One sub-key per purpose, so that a key never serves two roles.
PURPOSES = ("fields", "attachments", "manifest", "identity", "index", "key-id")


def hkdf(key: bytes | bytearray, salt: bytes, info: bytes, length: int = 32) -> bytearray:
    """HKDF-SHA256, returned as a bytearray so that callers can wipe it."""
    derived = HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info)
    return bytearray(derived.derive(bytes(key)))


class DataKey:
    """An unwrapped DEK and its sub-keys; `wipe()` overwrites what Python lets us."""

    def __init__(self, dek: bytes | bytearray, space_id: bytes) -> None:
        if len(dek) != DATA_KEY_LENGTH:
            raise ValueError("a data key is 32 bytes")
        self.dek = bytearray(dek)
        self.space_id = space_id
        self._subkeys = {
            purpose: hkdf(self.dek, space_id, b"cairn/v1/" + purpose.encode())
            for purpose in PURPOSES
        }
        #: Stored beside every sealed value so a rotated key can be told apart.
        self.key_id = bytes(hmac.digest(bytes(self._subkeys["key-id"]), b"key id", hashlib.sha256))[
            :4
        ]

    def subkey(self, purpose: str) -> bytearray:
        return self._subkeys[purpose]

    def wipe(self) -> None:
        for buffer in (self.dek, *self._subkeys.values()):
            for index in range(len(buffer)):
                buffer[index] = 0
        self._subkeys.clear()
