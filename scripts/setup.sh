#!/usr/bin/env bash
# Set up everything the app and its tests need on a fresh Debian/Ubuntu machine:
# system packages (speech engine, virtual screen for tests, debootstrap for the packages' bare-system test)
# and a .venv with the Python packages.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES="espeak-ng alsa-utils sox xvfb xdotool xclip imagemagick libimage-exiftool-perl python3-tk python3-venv binutils wordnet-base wordnet-sense-index debootstrap"
if command -v apt-get >/dev/null 2>&1; then
  missing=$(for p in $APT_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
  if [ -n "$missing" ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "Installing system packages: $missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
  fi
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
stamp=.venv/.requirements-$(cat requirements.txt requirements-dev.txt requirements-cluster.txt pyproject.toml | sha1sum | cut -c1-12)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  # tensorflow and tensorflow-cpu install the same package: an older setup's tensorflow goes first
  if .venv/bin/python -m pip show -q tensorflow >/dev/null 2>&1 && ! .venv/bin/python -m pip show -q tensorflow-cpu >/dev/null 2>&1 \
     && .venv/bin/python -c "import platform, sys; sys.exit(platform.machine() not in ('x86_64', 'AMD64'))"; then
    .venv/bin/python -m pip uninstall -q -y tensorflow
  fi
  .venv/bin/python -m pip install -q -r requirements-dev.txt
  # The project itself, editable (pyproject.toml): scripts, benchmarks and tests import ml and app from any folder
  # (compat mode: a plain path entry, so a script run in another checkout, e.g. a benchmark's baseline worktree, imports that checkout's code)
  .venv/bin/python -m pip install -q --no-deps --no-build-isolation --config-settings editable_mode=compat -e .
  rm -f .venv/.requirements-* && touch "$stamp"
fi
