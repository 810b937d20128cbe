#!/usr/bin/env bash
# One command for developers and CI: set everything up, then run all tests on a virtual screen
# (xvfb-run -a picks a free display number and waits for the server before pytest starts).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -z "${DISPLAY:-}" ]; then
  exec xvfb-run -a -s "-screen 0 1400x900x24 -nolisten tcp" .venv/bin/python -m pytest "$@"
fi
exec .venv/bin/python -m pytest "$@"
