"""Errors the store raises; the UI and CLI turn them into sentences and exit codes."""

from __future__ import annotations


class StoreError(Exception):
    """Base of every error raised by the store."""


class NotASpace(StoreError):
    """The path does not exist or is not a Cairn space file."""


class UnsupportedVersion(NotASpace):
    """The space was written by a newer Cairn than this one."""


class WrongPassphrase(StoreError):
    """The passphrase does not open any key slot."""


class WrongRecoveryKey(StoreError):
    """The recovery key is malformed or does not open the recovery slot."""


class DamagedSpace(StoreError):
    """Data in the space failed an integrity check (damage or tampering)."""


class KdfParametersRefused(DamagedSpace):
    """Key-derivation parameters in the file are outside the accepted range."""


class NoSuchAsset(StoreError):
    """No asset has the given id."""


class NoSuchAttachment(StoreError):
    """No attachment has the given id."""


class NoSuchVersion(StoreError):
    """The asset has no version with the given number."""


class SpaceLocked(StoreError):
    """The space was locked; unlock it again to continue."""


class WeakPassphrase(StoreError):
    """A new passphrase was refused (empty, or otherwise unusable)."""


class DamagedRecord(DamagedSpace):
    """One record failed to decrypt or verify; other records may be intact."""

    def __init__(self, table: str, row_id: str, column: str | None = None) -> None:
        where = f"{table} {row_id}" + (f" ({column})" if column else "")
        super().__init__(f"record {where} is damaged or has been tampered with")
        self.table = table
        self.row_id = row_id
        self.column = column
