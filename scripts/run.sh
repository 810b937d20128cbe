#!/usr/bin/env bash
# One command for users: set everything up, then caption the sample photos with the shipped model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m ml caption assets/samples "$@"
