"""Build the Cairn desktop application: `make package`, or

    python packaging/build.py [--dist DIR] [--no-archive] [--no-check]

1. draws the icons from resources/icons/cairn.svg (packaging/make_icons.py);
2. runs PyInstaller on packaging/cairn.spec: a one-folder program in DIST/cairn
   (DIST/Cairn.app on macOS);
3. on Linux, adds the desktop integration (menu entry, AppStream metadata, MIME
   types, icons) under DIST/cairn/share/ with install.sh and uninstall.sh, and
   validates them with desktop-file-validate and appstreamcli where installed;
4. runs the built program's --version and --self-check (offscreen);
5. writes the archive: cairn-VERSION-linux-ARCH.tar.gz (Linux) or a .zip;
6. prints the sizes, and fails if the folder is 250 MB or more.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BUILD = ROOT / "build"
ICONS = BUILD / "icons"
LINUX = HERE / "linux"
APP_ID = "org.cairn_learning.Cairn"
MIME_TYPES = ("application-x-cairn-space", "application-x-cairn-archive")
#: The issue's ceiling for the unpacked folder, in MB (10^6 bytes).
SIZE_LIMIT_MB = 250


def project_version() -> str:
    """The version, from the one place it is kept (pyproject.toml -> package metadata)."""
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["version"])


def check_release_notes(version: str) -> None:
    """CHANGELOG.md and the AppStream metadata must both describe this version."""
    changelog = (ROOT / "CHANGELOG.md").read_text("utf-8")
    if f"## [{version}]" not in changelog:
        raise SystemExit(f"build: CHANGELOG.md has no '## [{version}]' section")
    metainfo = ET.parse(LINUX / f"{APP_ID}.metainfo.xml").getroot()
    release = metainfo.find("releases/release")
    if release is None or release.get("version") != version:
        found = None if release is None else release.get("version")
        raise SystemExit(f"build: the newest release in the AppStream metadata is {found}, "
                         f"not {version}")  # fmt: skip


def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    print("+", " ".join(str(c) for c in command), flush=True)
    return subprocess.run(command, check=True, text=True, **kwargs)  # type: ignore[call-overload]


def folder_size(path: Path) -> tuple[int, int]:
    """Bytes and files under `path` (symbolic links count as themselves, not twice)."""
    total = files = 0
    for entry in path.rglob("*"):
        if entry.is_symlink() or entry.is_file():
            total += entry.lstat().st_size
            files += 1
    return total, files


def desktop_integration(bundle: Path) -> None:
    """share/ beside the program, laid out like /usr/share, and the install scripts."""
    share = bundle / "share"
    shutil.rmtree(share, ignore_errors=True)
    (share / "applications").mkdir(parents=True)
    (share / "metainfo").mkdir()
    (share / "mime" / "packages").mkdir(parents=True)
    shutil.copy2(LINUX / f"{APP_ID}.desktop", share / "applications")
    shutil.copy2(LINUX / f"{APP_ID}.metainfo.xml", share / "metainfo")
    shutil.copy2(LINUX / f"{APP_ID}.mime.xml", share / "mime" / "packages" / f"{APP_ID}.xml")
    shutil.copytree(ICONS / "hicolor", share / "icons" / "hicolor")
    # The files' own icon in the file manager is Cairn's too.
    for size_dir in (share / "icons" / "hicolor").iterdir():
        for source in (size_dir / "apps").iterdir():
            (size_dir / "mimetypes").mkdir(exist_ok=True)
            for mime_icon in MIME_TYPES:
                shutil.copy2(source, size_dir / "mimetypes" / f"{mime_icon}{source.suffix}")
    for script in ("install.sh", "uninstall.sh"):
        shutil.copy2(LINUX / script, bundle / script)
        (bundle / script).chmod(0o755)
    validate(share)


def validate(share: Path) -> None:
    """Check the desktop file, metadata and MIME XML with the desktop's own tools."""
    checks = [
        ("desktop-file-validate", [str(share / "applications" / f"{APP_ID}.desktop")]),
        ("appstreamcli", ["validate", "--no-net", str(share / "metainfo" /
                                                      f"{APP_ID}.metainfo.xml")]),
    ]  # fmt: skip
    for tool, arguments in checks:
        if shutil.which(tool) is None:
            print(f"build: {tool} is not installed; {arguments[-1]} not validated")
            continue
        run([tool, *arguments])
    ET.parse(share / "mime" / "packages" / f"{APP_ID}.xml")  # well-formed at least
    if shutil.which("update-mime-database"):
        scratch = BUILD / "mime-check"
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.copytree(share / "mime", scratch)
        run(["update-mime-database", str(scratch)], capture_output=True)
        if "application/x-cairn-space" not in (scratch / "types").read_text("utf-8"):
            raise SystemExit("build: update-mime-database did not take the MIME types")


