"""Sentences a person understands, for the errors the store and app raise."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication

from store.errors import (
    DamagedSpace,
    KdfParametersRefused,
    NotASpace,
    SpaceLocked,
    UnsupportedVersion,
    WeakPassphrase,
    WrongPassphrase,
    WrongRecoveryKey,
)


def _tr(text: str) -> str:
    return QCoreApplication.translate("messages", text)


def describe(error: BaseException) -> str:
    """One or two plain sentences for an error; never a traceback or an id."""
    from app.transfer import Cancelled, TransferError, WrongArchivePassphrase

    if isinstance(error, Cancelled):
        return _tr("Stopped. Nothing was changed and nothing half-done was kept.")
    if isinstance(error, WrongArchivePassphrase):
        return _tr("That passphrase does not open this archive. Nothing was imported.")
    if isinstance(error, TransferError):
        return str(error).capitalize().rstrip(".") + "."
    if isinstance(error, WrongPassphrase):
        return _tr("That passphrase does not open this space. Check Caps Lock and try again.")
    if isinstance(error, WrongRecoveryKey):
        return (
            _tr("That recovery key does not open this space.") + " " + str(error).capitalize() + "."
        )
    if isinstance(error, KdfParametersRefused):
        return _tr(
            "This file asks for unsafe key settings, so Cairn will not open it. "
            "It may have been altered."
        )
    if isinstance(error, DamagedSpace):
        return _tr(
            "This space file is damaged or has been tampered with. Your passphrase is fine. "
            "Run 'cairn verify' on it to see what is affected, and keep a copy of the file."
        )
    if isinstance(error, UnsupportedVersion):
        return _tr("This space was made by a newer version of Cairn. Update Cairn to open it.")
    if isinstance(error, NotASpace):
        return _tr("This file is not a Cairn space, or it no longer exists.")
    if isinstance(error, WeakPassphrase):
        return _tr("Please choose a passphrase: it cannot be empty.")
    if isinstance(error, SpaceLocked):
        return _tr("The space is locked. Unlock it to continue.")
    if isinstance(error, FileExistsError):
        return _tr("A file with that name already exists. Choose another name or folder.")
    if isinstance(error, PermissionError):
        return _tr("Cairn is not allowed to write there. Choose another folder.")
    if isinstance(error, OSError):
        return _tr("The file could not be read or written") + f" ({error.strerror or error})."
    return _tr("Something went wrong") + f" ({type(error).__name__})."
