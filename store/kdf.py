"""Passphrase key derivation: Argon2id parameters, the accepted range, calibration."""

from __future__ import annotations

import os
import time
import unicodedata
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from store.errors import KdfParametersRefused

ARGON2ID = "argon2id"
KEY_LENGTH = 32
SALT_LENGTH = 16
MIB = 1024  # Argon2 memory cost is counted in KiB


@dataclass(frozen=True)
class KdfParams:
    """Argon2id parameters as stored in a passphrase key slot."""

    memory_kib: int
    iterations: int
    lanes: int
    salt: bytes
    algorithm: str = ARGON2ID

    def to_json(self) -> dict[str, Any]:
        return {
            "alg": self.algorithm,
            "m": self.memory_kib,
            "t": self.iterations,
            "p": self.lanes,
            "salt": self.salt.hex(),
        }

    @classmethod
    def from_json(cls, data: Any) -> KdfParams:
        """Parse stored parameters; anything malformed or unknown is refused."""
        if not isinstance(data, dict):
            raise KdfParametersRefused("the key slot's parameters are not readable")
        algorithm = data.get("alg")
        if algorithm != ARGON2ID:
            raise KdfParametersRefused(f"unknown key-derivation algorithm {algorithm!r}")
        try:
            memory, iterations, lanes = (int(data["m"]), int(data["t"]), int(data["p"]))
            salt = bytes.fromhex(str(data["salt"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise KdfParametersRefused("the key slot's parameters are not readable") from exc
        return cls(memory_kib=memory, iterations=iterations, lanes=lanes, salt=salt)


@dataclass(frozen=True)
class KdfPolicy:
    """The range of Argon2id parameters a file may ask for, and the calibration target.

    Production uses PRODUCTION_POLICY. Tests pass a cheaper policy explicitly
    (see tests/conftest.py); nothing in the program lowers the floor by itself.
    """

    min_memory_kib: int = 64 * MIB
    min_iterations: int = 3
    # Calibration never goes past 1 GiB; a file asking for more was not made by Cairn.
    max_memory_kib: int = 1024 * MIB
    max_iterations: int = 16
    max_lanes: int = 16
    target_seconds: float = 0.5
    #: Fixed parameters instead of calibration (tests only; None in production).
    fixed: tuple[int, int, int] | None = None

    def check(self, params: KdfParams) -> None:
        """Refuse parameters outside the accepted range, before any derivation."""
        if params.algorithm != ARGON2ID:
            raise KdfParametersRefused(f"unknown key-derivation algorithm {params.algorithm!r}")
        if params.memory_kib < self.min_memory_kib or params.iterations < self.min_iterations:
            raise KdfParametersRefused(
                "the key slot's key-derivation parameters are below the safe minimum"
            )
        if (
            params.memory_kib > self.max_memory_kib
            or params.iterations > self.max_iterations
            or params.lanes > self.max_lanes
        ):
            raise KdfParametersRefused(
                "the key slot's key-derivation parameters are unreasonably large"
            )
        if params.lanes < 1 or params.memory_kib < 8 * params.lanes:
            raise KdfParametersRefused("the key slot's key-derivation parameters are invalid")
        if not 16 <= len(params.salt) <= 64:
            raise KdfParametersRefused("the key slot's salt has an invalid length")

    def calibrate(self) -> KdfParams:
        """Choose parameters that take about target_seconds on this machine."""
        salt = os.urandom(SALT_LENGTH)
        if self.fixed is not None:
            memory, iterations, lanes = self.fixed
            return KdfParams(memory_kib=memory, iterations=iterations, lanes=lanes, salt=salt)
        lanes = max(1, min(4, os.cpu_count() or 1))
        memory, iterations = self.min_memory_kib, self.min_iterations
        floor = KdfParams(memory, iterations, lanes, salt)
        _time_derivation(floor)  # warm-up: the first run pays for page faults
        elapsed = min(_time_derivation(floor), _time_derivation(floor))
        # Memory first (it is what makes guessing expensive on GPUs), up to 1 GiB.
        while elapsed * 2 <= self.target_seconds and memory * 2 <= self.max_memory_kib:
            memory *= 2
            elapsed *= 2
        if elapsed < self.target_seconds:
            scale = self.target_seconds / max(elapsed, 1e-6)
            iterations = min(self.max_iterations, max(iterations, round(iterations * scale)))
        return KdfParams(memory_kib=memory, iterations=iterations, lanes=lanes, salt=salt)


PRODUCTION_POLICY = KdfPolicy()


def normalise_passphrase(passphrase: str) -> bytes:
    """NFC-normalise so that the same passphrase typed on any system derives one key."""
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def derive(passphrase: str, params: KdfParams, policy: KdfPolicy) -> bytearray:
    """Derive slot key material from a passphrase; parameters are checked first."""
    policy.check(params)
    kdf = Argon2id(
        salt=params.salt,
        length=KEY_LENGTH,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
    )
    return bytearray(kdf.derive(normalise_passphrase(passphrase)))


def _time_derivation(params: KdfParams) -> float:
    start = time.perf_counter()
    Argon2id(
        salt=params.salt,
        length=KEY_LENGTH,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
    ).derive(b"calibration")
    return time.perf_counter() - start
