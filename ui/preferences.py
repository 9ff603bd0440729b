"""Every desktop setting declared once: its key, type, default and allowed values.

Values come from a QSettings file a person (or another version of Cairn) may
have edited, so reading one always validates and falls back to the default.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs
from PySide6.QtCore import QSettings


@dataclass(frozen=True)
class Setting:
    key: str
    default: Any
    choices: tuple[Any, ...] = ()
    minimum: int | None = None
    maximum: int | None = None


IDLE_LOCK_MINUTES = Setting("security/idle_lock_minutes", 10, minimum=0, maximum=240)
#: Where new spaces are created; empty means the platform's user data folder.
SPACE_FOLDER = Setting("spaces/default_folder", "")
THEME = Setting("appearance/theme", "system", choices=("system", "light", "dark"))
RECENT_SPACES = Setting("spaces/recent", ())
#: Watched inbox folders, each "after<TAB>path" (after: keep, move or delete).
INBOX_FOLDERS = Setting("capture/folders", ())
AFTER_CHOICES = ("keep", "move", "delete")
#: Glob patterns ignored in inbox folders, besides the built-in temporary and hidden files.
INBOX_IGNORE = Setting("capture/ignore", "")


def inbox_ignore(settings: QSettings) -> tuple[str, ...]:
    text = str(read(settings, INBOX_IGNORE))
    return tuple(part.strip() for part in text.split(",") if part.strip())


def inbox_folders(settings: QSettings) -> list[tuple[Path, str]]:
    """The watched folders and what to do with a file after importing it."""
    folders = []
    for entry in read(settings, INBOX_FOLDERS):
        after, _, path = str(entry).partition("\t")
        if path and after in AFTER_CHOICES:
            folders.append((Path(path), after))
    return folders


def set_inbox_folders(settings: QSettings, folders: list[tuple[Path, str]]) -> None:
    write(settings, INBOX_FOLDERS, tuple(f"{after}\t{path}" for path, after in folders))


def read(settings: QSettings, setting: Setting) -> Any:
    """The stored value if it is valid, else the default."""
    raw = settings.value(setting.key, setting.default)
    default = setting.default
    if isinstance(default, int):
        try:
            value: Any = int(float(str(raw)))
        except ValueError:
            return default
        if setting.minimum is not None and value < setting.minimum:
            return default
        if setting.maximum is not None and value > setting.maximum:
            return default
        return value
    if isinstance(default, str):
        value = raw if isinstance(raw, str) else default
        if setting.choices and value not in setting.choices:
            return default
        return value
    if isinstance(default, tuple):
        if isinstance(raw, str):
            return (raw,)
        if isinstance(raw, list | tuple):
            return tuple(str(item) for item in raw)
        return default
    return raw


def write(settings: QSettings, setting: Setting, value: Any) -> None:
    settings.setValue(setting.key, list(value) if isinstance(value, tuple) else value)
    settings.sync()


def default_space_folder(settings: QSettings) -> Path:
    chosen = str(read(settings, SPACE_FOLDER)).strip()
    if chosen:
        return Path(chosen)
    return Path(platformdirs.user_data_dir("cairn", appauthor=False))


def default_space_path(settings: QSettings) -> Path:
    """A new space's file in the chosen folder (a fresh name if one is there)."""
    folder = default_space_folder(settings)
    candidate = folder / "space.cairn"
    number = 2
    while candidate.exists():
        candidate = folder / f"space-{number}.cairn"
        number += 1
    return candidate
