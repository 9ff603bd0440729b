"""Evidence capture in the desktop app: the watched inbox folders run while the
space is unlocked, imports go through the store thread, and what happens is
told on the GUI thread (a status line, and the library refreshed)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from app.capture import (
    AfterImport,
    CaptureEvent,
    CaptureService,
    CaptureSettings,
    Duplicate,
    Failed,
    FolderBack,
    FolderMissing,
    Imported,
    InboxFolder,
    Skipped,
    blocking_runner,
    display_name,
)
from app.space import Space
from ui.tasks import TaskRunner

#: Imports are told (and the library refreshed) at most this often while they arrive.
SETTLE_NOTICE_MS = 1500


class CaptureControl(QObject):
    """Starts and stops the capture service; turns its events into notices."""

    captured = Signal(int, str)  # how many new items since the last notice, the last title
    notice = Signal(str)  # a sentence for the status bar
    library_changed = Signal()
    _event = Signal(object)  # from the capture thread to the GUI thread

    def __init__(
        self,
        runner: TaskRunner,
        space: Callable[[], Space | None],
        parent: QObject | None = None,
        settings: CaptureSettings | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self._space = space
        self._settings = settings
        self.service: CaptureService | None = None
        self._new = 0
        self._last_title = ""
        self._notice_timer = QTimer(self)
        self._notice_timer.setSingleShot(True)
        self._notice_timer.setInterval(SETTLE_NOTICE_MS)
        self._notice_timer.timeout.connect(self._tell)
        self._event.connect(self._on_event)

    def start(self, folders: list[tuple[Path, str]], ignore: tuple[str, ...] = ()) -> None:
        """Watch these folders (restarting if already watching); none stops watching.

        `ignore` adds glob patterns to the built-in list of temporary and hidden files."""
        self.stop()
        if not folders or self._space() is None:
            return
        base = self._settings or CaptureSettings()
        settings = replace(base, ignore=tuple(dict.fromkeys((*base.ignore, *ignore))))
        inboxes = [InboxFolder(path, AfterImport(after)) for path, after in folders]
        self.service = CaptureService(
            self._space,
            inboxes,
            self._event.emit,  # a queued signal: events arrive on the capture thread
            settings=settings,
            run_import=blocking_runner(lambda job: self.runner.run_store(job)),
        )
        self.service.start()

    def stop(self) -> None:
        """Stop watching; an import in progress is rolled back and done next time."""
        service, self.service = self.service, None
        if service is not None:
            service.stop(timeout=0)  # never wait on the GUI thread: the store thread
            # may be running the import, and the service winds itself down
        self._notice_timer.stop()
        self._new, self._last_title = 0, ""

    @property
    def watching(self) -> bool:
        return self.service is not None and self.service.is_running

    def _on_event(self, event: CaptureEvent) -> None:
        if self.service is None:
            return  # stopped (locked) meanwhile
        if isinstance(event, Imported):
            self._new += 1
            self._last_title = event.title
            if not self._notice_timer.isActive():  # a flood is told in steps, not at its end
                self._notice_timer.start()
        elif isinstance(event, Duplicate):
            self.notice.emit(self.tr("“{name}” is already in your space; not imported again.")
                             .format(name=display_name(event.path.name)))  # fmt: skip
        elif isinstance(event, Skipped):
            self.notice.emit(f"{display_name(event.path.name)}: {event.reason}")
        elif isinstance(event, Failed):
            self.notice.emit(self.tr("Could not bring in “{name}”: {why}").format(
                name=display_name(event.path.name), why=event.message))  # fmt: skip
        elif isinstance(event, FolderMissing):
            self.notice.emit(self.tr("The inbox folder {folder} is not there; Cairn will "
                                     "look for it again.").format(folder=event.folder))  # fmt: skip
        elif isinstance(event, FolderBack):
            self.notice.emit(self.tr("The inbox folder {folder} is back.").format(
                folder=event.folder))  # fmt: skip

    def _tell(self) -> None:
        count, title = self._new, self._last_title
        self._new = 0
        if count:
            self.captured.emit(count, title)
            self.library_changed.emit()
