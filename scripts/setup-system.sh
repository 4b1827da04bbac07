#!/usr/bin/env bash
# System packages the speech sidecars use: espeak-ng speaks the nine Indian languages (and
# English when Piper is absent). Installed with apt where this runs as root (CI does); anyone
# else is told the one command to run, and the TTS sidecar then serves English through Piper.
set -euo pipefail

if command -v espeak-ng >/dev/null 2>&1; then
    echo "espeak-ng present: $(command -v espeak-ng)"
    exit 0
fi
if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null 2>&1; then
    echo "installing espeak-ng (apt)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends espeak-ng >/dev/null
    espeak-ng --version
    exit 0
fi
echo "WARNING: espeak-ng is not installed, so the TTS sidecar cannot speak Indian languages." >&2
echo "         Install it with: sudo apt-get install espeak-ng   (then run make setup again)" >&2
