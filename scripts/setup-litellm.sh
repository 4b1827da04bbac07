#!/usr/bin/env bash
# LiteLLM's proxy in a venv of its own (MODELYARD_HOME/litellm-venv), apart from the project's:
# `litellm[proxy]` brings ~200 dependencies that must not disturb the project's venv. Two things
# run it: the test of modelyard behind LiteLLM's proxy (tests/integration/test_litellm_front.py)
# and `make bench-compare` (bench/hops.py). The project's own `litellm` extra (remote servers,
# import-litellm) is the SDK alone and lives in .venv; this venv is the proxy a user would run.
# Idempotent: the venv carries a stamp of its recipe; a rerun with the same recipe is a no-op,
# and a half-built venv (no stamp) is rebuilt from scratch.
set -euo pipefail

HOME_DIR="${MODELYARD_HOME:-$HOME/.cache/modelyard}"
VENV_DIR="$HOME_DIR/litellm-venv"
PYTHON="${PYTHON:-python3}"
# Pinned exactly: LiteLLM releases often, and some of its PyPI releases were compromised builds
# (since withdrawn); an exact pin never picks up a new one unseen. 1.106.12: the newest whose
# `proxy` extra resolves from PyPI here (1.108 and later name litellm-proxy-extras and
# litellm-proxy releases that PyPI does not have). The same pin as the project's extra.
LITELLM_SPEC="litellm[proxy]==1.106.12"
# The recipe: change it and the venv is rebuilt.
RECIPE="v1 $LITELLM_SPEC"
STAMP="$VENV_DIR/.modelyard-recipe"
# Offline, LiteLLM's import would first try to fetch its price map from GitHub.
CHECK="import os; os.environ['LITELLM_LOCAL_MODEL_COST_MAP'] = 'True'; import litellm.proxy.proxy_server"

# shellcheck source=scripts/quiet-pip.sh
source "$(dirname "${BASH_SOURCE[0]}")/quiet-pip.sh"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$RECIPE" ]]; then
    echo "LiteLLM venv up to date: $VENV_DIR"
    exit 0
fi
echo "building $VENV_DIR ($LITELLM_SPEC); about two minutes once"
rm -rf "$VENV_DIR"
mkdir -p "$HOME_DIR"
"$PYTHON" -m venv "$VENV_DIR"
quiet_pip "$VENV_DIR/bin/pip" install --upgrade pip
quiet_pip "$VENV_DIR/bin/pip" install "$LITELLM_SPEC"
"$VENV_DIR/bin/python" -c "$CHECK"
echo "$RECIPE" >"$STAMP"
echo "LiteLLM venv ready: $VENV_DIR"
