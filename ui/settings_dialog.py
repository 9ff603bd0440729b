"""Preferences: general settings (idle lock, where new spaces go, theme), inbox folders,
the Security page (passphrase, recovery key, key-derivation cost), and the
organisations the space is connected to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QStandardPaths, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.syncing.resources import OrganisationResource, document_file_name
from ui.attachments import human_size
from ui.connections import section_heading
from ui.first_run import PassphraseFields, RecoveryKeyPage, _body
from ui.library import friendly_time
from ui.messages import describe_account_problem
from ui.sync_jobs import AccountView
from ui.theme import error_style, hint_style

THEME_LABELS = {"system": "Follow the system", "light": "Light", "dark": "Dark"}
AFTER_LABELS = {
    "keep": "Leave it there",
    "move": "Move it into “imported”",
    "delete": "Delete it (overwritten first)",
}


@dataclass(frozen=True)
class GeneralSettings:
    idle_minutes: int
    space_folder: Path
    theme: str
    inbox_folders: tuple[tuple[Path, str], ...] = ()
    inbox_ignore: str = ""


class SettingsDialog(QDialog):
    """Edits settings in place; security actions are requested from the window."""

    change_passphrase_requested = Signal(str)
    new_recovery_key_requested = Signal()
    recalibrate_requested = Signal(str)  # the current passphrase
    space_folder_changed = Signal(str)
    theme_changed = Signal(str)
    inbox_folders_changed = Signal(list)  # [(Path, after)]
    inbox_ignore_changed = Signal(str)  # comma-separated glob patterns

    def __init__(
        self, current: GeneralSettings, unlocked: bool, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("SettingsDialog")
        self.setWindowTitle(self.tr("Preferences"))
        self.tabs = QTabWidget(self)
        idle_minutes = current.idle_minutes

        general = QWidget(self.tabs)
        self.idle_minutes = QSpinBox(general)
        self.idle_minutes.setObjectName("idle_minutes")
        self.idle_minutes.setRange(0, 240)
        self.idle_minutes.setValue(idle_minutes)
        self.idle_minutes.setSuffix(self.tr(" minutes"))
        self.idle_minutes.setSpecialValueText(self.tr("Never"))
        self.idle_minutes.setAccessibleName(self.tr("Lock after inactivity"))
        self.idle_minutes.setMaximumWidth(160)
        self.space_folder = QLineEdit(str(current.space_folder), general)
        self.space_folder.setObjectName("space_folder")
        self.space_folder.setReadOnly(True)
        self.space_folder.setAccessibleName(self.tr("Folder for new spaces"))
        self.choose_folder = QPushButton(self.tr("C&hoose…"), general)
        self.choose_folder.setObjectName("choose_folder")
        self.theme = QComboBox(general)
        self.theme.setObjectName("theme")
        self.theme.setAccessibleName(self.tr("Theme"))
        for value, label in THEME_LABELS.items():
            self.theme.addItem(self.tr(label), value)
        self.theme.setCurrentIndex(max(0, self.theme.findData(current.theme)))
        self.theme.setMaximumWidth(220)

        self.choose_folder.clicked.connect(self._choose_folder)
        self.theme.currentIndexChanged.connect(
            lambda _i: self.theme_changed.emit(str(self.theme.currentData())))

        folder_row = QHBoxLayout()
        folder_row.addWidget(self.space_folder, 1)
        folder_row.addWidget(self.choose_folder)
        general_form = QFormLayout(general)
        general_form.addRow(self.tr("&Lock after inactivity"), self.idle_minutes)
        general_form.addRow("", _body(self.tr(
            "Locking clears everything decrypted from the screen and from memory Cairn "
            "controls. Your work is saved first."), general))  # fmt: skip
        general_form.addRow(self.tr("New spaces go in"), folder_row)
        general_form.addRow("", _body(self.tr(
            "Where Cairn suggests creating a new space. Existing spaces stay where they are; "
            "keep your space somewhere that is backed up."), general))  # fmt: skip
        general_form.addRow(self.tr("&Theme"), self.theme)

        security = QWidget(self.tabs)
        self.security_page = security
        self.passphrase = PassphraseFields(security)
        self.change_button = QPushButton(self.tr("Change passphrase"), security)
        self.change_button.setObjectName("change_passphrase")
        self.security_status = QLabel(security)
        self.security_status.setObjectName("security_status")
        self.security_status.setWordWrap(True)
        self.recovery_intro = _body(self.tr(
            "A new recovery key replaces the one you saved before, which then stops working. "
            "Do this if you think someone else may have seen it."), security)  # fmt: skip
        self.new_key_button = QPushButton(self.tr("Make a new recovery key…"), security)
        self.new_key_button.setObjectName("new_recovery_key")
        self.key_page = RecoveryKeyPage(self)
        self.key_page.continue_button.setText(self.tr("Done"))
        self.key_page.hide()
        self.kdf_intro = _body(self.tr(
            "Your passphrase is stretched with Argon2id so that guessing it is slow. Cairn "
            "measured this computer when the space was made; after moving to a faster "
            "computer, measure again so that guessing stays just as slow there."),
            security)  # fmt: skip
        self.kdf_cost = QLabel(security)
        self.kdf_cost.setObjectName("kdf_cost")
        self.kdf_cost.setWordWrap(True)
        self.recalibrate_passphrase = QLineEdit(security)
        self.recalibrate_passphrase.setObjectName("recalibrate_passphrase")
        self.recalibrate_passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.recalibrate_passphrase.setPlaceholderText(self.tr("Your current passphrase"))
        self.recalibrate_passphrase.setAccessibleName(self.tr("Current passphrase"))
        self.recalibrate_button = QPushButton(self.tr("Measure again"), security)
        self.recalibrate_button.setObjectName("recalibrate")
        for widget in (self.passphrase, self.change_button, self.new_key_button,
                       self.recalibrate_passphrase, self.recalibrate_button):  # fmt: skip
            widget.setEnabled(unlocked)
        if not unlocked:
            self.security_status.setText(self.tr("Unlock a space to change its security settings."))

        self.passphrase.changed.connect(self._update)
        self.change_button.clicked.connect(self._change)
        self.new_key_button.clicked.connect(self.new_recovery_key_requested)
        self.key_page.continue_requested.connect(self._key_done)
        self.recalibrate_button.clicked.connect(self._recalibrate)
        self.recalibrate_passphrase.returnPressed.connect(self._recalibrate)

        security_layout = QVBoxLayout(security)
        security_layout.addWidget(QLabel(self.tr("<b>Passphrase</b>"), security))
        security_layout.addWidget(self.passphrase)
        security_layout.addWidget(self.change_button)
        security_layout.addWidget(self.security_status)
        security_layout.addSpacing(12)
        security_layout.addWidget(QLabel(self.tr("<b>Recovery key</b>"), security))
        security_layout.addWidget(self.recovery_intro)
        security_layout.addWidget(self.new_key_button)
        security_layout.addSpacing(12)
        security_layout.addWidget(QLabel(self.tr("<b>Cost of guessing</b>"), security))
        security_layout.addWidget(self.kdf_intro)
        security_layout.addWidget(self.kdf_cost)
        recalibrate_row = QHBoxLayout()
        recalibrate_row.addWidget(self.recalibrate_passphrase, 1)
        recalibrate_row.addWidget(self.recalibrate_button)
        security_layout.addLayout(recalibrate_row)
        security_layout.addStretch(1)

        capture = QWidget(self.tabs)
        self.inbox = QTreeWidget(capture)
        self.inbox.setObjectName("inbox_folders")
        self.inbox.setAccessibleName(self.tr("Inbox folders"))
        self.inbox.setHeaderLabels([self.tr("Folder"), self.tr("After importing a file")])
        self.inbox.setRootIsDecorated(False)
        self.inbox.header().setStretchLastSection(False)
        self.inbox.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.inbox.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.add_inbox = QPushButton(self.tr("&Add a folder…"), capture)
        self.add_inbox.setObjectName("add_inbox")
        self.remove_inbox = QPushButton(self.tr("&Stop watching"), capture)
        self.remove_inbox.setObjectName("remove_inbox")
        for path, after in current.inbox_folders:
            self._add_inbox_row(path, after)
        self.add_inbox.clicked.connect(self._choose_inbox)
        self.remove_inbox.clicked.connect(self._remove_inbox)
        self.inbox.currentItemChanged.connect(lambda *_: self._update_inbox_buttons())
        self.inbox_ignore = QLineEdit(current.inbox_ignore, capture)
        self.inbox_ignore.setObjectName("inbox_ignore")
        self.inbox_ignore.setPlaceholderText(self.tr("for example *.xmp, *.aae, draft-*"))
        self.inbox_ignore.setAccessibleName(self.tr("Also ignore files matching"))
        self.inbox_ignore.editingFinished.connect(
            lambda: self.inbox_ignore_changed.emit(self.inbox_ignore.text()))
        inbox_buttons = QHBoxLayout()
        inbox_buttons.addWidget(self.add_inbox)
        inbox_buttons.addWidget(self.remove_inbox)
        inbox_buttons.addStretch(1)
        capture_layout = QVBoxLayout(capture)
        capture_layout.addWidget(_body(self.tr(
            "Cairn watches these folders while your space is unlocked, for example the "
            "folder your phone uploads photos to. Each new file becomes a piece of evidence "
            "in your space, encrypted, and waits under Captured for you to look at. Files "
            "that arrive while Cairn is closed are brought in at the next unlock."),
            capture))  # fmt: skip
        capture_layout.addWidget(self.inbox, 1)
        capture_layout.addLayout(inbox_buttons)
        ignore_form = QFormLayout()
        ignore_form.addRow(self.tr("Also &ignore"), self.inbox_ignore)
        ignore_form.addRow("", _body(self.tr(
            "Temporary and hidden files (.part, .crdownload, ~$ locks, dotfiles, "
            ".DS_Store, Thumbs.db…) are always ignored."), capture))  # fmt: skip
        capture_layout.addLayout(ignore_form)
        self._update_inbox_buttons()

        self.organisations = OrganisationsPage(unlocked, self.tabs)

        self.tabs.addTab(general, self.tr("General"))
        self.tabs.addTab(capture, self.tr("Inbox folders"))
        self.tabs.addTab(security, self.tr("Security"))
        self.tabs.addTab(self.organisations, self.tr("Organisations"))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(self.key_page)  # shown instead of the tabs, once
        layout.addWidget(self.buttons)
        self.resize(640, 600)
        self._update()

    def _add_inbox_row(self, path: Path, after: str) -> None:
        item = QTreeWidgetItem(self.inbox, [str(path), ""])
        item.setToolTip(0, str(path))
        choice = QComboBox(self.inbox)
        choice.setAccessibleName(self.tr("After importing a file from {folder}").format(
            folder=path.name or str(path)))  # fmt: skip
        for value, label in AFTER_LABELS.items():
            choice.addItem(self.tr(label), value)
        choice.setCurrentIndex(max(0, choice.findData(after)))
        choice.currentIndexChanged.connect(lambda _i: self._inbox_changed())
        self.inbox.setItemWidget(item, 1, choice)

    def inbox_folders(self) -> list[tuple[Path, str]]:
        folders = []
        for row in range(self.inbox.topLevelItemCount()):
            item = self.inbox.topLevelItem(row)
            if item is None:
                continue
            choice = self.inbox.itemWidget(item, 1)
            after = str(choice.currentData()) if isinstance(choice, QComboBox) else "keep"
            folders.append((Path(item.text(0)), after))
        return folders

    def _choose_inbox(self) -> None:
        chosen = self._ask_folder("", self.tr("A folder to watch for new files"))
        if not chosen:
            return
        if any(path == Path(chosen) for path, _after in self.inbox_folders()):
            return
        self._add_inbox_row(Path(chosen), "keep")
        self._inbox_changed()

    def _remove_inbox(self) -> None:
        item = self.inbox.currentItem()
        if item is not None:
            self.inbox.takeTopLevelItem(self.inbox.indexOfTopLevelItem(item))
            self._inbox_changed()

    def _inbox_changed(self) -> None:
        self._update_inbox_buttons()
        self.inbox_folders_changed.emit(self.inbox_folders())

    def _update_inbox_buttons(self) -> None:
        self.remove_inbox.setEnabled(self.inbox.currentItem() is not None)

    def _choose_folder(self) -> None:
        chosen = self._ask_folder(self.space_folder.text())
        if chosen:
            self.space_folder.setText(chosen)
            self.space_folder_changed.emit(chosen)

    def _ask_folder(self, start: str, title: str = "") -> str:
        return QFileDialog.getExistingDirectory(
            self, title or self.tr("Folder for new spaces"), start)  # fmt: skip

    def show_kdf_cost(self, memory_kib: int, iterations: int, seconds: float | None) -> None:
        memory = (self.tr("{n} MiB").format(n=memory_kib // 1024) if memory_kib >= 1024
                  else self.tr("{n} KiB").format(n=memory_kib))  # fmt: skip
        passes = self.tr("1 pass") if iterations == 1 else self.tr("{n} passes").format(
            n=iterations)  # fmt: skip
        text = self.tr("Each unlock uses {memory} of memory and {passes}.").format(
            memory=memory, passes=passes)  # fmt: skip
        if seconds is not None:
            text += " " + self.tr("On this computer that takes about {s:.1f} s.").format(s=seconds)
        self.kdf_cost.setStyleSheet("")
        self.kdf_cost.setText(text)

    def _recalibrate(self) -> None:
        passphrase = self.recalibrate_passphrase.text()
        if not passphrase:
            self.recalibrate_passphrase.setFocus()
            return
        self.recalibrate_button.setEnabled(False)
        self.kdf_cost.setStyleSheet("")
        self.kdf_cost.setText(self.tr("Measuring this computer and re-protecting the key…"))
        self.recalibrate_requested.emit(passphrase)

    def recalibrated(self, error: str | None, memory_kib: int = 0, iterations: int = 0,
                     seconds: float | None = None) -> None:  # fmt: skip
        self.recalibrate_passphrase.clear()
        self.recalibrate_button.setEnabled(True)
        if error:
            self.kdf_cost.setStyleSheet(error_style())
            self.kdf_cost.setText(error)
        else:
            self.show_kdf_cost(memory_kib, iterations, seconds)

    def _update(self) -> None:
        self.change_button.setEnabled(self.passphrase.ready and self.passphrase.isEnabled())

    def _change(self) -> None:
        if self.passphrase.ready:
            self.security_status.setStyleSheet("")
            self.security_status.setText(self.tr("Changing the passphrase…"))
            self.change_button.setEnabled(False)
            self.change_passphrase_requested.emit(self.passphrase.passphrase.text())

    def passphrase_changed(self, error: str | None) -> None:
        self.passphrase.clear()
        if error:
            self.security_status.setStyleSheet(error_style())
            self.security_status.setText(error)
        else:
            self.security_status.setText(self.tr("Your passphrase has been changed."))

    def show_new_key(self, key: str) -> None:
        self.key_page.show_key(key)
        self.tabs.hide()
        self.buttons.hide()  # the key must be confirmed before the dialog can close
        self.key_page.show()
        self.key_page.retype.setFocus()

    def _key_done(self) -> None:
        self.key_page.forget_key()
        self.key_page.hide()
        self.tabs.show()
        self.buttons.show()
        self.recovery_intro.setText(self.tr("Your new recovery key is in place."))


ACCOUNT_ROLE = Qt.ItemDataRole.UserRole
RESOURCE_ROLE = Qt.ItemDataRole.UserRole


class OrganisationsPage(QWidget):
    """The workspaces the space is connected to, and the documents and links the chosen
    one published; Connect, Disconnect, Open and Save a Copy are requested."""

    connect_requested = Signal()
    disconnect_requested = Signal(str)  # account id
    resource_open_requested = Signal(str)  # resource id
    resource_save_requested = Signal(str, str)  # resource id, destination path

    def __init__(self, unlocked: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("OrganisationsPage")
        self.accounts: list[AccountView] = []
        self.resources: list[OrganisationResource] = []
        self.unlocked = unlocked
        self._save_folder = ""
        #: The resource chosen last, chosen again when the list is filled again.
        self._wanted_resource: str | None = None

        self.intro = _body(self.tr(
            "Organisations you are connected to can receive what you choose to share, and "
            "send back feedback. Nothing is shared by connecting."), self)  # fmt: skip
        self.list = QTreeWidget(self)
        self.list.setObjectName("accounts")
        self.list.setAccessibleName(self.tr("Connected organisations"))
        self.list.setHeaderLabels([self.tr("Workspace"), self.tr("Server"),
                                   self.tr("Signed in as"), self.tr("Last sync")])  # fmt: skip
        self.list.setRootIsDecorated(False)
        header = self.list.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.empty = QLabel(self)
        self.empty.setObjectName("accounts_empty")
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet(hint_style())
        self.problem = QLabel(self)
        self.problem.setObjectName("account_problem")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet(error_style())
        self.problem.hide()
        self.connect_button = QPushButton(self.tr("&Connect…"), self)
        self.connect_button.setObjectName("connect_account")
        self.disconnect_button = QPushButton(self.tr("&Disconnect…"), self)
        self.disconnect_button.setObjectName("disconnect_account")
        self.resources_heading = section_heading("", self)
        self.resources_heading.setObjectName("resources_heading")
        self.resource_list = QTreeWidget(self)
        self.resource_list.setObjectName("resources")
        self.resource_list.setAccessibleName(self.tr("Documents and links from the organisation"))
        self.resource_list.setHeaderLabels([self.tr("Name"), self.tr("What"),
                                            self.tr("Received")])  # fmt: skip
        self.resource_list.setRootIsDecorated(False)
        resource_header = self.resource_list.header()
        resource_header.setStretchLastSection(False)
        resource_header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2):
            resource_header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.resources_empty = QLabel(self)
        self.resources_empty.setObjectName("resources_empty")
        self.resources_empty.setWordWrap(True)
        self.resources_empty.setStyleSheet(hint_style())
        self.open_resource_button = QPushButton(self.tr("&Open"), self)
        self.open_resource_button.setObjectName("open_resource")
        self.save_resource_button = QPushButton(self.tr("&Save a Copy…"), self)
        self.save_resource_button.setObjectName("save_resource")

        self.connect_button.clicked.connect(self.connect_requested)
        self.disconnect_button.clicked.connect(self._disconnect)
        self.list.currentItemChanged.connect(lambda *_: self._update())
        self.list.currentItemChanged.connect(lambda *_: self._show_resources())
        self.resource_list.currentItemChanged.connect(lambda *_: self._resource_chosen())
        self.resource_list.itemActivated.connect(lambda *_: self._open_resource())
        self.open_resource_button.clicked.connect(self._open_resource)
        self.save_resource_button.clicked.connect(self._save_resource)

        buttons = QHBoxLayout()
        buttons.addWidget(self.connect_button)
        buttons.addWidget(self.disconnect_button)
        buttons.addStretch(1)
        resource_buttons = QHBoxLayout()
        resource_buttons.addWidget(self.open_resource_button)
        resource_buttons.addWidget(self.save_resource_button)
        resource_buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.empty)
        layout.addWidget(self.problem)
        layout.addLayout(buttons)
        layout.addSpacing(6)
        layout.addWidget(self.resources_heading)
        layout.addWidget(self.resource_list, 2)
        layout.addWidget(self.resources_empty)
        layout.addLayout(resource_buttons)
        layout.addStretch(0)
        self.set_accounts([])

    def set_accounts(self, accounts: list[AccountView] | tuple[AccountView, ...]) -> None:
        current = self.chosen()
        self.accounts = list(accounts)
        self.list.clear()
        for account in accounts:
            when = friendly_time(account.last_sync) if account.last_sync else self.tr("Never")
            if account.problem_code:
                when = self.tr("Stopped")
            item = QTreeWidgetItem(self.list, [account.workspace_name, account.host,
                                               account.email, when])  # fmt: skip
            item.setData(0, ACCOUNT_ROLE, account.id)
            item.setToolTip(0, self.tr("{org} on {server}, as {role}; this computer is “{device}”")
                            .format(org=account.workspace_name, server=account.server_url,
                                    role=account.role, device=account.device_name))  # fmt: skip
            if current is not None and current.id == account.id:
                self.list.setCurrentItem(item)
        first = self.list.topLevelItem(0)
        if self.list.currentItem() is None and first is not None:
            self.list.setCurrentItem(first)
        if not self.unlocked:
            text = self.tr("Unlock a space to see the organisations it is connected to.")
        elif not accounts:
            text = self.tr("Not connected to any organisation. If yours uses Cairn, it gives "
                           "you a server address and an invite code: choose Connect.")
        else:
            text = ""
        self.empty.setText(text)
        self.empty.setVisible(bool(text))
        self.list.setVisible(bool(accounts))
        self._update()
        self._show_resources()

    def set_resources(self, resources: Sequence[OrganisationResource]) -> None:
        """The documents and links the space holds; those of the chosen workspace are shown."""
        if list(resources) != self.resources:
            self.resources = list(resources)
            self._show_resources()

    def chosen_resource(self) -> OrganisationResource | None:
        item = self.resource_list.currentItem()
        wanted = item.data(0, RESOURCE_ROLE) if item is not None else None
        return next((r for r in self.resources if r.id == wanted), None)

    def _resource_chosen(self) -> None:
        if (chosen := self.chosen_resource()) is not None:
            self._wanted_resource = chosen.id
        self._update_resource_buttons()

    def _show_resources(self) -> None:
        account = self.chosen()
        shown = [r for r in self.resources if account is not None and r.account_id == account.id]
        self.resource_list.blockSignals(True)  # filling it is not choosing
        self.resource_list.clear()
        for resource in shown:
            columns = [resource.name, self._what(resource), friendly_time(resource.received)]
            item = QTreeWidgetItem(self.resource_list, columns)
            item.setData(0, RESOURCE_ROLE, resource.id)
            if resource.kind == "link":
                item.setToolTip(0, resource.url or self.tr("This address cannot be opened"))
            elif resource.problem:
                item.setToolTip(0, self.tr("Not kept in your space: {why}").format(
                    why=resource.problem))  # fmt: skip
            else:
                item.setToolTip(0, self.tr("Version {n}, kept in your space").format(
                    n=resource.version))  # fmt: skip
            if resource.id == self._wanted_resource:
                self.resource_list.setCurrentItem(item)
        first = self.resource_list.topLevelItem(0)
        if self.resource_list.currentItem() is None and first is not None:
            self.resource_list.setCurrentItem(first)
        self.resource_list.blockSignals(False)
        visible = account is not None
        self.resources_heading.setText(self.tr("Documents and links from {org}").format(
            org=account.workspace_name) if account is not None else "")  # fmt: skip
        self.resources_empty.setText(self.tr(
            "Nothing yet. Documents and links the organisation publishes arrive with the next "
            "sync, and are kept in your space."))  # fmt: skip
        self.resources_heading.setVisible(visible)
        self.resource_list.setVisible(visible and bool(shown))
        self.resources_empty.setVisible(visible and not shown)
        for button in (self.open_resource_button, self.save_resource_button):
            button.setVisible(visible and bool(shown))
        self._update_resource_buttons()

    def _what(self, resource: OrganisationResource) -> str:
        if resource.kind == "link":
            return self.tr("Link")
        size = human_size(resource.size) if resource.size is not None else ""
        if not resource.kept:
            return self.tr("Document, not kept")
        kind = (resource.media_type or "").split("/")[-1].upper()
        return (self.tr("{kind} document, {size}").format(kind=kind, size=size)
                if kind and len(kind) <= 5 else self.tr("Document, {size}").format(size=size))

    def _update_resource_buttons(self) -> None:
        chosen = self.chosen_resource()
        can_open = chosen is not None and (chosen.url is not None if chosen.kind == "link"
                                           else chosen.kept)  # fmt: skip
        self.open_resource_button.setEnabled(self.unlocked and can_open)
        self.save_resource_button.setEnabled(
            self.unlocked and chosen is not None and chosen.kind == "document" and chosen.kept)

    def _open_resource(self) -> None:
        chosen = self.chosen_resource()
        if chosen is not None and self.open_resource_button.isEnabled():
            self.resource_open_requested.emit(chosen.id)

    def _save_resource(self) -> None:
        chosen = self.chosen_resource()
        if chosen is None or not self.save_resource_button.isEnabled():
            return
        if path := self.ask_save_path(document_file_name(chosen)):
            self._save_folder = str(Path(path).parent)
            self.resource_save_requested.emit(chosen.id, path)

    def ask_save_path(self, name: str) -> str | None:
        """Where to save a copy (None: the person cancelled); tests replace it."""
        folder = self._save_folder or QStandardPaths.writableLocation(
            QStandardPaths.StandardLocation.DocumentsLocation) or str(Path.home())  # fmt: skip
        path, _filter = QFileDialog.getSaveFileName(self, self.tr("Save a copy"),
                                                    str(Path(folder) / name))  # fmt: skip
        return path or None

    def chosen(self) -> AccountView | None:
        item = self.list.currentItem()
        wanted = item.data(0, ACCOUNT_ROLE) if item is not None else None
        return next((a for a in self.accounts if a.id == wanted), None)

    def _update(self) -> None:
        chosen = self.chosen()
        self.connect_button.setEnabled(self.unlocked)
        self.disconnect_button.setEnabled(self.unlocked and chosen is not None)
        if chosen is not None and chosen.problem_code:
            self.problem.setText(describe_account_problem(
                chosen.problem_code, chosen.workspace_name, chosen.problem_message or ""))
            self.problem.show()
        else:
            self.problem.hide()

    def _disconnect(self) -> None:
        chosen = self.chosen()
        if chosen is not None:
            self.disconnect_requested.emit(chosen.id)
