#!/usr/bin/env bash
# Sets everything up and runs the main job on embedded defaults (SQLite under ./var):
# simulate a population, ingest it, run detection and serve the review console.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec .venv/bin/distillguard demo "$@"
