"""Cairn installs like any application: from its wheel into a fresh virtualenv, and
as the self-contained desktop bundle. Slow (minutes, and the wheel's dependencies
come from the package index): run by `make package-test`, not by `make test`."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

# Slow, and `packaging` keeps it out of `make test` (pyproject.toml's addopts).
pytestmark = [pytest.mark.slow, pytest.mark.packaging, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parents[2]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["version"]
APP_ID = "org.cairn_learning.Cairn"
SIZE_LIMIT = 250_000_000
CHECKS = ("templates", "resources", "create", "write", "unlock", "read", "search", "render",
          "transfer", "verify", "qt")  # fmt: skip


def headless() -> dict[str, str]:
    """An environment with no display and the offscreen Qt platform."""
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("DISPLAY", "WAYLAND_DISPLAY", "PYTHONPATH")}  # fmt: skip
    environment["QT_QPA_PLATFORM"] = "offscreen"
    return environment


def run(command: list[str | Path], cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 900) -> subprocess.CompletedProcess[str]:  # fmt: skip
    started = time.monotonic()
    result = subprocess.run([str(c) for c in command], cwd=cwd, env=env or headless(),
                            capture_output=True, text=True, timeout=timeout)  # fmt: skip
    print(f"[{time.monotonic() - started:6.1f} s] {' '.join(str(c) for c in command)}")
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result


def assert_self_check_passes(program: Path, cwd: Path, *, bundled: bool) -> None:
    version = run([program, "--version"], cwd).stdout.split()
    assert version == ["cairn", VERSION]
    output = run([program, "--self-check"], cwd).stdout
    print(output)
    for name in CHECKS:
        assert f"ok    {name}" in output
    assert "self-check passed" in output
    assert ("(bundled)" in output) == bundled


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel and the sdist, built as a release would be (`python -m build`)."""
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--outdir", out, ROOT], cwd=ROOT)
    return out


def test_sdist_holds_the_templates_and_resources(built: Path) -> None:
    (sdist,) = built.glob("cairn-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {Path(*Path(n).parts[1:]).as_posix() for n in tar.getnames()}
    assert "templates/smart-plan.toml" in names
    assert "resources/icons/cairn.svg" in names
    assert "pyproject.toml" in names


def test_wheel_installs_into_a_fresh_virtualenv_and_passes_its_self_check(
    built: Path, tmp_path: Path
) -> None:
    (wheel,) = built.glob(f"cairn-{VERSION}-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert "templates/smart-plan.toml" in names
    assert "resources/icons/cairn.svg" in names

    environment = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(environment)
    python = environment / "bin" / "python"
    run([python, "-m", "pip", "install", "--quiet", wheel], cwd=tmp_path)
    # The installed copy is what runs, not this source tree.
    where = run([python, "-c", "import app, templates; print(app.__file__, templates.__file__)"],
                cwd=tmp_path).stdout  # fmt: skip
    assert str(ROOT) not in where
    assert str(environment) in where
    assert_self_check_passes(environment / "bin" / "cairn", tmp_path, bundled=False)


@pytest.fixture(scope="module")
def bundle_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`make package` into a folder of the test's own (once: pytest keeps a failure too)."""
    dist = tmp_path_factory.mktemp("bundle")
    result = run([sys.executable, ROOT / "packaging" / "build.py", "--dist", dist], cwd=ROOT,
                 timeout=1500)  # fmt: skip
    print(result.stdout[-1500:])
    assert "unpacked" in result.stdout  # the size is printed
    return dist


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux archive")
def test_the_archive_unpacks_into_a_working_application(
    bundle_dist: Path, tmp_path: Path
) -> None:
    (archive,) = bundle_dist.glob(f"cairn-{VERSION}-linux-*.tar.gz")
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path, filter="tar")
    folder = tmp_path / f"cairn-{VERSION}"
    size = sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() or p.is_symlink())
    print(f"bundle: {size / 1e6:.1f} MB unpacked, archive {archive.stat().st_size / 1e6:.1f} MB")
    assert size < SIZE_LIMIT
    assert not [p for p in folder.rglob("*") if p.is_symlink() and not p.exists()]

    assert_self_check_passes(folder / "cairn", tmp_path, bundled=True)

    # Qt's plugins for real desktops and SVG icons, and its translations, are inside.
    qt = folder / "_internal" / "PySide6" / "Qt"
    for plugin in ("platforms/libqxcb.so", "platforms/libqwayland.so",
                   "platforms/libqoffscreen.so", "imageformats/libqsvg.so",
                   "imageformats/libqjpeg.so", "iconengines/libqsvgicon.so"):  # fmt: skip
        assert (qt / "plugins" / plugin).is_file(), plugin
    assert list((qt / "translations").glob("qtbase_*.qm"))
    # What the desktop never uses stays out: the workspace server and unused Qt modules.
    internal = folder / "_internal"
    for absent in ("fastapi", "uvicorn", "alembic", "psycopg", "sqlcipher3", "libgtk-3.so.0",
                   "PySide6/QtNetwork.abi3.so", "PySide6/QtQml.abi3.so"):  # fmt: skip
        assert not (internal / absent).exists(), absent
    refused = subprocess.run([folder / "cairn", "serve"], capture_output=True, text=True,
                             env=headless(), cwd=tmp_path)  # fmt: skip
    assert refused.returncode == 2
    assert "wheel" in refused.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="an X11/Wayland desktop")
