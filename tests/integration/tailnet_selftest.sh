#!/usr/bin/env bash
# tailnet_selftest: the test tailnet itself works. Brings a tailnet up (tests/harness/tailnet.sh),
# starts bokeh_server.py in the server namespace, captures tailscale0 with tcpdump, runs one
# healthy IPv4 and one healthy IPv6 page load with client.py from the client namespace, and
# checks with tshark that the capture holds, per address family, the page GET, the five script
# GETs, a websocket 101 and the server's ACK and PULL-DOC-REPLY frames, and that the session
# ids agree between the client's token and the server's log. Tears everything down.
# Exits 77 with the reason when it cannot run here (not root, no netns/TUN, tools missing).
set -u
SRC=${OW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
H=$SRC/tests/harness
. "$H/lib.sh"

[ "$(id -u)" -eq 0 ] || h_skip "not root: network namespaces and TUN devices need root"
[ -c /dev/net/tun ] || h_skip "/dev/net/tun is not available"
ip netns list >/dev/null 2>&1 || h_skip "ip netns is not available"
"$H/setup.sh" --tsfwd --deps >/dev/null || h_skip "harness setup failed (tsfwd build or packages)"
for t in tcpdump tshark curl; do
    command -v $t >/dev/null || h_skip "$t is not installed"
done
"$HARNESS_PY" -c 'import tornado' 2>/dev/null || h_skip "python3-tornado is not installed"

W=$(mktemp -d "${TMPDIR:-/tmp}/ow-selftest.XXXXXX")
export TAILNET_STATE=$W/tailnet.state
TCPDUMP_PID=
cleanup() {
    [ -n "$TCPDUMP_PID" ] && h_kill_pid "$TCPDUMP_PID" tcpdump
    "$H/tailnet.sh" down >/dev/null 2>&1
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

FAILED=0 PASSED=0
check() { # check DESCRIPTION EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then
        PASSED=$((PASSED + 1))
        echo "ok: $1 ($3)"
    else
        FAILED=$((FAILED + 1))
        echo "FAIL: $1: expected $2, got $3"
    fi
}

"$H/tailnet.sh" up --stats
rc=$?
[ $rc -eq 77 ] && exit 77
[ $rc -eq 0 ] || h_die "tailnet up failed"
# shellcheck disable=SC1090
. "$TAILNET_STATE"

ip netns exec "$TAILNET_SERVER_NS" "$HARNESS_PY" "$H/bokeh_server.py" --small-static \
    --synth-dir "$HARNESS_BUILD/synth-static" --allow-websocket-origin '*' \
    --session-log "$W/sessions.jsonl" --ready-file "$W/server.ready" --log-level debug \
    >"$W/server.log" 2>&1 &
h_wait_for 20 test -s "$W/server.ready" || {
    cat "$W/server.log"
    h_die "bokeh_server.py did not start"
}
ip netns exec "$TAILNET_SERVER_NS" tcpdump -i tailscale0 -s 0 -B 16384 -Z root -w "$W/cap.pcap" \
    2>"$W/tcpdump.err" &
TCPDUMP_PID=$!
h_wait_for 10 grep -q "listening on" "$W/tcpdump.err" || h_die "tcpdump did not start"

for v in 1 2; do
    host=100.64.0.1
    [ $v = 2 ] && host='[fd7a:115c:a1e0::1]'
    ip netns exec "$TAILNET_CLIENT_NS" timeout 60 "$HARNESS_PY" "$H/client.py" \
        "http://$host:5006/bserve_test?visit=$v" >>"$W/clients.jsonl" || echo "client $v failed"
done
sleep 2.5 # tcpdump's ring retires its blocks after up to 1 s; let the last packets through
kill -INT "$TCPDUMP_PID"
h_wait_for 10 sh -c "! kill -0 $TCPDUMP_PID" || h_kill_pid "$TCPDUMP_PID" tcpdump
TCPDUMP_PID=

count() { tshark -r "$W/cap.pcap" -Y "$1" 2>/dev/null | wc -l | tr -d ' '; }
for fam in v4 v6; do
    if [ $fam = v4 ]; then
        c=ip.src==100.64.0.2 s=ip.src==100.64.0.1 visit=1
    else
        c=ipv6.src==fd7a:115c:a1e0::2 s=ipv6.src==fd7a:115c:a1e0::1 visit=2
    fi
    check "$fam page GET" 1 "$(count "$c && http.request.uri == \"/bserve_test?visit=$visit\"")"
    check "$fam script GETs" 5 "$(count "$c && http.request.uri matches \"^/static/js/bokeh[a-z-]*\\\\.min\\\\.js\\\\?v=[0-9a-f]{128}\$\"")"
    check "$fam websocket upgrade" 1 "$(count "$c && http.request.uri == \"/bserve_test/ws?visit=$visit\"")"
    check "$fam 101" 1 "$(count "$s && http.response.code == 101")"
    check "$fam ACK frame" 1 "$(count "$s && websocket && frame contains \"\\\"msgtype\\\": \\\"ACK\\\"\"")"
    check "$fam PULL-DOC-REPLY frame" 1 "$(count "$s && websocket && frame contains \"\\\"msgtype\\\": \\\"PULL-DOC-REPLY\\\"\"")"
    check "$fam client close 1001" 1 "$(count "$c && websocket.opcode == 8")"
done
# the token in each page is the one its websocket presented, and the server minted that session
"$HARNESS_PY" - "$W/clients.jsonl" "$W/sessions.jsonl" >"$W/ids.txt" <<'EOF'
import json, sys
clients = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
events = [json.loads(l) for l in open(sys.argv[2]) if l.startswith("{")]
created = {e["session_id"] for e in events if e["event"] == "session_created"}
opened = {e["session_id"] for e in events if e["event"] == "ws_pull_doc"}
ok = sum(1 for c in clients if c.get("what") == "rendered" and c.get("session_id") in created
         and c.get("session_id") in opened)
print(ok)
EOF
check "sessions rendered, token ids match the server log" 2 "$(cat "$W/ids.txt")"
echo "$PASSED passed, $FAILED failed"
[ $FAILED -eq 0 ]
