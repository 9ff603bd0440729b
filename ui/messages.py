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


def as_sentence(text: str) -> str:
    """A message from below as a sentence: capital first, one full stop."""
    text = " ".join(str(text).split()).rstrip(".")
    return (text[:1].upper() + text[1:] + ".") if text else ""


def describe(error: BaseException) -> str:
    """One or two plain sentences for an error; never a traceback or an id."""
    from app.syncing.errors import SyncSetupError
    from app.transfer import Cancelled, TransferError, WrongArchivePassphrase
    from sync.errors import SyncError

    if isinstance(error, SyncError):
        return describe_sync_error(error)
    if isinstance(error, SyncSetupError):
        return as_sentence(str(error))
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


def describe_sync_error(error: BaseException) -> str:
    """Sentences for what can go wrong talking to a workspace server (sync/errors.py)."""
    from sync import errors

    if isinstance(error, errors.InvalidServerAddress):
        return _tr("That is not a server address. It starts with https://, for example "
                   "https://cairn.example.org; your organisation gives it with the invite.")
    if isinstance(error, errors.ServerUnreachable):
        return _tr("The server could not be reached. Check the address and your connection, "
                   "then try again; nothing was lost.")
    if isinstance(error, errors.CertificateRejected):
        return _tr("The server's security certificate is not trusted, so nothing was sent. "
                   "Check the address; if your organisation uses its own certificates, ask "
                   "them how to connect.")
    if isinstance(error, errors.UnexpectedAnswer):
        return _tr("Something answers at that address, but it is not a Cairn workspace server. "
                   "Check the address your invite came with.")
    if isinstance(error, errors.ServerKeyChanged):
        return _tr("The server's signing key has changed unexpectedly, so Cairn refused to "
                   "send or accept anything. Your outbox is kept. Ask the organisation whether "
                   "the server was replaced.")
    if isinstance(error, errors.BadServerSignature):
        return _tr("The server sent something without a valid signature, so it was rejected. "
                   "Nothing was lost; tell the organisation if this keeps happening.")
    if isinstance(error, errors.InviteInvalid):
        return _tr("That invite code does not work: it may have been used already, have "
                   "expired, or be mistyped. Check it, or ask your organisation for a new one.")
    if isinstance(error, errors.TokenRevoked):
        return _tr("The organisation has disconnected this device. Nothing was lost: your "
                   "outbox is kept. Connect again with a new invite.")
    if isinstance(error, errors.TokenExpired):
        return _tr("This device's connection has expired. Nothing was lost: your outbox is "
                   "kept. Connect again with a new invite.")
    if isinstance(error, errors.NotAuthorised):
        return _tr("The server no longer accepts this device. Nothing was lost: connect again "
                   "with a new invite.")
    if isinstance(error, errors.ServerBusy):
        return _tr("The server is busy. Try again in a few minutes; nothing was lost.")
    if isinstance(error, errors.ServerFailed):
        return _tr("The server had a problem of its own (error {status}). Try again later; "
                   "nothing was lost.").format(status=error.status)
    if isinstance(error, errors.Rejected):
        return _tr("The server refused: {reason}").format(reason=as_sentence(error.message))
    return as_sentence(str(error)) or _tr("Something went wrong talking to the server.")


def describe_account_problem(code: str | None, organisation: str, message: str = "") -> str:
    """The banner's sentence for a problem that stopped sync with a whole workspace."""
    if code == "token_revoked":
        return _tr("This device was disconnected by {org}; your outbox is kept — reconnect "
                   "with a new invite.").format(org=organisation)
    if code == "token_expired":
        return _tr("This device's connection to {org} has expired; your outbox is kept — "
                   "reconnect with a new invite.").format(org=organisation)
    if code == "not_authorised":
        return _tr("{org} no longer accepts this device; your outbox is kept — reconnect with "
                   "a new invite.").format(org=organisation)
    if code == "server_key_changed":
        return _tr("The server of {org} now signs with a key Cairn does not trust, so nothing "
                   "is sent to it or accepted from it. Your outbox is kept. Ask {org} whether "
                   "the server was replaced; if it was, disconnect and connect again with a new "
                   "invite.").format(org=organisation)
    if code == "bad_signature":
        return _tr("{org} sent something without a valid signature. It was rejected, and "
                   "nothing after it was accepted. Tell {org} if this keeps happening.").format(
                       org=organisation)
    if code == "certificate_rejected":
        return _tr("The security certificate of {org}'s server is not trusted, so nothing was "
                   "sent.").format(org=organisation)
    return f"{organisation}: {as_sentence(message)}"
