"""Test set-up: offscreen Qt, isolated config and data folders, cheap KDF spaces."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from app.cli import main  # noqa: E402
from app.space import Space  # noqa: E402
from store.kdf import KdfPolicy  # noqa: E402
from tests.support import TEST_KDF_POLICY  # noqa: E402

PASSPHRASE = "correct horse battery staple"


@pytest.fixture(autouse=True)
def isolated_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own home, config and data folders, and no passphrase env."""
    home = tmp_path / "home"
    for name in ("config", "data", "cache", "state"):
        (home / name).mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    monkeypatch.delenv("CAIRN_PASSPHRASE", raising=False)
    monkeypatch.delenv("CAIRN_DEBUG", raising=False)


@pytest.fixture(scope="session", autouse=True)
def qt_application(qapp):  # type: ignore[no-untyped-def]
    """One QApplication for the whole run, made first: code that needs Qt and finds
    none (e.g. the PDF export) would otherwise make a QGuiApplication, on which no
    widget can ever be created (Qt aborts the process)."""
    return qapp


@pytest.fixture
def kdf_policy() -> KdfPolicy:
    """The cheap key-derivation policy; tests must ask for it explicitly."""
    return TEST_KDF_POLICY


@pytest.fixture
def space_path(tmp_path: Path) -> Path:
    return tmp_path / "space.cairn"


@pytest.fixture
def space(space_path: Path, kdf_policy: KdfPolicy) -> Iterator[Space]:
    """A new, unlocked space with cheap key derivation, locked after the test."""
    created, _ = Space.create(space_path, PASSPHRASE, kdf_policy=kdf_policy)
    yield created
    created.lock()


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, kdf_policy: KdfPolicy):  # type: ignore[no-untyped-def]
    """Run `cairn ARGS...` in-process with the cheap KDF; passphrase from the env."""

    def run(*argv: object, passphrase: str | None = PASSPHRASE) -> CliResult:
        if passphrase is None:
            monkeypatch.delenv("CAIRN_PASSPHRASE", raising=False)
        else:
            monkeypatch.setenv("CAIRN_PASSPHRASE", passphrase)
        capsys.readouterr()
        code = main([str(a) for a in argv], kdf_policy=kdf_policy)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
