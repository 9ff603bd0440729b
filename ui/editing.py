"""The editing controller: opens assets in the editor and carries out what the
editor requests (save, history, links, files) as store jobs on the task runner.

The main window wires it to the pages; it holds the one open editor and the
private folder that opened attachments are decrypted into.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMessageBox, QWidget

from app.capture import CAPTURED_TAG
from app.forms.model import Template
from app.forms.render import to_html
from app.private_files import PrivateFolder
from app.space import Space
from app.thumbnails import MAX_THUMBNAIL_SOURCE, is_image, thumbnail_png
from store.records import AssetRecord, AssetSummary, AttachmentInfo
from ui.asset_picker import AssetEntry, AssetPicker
from ui.editor import AssetEditor, TemplatePicker
from ui.history import HistoryDialog
from ui.messages import describe
from ui.tasks import TaskRunner


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # reported when attaching it fails


#: Files the system would run rather than show: opening one asks first (it may have
#: come in an imported archive or package, or from an inbox folder).
RISKY_SUFFIXES = frozenset({
    ".exe", ".msi", ".bat", ".cmd", ".com", ".scr", ".pif", ".ps1", ".vbs", ".js", ".jse",
    ".wsf", ".hta", ".lnk", ".url", ".desktop", ".sh", ".bash", ".command", ".app", ".jar",
    ".py", ".pl", ".rb", ".appimage", ".run", ".reg", ".scpt", ".workflow", ".deb", ".rpm",
})  # fmt: skip


class _Progress(QObject):
    """Progress reported from a store job (emitted on its thread, delivered on the GUI's)."""

    changed = Signal(str, float)


class EditingController(QObject):
    """One editor at a time, and every store job it needs."""

    editor_opened = Signal(object)  # the AssetEditor, to be shown
    editor_closed = Signal()
    library_changed = Signal()  # something was saved: the list needs refreshing
    message = Signal(str)  # for the status bar

    def __init__(
        self,
        runner: TaskRunner,
        templates: dict[str, Template],
        space: Callable[[], Space | None],
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self.parent_widget = parent
        self.runner = runner
        self.templates = templates
        self._space = space
        self.editor: AssetEditor | None = None
        self.history_dialog: HistoryDialog | None = None
        self.private = PrivateFolder()
        self.directory: dict[str, AssetEntry] = {}
        self._kinds: dict[str, str] = {}
        self._progress = _Progress(self)
        self._progress.changed.connect(self._show_progress)

    # -------------------------------------------------------------- directory

    def set_summaries(self, summaries: list[AssetSummary]) -> None:
        """The assets in the space (after each listing), to show and choose links."""
        self.directory = {
            s.id: AssetEntry(s.id, s.title, self._template_name(s.template_id)) for s in summaries
        }
        self._kinds = {
            s.id: template.kind
            for s in summaries
            if (template := self.templates.get(s.template_id)) is not None
        }
        if self.editor is not None:
            self.editor.set_directory(self.directory)

    def _template_name(self, template_id: str) -> str:
        template = self.templates.get(template_id)
        if template is not None:
            return template.name
        return template_id.rsplit("/", 1)[-1].replace("-", " ").capitalize()

    # ------------------------------------------------------------------- open

    def new_asset(self) -> None:
        ordered = sorted(self.templates.values(), key=lambda t: (t.source != "builtin", t.name))
        template, accepted = TemplatePicker.get_template(ordered, self.parent_widget)
        if accepted and template is not None:
            self.open_editor(template, None)

    def open_asset(self, asset_id: str) -> None:
        space = self._space()
        if space is None:
            return
        self.runner.run_store(
            lambda: space.get_asset(asset_id),
            on_done=self._asset_loaded,
            on_error=lambda error: self.message.emit(describe(error)),
        )

    def _asset_loaded(self, record: object) -> None:
        assert isinstance(record, AssetRecord)
        template = self.templates.get(record.template_id)
        if template is None:
            self.message.emit(
                self.tr("The template of “{title}” is not installed, so it cannot be edited here.")
                .format(title=record.title))  # fmt: skip
            return
        self.open_editor(template, record)

    def open_editor(self, template: Template, record: AssetRecord | None) -> None:
        if self._space() is None:
            return  # locked meanwhile (e.g. while the template picker was open)
        self.close_editor()
        editor = AssetEditor(template, record, self.parent_widget)
        editor.save_requested.connect(self._save)
        editor.close_requested.connect(self.leave_editor)
        editor.history_requested.connect(self.show_history)
        editor.open_requested.connect(self._open_linked)
        editor.attach_requested.connect(self.attach_files)
        editor.attachments.open_requested.connect(self.open_attachment)
        editor.attachments.save_copy_requested.connect(self.save_attachment_copy)
        editor.attachments.delete_requested.connect(self.delete_attachment)
        editor.set_directory(self.directory)
        self.editor = editor
        self.editor_opened.emit(editor)
        if record is not None:
            self._load_connections(record.id)

    def _load_connections(self, asset_id: str) -> None:
        """Files and the assets linking here, read after the editor is on screen."""
        space, editor = self._space(), self.editor
        if space is None or editor is None:
            return

        def read() -> tuple[list[AttachmentInfo], list[AssetSummary]]:
            return space.attachments(asset_id), space.linked_from(asset_id)

        def done(result: object) -> None:
            if self.editor is not editor:
                return
            infos: list[AttachmentInfo]
            sources: list[AssetSummary]
            infos, sources = result  # type: ignore[misc]
            editor.set_attachments(infos)
            editor.set_linked_from(
                [AssetEntry(s.id, s.title, self._template_name(s.template_id)) for s in sources]
            )
            self._make_thumbnails(infos)

        self.runner.run_store(read, on_done=done,
                              on_error=self._report)  # fmt: skip

    def _open_linked(self, asset_id: str) -> None:
        """Go to a linked asset; the current one is saved first (or stays, to be fixed)."""
        if self.editor is not None and self.editor.dirty:
            self.editor.save_now()
            if self.editor.show_problems():
                return
        self.open_asset(asset_id)

    # --------------------------------------------------------------- captured

    def link_to_plans(self, evidence_id: str) -> None:
        """Link captured evidence to the plans or reflections it supports (which also marks
        it reviewed)."""
        space = self._space()
        if space is None:
            return
        plans = [e for e in self.directory.values()
                 if self._kinds.get(e.id) in ("plan", "reflection")
                 and e.id != evidence_id]  # fmt: skip
        chosen, accepted = AssetPicker.choose(plans, [], self.parent_widget)
        if not accepted or not chosen:
            return
        template = self.templates.get("builtin/evidence")

        def link() -> AssetRecord:
            record = space.get_asset(evidence_id)
            supports = [str(v) for v in record.fields.get("supports") or []]
            supports += [plan for plan in chosen if plan not in supports]
            return space.edit_asset(evidence_id, set_fields={"supports": supports},
                                    remove_tags=[CAPTURED_TAG], template=template)  # fmt: skip

        self.runner.run_store(link, on_done=lambda _r: self._reviewed(len(chosen)),
                              on_error=self._report)  # fmt: skip

    def _reviewed(self, linked: int) -> None:
        if linked:
            self.message.emit(self.tr("Linked, and moved out of Captured."))
        self.library_changed.emit()

    def mark_reviewed(self, evidence_id: str) -> None:
        space = self._space()
        if space is None:
            return
        self.runner.run_store(
            lambda: space.edit_asset(evidence_id, remove_tags=[CAPTURED_TAG]),
            on_done=lambda _r: self._reviewed(0), on_error=self._report)  # fmt: skip

    def reflect_on(self, evidence_id: str) -> None:
        """A new reflection, already linked to the evidence it is about."""
        template = self.templates.get("builtin/reflection")
        if template is None:
            return
        self.open_editor(template, None)
        if self.editor is not None:
            self.editor.preset_links([evidence_id])

    # ------------------------------------------------------------------- save

    def save_editor(self) -> None:
        if self.editor is not None:
            self.editor.save_now()

    def _save(self, title: str, values: dict, tags: list, links: list) -> None:  # type: ignore[type-arg]
        space, editor = self._space(), self.editor
        if space is None or editor is None:
            return
        template, record = editor.template, editor.record

        def save() -> AssetRecord:
            if record is None:
                return space.add_asset(template.qualified_id, title, values, tags, links,
                                       template_version=template.version,
                                       template=template)  # fmt: skip
            return space.edit_asset(record.id, title=title, fields=values, tags=tags,
                                    links=[{"target": t} for t in links],
                                    template_version=template.version,
                                    template=template)  # fmt: skip

        def done(saved: object) -> None:
            assert isinstance(saved, AssetRecord)
            if self.editor is editor:
                editor.saved(saved)
            self.library_changed.emit()

        self.runner.run_store(
            save, on_done=done, on_error=lambda error: editor.save_failed(describe(error))
        )

    # ---------------------------------------------------------------- history

    def show_history(self) -> None:
        space, editor = self._space(), self.editor
        if space is None or editor is None or editor.record is None:
            return
        asset_id = editor.record.id
        self.runner.run_store(
            lambda: space.history(asset_id),
            on_done=lambda versions: self._open_history(asset_id, versions),
            on_error=lambda error: self.message.emit(describe(error)),
        )

    def _open_history(self, asset_id: str, versions: object) -> None:
        space, editor = self._space(), self.editor
        if space is None or editor is None:
            return
        template = editor.template
        dialog = HistoryDialog(editor.title.text(), versions, self.parent_widget)  # type: ignore[arg-type]
        self.history_dialog = dialog

        def render(version: int) -> None:
            self.runner.run_store(
                lambda: to_html(space.get_version(asset_id, version), template),
                on_done=lambda html: dialog.show_version(version, str(html)),
            )

        def restore(version: int) -> None:
            self.runner.run_store(
                lambda: space.restore_version(asset_id, version),
                on_done=self._restored,
                on_error=lambda error: self.message.emit(describe(error)),
            )

        dialog.version_requested.connect(render)
        dialog.restore_requested.connect(restore)
        first = dialog.selected_version()
        if first is not None:
            render(first)
        dialog.open()

    def _restored(self, record: object) -> None:
        assert isinstance(record, AssetRecord)
        if self.editor is not None and self.editor.record is not None \
                and self.editor.record.id == record.id:  # fmt: skip
            self.editor.reload(record)
        self.message.emit(self.tr("Restored as version {n}.").format(n=record.version))
        self.library_changed.emit()

    # ------------------------------------------------------------ attachments

    def attach_files(self, paths: list[str], asked_by: object = None) -> None:
        """Stream files into the space as attachments (saving a new asset first)."""
        editor = self.editor
        if editor is None or not paths:
            return
        if not editor.when_saved(lambda: self._attach(paths, asked_by)):
            self.message.emit(self.tr("Fix what is marked first: the item must be saved "
                                      "before files can be attached."))  # fmt: skip

    def _attach(self, paths: list[str], asked_by: object) -> None:
        space, editor = self._space(), self.editor
        if space is None or editor is None or editor.record is None:
            return
        asset_id = editor.record.id
        progress = self._progress
        files = [Path(p) for p in paths]
        sizes = [_size(p) for p in files]
        total = sum(sizes) or 1

        def attach() -> tuple[list[AttachmentInfo], list[AttachmentInfo], list[str]]:
            added: list[AttachmentInfo] = []
            failed: list[str] = []
            done = 0
            for path, size in zip(files, sizes, strict=True):

                def step(count: int, base: int = done, name: str = path.name) -> None:
                    progress.changed.emit(name, (base + count) / total)

                try:
                    added.append(space.attach(asset_id, path, progress=step, thumbnail=True))
                except OSError as error:
                    failed.append(f"{path.name}: {error.strerror or error}")
                done += size
            progress.changed.emit("", -1.0)
            return added, space.attachments(asset_id), failed

        def finished(result: object) -> None:
            added: list[AttachmentInfo]
            infos: list[AttachmentInfo]
            failed: list[str]
            added, infos, failed = result  # type: ignore[misc]
            if self.editor is editor:
                editor.set_attachments(infos)
                editor.attachments_added(added, asked_by)
                self._make_thumbnails(added)
            if failed:
                self.message.emit(self.tr("Could not attach {files}").format(
                    files="; ".join(failed)))  # fmt: skip

        def failed(error: BaseException) -> None:
            self._show_progress("", -1.0)
            self.message.emit(describe(error))

        self.runner.run_store(attach, on_done=finished, on_error=failed)

    def _make_thumbnails(self, infos: list[AttachmentInfo]) -> None:
        space, editor = self._space(), self.editor
        wanted = [i for i in infos if is_image(i.media_type) and i.size <= MAX_THUMBNAIL_SOURCE]
        if space is None or editor is None or not wanted:
            return

        def make() -> list[tuple[str, bytes]]:
            made = []
            for info in wanted:
                # Stored with the file since schema 2; made here for older attachments.
                png = space.thumbnail(info.id) or thumbnail_png(
                    b"".join(space.read_attachment(info.id)))  # fmt: skip
                if png is not None:
                    made.append((info.id, png))
            return made

        def done(result: object) -> None:
            if self.editor is editor:
                for attachment_id, png in result:  # type: ignore[attr-defined]
                    editor.attachments.set_thumbnail(attachment_id, png)

        self.runner.run_store(make, on_done=done)

    def open_attachment(self, attachment_id: str) -> None:
        """Decrypt into the private folder and hand it to the system's application."""
        space = self._space()
        if space is None:
            return
        info = self.editor.attachments.infos.get(attachment_id) if self.editor else None
        if info is not None and Path(info.name).suffix.lower() in RISKY_SUFFIXES \
                and not self.confirm_risky_open(info.name):  # fmt: skip
            return
        private = self.private

        def write() -> Path:
            info = space.get_attachment(attachment_id)
            return private.write(info.name, space.read_attachment(attachment_id))

        def opened(path: object) -> None:
            assert isinstance(path, Path)
            if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
                self.message.emit(self.tr("No application on this computer opens this kind "
                                          "of file. Save a copy instead."))  # fmt: skip

        self.runner.run_store(write, on_done=opened,
                              on_error=self._report)  # fmt: skip

    def confirm_risky_open(self, name: str) -> bool:
        answer = QMessageBox.warning(
            self.parent_widget, self.tr("Open a program?"),
            self.tr("“{name}” is a kind of file that runs as a program when opened. Open it "
                    "only if you know where it came from; “Save a copy” is safer.")
            .format(name=name),
            QMessageBox.StandardButton.Open | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)  # fmt: skip
        return answer == QMessageBox.StandardButton.Open

    def save_attachment_copy(self, attachment_id: str, destination: str) -> None:
        space = self._space()
        if space is None or not destination:
            return
        self.runner.run_store(
            lambda: space.extract(attachment_id, Path(destination)),
            on_done=lambda info: self.message.emit(
                self.tr("Saved a copy of “{name}”.").format(name=info.name)),
            on_error=self._report,
        )

    def delete_attachment(self, attachment_id: str) -> None:
        space, editor = self._space(), self.editor
        if space is None or editor is None or editor.record is None:
            return
        asset_id = editor.record.id

        def delete() -> list[AttachmentInfo]:
            space.delete_attachment(attachment_id)
            return space.attachments(asset_id)

        def done(infos: object) -> None:
            if self.editor is editor:
                editor.set_attachments(infos)  # type: ignore[arg-type]
                editor.save_now()  # fields naming the file no longer do

        self.runner.run_store(delete, on_done=done,
                              on_error=self._report)  # fmt: skip

    def _report(self, error: BaseException) -> None:
        self.message.emit(describe(error))

    def _show_progress(self, name: str, fraction: float) -> None:
        if self.editor is None:
            return
        if fraction < 0:
            self.editor.attachments.set_progress(None, None)
        else:
            self.editor.attachments.set_progress(
                self.tr("Adding “{name}”…").format(name=name), min(1.0, fraction))

    # ------------------------------------------------------------------ close

    def leave_editor(self) -> bool:
        """Back to the library, saving first; False (staying) if there is something to fix."""
        editor = self.editor
        if editor is not None and editor.dirty:
            editor.save_now()
            if editor.show_problems():
                return False
        self.close_editor()
        return True

    def close_editor(self) -> None:
        if self.editor is not None:
            editor, self.editor = self.editor, None
            editor.clear_sensitive()
            editor.deleteLater()
            self.editor_closed.emit()

    def lock(self) -> None:
        """Save what can be saved, close the editor, wipe opened files."""
        editor = self.editor
        if editor is not None and editor.dirty and not editor.show_problems():
            editor.save_now()  # queued before the lock: store jobs run in order
        self.close_editor()
        if self.history_dialog is not None:
            self.history_dialog.close()
            self.history_dialog = None
        self.directory, self._kinds = {}, {}
        self.runner.run_store(self.private.wipe)
