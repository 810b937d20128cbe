#!/usr/bin/env bash
# Build the packaged app and its release archive (Linux here; see README for Windows and macOS):
#   scripts/build.sh [full|caption|both]      (default: both)
# full:    dist/ImageCaptioner/          caption, speak and train (TensorFlow: tensorflow-cpu)
# caption: dist/ImageCaptioner-caption/  caption and speak only (LiteRT + numpy, no TensorFlow)
# Each build gets the desktop entry and install script, and an archive dist/NAME-VERSION-linux-ARCH.tar.xz
# (xz is in every base system; zstd was not, so a minimal system could not unpack the .tar.zst), and a Debian
# package dist/PACKAGE_VERSION_ARCH.deb (packaging/linux/make_deb.sh: apt install ./that.deb).
# Symbol tables are stripped from the libraries listed below (TensorFlow, LiteRT, Python, exiv2, h5py,
# Pillow, matplotlib ...; 22 MiB of the full build), not by PyInstaller's strip=True: that also strips
# numpy's OpenBLAS, which then fails to load.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >&2
version=$(.venv/bin/python -c "from ml.core.defaults import VERSION; print(VERSION)")

glibc_needed() {  # the newest glibc symbol version any bundled ELF file asks for
  find "$1" -type f \( -name '*.so*' -o -perm -u+x \) -print0 |
    xargs -0 objdump -T 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -Vu | tail -1
}

package_assets() {  # what build.spec packs instead of the source tree's model and torch weight files
  mkdir -p build/package-assets/models build/package-assets/encoders
  .venv/bin/python -c "from ml.model_file import caption_only_copy as copy; \
    copy('assets/models/default.captioner', 'build/package-assets/models/default.captioner')"
  [ -f build/package-assets/encoders/efficientnet-lite0.tflite ] || TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python -c \
    "from ml.encoders.litert import convert_encoder as convert; \
     convert('efficientnet-lite0', 'build/package-assets/encoders/efficientnet-lite0.tflite')" 2>/dev/null
}

build() {
  local name=$1; shift
  rm -rf "dist/$name" "build/$name"
  .venv/bin/pyinstaller --noconfirm --log-level WARN --distpath dist --workpath "build/$name" build.spec -- "$@" >&2
  local folder="dist/$name"
  find "$folder/_internal" \( -path '*/tensorflow/*.so*' -o -path '*/ai_edge_litert/*.so*' \
    -o -name 'libpython3*.so*' -o -path '*/pyexiv2/*.so*' -o -path '*/h5py*/*.so*' -o -path '*/kiwisolver/*.so*' \
    -o -path '*/pillow.libs/*.so*' -o -path '*/PIL/*.so*' -o -path '*/regex/*.so*' -o -path '*/matplotlib/*.so*' \
    -o -path '*/lib-dynload/*.so*' -o -path '*/rpds/*.so*' -o -path '*/ml_dtypes/*.so*' \) \
    -type f -exec strip --strip-unneeded {} +
  cp packaging/linux/image-captioner.desktop packaging/linux/install.sh "$folder/"
  local archive="dist/$name-$version-linux-$(uname -m).tar.xz"
  tar -C dist -cf - "$name" | xz -T0 -6 -c > "$archive"
  local deb
  deb=$(bash packaging/linux/make_deb.sh "$folder" "$version")
  echo "$name: folder $(du -sm --apparent-size "$folder" | cut -f1) MiB, archive $(( $(stat -c %s "$archive") / 1048576 )) MiB" \
       "($archive), needs $(glibc_needed "$folder"); .deb $(( $(stat -c %s "$deb") / 1048576 )) MiB ($deb)"
}

package_assets
case "${1:-both}" in
  full) build ImageCaptioner ;;
  caption) build ImageCaptioner-caption --caption-only ;;
  both) build ImageCaptioner; build ImageCaptioner-caption --caption-only ;;
  *) echo "usage: scripts/build.sh [full|caption|both]" >&2; exit 2 ;;
esac