def unbundled_libraries(bundle: Path) -> set[str]:
    """Libraries Qt's desktop platform plugins need that are neither in the bundle nor
    on this machine: PyInstaller could not copy them, so users must have them."""
    if shutil.which("ldd") is None:
        return set()
    internal = bundle / "_internal"
    plugins = internal / "PySide6" / "Qt" / "plugins" / "platforms"
    environment = {**os.environ, "LD_LIBRARY_PATH": str(internal)}
    missing = set()
    for plugin in ("libqxcb.so", "libqwayland.so"):
        if (plugins / plugin).is_file():
            listing = subprocess.run(["ldd", str(plugins / plugin)], capture_output=True,
                                     text=True, env=environment).stdout  # fmt: skip
            missing |= {line.split()[0] for line in listing.splitlines() if "not found" in line}
    return missing


def smoke_test(program: Path, version: str) -> None:
    environment = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    shown = run([str(program), "--version"], capture_output=True, env=environment).stdout
    if shown.split() != ["cairn", version]:
        raise SystemExit(f"build: the program says {shown.strip()!r}, not 'cairn {version}'")
    run([str(program), "--self-check"], env=environment)


def archive(dist: Path, bundle: Path, version: str) -> Path:
    machine = platform.machine().lower() or "unknown"
    if sys.platform.startswith("linux"):
        path = dist / f"cairn-{version}-linux-{machine}.tar.gz"
        with tarfile.open(path, "w:gz", compresslevel=6) as tar:
            tar.add(bundle, arcname=f"cairn-{version}")
        return path
    system = "macos" if sys.platform == "darwin" else "windows"
    path = dist / f"cairn-{version}-{system}-{machine}.zip"
    if sys.platform == "darwin" and shutil.which("ditto"):
        # ditto keeps the symbolic links and attributes an app bundle needs.
        run(["ditto", "-c", "-k", "--sequesterRsrc", "--keepParent", str(bundle), str(path)])
        return path
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive_file:
        for entry in sorted(bundle.rglob("*")):
            archive_file.write(entry, Path(bundle.name) / entry.relative_to(bundle))
    return path


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="where to write")
    parser.add_argument("--no-archive", action="store_true", help="only the folder")
    parser.add_argument("--no-check", action="store_true",
                        help="skip running the built program's self-check")  # fmt: skip
    args = parser.parse_args(argv)
    started = time.monotonic()
    version = project_version()
    check_release_notes(version)
    dist = args.dist.resolve()

    shutil.rmtree(ICONS, ignore_errors=True)
    run([sys.executable, str(HERE / "make_icons.py"), str(ICONS)])
    run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
         "--distpath", str(dist), "--workpath", str(BUILD / "pyinstaller"),
         str(HERE / "cairn.spec")])  # fmt: skip
    folder = dist / "cairn"
    if sys.platform == "darwin":
        bundle, program = dist / "Cairn.app", dist / "Cairn.app" / "Contents" / "MacOS" / "cairn"
    else:
        bundle, program = folder, folder / ("cairn.exe" if sys.platform == "win32" else "cairn")
    if sys.platform.startswith("linux"):
        desktop_integration(bundle)
        if missing := unbundled_libraries(bundle):
            print(f"build: WARNING: not bundled, so needed on users' systems: "
                  f"{', '.join(sorted(missing))} (install them here and build again; "
                  "see packaging/README.md)")  # fmt: skip
    if not args.no_check:
        smoke_test(program, version)

    size, files = folder_size(bundle)
    print(f"\nbundle:  {bundle}  {megabytes(size)} unpacked, {files} files")
    if not args.no_archive:
        path = archive(dist, bundle, version)
        print(f"archive: {path}  {megabytes(path.stat().st_size)}")
    print(f"built Cairn {version} in {time.monotonic() - started:.0f} s")
    if size >= SIZE_LIMIT_MB * 1_000_000:
        print(f"build: the bundle is {megabytes(size)}, over the {SIZE_LIMIT_MB} MB limit",
              file=sys.stderr)  # fmt: skip
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
