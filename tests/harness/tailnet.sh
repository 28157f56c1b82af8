#!/usr/bin/env bash
# tailnet.sh: a Tailscale-like tailnet for tests. Two network namespaces (server, client), each
# with a TUN device named tailscale0 (MTU 1280; 100.64.0.1/10 + fd7a:115c:a1e0::1/48 on the
# server, .2/::2 on the client), joined by the userspace forwarder tsfwd, which can inject faults.
#
#   tailnet.sh up [--vnet] [--mtu-probing 0|1] [--prefix P] [TSFWD OPTIONS...]
#   tailnet.sh exec server|client CMD [ARGS...]
#   tailnet.sh status | stats | env
#   tailnet.sh down
#
# TSFWD OPTIONS: --blackhole-over N, --blackhole-fraction F, --seed S, --loss P, --delay MS,
# --stats, -v (see tsfwd --help). The state (namespace names, tsfwd pid, flags) goes to the file
# named by $TAILNET_STATE (default /tmp/ow-tailnet.state): give each parallel run its own.
# The file is shell-sourceable: TAILNET_SERVER_NS, TAILNET_CLIENT_NS, TAILNET_DIR, TSFWD_PID,
# TSFWD_FLAGS, TAILNET_VNET, TAILNET_MTU_PROBING, TAILNET_SERVER_V4/V6, TAILNET_CLIENT_V4/V6.
# `down` is idempotent and always cleans up what the state file names; callers should trap it.
# Exits 77 (skip) when not root or when network namespaces or /dev/net/tun are unavailable.
set -u
. "$(dirname "$0")/lib.sh"

STATE=${TAILNET_STATE:-/tmp/ow-tailnet.state}
IFNAME=tailscale0
MTU=1280
SERVER_V4=100.64.0.1 CLIENT_V4=100.64.0.2 V4_PLEN=10
SERVER_V6=fd7a:115c:a1e0::1 CLIENT_V6=fd7a:115c:a1e0::2 V6_PLEN=48

# A TCP SYN to a closed port answered by a RST proves the path works both ways (no ping needed).
PATH_PROBE='import socket, sys
a = sys.argv[1]
s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET)
s.settimeout(1)
try:
    s.connect((a, 9))
except ConnectionRefusedError:
    sys.exit(0)
except OSError:
    sys.exit(1)
sys.exit(0)'

usage() {
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
    exit "${1:-2}"
}

check_environment() {
    [ "$(id -u)" -eq 0 ] || h_skip "tailnet needs root (network namespaces, TUN devices)"
    command -v ip >/dev/null || h_skip "iproute2 (ip) is not installed"
    [ -c /dev/net/tun ] || h_skip "/dev/net/tun is not available"
    ip netns list >/dev/null 2>&1 || h_skip "ip netns does not work here"
}

# nsx NS CMD...: run CMD inside namespace NS
nsx() {
    local ns=$1
    shift
    ip netns exec "$ns" "$@"
}

write_state() {
    cat >"$STATE.tmp" <<EOS
TAILNET_SERVER_NS=$S_NS
TAILNET_CLIENT_NS=$C_NS
TAILNET_DIR=$WORK
TSFWD_PID=${TSFWD_PID:-}
TSFWD_FLAGS='${TSFWD_FLAGS}'
TAILNET_VNET=$VNET
TAILNET_MTU_PROBING=$MTU_PROBING
TAILNET_IFNAME=$IFNAME
TAILNET_SERVER_V4=$SERVER_V4
TAILNET_SERVER_V6=$SERVER_V6
TAILNET_CLIENT_V4=$CLIENT_V4
TAILNET_CLIENT_V6=$CLIENT_V6
EOS
    mv "$STATE.tmp" "$STATE"
}

