"""Taking the space to a new computer: restore a portable archive from the first screen."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QFileDialog

from app.space import Space
from app.transfer import ExportJob, exporter_for
from store.kdf import KdfPolicy
from tests.conftest import PASSPHRASE
from ui.main_window import MainWindow


@pytest.fixture
def archive(tmp_path: Path, kdf_policy: KdfPolicy) -> Path:
    space, _ = Space.create(tmp_path / "old-job.cairn", PASSPHRASE, kdf_policy=kdf_policy)
    record = space.add_asset("builtin/journal", "First week", {"entry": "Met the team."})
    space.edit_asset(record.id, fields={"entry": "Met the team and the customers."})
    out = tmp_path / "take-with-me.cairn"
    exporter_for("portable")(ExportJob(space, out, archive_passphrase="archive words",
                                       archive_work_factor=10))  # fmt: skip
    space.lock()
    return out


def test_restore_an_archive_on_a_new_computer(  # type: ignore[no-untyped-def]
    qtbot, tmp_path: Path, kdf_policy: KdfPolicy, archive: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    settings = QSettings(str(tmp_path / "new-laptop.ini"), QSettings.Format.IniFormat)
    window = MainWindow(kdf_policy=kdf_policy, settings=settings)
    qtbot.addWidget(window)
    window.show()
    assert window.stack.currentWidget() is window.welcome
    # "Open an existing space" given an archive by mistake: it offers to restore it.
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(archive), ""))
    qtbot.mouseClick(window.welcome.open_button, Qt.MouseButton.LeftButton)
    page = window.restore_page
    assert window.stack.currentWidget() is page
    target = tmp_path / "restored.cairn"
    page.set_path(target)

    qtbot.keyClicks(page.archive_passphrase, "not the archive words")
    qtbot.keyClicks(page.fields.passphrase, "new laptop words")
    qtbot.keyClicks(page.fields.confirm, "new laptop words")
    qtbot.mouseClick(page.create_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "does not open this archive" in page.status.text(), timeout=20000)
    assert not target.exists()  # nothing half-made

    page.archive_passphrase.setText("archive words")
    qtbot.mouseClick(page.create_button, Qt.MouseButton.LeftButton)
    keys = window.recovery_key_page
    qtbot.waitUntil(lambda: window.stack.currentWidget() is keys, timeout=20000)
    key = keys._key
    keys.retype.setText(key)
    qtbot.mouseClick(keys.continue_button, Qt.MouseButton.LeftButton)
    assert window.stack.currentWidget() is window.library
    qtbot.waitUntil(lambda: window.library.model.rowCount() == 1, timeout=10000)
    assert window.library.model.index(0, 0).data() == "First week"
    assert window.space is not None
    [summary] = window.space.list_assets()[0]
    assert [v.version for v in window.space.history(summary.id)] == [1, 2]  # history came too
    window.lock()
    window.runner.wait()
    Space.open(target, "new laptop words", kdf_policy=kdf_policy).lock()
    Space.open_with_recovery_key(target, key, kdf_policy=kdf_policy).lock()
    assert window.recent_spaces() == [target.resolve()]
