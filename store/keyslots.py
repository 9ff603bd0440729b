"""Key slots: the data key wrapped once per way in (passphrase, recovery key).

Each slot stores its KDF parameters, the wrapped DEK (AES-256-GCM), a key check
and a digest of the slot. The key check tells a wrong passphrase from a damaged
slot: if the check matches but the unwrap fails, the slot is damaged; if the
digest does not match the slot's own bytes, the slot is damaged whatever was typed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from store.errors import DamagedSpace, KdfParametersRefused, WrongPassphrase, WrongRecoveryKey
from store.kdf import KdfParams, KdfPolicy, derive
from store.keys import DATA_KEY_LENGTH, hkdf

PASSPHRASE = "passphrase"
RECOVERY = "recovery"
HKDF_RECOVERY = "hkdf-sha256"
_CHECK_LENGTH = 16


@dataclass(frozen=True)
class KeySlot:
    """One stored key slot (all of it is plaintext in the file, by design)."""

    id: str
    kind: str
    params: str  # JSON
    wrapped: bytes
    check: bytes
    digest: bytes

    @staticmethod
    def compute_digest(id_: str, kind: str, params: str, wrapped: bytes, check: bytes) -> bytes:
        h = hashlib.sha256(b"cairn/v1/keyslot\x00")
        for part in (id_.encode(), kind.encode(), params.encode(), wrapped, check):
            h.update(len(part).to_bytes(4, "big") + part)
        return h.digest()

    def is_intact(self) -> bool:
        expected = self.compute_digest(self.id, self.kind, self.params, self.wrapped, self.check)
        return hmac.compare_digest(expected, self.digest)


def _split(material: bytes | bytearray) -> tuple[bytearray, bytes]:
    wrap_key = hkdf(material, b"", b"cairn/v1/slot-wrap")
    check = bytes(hkdf(material, b"", b"cairn/v1/slot-check", _CHECK_LENGTH))
    return wrap_key, check


def _aad(space_id: bytes, slot_id: str, kind: str) -> bytes:
    return b"cairn/v1/dek\x00" + space_id + uuid.UUID(slot_id).bytes + kind.encode()


def _seal_slot(
    kind: str, params: dict[str, Any], material: bytearray, dek: bytes | bytearray, space_id: bytes
) -> KeySlot:
    slot_id = str(uuid.uuid4())
    wrap_key, check = _split(material)
    nonce = os.urandom(12)
    wrapped = nonce + AESGCM(bytes(wrap_key)).encrypt(
        nonce, bytes(dek), _aad(space_id, slot_id, kind)
    )
    params_json = json.dumps(params, sort_keys=True)
    digest = KeySlot.compute_digest(slot_id, kind, params_json, wrapped, check)
    _wipe(wrap_key, material)
    return KeySlot(slot_id, kind, params_json, wrapped, check, digest)


def make_passphrase_slot(
    dek: bytes | bytearray, passphrase: str, space_id: bytes, policy: KdfPolicy
) -> KeySlot:
    params = policy.calibrate()
    material = derive(passphrase, params, policy)
    return _seal_slot(PASSPHRASE, params.to_json(), material, dek, space_id)


def make_recovery_slot(
    dek: bytes | bytearray, secret: bytes | bytearray, space_id: bytes
) -> KeySlot:
    salt = os.urandom(16)
    material = hkdf(secret, salt, b"cairn/v1/recovery")
    return _seal_slot(RECOVERY, {"alg": HKDF_RECOVERY, "salt": salt.hex()}, material, dek, space_id)


def _parse_params(slot: KeySlot) -> Any:
    if not slot.is_intact():
        raise DamagedSpace(f"the {slot.kind} key slot is damaged")
    try:
        return json.loads(slot.params)
    except ValueError as exc:  # cannot happen with an intact digest, but never trust it
        raise DamagedSpace(f"the {slot.kind} key slot is damaged") from exc


def check_passphrase_slot(slot: KeySlot, policy: KdfPolicy) -> KdfParams:
    """Validate a passphrase slot's parameters without deriving anything."""
    params = KdfParams.from_json(_parse_params(slot))
    policy.check(params)
    return params


def open_passphrase_slot(
    slot: KeySlot, passphrase: str, space_id: bytes, policy: KdfPolicy
) -> bytearray:
    params = check_passphrase_slot(slot, policy)
    material = derive(passphrase, params, policy)
    return _unwrap(slot, material, space_id, WrongPassphrase("the passphrase is not correct"))


def open_recovery_slot(slot: KeySlot, secret: bytes | bytearray, space_id: bytes) -> bytearray:
    params = _parse_params(slot)
    if not isinstance(params, dict) or params.get("alg") != HKDF_RECOVERY:
        raise KdfParametersRefused("the recovery slot uses an unknown algorithm")
    try:
        salt = bytes.fromhex(str(params["salt"]))
    except (KeyError, ValueError) as exc:
        raise DamagedSpace("the recovery key slot is damaged") from exc
    material = hkdf(secret, salt, b"cairn/v1/recovery")
    return _unwrap(slot, material, space_id, WrongRecoveryKey("the recovery key is not correct"))


def _unwrap(slot: KeySlot, material: bytearray, space_id: bytes, wrong: Exception) -> bytearray:
    wrap_key, check = _split(material)
    try:
        if not hmac.compare_digest(check, slot.check):
            raise wrong
        nonce, sealed = slot.wrapped[:12], slot.wrapped[12:]
        try:
            dek = AESGCM(bytes(wrap_key)).decrypt(nonce, sealed, _aad(space_id, slot.id, slot.kind))
        except (InvalidTag, ValueError) as exc:
            raise DamagedSpace(f"the {slot.kind} key slot is damaged") from exc
        if len(dek) != DATA_KEY_LENGTH:
            raise DamagedSpace(f"the {slot.kind} key slot is damaged")
        return bytearray(dek)
    finally:
        _wipe(wrap_key, material)


def _wipe(*buffers: bytearray) -> None:
    for buffer in buffers:
        buffer[:] = bytes(len(buffer))
