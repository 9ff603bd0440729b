"""Export and Import from the desktop: the dialogs, progress, and the result in the space."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from app.transfer import TransferReport
from ui.main_window import MainWindow
from ui.transfer_dialog import ExportDialog, ImportDialog
from ui.transfers import summary


def test_export_a_tag_as_html_then_a_portable_archive_imported_back(  # type: ignore[no-untyped-def]
    qtbot, unlocked: MainWindow, tmp_path: Path
) -> None:
    window = unlocked
    space = window.space
    assert space is not None
    space.add_asset("builtin/journal", "Shared", {"entry": "for the portfolio"}, ["portfolio"])
    kept = space.add_asset("builtin/journal", "Private", {"entry": "only mine"})
    window.refresh_library()
    qtbot.waitUntil(lambda: window.library.model.rowCount() == 2, timeout=10000)

    window.export_action.trigger()
    dialog = window.transfer_dialog
    assert isinstance(dialog, ExportDialog)
    dialog.format.setCurrentIndex(dialog.format.findData("html"))
    assert not dialog.passphrase.isVisible()
    assert dialog.heading.isVisible()
    dialog.scope.setCurrentIndex(dialog.scope.findData("tag:portfolio"))
    dialog.heading.setText("Sam's portfolio")
    site = tmp_path / "site"
    dialog.destination.setText(str(site))
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.running, timeout=20000)
    assert dialog.status.text().startswith("Done: 1 item and"), dialog.status.text()
    pages = "".join(p.read_text() for p in site.rglob("*.html"))
    assert "for the portfolio" in pages
    assert "only mine" not in pages
    assert "Sam&#x27;s portfolio" in pages or "Sam's portfolio" in pages
    dialog.close()

    # The item chosen in the list, as a PDF.
    row = window.library.model.row_of(kept.id)
    window.library.table.selectRow(row)
    window.export_action.trigger()
    dialog = window.transfer_dialog
    assert isinstance(dialog, ExportDialog)
    dialog.format.setCurrentIndex(dialog.format.findData("pdf"))
    assert dialog.scope.itemText(1) == "Only “Private”"
    dialog.scope.setCurrentIndex(1)
    pdf = tmp_path / "one.pdf"
    dialog.destination.setText(str(pdf))
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.running, timeout=20000)
    assert dialog.status.text().startswith("Done: 1 item and"), dialog.status.text()
    assert pdf.read_bytes().startswith(b"%PDF")
    dialog.close()

    window.export_action.trigger()
    dialog = window.transfer_dialog
    assert isinstance(dialog, ExportDialog)
    dialog.format.setCurrentIndex(dialog.format.findData("portable"))
    archive = tmp_path / "all.cairn"
    dialog.destination.setText(str(archive))
    dialog.passphrase.setText("archive words here")
    dialog.confirm.setText("archive words typo")
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    assert "twice" in dialog.status.text()  # nothing started
    assert not archive.exists()
    dialog.confirm.setText("archive words here")
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.running, timeout=60000)
    assert archive.read_bytes().startswith(b"age-encryption.org/v1")
    dialog.close()

    # Change an item, then import the archive back: the newer version (ours) wins
    # and the archived one is kept in its history.
    space.edit_asset(kept.id, fields={"entry": "edited after the export"})
    window.import_action.trigger()
    dialog = window.transfer_dialog
    assert isinstance(dialog, ImportDialog)
    dialog.source.setText(str(archive))
    dialog.passphrase.setText("not the passphrase")
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.running, timeout=60000)
    assert "does not open this archive" in dialog.status.text()
    dialog.passphrase.setText("archive words here")
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.running, timeout=60000)
    assert dialog.status.text().startswith("Done"), dialog.status.text()
    assert space.get_asset(kept.id).fields == {"entry": "edited after the export"}
    assert len(space.list_assets()[0]) == 2


def test_the_summary_puts_what_was_lost_apart_from_what_is_good_to_know() -> None:
    report = TransferReport(
        format="portable", assets=3, files=1,
        skipped=["asset 1234: damaged"],
        warnings=["the connection to 1 workspace(s) stays on this device"],
    )  # fmt: skip
    text = summary(report)
    lost, note = text.index("Not everything came through:"), text.index("Please note:")
    assert lost < text.index("asset 1234: damaged") < note
    assert note < text.index("the connection to 1 workspace(s)")
    only_notes = summary(TransferReport(format="portable", warnings=["a note"]))
    assert "Not everything came through" not in only_notes
    assert "Please note:\n• a note" in only_notes
