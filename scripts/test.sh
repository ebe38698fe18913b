#!/usr/bin/env bash
# Sets everything up and runs the whole test suite, on SQLite and on the PostgreSQL at 127.0.0.1:5432.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
bash scripts/postgres.sh
bash scripts/litellm_venv.sh  # LiteLLM in its own venv for tests/ingest/test_litellm_real.py
if [ -f scripts/browser.sh ]; then bash scripts/browser.sh; fi
export DISTILLGUARD_TEST_POSTGRES_URL=${DISTILLGUARD_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
exec .venv/bin/python -m pytest "$@"
