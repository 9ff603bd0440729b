#!/bin/sh
# Install Cairn from this folder for you alone (no root needed):
#   the program     ~/.local/lib/cairn/        (a copy of this folder)
#   the command     ~/.local/bin/cairn
#   the menu entry, icons, file types (.cairn, .cairn-archive) and software-centre
#   metadata under ~/.local/share/
# PREFIX=/usr/local sudo ./install.sh installs for everyone instead.
# Your spaces are never touched: they live in ~/.local/share/cairn (see docs/install.md).
# ./uninstall.sh (copied beside the program) removes all of the above again.
set -eu

APP_ID=org.cairn_learning.Cairn
here=$(cd "$(dirname "$0")" && pwd)
if [ -n "${PREFIX:-}" ]; then
    data=$PREFIX/share
else
    PREFIX=$HOME/.local
    data=${XDG_DATA_HOME:-$HOME/.local/share}
fi
program=$PREFIX/lib/cairn
bin=$PREFIX/bin

if [ ! -x "$here/cairn" ] || [ ! -d "$here/share" ]; then
    echo "install.sh: run me from the unpacked Cairn folder (it holds 'cairn' and 'share')" >&2
    exit 2
fi

if [ "$here" != "$program" ]; then
    # A new version replaces the old one whole (never a mix of the two).
    mkdir -p "$PREFIX/lib"
    rm -rf "$program.new"
    cp -a "$here" "$program.new"
    rm -rf "$program"
    mv "$program.new" "$program"
fi

mkdir -p "$bin" "$data/applications" "$data/metainfo" "$data/mime/packages" "$data/icons"
ln -sf "$program/cairn" "$bin/cairn"
# The menu entry runs the installed program by its full path (quoted: it may hold spaces).
sed -e "s|^Exec=cairn |Exec=\"$program/cairn\" |" -e "s|^TryExec=cairn\$|TryExec=$program/cairn|" \
    "$program/share/applications/$APP_ID.desktop" > "$data/applications/$APP_ID.desktop"
cp "$program/share/metainfo/$APP_ID.metainfo.xml" "$data/metainfo/"
cp "$program/share/mime/packages/$APP_ID.xml" "$data/mime/packages/"
cp -R "$program/share/icons/hicolor" "$data/icons/"

# Tell the desktop (each tool is optional: without it, the next login notices).
command -v update-mime-database >/dev/null 2>&1 && update-mime-database "$data/mime" || true
command -v update-desktop-database >/dev/null 2>&1 \
    && update-desktop-database -q "$data/applications" || true
command -v gtk-update-icon-cache >/dev/null 2>&1 \
    && gtk-update-icon-cache -q -t -f "$data/icons/hicolor" 2>/dev/null || true
if [ "$PREFIX" = "$HOME/.local" ] && command -v xdg-mime >/dev/null 2>&1; then
    xdg-mime default "$APP_ID.desktop" application/x-cairn-space application/x-cairn-archive \
        2>/dev/null || true
fi

echo "Cairn $("$program/cairn" --version | cut -d' ' -f2) is installed in $program"
echo "  command: $bin/cairn   menu: Cairn (Education)   files: .cairn, .cairn-archive"
case ":$PATH:" in
    *":$bin:"*) ;;
    *) echo "  note: $bin is not on your PATH; the menu entry works all the same" ;;
esac
echo "  to remove it: $program/uninstall.sh   (your spaces stay where they are)"
