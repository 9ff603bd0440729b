"""The files an import reads: members of a zip, or files under a folder, checked first.

A zip is vetted whole before anything is read: every member name must stay
inside the archive (no `..`, absolute names, drive letters or links), and the
member count, the declared sizes and each member's compression ratio must be
within limits, so a zip bomb is refused without inflating it. Reading a member
never yields more than its declared size (zipfile stops there).
"""

from __future__ import annotations

import io
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import IO, Any, Protocol, cast

from app.transfer import DEFAULT_LIMITS, DamagedArchive, InvalidInput, Limits, safe_member_name

#: A member that inflates more than this many times over is a zip bomb...
MAX_RATIO = 200
#: ...once it inflates to more than this (small, very repetitive files are normal).
RATIO_FLOOR = 1024 * 1024


class Files(Protocol):
    """Read-only access to an import's files by relative POSIX path."""

    def names(self) -> list[str]: ...

    def size(self, name: str) -> int | None:
        """The file's size, or None when there is no such file."""

    def open(self, name: str) -> IO[bytes]: ...

    def read_document(self, name: str) -> bytes:
        """A whole small file (XML, Markdown), refused past the document limit."""

    def close(self) -> None: ...


class ZipFiles:
    """A vetted zip archive."""

    def __init__(self, path: Path, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise DamagedArchive(f"{path.name} is not a readable zip file: {exc}") from exc
        try:
            self._members = self._vet(self._zip.infolist())
        except BaseException:
            self._zip.close()
            raise

    def _vet(self, infos: list[zipfile.ZipInfo]) -> dict[str, zipfile.ZipInfo]:
        if len(infos) > self.limits.max_entries:
            raise DamagedArchive(
                f"the zip holds {len(infos)} entries;"
                f" at most {self.limits.max_entries} are accepted"
            )
        members: dict[str, zipfile.ZipInfo] = {}
        seen: set[str] = set()
        total = compressed = 0
        for info in infos:
            name = safe_member_name(info.filename).as_posix()
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise DamagedArchive(f"the zip holds a symbolic link {info.filename!r}")
            if info.flag_bits & 0x1:
                raise DamagedArchive(f"the zip member {info.filename!r} is encrypted")
            if info.is_dir():
                continue
            if info.file_size > self.limits.max_file_bytes:
                raise DamagedArchive(f"the zip member {name!r} is over the size limit")
            total += info.file_size
            compressed += info.compress_size
            if total > self.limits.max_total_bytes:
                raise DamagedArchive("the zip's content is over the total size limit")
            if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(
                info.compress_size, 1
            ):
                ratio = info.file_size // max(info.compress_size, 1)
                raise DamagedArchive(
                    f"the zip member {name!r} inflates {ratio} times over: refused as a zip bomb"
                )
            if name.casefold() in seen:
                raise DamagedArchive(f"the zip holds {name!r} twice")
            seen.add(name.casefold())
            members[name] = info
        # Many small members each under the floor can still add up to a bomb.
        if total > RATIO_FLOOR and total > MAX_RATIO * max(compressed, 1):
            raise DamagedArchive("the zip inflates over "
                                 f"{MAX_RATIO} times its size: refused as a zip bomb")  # fmt: skip
        return members

    def names(self) -> list[str]:
        return list(self._members)

    def size(self, name: str) -> int | None:
        info = self._members.get(name)
        return info.file_size if info is not None else None

    def open(self, name: str) -> IO[bytes]:
        try:
            member = self._zip.open(self._members[name])
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, NotImplementedError) as exc:
            # NotImplementedError: a compression method Python cannot read
            raise DamagedArchive(f"the zip member {name!r} cannot be read: {exc}") from exc
        return cast(IO[bytes], _CheckedMember(member, name))

    def read_document(self, name: str) -> bytes:
        size = self.size(name) or 0
        if size > self.limits.max_document_bytes:
            raise DamagedArchive(f"{name} is over the {self.limits.max_document_bytes} byte limit")
        try:
            with self.open(name) as handle:
                return handle.read()
        except zipfile.BadZipFile as exc:  # CRC mismatch and the like
            raise DamagedArchive(f"the zip member {name!r} is damaged: {exc}") from exc

    def close(self) -> None:
        self._zip.close()


class _CheckedMember(io.RawIOBase):
    """A zip member whose damage (a bad CRC, a truncated stream) is a DamagedArchive."""

    def __init__(self, member: IO[bytes], name: str) -> None:
        super().__init__()
        self._member = member
        self._name = name

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        try:
            return self._member.read(-1 if size is None else size)
        except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as exc:
            raise DamagedArchive(f"the zip member {self._name!r} is damaged: {exc}") from exc

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._member.close()
        super().close()


class FolderFiles:
    """Files under a folder; nothing outside it is reachable (links are not followed out)."""

    def __init__(self, root: Path, limits: Limits = DEFAULT_LIMITS) -> None:
        self.root = root.resolve()
        self.limits = limits

    def _path(self, name: str) -> Path | None:
        try:
            relative = safe_member_name(name)
        except DamagedArchive:
            return None
        if any(part.startswith(".") for part in relative.parts):
            return None  # hidden files (.ssh, .config...) are never brought in by reference
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            return None
        return path

    def names(self) -> list[str]:
        found: list[str] = []
        for path in sorted(self.root.rglob("*")):
            relative = path.relative_to(self.root)
            if any(part.startswith(".") for part in relative.parts):
                continue  # .obsidian, .trash, .git...
            if path.is_file() and self._path(relative.as_posix()) is not None:
                found.append(relative.as_posix())
                if len(found) > self.limits.max_entries:
                    raise InvalidInput(
                        f"the folder holds more than {self.limits.max_entries} files"
                    )
        return found

    def size(self, name: str) -> int | None:
        path = self._path(name)
        return path.stat().st_size if path is not None else None

    def open(self, name: str) -> IO[bytes]:
        path = self._path(name)
        if path is None:
            raise FileNotFoundError(name)
        return path.open("rb")

    def read_document(self, name: str) -> bytes:
        size = self.size(name) or 0
        if size > self.limits.max_document_bytes:
            raise InvalidInput(f"{name} is over the {self.limits.max_document_bytes} byte limit")
        with self.open(name) as handle:
            return handle.read(self.limits.max_document_bytes + 1)

    def close(self) -> None:
        pass


def resolve_relative(base: str, reference: str) -> str | None:
    """`reference` (a relative link in the file `base`) as a path from the root, or None
    when it leaves the root."""
    parts: list[str] = list(PurePosixPath(base).parent.parts)
    for part in PurePosixPath(reference).parts:
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts) if parts else None
