"""The recovery key: 256 random bits shown once, in groups, with a typo check."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re

from store.errors import WrongRecoveryKey

SECRET_LENGTH = 32
_CHECK_LENGTH = 3  # 256 + 24 bits = 56 base32 characters, no padding
_GROUP = 4


def new_recovery_secret() -> bytearray:
    return bytearray(os.urandom(SECRET_LENGTH))


def format_recovery_key(secret: bytes | bytearray) -> str:
    """Render as 14 groups of 4 base32 characters, e.g. ``ABCD-EFGH-...``."""
    raw = bytes(secret) + hashlib.sha256(bytes(secret)).digest()[:_CHECK_LENGTH]
    text = base64.b32encode(raw).decode()
    return "-".join(text[i : i + _GROUP] for i in range(0, len(text), _GROUP))


def normalise_recovery_key(text: str) -> str:
    """As typed -> canonical: any case, spaces or dashes, 0 for O and 1 for I."""
    return re.sub(r"[\s\-]", "", text).upper().replace("0", "O").replace("1", "I")


def parse_recovery_key(text: str) -> bytearray:
    """Accept any case, spaces or dashes, and the digits people type for O and I."""
    cleaned = normalise_recovery_key(text)
    expected = len(base64.b32encode(bytes(SECRET_LENGTH + _CHECK_LENGTH)))
    if len(cleaned) != expected:
        raise WrongRecoveryKey(
            f"the recovery key has the wrong length ({len(cleaned)} of {expected} characters; "
            "check for missing groups)"
        )
    try:
        raw = base64.b32decode(cleaned)
    except (ValueError, binascii.Error) as exc:
        raise WrongRecoveryKey("this is not a Cairn recovery key (check for typos)") from exc
    if len(raw) != SECRET_LENGTH + _CHECK_LENGTH:
        raise WrongRecoveryKey("the recovery key has the wrong length (check for missing groups)")
    secret, check = raw[:SECRET_LENGTH], raw[SECRET_LENGTH:]
    if hashlib.sha256(secret).digest()[:_CHECK_LENGTH] != check:
        raise WrongRecoveryKey("the recovery key has a typo (its check digits do not match)")
    return bytearray(secret)
