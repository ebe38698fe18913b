#!/usr/bin/env bash
# Creates .venv-litellm: LiteLLM in a virtual environment of its own, so its pins never constrain ours.
# tests/ingest/test_litellm_real.py runs a real GenericAPILogger from it against a running distillguard.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
LITELLM_VERSION=${LITELLM_VERSION:-1.110.2}
PYTHON=${PYTHON:-python3}
VENV=.venv-litellm
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import importlib.metadata as m, sys; \
sys.exit(m.version('litellm') != '$LITELLM_VERSION')" 2>/dev/null; then
    exit 0
fi
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "litellm==$LITELLM_VERSION"