configure_side() { # configure_side NS V4 V6
    local ns=$1 v4=$2 v6=$3
    nsx "$ns" sysctl -qw "net.ipv6.conf.$IFNAME.accept_ra=0" "net.ipv6.conf.$IFNAME.accept_dad=0" \
        "net.ipv6.conf.$IFNAME.router_solicitations=0" >/dev/null || return 1
    nsx "$ns" ip link set "$IFNAME" addrgenmode none 2>/dev/null || true # no link-local: no RS
    nsx "$ns" ip link set "$IFNAME" mtu $MTU multicast off || return 1     # multicast off: no MLD
    nsx "$ns" ip addr add "$v4/$V4_PLEN" dev "$IFNAME" || return 1
    nsx "$ns" ip -6 addr add "$v6/$V6_PLEN" dev "$IFNAME" nodad || return 1
    nsx "$ns" ip link set "$IFNAME" up || return 1
}

tailnet_up() {
    VNET=0 MTU_PROBING=0 PREFIX=owtn
    local fwd=()
    while [ $# -gt 0 ]; do
        case $1 in
        --vnet) VNET=1 ;;
        --mtu-probing)
            MTU_PROBING=${2:?--mtu-probing needs 0, 1 or 2}
            shift
            ;;
        --prefix)
            PREFIX=${2:?}
            shift
            ;;
        -h | --help) usage 0 ;;
        *) fwd+=("$1") ;;
        esac
        shift
    done
    case $MTU_PROBING in 0 | 1 | 2) ;; *) h_die "--mtu-probing must be 0, 1 or 2" ;; esac
    check_environment
    if [ -f "$STATE" ]; then
        # shellcheck disable=SC1090
        (. "$STATE" && ip netns list | grep -qw "$TAILNET_SERVER_NS") &&
            h_die "a tailnet is already up (state $STATE): run 'tailnet.sh down' first"
        rm -f "$STATE"
    fi
    [ -x "$TSFWD_BIN" ] && [ "$TSFWD_BIN" -nt "$HARNESS_SRC/tsfwd.c" ] ||
        "$HARNESS_SRC/setup.sh" --tsfwd >/dev/null || h_die "cannot build tsfwd"

    S_NS="$PREFIX-$$-srv" C_NS="$PREFIX-$$-cli"
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/ow-tailnet.$$.XXXXXX") || h_die "mktemp failed"
    TSFWD_FLAGS="${fwd[*]:-}"
    [ $VNET -eq 1 ] && TSFWD_FLAGS="--vnet${TSFWD_FLAGS:+ $TSFWD_FLAGS}"
    TSFWD_PID=
    write_state # from here on, `down` can clean up whatever exists
    trap 'echo "tailnet up failed; cleaning up" >&2; tailnet_down; exit 1' ERR
    set -E

    ip netns add "$S_NS" || false
    ip netns add "$C_NS" || false
    nsx "$S_NS" ip link set lo up || false
    nsx "$C_NS" ip link set lo up || false
    nsx "$S_NS" sysctl -qw "net.ipv4.tcp_mtu_probing=$MTU_PROBING" || false

    local vnet_flag=()
    [ $VNET -eq 1 ] && vnet_flag=(--vnet)
    setsid "$TSFWD_BIN" --server-ns "$S_NS" --client-ns "$C_NS" --ifname "$IFNAME" \
        "${vnet_flag[@]}" --ready-file "$WORK/tsfwd.ready" "${fwd[@]}" \
        </dev/null >>"$WORK/tsfwd.log" 2>&1 &
    TSFWD_PID=$!
    write_state
    if ! h_wait_for 5 test -s "$WORK/tsfwd.ready"; then
        cat "$WORK/tsfwd.log" >&2
        false
    fi
    TSFWD_PID=$(cat "$WORK/tsfwd.ready")
    write_state
    configure_side "$S_NS" $SERVER_V4 $SERVER_V6 || false
    configure_side "$C_NS" $CLIENT_V4 $CLIENT_V6 || false
    # the link must carry traffic both ways, over IPv4 and IPv6, before we say it is up
    h_wait_for 5 nsx "$C_NS" "$HARNESS_PY" -c "$PATH_PROBE" $SERVER_V4 || { echo "no IPv4 path" >&2 && false; }
    h_wait_for 5 nsx "$C_NS" "$HARNESS_PY" -c "$PATH_PROBE" $SERVER_V6 || { echo "no IPv6 path" >&2 && false; }
    trap - ERR
    set +E
    h_log "tailnet up: server ns $S_NS ($SERVER_V4, $SERVER_V6), client ns $C_NS ($CLIENT_V4," \
        "$CLIENT_V6), tsfwd pid $TSFWD_PID ${TSFWD_FLAGS:+($TSFWD_FLAGS)}, server" \
        "tcp_mtu_probing=$MTU_PROBING; state $STATE"
}

