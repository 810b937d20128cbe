#!/usr/bin/env bash
# One command for users: set everything up, then open the app (on the shipped model).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m app "$@"
