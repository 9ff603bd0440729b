#!/bin/sh
# Remove what install.sh put in place: the program, the command, the menu entry,
# icons, file types and metadata. Your spaces (~/.local/share/cairn by default, or
# wherever you saved them), your settings and your own templates are NOT removed.
set -eu

APP_ID=org.cairn_learning.Cairn
if [ -n "${PREFIX:-}" ]; then
    data=$PREFIX/share
else
    PREFIX=$HOME/.local
    data=${XDG_DATA_HOME:-$HOME/.local/share}
fi
program=$PREFIX/lib/cairn

link=$PREFIX/bin/cairn
if [ -L "$link" ] && [ "$(readlink "$link")" = "$program/cairn" ]; then
    rm -f "$link"
fi
rm -f "$data/applications/$APP_ID.desktop" "$data/metainfo/$APP_ID.metainfo.xml" \
      "$data/mime/packages/$APP_ID.xml"
for icon in "$data"/icons/hicolor/*/apps/"$APP_ID".png "$data"/icons/hicolor/*/apps/"$APP_ID".svg \
            "$data"/icons/hicolor/*/mimetypes/application-x-cairn-*.png \
            "$data"/icons/hicolor/*/mimetypes/application-x-cairn-*.svg; do
    rm -f "$icon"
done
case "$program" in
    */lib/cairn) rm -rf "$program" ;;
esac

command -v update-mime-database >/dev/null 2>&1 && update-mime-database "$data/mime" || true
command -v update-desktop-database >/dev/null 2>&1 \
    && update-desktop-database -q "$data/applications" || true
command -v gtk-update-icon-cache >/dev/null 2>&1 \
    && gtk-update-icon-cache -q -t -f "$data/icons/hicolor" 2>/dev/null || true

echo "Cairn is uninstalled. Your spaces were not touched: by default they are in"
echo "  ${XDG_DATA_HOME:-$HOME/.local/share}/cairn"
echo "and your settings in ${XDG_CONFIG_HOME:-$HOME/.config}/Cairn and ${XDG_CONFIG_HOME:-$HOME/.config}/cairn."
