#!/bin/sh
# Install Image Captioner for this user: the app folder under ~/.local/lib, a command in ~/.local/bin,
# the menu entry (with "Open with" for photos) and the icon. Run it from the unpacked release folder:
#   ./install.sh            install (again: replaces the installed copy)
#   ./install.sh --remove   remove what it installed
set -eu
here=$(cd "$(dirname "$0")" && pwd)
name=$(basename "$here")                     # ImageCaptioner or ImageCaptioner-caption
data=${XDG_DATA_HOME:-$HOME/.local/share}
target="$HOME/.local/lib/$name"
command="$HOME/.local/bin/image-captioner"
entry="$data/applications/image-captioner.desktop"
icon="$data/icons/hicolor/256x256/apps/image-captioner.png"

if [ "${1:-}" = "--remove" ]; then
  rm -rf "$target" "$command" "$entry" "$icon"
  echo "Removed Image Captioner."
  exit 0
fi
if [ "$here" != "$target" ]; then
  rm -rf "$target.new" && mkdir -p "$(dirname "$target")"
  cp -a "$here" "$target.new" && rm -rf "$target" && mv "$target.new" "$target"
fi
mkdir -p "$(dirname "$command")" "$(dirname "$entry")" "$(dirname "$icon")"
ln -sf "$target/$name" "$command"
cp "$target/_internal/assets/icons/app.png" "$icon"
sed "s|@EXEC@|\"$target/$name\"|" "$target/image-captioner.desktop" > "$entry"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$data/applications" || true
"$target/$name" --version
echo "Installed: menu entry 'Image Captioner', command $command, and 'Open with' for photos."
