#!/usr/bin/env bash
# What `make bench-compare` needs beyond the project's venv, each apart from it:
#   nginx          Debian's package: the practical floor of a proxy hop. bench/compare.py runs it
#                  as a foreground process of its own (generated config, temp prefix); the
#                  package's own service is never started here.
#   LiteLLM venv   `litellm[proxy]` in a venv of its own (MODELYARD_HOME/litellm-venv), built by
#                  scripts/setup-litellm.sh, which `make setup` also runs for the tests.
#   plot venv      matplotlib for bench/plots.py (MODELYARD_HOME/plot-venv): the project's venv
#                  stays light, and the plots read only the JSON the bench wrote.
# Idempotent: each venv carries a stamp of its recipe; a rerun with the same recipe is a no-op.
set -euo pipefail

HOME_DIR="${MODELYARD_HOME:-$HOME/.cache/modelyard}"
PYTHON="${PYTHON:-python3}"
MATPLOTLIB_SPEC="matplotlib==3.10.8"

# shellcheck source=scripts/quiet-pip.sh
source "$(dirname "${BASH_SOURCE[0]}")/quiet-pip.sh"

# venv DIR RECIPE CHECK SPEC...: (re)build DIR unless its stamp says RECIPE; CHECK is Python
# run in it afterwards.
venv() {
    local dir="$1" recipe="$2" check="$3"
    shift 3
    local stamp="$dir/.modelyard-recipe"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$recipe" ]]; then
        echo "bench venv up to date: $dir"
        return
    fi
    echo "building $dir ($*); a minute or two once"
    rm -rf "$dir"
    mkdir -p "$(dirname "$dir")"
    "$PYTHON" -m venv "$dir"
    quiet_pip "$dir/bin/pip" install --upgrade pip
    quiet_pip "$dir/bin/pip" install "$@"
    "$dir/bin/python" -c "$check"
    echo "$recipe" >"$stamp"
}

install_nginx() {
    # /usr/sbin is not on every PATH
    if command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]]; then
        echo "nginx present: $(/usr/sbin/nginx -v 2>&1 || nginx -v 2>&1)"
        return
    fi
    if [[ "$(id -u)" != "0" ]] || ! command -v apt-get >/dev/null 2>&1; then
        echo "WARNING: nginx is not installed; bench/compare.py will leave out the nginx path." >&2
        echo "         Install it with: sudo apt-get install nginx-light   (or nginx)" >&2
        return
    fi
    echo "installing nginx (apt)"
    export DEBIAN_FRONTEND=noninteractive
    # The package's postinst would start a system nginx on port 80: policy-rc.d says no
    # (invoke-rc.d's documented switch), for this install only.
    local policy=/usr/sbin/policy-rc.d own_policy=0
    if [[ ! -e "$policy" ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod +x "$policy"
        own_policy=1
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends nginx >/dev/null || status=$?
    [[ "$own_policy" == 1 ]] && rm -f "$policy"
    return "${status:-0}"
}

install_nginx
bash "$(dirname "$0")/setup-litellm.sh"
venv "$HOME_DIR/plot-venv" "v1 $MATPLOTLIB_SPEC" "import matplotlib" "$MATPLOTLIB_SPEC"
