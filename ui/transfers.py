"""The export and import jobs the desktop runs on the store thread (plain data in and out)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication

from app.portable import import_portable
from app.space import Space
from app.transfer import (
    ExportJob,
    ImportJob,
    Selection,
    TransferReport,
    detect_format,
    exporter_for,
    importer_for,
)
from ui.transfer_dialog import TransferProgress


def _tr(text: str) -> str:
    return QCoreApplication.translate("transfers", text)


def export(space: Space, fmt: str, out: Path, scope: str, passphrase: str, title: str,
           progress: TransferProgress) -> TransferReport:  # fmt: skip
    """`scope`: "" for everything, "tag:T" or "id:ID"."""
    kind, _, value = scope.partition(":")
    selection = Selection(tag=value if kind == "tag" else None,
                          asset_ids=(value,) if kind == "id" else ())  # fmt: skip
    job = ExportJob(space, out, selection, archive_passphrase=passphrase or None,
                    title=title or None, progress=progress.report,
                    cancelled=progress.cancel.is_set)  # fmt: skip
    return exporter_for(fmt)(job)


def import_into(space: Space, fmt: str, source: Path, passphrase: str,
                progress: TransferProgress) -> TransferReport:  # fmt: skip
    fmt = fmt or detect_format(source)
    if fmt == "portable":
        return import_portable(source, space, passphrase, progress=progress.report,
                               cancelled=progress.cancel.is_set)  # fmt: skip
    job = ImportJob(space, source, progress=progress.report, cancelled=progress.cancel.is_set)
    return importer_for(fmt)(job)


def summary(report: object) -> str:
    """What was done, and what could not be, in sentences."""
    if not isinstance(report, TransferReport):
        return _tr("Done.")
    items = _tr("1 item") if report.assets == 1 else _tr("{n} items").format(n=report.assets)
    files = _tr("1 file") if report.files == 1 else _tr("{n} files").format(n=report.files)
    text = _tr("Done: {items} and {files}.").format(items=items, files=files)
    # What was lost, then what is good to know (what stays on this device, say).
    for heading, notes in (
        (_tr("Not everything came through:"), [*report.skipped, *report.damaged]),
        (_tr("Please note:"), report.warnings),
    ):
        if notes:
            text += "\n" + heading + "\n" + "\n".join(f"• {note}" for note in notes[:8])
            if len(notes) > 8:
                text += "\n" + _tr("…and {n} more.").format(n=len(notes) - 8)
    return text
