"""What can go wrong in the app's side of sync before any request is made, as types.

Errors from talking to a server are sync.errors' (ServerUnreachable, TokenRevoked,
ServerKeyChanged...); these are about the person's choices and what the space holds.
Each ``str()`` is a sentence a person can read.
"""

from __future__ import annotations


class SyncSetupError(Exception):
    """Base of the errors below."""


class NoSuchAccount(SyncSetupError, LookupError):
    """No connected workspace matches what was given."""


class AmbiguousAccount(SyncSetupError, LookupError):
    """Several connected workspaces match what was given."""


class NoSuchPoint(SyncSetupError, LookupError):
    """The workspace has no submission point by that name or id (as last heard)."""


class NoSuchEntry(SyncSetupError, LookupError):
    """No outbox entry, submission or share has that id."""


class DisclosureError(SyncSetupError, ValueError):
    """What was chosen cannot be sent as it is: nothing chosen, too much, or an asset
    that changed after the preview was shown."""


class ReviewError(SyncSetupError, ValueError):
    """A peer review that cannot be sent as written: empty, too long, or a rating outside
    1 to 5."""
