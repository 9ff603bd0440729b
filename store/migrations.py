"""Schema versions of the space file and the steps that upgrade an older file.

A step takes the open write session of the unlocking space and changes the
tables (DDL or plaintext columns). Because every sealed value is bound to the
schema version, the space file re-seals every value after the last step, in
the same transaction: an upgrade either happens completely or not at all.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session

#: The schema this version of Cairn writes.
SCHEMA_VERSION = 1

MigrationStep = Callable[[Session], None]

#: from_version -> the step that upgrades a file from that version to the next.
MIGRATIONS: dict[int, MigrationStep] = {}


def steps_from(version: int, target: int) -> list[MigrationStep]:
    """The steps from `version` up to `target`; a gap is a programming error."""
    steps = []
    for current in range(version, target):
        if current not in MIGRATIONS:
            raise RuntimeError(f"no migration from schema version {current}")
        steps.append(MIGRATIONS[current])
    return steps