def test_the_bundle_starts_the_desktop_app(bundle_dist: Path, tmp_path: Path) -> None:
    environment = headless() | {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "c"),
                                "XDG_DATA_HOME": str(tmp_path / "d")}  # fmt: skip
    app = subprocess.Popen([bundle_dist / "cairn" / "cairn"], env=environment, cwd=tmp_path,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        # The welcome screen writes nothing; settings are saved when the window closes.
        time.sleep(5)
        assert app.poll() is None, app.communicate()
        app.send_signal(signal.SIGTERM)  # closes the window cleanly
        _out, err = app.communicate(timeout=30)
    finally:
        if app.poll() is None:
            app.kill()
    assert app.returncode == 0, err
    assert "Traceback" not in err
    assert (tmp_path / "c" / "Cairn" / "Cairn.conf").is_file()  # the window really ran


@pytest.mark.skipif(shutil.which("update-mime-database") is None
                    or not sys.platform.startswith("linux"), reason="a freedesktop system")
def test_install_script_sets_up_the_desktop_and_uninstall_keeps_the_space(
    bundle_dist: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    space = home / ".local" / "share" / "cairn" / "space.cairn"
    space.parent.mkdir(parents=True)
    space.write_bytes(b"SQLite format 3\x00 stands in for a space")
    environment = headless() | {"HOME": str(home), "PATH": f"{home}/.local/bin:/usr/bin:/bin"}
    environment.pop("XDG_DATA_HOME", None)
    bundle = bundle_dist / "cairn"
    print(run(["sh", bundle / "install.sh"], cwd=tmp_path, env=environment).stdout)

    share = home / ".local" / "share"
    program = home / ".local" / "lib" / "cairn" / "cairn"
    desktop = (share / "applications" / f"{APP_ID}.desktop").read_text()
    assert f'Exec="{program}" %f' in desktop
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        assert (share / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png").is_file()
    assert (share / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg").is_file()
    # update-mime-database compiled our types: *.cairn and *.cairn-archive are known.
    globs = (share / "mime" / "globs2").read_text()
    assert "application/x-cairn-space:*.cairn" in globs
    assert "application/x-cairn-archive:*.cairn-archive" in globs
    version = run([home / ".local" / "bin" / "cairn", "--version"], cwd=tmp_path, env=environment)
    assert version.stdout.split() == ["cairn", VERSION]

    print(run(["sh", program.parent / "uninstall.sh"], cwd=tmp_path, env=environment).stdout)
    assert not program.exists()
    assert not (home / ".local" / "bin" / "cairn").exists()
    assert not (share / "applications" / f"{APP_ID}.desktop").exists()
    assert not list((share / "icons").rglob(f"{APP_ID}.*"))
    assert space.read_bytes().startswith(b"SQLite format 3")  # the space stays
