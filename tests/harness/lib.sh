# shellcheck shell=bash disable=SC2034
# lib.sh: shared paths and helpers for the harness scripts (sourced, not run).
# HARNESS_BUILD holds what setup.sh builds or fetches: tsfwd, the BokehJS cache, node modules.
HARNESS_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HARNESS_REPO=$(cd "$HARNESS_SRC/../.." && pwd)
HARNESS_BUILD=${OW_HARNESS_BUILD:-${OW_BUILD_DIR:-$HARNESS_REPO/build}/harness}
HARNESS_PY=/usr/bin/python3 # Debian's python3: it has python3-tornado (pyenv's does not)
TSFWD_BIN=$HARNESS_BUILD/tsfwd
BOKEHJS_VERSION=${OW_BOKEHJS_VERSION:-3.6.0}
BOKEHJS_DIR=$HARNESS_BUILD/bokehjs-$BOKEHJS_VERSION # js/<bundle>.min.js + VERSION

h_log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
h_die() {
    echo "error: $*" >&2
    exit 1
}
h_skip() {
    echo "SKIP: $*" >&2
    exit 77
}

# h_wait_for SECONDS CMD...: runs CMD every 0.1 s until it succeeds; 1 on timeout.
h_wait_for() {
    local end=$((SECONDS + $1)) t
    shift
    for ((t = 0; t < 100000; t++)); do
        "$@" >/dev/null 2>&1 && return 0
        ((SECONDS >= end)) && return 1
        sleep 0.1
    done
    return 1
}

# h_kill_pid PID [NAME]: TERM, wait up to 3 s, then KILL one process we started.
h_kill_pid() {
    local pid=$1 name=${2:-} i
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    if [ -n "$name" ] && ! grep -q -- "$name" "/proc/$pid/cmdline" 2>/dev/null; then
        return 0 # the pid was reused by something else: leave it alone
    fi
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 30; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    return 0
}