load_state() {
    [ -f "$STATE" ] || return 1
    # shellcheck disable=SC1090
    . "$STATE"
    S_NS=$TAILNET_SERVER_NS C_NS=$TAILNET_CLIENT_NS WORK=$TAILNET_DIR
}

kill_ns_processes() { # every process left inside one of our namespaces was started by us
    local ns=$1 pids pid i
    ip netns list 2>/dev/null | grep -qw -- "$ns" || return 0
    for ((i = 0; i < 3; i++)); do
        pids=$(ip netns pids "$ns" 2>/dev/null)
        [ -z "$pids" ] && return 0
        for pid in $pids; do
            kill -TERM "$pid" 2>/dev/null
        done
        h_wait_for 3 test -z "$(ip netns pids "$ns" 2>/dev/null)" && return 0
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null
        done
        sleep 0.2
    done
}

tailnet_down() {
    load_state || return 0
    kill_ns_processes "$S_NS"
    kill_ns_processes "$C_NS"
    if [ -n "${TSFWD_PID:-}" ]; then
        h_kill_pid "$TSFWD_PID" tsfwd
    fi
    [ -f "$WORK/tsfwd.log" ] && tail -n 3 "$WORK/tsfwd.log" | grep "tsfwd:" >&2
    ip netns del "$S_NS" 2>/dev/null
    ip netns del "$C_NS" 2>/dev/null
    case $WORK in "${TMPDIR:-/tmp}"/ow-tailnet.*) rm -rf "$WORK" ;; esac
    rm -f "$STATE"
    return 0
}

tailnet_exec() {
    local side=${1:-}
    shift || true
    load_state || h_die "no tailnet is up (state $STATE)"
    [ $# -gt 0 ] || h_die "usage: tailnet.sh exec server|client CMD..."
    case $side in
    server) exec ip netns exec "$S_NS" "$@" ;;
    client) exec ip netns exec "$C_NS" "$@" ;;
    *) h_die "exec: side must be server or client" ;;
    esac
}

tailnet_status() {
    load_state || {
        echo "down"
        return 1
    }
    echo "up: server ns $S_NS, client ns $C_NS, tsfwd pid $TSFWD_PID ($TSFWD_FLAGS), vnet $TAILNET_VNET, mtu_probing $TAILNET_MTU_PROBING"
    nsx "$S_NS" ip -br addr show dev "$IFNAME"
    nsx "$C_NS" ip -br addr show dev "$IFNAME"
}

tailnet_stats() {
    load_state || h_die "no tailnet is up (state $STATE)"
    kill -USR1 "$TSFWD_PID" 2>/dev/null && sleep 0.3
    grep "tsfwd:" "$WORK/tsfwd.log" | tail -n 2
}

cmd=${1:-}
shift || true
case $cmd in
up) tailnet_up "$@" ;;
down) tailnet_down ;;
exec) tailnet_exec "$@" ;;
status) tailnet_status ;;
stats) tailnet_stats ;;
env)
    load_state || h_die "no tailnet is up (state $STATE)"
    cat "$STATE"
    ;;
-h | --help | help) usage 0 ;;
*) usage 2 ;;
esac
