# Sourced by the setup scripts: `quiet_pip CMD...` runs pip and prints its output only when it
# fails (this machine's pip warns once per package about an absent local index otherwise).
quiet_pip() {
    local log
    log="$(mktemp)"
    if ! "$@" >"$log" 2>&1; then
        grep -v "is ignored: it is neither a file nor a directory" "$log" >&2 || true
        rm -f "$log"
        return 1
    fi
    rm -f "$log"
}
