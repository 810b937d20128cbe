#!/usr/bin/env bash
# A Debian package of one packaged build (scripts/build.sh runs it after each build):
#   packaging/linux/make_deb.sh dist/ImageCaptioner VERSION      -> dist/image-captioner_VERSION_amd64.deb
#   packaging/linux/make_deb.sh dist/ImageCaptioner-caption VERSION -> dist/image-captioner-caption_VERSION_amd64.deb
# Installs the app under /usr/lib/NAME, the command /usr/bin/image-captioner, the menu entry (with "Open with" for
# photos) and the icon; Debian's triggers refresh the menu and icon caches. The two builds share the command and the
# menu entry, so each Conflicts with and Replaces the other: apt says it removes the one installed.
# Depends: what scripts/system_libraries.py finds the packed files need from the system (docs/packaging.md), the
# ALSA library miniaudio opens for sound, and the font configuration Tk's text needs.
set -euo pipefail
folder=$1 version=$2
name=$(basename "$folder")                              # ImageCaptioner or ImageCaptioner-caption
case "$name" in
  *-caption) package=image-captioner-caption other=image-captioner what="describes photos and reads the description aloud (no training)" ;;
  *) package=image-captioner other=image-captioner-caption what="describes photos, reads the description aloud, trains its own models" ;;
esac
arch=$(dpkg --print-architecture)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/DEBIAN" "$root/usr/lib" "$root/usr/bin" "$root/usr/share/applications" \
         "$root/usr/share/icons/hicolor/256x256/apps"
cp -a "$folder" "$root/usr/lib/$package"
rm -f "$root/usr/lib/$package/install.sh" "$root/usr/lib/$package/image-captioner.desktop"
ln -s "../lib/$package/$name" "$root/usr/bin/image-captioner"
sed "s|@EXEC@|image-captioner|" packaging/linux/image-captioner.desktop > "$root/usr/share/applications/image-captioner.desktop"
cp "$folder/_internal/assets/icons/app.png" "$root/usr/share/icons/hicolor/256x256/apps/image-captioner.png"
cat > "$root/DEBIAN/control" <<CONTROL
Package: $package
Version: $version
Architecture: $arch
Maintainer: Image Captioner developers <image-captioner@users.noreply.github.com>
Installed-Size: $(du -sk "$root/usr" | cut -f1)
Depends: libc6 (>= 2.35), libstdc++6, libgcc-s1, libexpat1, libxcb1, libasound2 | libasound2t64, fontconfig-config, fonts-dejavu-core
Recommends: exiftool, ffmpeg
Conflicts: $other
Replaces: $other
Provides: image-captioner-app
Section: graphics
Priority: optional
Homepage: https://github.com/image-captioner/image-captioner
Description: Image Captioner: $what
 A desktop app that writes a sentence about a photo (a CNN encoder and an LSTM
 decoder trained on Flickr8k) and speaks it (espeak-ng, carried in the package).
 It says when it is not sure, names what its ImageNet classifier recognises, can be
 used entirely by keyboard, and captions whole folders.
CONTROL
deb="dist/${package}_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz -b "$root" "$deb" >/dev/null
echo "$deb"
