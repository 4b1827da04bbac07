#!/usr/bin/env bash
# System packages the project uses, each for a reason:
#   espeak-ng    the TTS sidecar speaks the nine Indian languages (and English without Piper)
#   docker.io    dockerd, containerd, runc and the docker CLI: the container tests start their
#                own engine (harness/docker_engine.py) and build modelyard's image on it
#   debootstrap  builds the engine's base image from Debian's mirror (harness/base_image.py):
#                no image registry is reachable where the tests run; debian-archive-keyring
#                lets it check the mirror's signatures (only recommended, so named here)
#   chromium     the status page's browser tests drive it headless through Playwright
#                (Playwright's own browser download is not reachable); fonts-dejavu-core is
#                the font its screenshots draw text with, named rather than left to whichever
#                font package apt picks for fontconfig
# Installed with apt where this runs as root (CI does), in one apt-get call and only what is
# missing, so a rerun is a no-op. Anyone else is told the one command to run: without
# espeak-ng the TTS sidecar serves English through Piper only; without docker.io or
# debootstrap the container tests skip, saying why, and so do the browser tests without chromium.
set -euo pipefail

missing=()
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
# dockerd lives in /usr/sbin, which a non-root PATH may lack
command -v dockerd >/dev/null 2>&1 || [[ -x /usr/sbin/dockerd ]] || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || [[ -x /usr/sbin/debootstrap ]] || missing+=(debootstrap)
[[ -f /usr/share/keyrings/debian-archive-keyring.gpg ]] || missing+=(debian-archive-keyring)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]] || missing+=(fonts-dejavu-core)

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "system packages present: espeak-ng, docker.io, debootstrap, debian-archive-keyring," \
        "chromium, fonts-dejavu-core"
    exit 0
fi
if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${missing[*]} (apt)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    exit 0
fi
echo "WARNING: not installed: ${missing[*]} (espeak-ng: the TTS sidecar's Indian voices;" >&2
echo "         docker.io, debootstrap: the container tests; chromium: the browser tests;" >&2
echo "         those tests then skip)." >&2
echo "         Install them with: sudo apt-get install ${missing[*]}   (then make setup again)" >&2
