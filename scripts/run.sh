#!/usr/bin/env bash
# One command for users: set everything up, then open the app (on the active model, the shipped one at
# first). A photo given (scripts/run.sh photo.jpg) is described at once.
set -euo pipefail
photos=()
for arg in "$@"; do  # photo paths are relative to where the user is, not to the app's folder
  if [ -e "$arg" ]; then photos+=("$(realpath "$arg")"); else photos+=("$arg"); fi
done
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m app "${photos[@]+"${photos[@]}"}"
