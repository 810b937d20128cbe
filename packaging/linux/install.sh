#!/bin/sh
# Install Image Captioner for this user: the app folder under ~/.local/lib, a command in ~/.local/bin,
# the menu entry (with "Open with" for photos) and the icon. Run it from the unpacked release folder:
#   ./install.sh            install (again: replaces the installed copy)
#   ./install.sh --remove   remove what it installed
set -eu
here=$(cd "$(dirname "$0")" && pwd)
name=$(basename "$here")                     # ImageCaptioner or ImageCaptioner-caption
case "$name" in                              # the other build: they share the command and the menu entry
  *-caption) other=${name%-caption} ;;
  *) other="$name-caption" ;;
esac
other_target="$HOME/.local/lib/$other"
data=${XDG_DATA_HOME:-$HOME/.local/share}
target="$HOME/.local/lib/$name"
command="$HOME/.local/bin/image-captioner"
entry="$data/applications/image-captioner.desktop"
icon="$data/icons/hicolor/256x256/apps/image-captioner.png"

refresh_menu() {  # the desktop's list of applications and of what opens photos (mimeinfo.cache)
  command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$data/applications" || true
}

if [ "${1:-}" = "--remove" ]; then
  rm -rf "$target" "$other_target" "$command" "$entry" "$icon"
  refresh_menu
  echo "Removed Image Captioner."
  exit 0
fi
if [ -d "$other_target" ]; then
  echo "Replacing the installed $other: the two builds share the command and the menu entry."
  rm -rf "$other_target"
fi
if [ "$here" != "$target" ]; then
  rm -rf "$target.new" && mkdir -p "$(dirname "$target")"
  cp -a "$here" "$target.new" && rm -rf "$target" && mv "$target.new" "$target"
fi
mkdir -p "$(dirname "$command")" "$(dirname "$entry")" "$(dirname "$icon")"
ln -sf "$target/$name" "$command"
cp "$target/_internal/assets/icons/app.png" "$icon"
sed "s|@EXEC@|\"$target/$name\"|" "$target/image-captioner.desktop" > "$entry"
refresh_menu
"$target/$name" --version
echo "Installed: menu entry 'Image Captioner', command $command, and 'Open with' for photos."
case ":$PATH:" in
  *":$HOME/.local/bin:"*) ;;
  *) echo "Note: $HOME/.local/bin is not on your PATH in this session; after logging in again the command"
     echo "image-captioner works, or run $command now." ;;
esac
