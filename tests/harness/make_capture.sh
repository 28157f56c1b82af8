#!/usr/bin/env bash
# make_capture.sh: records one scenario as a pcap plus its JSON ground truth, in the format of
# the shared captures (../shared/captures/README.md).
#
#   make_capture.sh [--tail S] [--keep-work DIR] SCENARIO OUT.pcap OUT.json
#   make_capture.sh --list
#
# Brings a tailnet up (tailnet.sh), starts bokeh_server.py in the server namespace, runs
# `tcpdump -i tailscale0 -s 0` there, runs the scenario's page loads from the client namespace
# (client.py, curl, or headless Chromium), waits --tail seconds (default 20) after the last
# page load so every grace time has passed, ends the capture with a browser-less favicon GET
# (/APP/metadata in black-hole scenarios, where the favicon would not get through),
# writes OUT.json (manifest.py) and tears everything down, on failure too.
# Exit: 0 ok, 1 failure (the reason is printed), 77 cannot run here (not root, no netns/TUN,
# or chromium missing for a chromium scenario).
set -u
. "$(dirname "$0")/lib.sh"

TAIL=20
KEEP_WORK=
PORT=5006
PORT_B=5007
APP=bserve_test
SV4=100.64.0.1
SV6='[fd7a:115c:a1e0::1]'
CLIENT_TIMEOUT=120 # hard bound on any one client run
# tcpdump's kernel ring hands packets over in blocks retired after up to 1 s: packets that
# arrive less than that before SIGINT are counted "received by filter" but never written
TCPDUMP_SETTLE=2.5

usage() {
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
    echo "scenarios:"
    list_scenarios | sed 's/^/  /'
    exit "${1:-2}"
}

list_scenarios() {
    declare -F | awk '{print $3}' | grep '^scen_' | sed 's/^scen_//; s/_/-/g'
}

# ------------------------------------------------------------------ scenario definitions
# Each sets DESC, TN_ARGS (tailnet.sh up), SRV_A (and SRV_B: a second server on PORT_B), and
# defines run_scenario, which calls visit/curl_visit. Expectations follow bokeh-wire.md 8.

SMALL=(--small-static --allow-websocket-origin '*')

scen_healthy_v6() {
    DESC="Clean tunnel, IPv6 only. bokeh_server.py (small synthesized bundles, --allow-websocket-origin=*); client.py page loads of http://[fd7a:115c:a1e0::1]:5006/bserve_test?visit=N: visits 1-2 cold (page, 5 scripts, websocket, favicon), 3-4 warm (page and websocket only). All connect: 101, ACK, PULL-DOC-REPLY, client PATCH-DOC document_ready, OK, close 1001. A good analyzer reports 4 connected page loads over IPv6."
    SRV_A=("${SMALL[@]}")
    run_scenario() {
        visit 1 v6 connected - rendered
        visit 2 v6 connected - rendered
        visit 3 v6 connected - rendered --warm
        visit 4 v6 connected - rendered --warm
    }
}

scen_mixed_v4v6() {
    DESC="Clean tunnel. The same client alternates IPv4 (100.64.0.1) and IPv6 ([fd7a:115c:a1e0::1]) page loads of the same app: visits 1 (v4) and 2 (v6) cold, 3 (v4) and 4 (v6) warm. Each page's websocket uses the page's address family. A good analyzer reports 4 connected page loads, 2 per family, and does not mix up sessions across families."
    SRV_A=("${SMALL[@]}")
    run_scenario() {
        visit 1 v4 connected - rendered
        visit 2 v6 connected - rendered
        visit 3 v4 connected - rendered --warm
        visit 4 v6 connected - rendered --warm
    }
}

scen_script_404() {
    DESC="The server lacks the core bundle (bokeh_server.py --fail-static bokeh): the page lists /static/js/bokeh.min.js?v=None and that GET is answered 404 (69-byte Tornado error page) while the four plugins load. Without the core BokehJS never runs, so no websocket follows (visits 1-2, cold, IPv4): orphan, cause script_failed. Visit 3 is warm (scripts from cache) and connects normally (control)."
    SRV_A=("${SMALL[@]}" --fail-static bokeh)
    run_scenario() {
        visit 1 v4 orphan script_failed 'script_failed:bokeh'
        visit 2 v4 orphan script_failed 'script_failed:bokeh'
        visit 3 v4 connected - rendered --warm
    }
}

scen_plugin_404() {
    DESC="The server lacks one plugin bundle (--fail-static bokeh-widgets: ?v=None, 404). BokehJS core loads, so the websocket opens and the document is pulled (ACK, PULL-DOC-REQ, PULL-DOC-REPLY), but the browser cannot build the document and never sends PATCH-DOC; the websocket idles until the tab closes (1001). Visits 1-2 cold, IPv4: outcome connected, cause render_failed."
    SRV_A=("${SMALL[@]}" --fail-static bokeh-widgets)
    run_scenario() {
        visit 1 v4 connected render_failed 'render_failed:plugin_failed' --hold 3
        visit 2 v4 connected render_failed 'render_failed:plugin_failed' --hold 3
    }
}

scen_script_stall() {
    DESC="One bundle stalls (bokeh_server.py --stall-static bokeh-gl): the server sends the 200 headers and 40% of the body, then nothing more while the connection stays open. The page's parser-blocking scripts never finish, so no websocket is opened; the client gives up after 20 s (connections closed, like a closed tab). Visits 1-2 cold, IPv4: orphan, cause script_stalled. Visit 3 warm connects (control)."
    SRV_A=("${SMALL[@]}" --stall-static bokeh-gl)
    run_scenario() {
        visit 1 v4 orphan script_stalled 'script_stalled:bokeh-gl' --script-timeout 20
        visit 2 v4 orphan script_stalled 'script_stalled:bokeh-gl' --script-timeout 20
        visit 3 v4 connected - rendered --warm
    }
}

scen_token_expired() {
    DESC="Short token lifetime (bokeh_server.py --token-expiration 3) and a client that opens the websocket 5 s after its scripts (client.py --delay-ws 5): the server answers 101, then at once an empty close frame (88 00) and FIN, no ACK (log: ProtocolError Token is expired). Visits 1-2 cold, IPv4: outcome ws_no_doc, cause token_expired. Visit 3 opens the websocket at once and connects (control)."
    SRV_A=("${SMALL[@]}" --token-expiration 3)
    run_scenario() {
        visit 1 v4 ws_no_doc token_expired ws_closed_before_ack --delay-ws 5
        visit 2 v4 ws_no_doc token_expired ws_closed_before_ack --delay-ws 5
        visit 3 v4 connected - rendered
    }
}

scen_render_failed() {
    DESC="All scripts load and the websocket connects (101, ACK, PULL-DOC-REQ, PULL-DOC-REPLY), but the client then stays silent (client.py --no-patch: a browser-side render error) and closes with 1001 after 3 s. Visits 1-2 cold, IPv4: outcome connected, cause render_failed (no client PATCH-DOC after the reply)."
    SRV_A=("${SMALL[@]}")
    run_scenario() {
        visit 1 v4 connected render_failed render_failed --no-patch --hold 3
        visit 2 v4 connected render_failed render_failed --no-patch --hold 3
    }
}

scen_ws_never() {
    DESC="The client fetches the page and all five scripts (200, complete), then never opens a websocket (client.py --stop-after-scripts) and closes its connections 3 s later. Visits 1-2 cold, IPv4: orphan, cause ws_never_attempted."
    SRV_A=("${SMALL[@]}")
    run_scenario() {
        visit 1 v4 orphan ws_never_attempted ws_never_attempted --stop-after-scripts --hold 3
        visit 2 v4 orphan ws_never_attempted ws_never_attempted --stop-after-scripts --hold 3
    }
}

scen_client_gone() {
    DESC="The client resets the page connection while the page response is arriving (client.py --close-early: small receive buffer, RST as soon as the token has been read, like a tab closed during load): no script GET, no websocket. Visits 1-2, IPv4: orphan, cause client_gone."
    SRV_A=("${SMALL[@]}")
    run_scenario() {
        visit 1 v4 orphan client_gone closed_early --close-early
        visit 2 v4 orphan client_gone closed_early --close-early
    }
}

scen_ws_elsewhere() {
    DESC="Two bokeh_server.py instances on 100.64.0.1, ports 5006 and 5007 (both --allow-websocket-origin=*). Visits 1-2 (cold, IPv4) load the page and scripts from :5006 but open the websocket to :5007 (client.py --ws-host 100.64.0.1:5007, like a load balancer sending the websocket to another backend). :5007 accepts the unknown session id (unsigned mode builds a new session with the same id) and the page renders, but the session created by :5006's page GET never gets its websocket: orphan on :5006, cause ws_elsewhere. Visit 3 (warm) connects to :5006 normally (control)."
    SRV_A=("${SMALL[@]}")
    SRV_B=("${SMALL[@]}")
    run_scenario() {
        visit 1 v4 orphan ws_elsewhere 'ws_elsewhere:rendered' --ws-host "$SV4:$PORT_B"
        visit 2 v4 orphan ws_elsewhere 'ws_elsewhere:rendered' --ws-host "$SV4:$PORT_B"
        visit 3 v4 connected - rendered --warm
    }
}

scen_blackhole_v6() {
    DESC="PMTU black hole over IPv6: tsfwd drops every server->client packet longer than 1200 bytes, silently (--blackhole-over 1200; tunnel MTU 1280, so the server's full-size 1280-byte segments vanish while SYN-ACKs, ACKs and short segments pass); server tcp_mtu_probing=0, so it never recovers. Real-size bundles. Visits 1-2 cold over IPv6: the page response itself (about 4 KB) is retransmitted and never acknowledged; the client gives up after 12 s. No websocket: orphan, cause pmtu_blackhole."
    TN_ARGS=(--blackhole-over 1200 --mtu-probing 0 --stats -v)
    END_PATH=/$APP/metadata
    SRV_A=(--allow-websocket-origin '*' "${REAL_STATIC[@]}")
    run_scenario() {
        visit 1 v6 orphan pmtu_blackhole 'timeout|script_stalled:*' --timeout 12 --script-timeout 12
        visit 2 v6 orphan pmtu_blackhole 'timeout|script_stalled:*' --timeout 12 --script-timeout 12
    }
}

scen_vnet_superpackets() {
    DESC="Clean tunnel in vnet mode, as Tailscale >= 1.36 runs its TUN: IFF_VNET_HDR with TSO/checksum offload (tsfwd --vnet), so tcpdump on tailscale0 sees TCP super-packets of up to 64 KB (larger than the 1280 MTU) with partial checksums. Real-size bundles. Visits 1 (IPv4) and 2 (IPv6) cold, 3 (IPv4) warm; all connect. A good analyzer reassembles the super-packets and reports 3 connected page loads (and no checksum errors)."
    TN_ARGS=(--vnet --stats)
    SRV_A=(--allow-websocket-origin '*' "${REAL_STATIC[@]}")
    run_scenario() {
        visit 1 v4 connected - rendered
        visit 2 v6 connected - rendered
        visit 3 v4 connected - rendered --warm
    }
    check_capture() {
        local big
        big=$(tshark -r "$OUT_PCAP" -Y 'frame.len > 1280' 2>/dev/null | wc -l)
        h_log "vnet: $big packets larger than 1280 bytes"
        [ "$big" -gt 0 ] || h_die "vnet capture has no packet larger than 1280 bytes"
    }
}

scen_midstream() {
    DESC="Capture started in the middle of a streaming websocket: bokeh_server.py --stream 200 pushes a PATCH-DOC with two binary float64 buffers plus a text PATCH-DOC every 200 ms. Visit 1 (cold, IPv4) loads the page and connects before tcpdump starts; the capture then runs 10 s and stops while the websocket is still open. The pcap holds no handshake, no 101 and no page GET: only server->client websocket frames (text header/metadata/content, {\"id\": ...} buffer headers, binary buffers) and client ACKs, starting at an arbitrary frame boundary or mid-frame. page_loads is empty; websockets_midstream names the connection."
    SRV_A=("${SMALL[@]}" --stream 200)
    MIDSTREAM=1
    run_scenario() {
        BG=1 visit 1 v4 connected - rendered --hold 25
        wait_for_event ws_pull_doc 15 || h_die "streaming websocket did not open"
        sleep 1
        start_tcpdump
        sleep 10
        stop_tcpdump # (the last second may be missing: see TCPDUMP_SETTLE)
        wait_clients
    }
}

scen_healthcheck() {
    DESC="Health checks and a browser. Visits 1 and 5: curl with User-Agent kube-probe/1.29; visit 2: curl with its default User-Agent; visit 3: client.py --curl (curl-like). Each GET creates a Bokeh session, but no script or websocket request follows: orphan, cause no_scripts_fetched. Visit 4: a warm browser-like load (no script GETs, websocket connects): connected (control)."
    SRV_A=("${SMALL[@]}")
    run_scenario() {
        curl_visit 1 v4 kube-probe/1.29
        curl_visit 2 v4 ''
        visit 3 v4 orphan no_scripts_fetched no_scripts --curl
        visit 4 v4 connected - rendered --warm
        curl_visit 5 v4 kube-probe/1.29
    }
}

scen_ws_refused_v6() {
    DESC="bokeh_server.py WITHOUT --allow-websocket-origin (only localhost:5006 allowed), page loaded over IPv6: the websocket upgrade carries Origin http://[fd7a:115c:a1e0::1]:5006 and the session token and is answered 403 Forbidden, body 'Cross origin websockets not allowed' (35 bytes). Visits 1-2 cold: outcome ws_refused, cause ws_refused."
    SRV_A=(--small-static)
    run_scenario() {
        visit 1 v6 ws_refused ws_refused 'ws_refused:403'
        visit 2 v6 ws_refused ws_refused 'ws_refused:403'
    }
}

scen_healthy_chromium() {
    DESC="Clean tunnel, real BokehJS $BOKEHJS_VERSION bundles, real headless Chromium (Debian's, driven by chromium_visit.mjs with playwright-core): visits 1-2 cold (fresh profile each), IPv4. Both render (the Div text appears in the page). A good analyzer reports 2 connected page loads."
    SRV_A=(--allow-websocket-origin '*' "${REAL_STATIC[@]}")
    NEEDS_CHROMIUM=1
    run_scenario() {
        chromium_visit 1 v4 connected - rendered
        chromium_visit 2 v4 connected - rendered
    }
}

# the real BokehJS bundles when setup.sh could fetch them (else synthesized at the real sizes)
REAL_STATIC=()

# ------------------------------------------------------------------ machinery

tn() { TAILNET_STATE=$W/tailnet.state "$HARNESS_SRC/tailnet.sh" "$@"; }

start_server() { # start_server NAME PORT ARGS...
    local name=$1 port=$2
    shift 2
    ip netns exec "$TAILNET_SERVER_NS" "$HARNESS_PY" "$HARNESS_SRC/bokeh_server.py" --port "$port" \
        --app "$APP" --instance "$name" --session-log "$W/sessions.jsonl" --log-level debug \
        --synth-dir "$HARNESS_BUILD/synth-static" --ready-file "$W/$name.ready" "$@" \
        </dev/null >>"$W/$name.server.log" 2>&1 &
    h_wait_for 20 test -s "$W/$name.ready" || {
        cat "$W/$name.server.log" >&2
        h_die "server $name did not start"
    }
    SERVER_ARGS_TEXT+="${SERVER_ARGS_TEXT:+ ; }bokeh_server.py --port $port$(printf ' %q' "$@")"
}

TCPDUMP_PID=
start_tcpdump() {
    : >"$W/tcpdump.err"
    ip netns exec "$TAILNET_SERVER_NS" tcpdump -i tailscale0 -s 0 -B 32768 -Z root -w "$OUT_PCAP" 2>"$W/tcpdump.err" &
    TCPDUMP_PID=$!
    h_wait_for 10 grep -q "listening on" "$W/tcpdump.err" || {
        cat "$W/tcpdump.err" >&2
        h_die "tcpdump did not start"
    }
}

stop_tcpdump() {
    [ -n "$TCPDUMP_PID" ] || return 0
    kill -INT "$TCPDUMP_PID" 2>/dev/null
    local i
    for ((i = 0; i < 100; i++)); do
        kill -0 "$TCPDUMP_PID" 2>/dev/null || break
        sleep 0.1
    done
    h_kill_pid "$TCPDUMP_PID" tcpdump
    TCPDUMP_PID=
    grep -E "captured|dropped" "$W/tcpdump.err" | tr '\n' ' ' >&2
    echo >&2
    if grep -q "^[1-9][0-9]* packets dropped by kernel" "$W/tcpdump.err"; then
        h_log "warning: tcpdump dropped packets"
    fi
    local cap rec
    cap=$(awk '/packets captured/ {print $1}' "$W/tcpdump.err")
    rec=$(awk '/packets received by filter/ {print $1}' "$W/tcpdump.err")
    if [ -n "$cap" ] && [ -n "$rec" ] && [ "$rec" -gt "$cap" ]; then
        h_log "note: tcpdump received $((rec - cap)) packets it did not write (after its last block)"
    fi
}

url_for() { # url_for N v4|v6
    local host=$SV4
    [ "$2" = v6 ] && host=$SV6
    echo "http://$host:$PORT/$APP?visit=$1"
}

CLIENT_PIDS=()
# visit N v4|v6 OUTCOME CAUSE WHAT [client.py options]: one page load; BG=1 runs it in background.
# WHAT: the client's own account that must result (fnmatch patterns separated by |).
visit() {
    local n=$1 fam=$2 outcome=$3 cause=$4 what=$5
    shift 5
    local kind=pyclient
    case " $* " in *" --curl "*) kind=curl ;; esac
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$outcome" "$cause" "$what" "$kind" A >>"$W/expect.tsv"
    if [ "${BG:-0}" = 1 ]; then
        ip netns exec "$TAILNET_CLIENT_NS" timeout $CLIENT_TIMEOUT "$HARNESS_PY" \
            "$HARNESS_SRC/client.py" "$(url_for "$n" "$fam")" "$@" >>"$W/clients.jsonl" \
            2>>"$W/clients.err" &
        CLIENT_PIDS+=($!)
    else
        tn exec client timeout $CLIENT_TIMEOUT "$HARNESS_PY" "$HARNESS_SRC/client.py" \
            "$(url_for "$n" "$fam")" "$@" >>"$W/clients.jsonl" 2>>"$W/clients.err"
        h_log "visit $n: $(tail -n 1 "$W/clients.jsonl" | "$HARNESS_PY" -c 'import json,sys; print(json.loads(sys.stdin.read()).get("what"))' 2>/dev/null)"
        sleep 0.5
    fi
}

wait_clients() {
    local pid
    for pid in "${CLIENT_PIDS[@]}"; do
        wait "$pid"
    done
    CLIENT_PIDS=()
}

# curl_visit N v4|v6 USER-AGENT: a real curl GET of the page (a health check)
curl_visit() {
    local n=$1 fam=$2 ua=$3 url t0 out
    url=$(url_for "$n" "$fam")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$n" orphan no_scripts_fetched no_scripts curl A >>"$W/expect.tsv"
    t0=$(date +%s.%N)
    local uaopt=()
    [ -n "$ua" ] && uaopt=(-A "$ua")
    out=$(tn exec client curl -s -o /dev/null "${uaopt[@]}" --max-time 10 \
        -w '%{local_ip} %{local_port} %{http_code} %{size_download}' "$url")
    # shellcheck disable=SC2086 # $out: four words from curl -w
    "$HARNESS_PY" - "$n" "$url" "$t0" "$ua" $out >>"$W/clients.jsonl" <<'EOF'
import json, sys
n, url, t0, ua = sys.argv[1:5]
ip, port, code, size = (sys.argv[5:9] + [None] * 4)[:4]
print(json.dumps({"visit": int(n), "url": url, "client": ip, "client_port": int(port or 0),
                  "client_kind": "curl", "cache": "cold", "started_at": float(t0),
                  "page_status": int(code or 0), "page_bytes": int(size or 0), "page_complete": True,
                  "what": "no_scripts", "rendered": False, "websocket_opened": False,
                  "user_agent": ua or "curl default"}))
EOF
    h_log "visit $n: curl ${ua:-default UA} -> ${out:-failed}"
    sleep 0.5
}

# chromium_visit N v4|v6 OUTCOME CAUSE WHAT: a real headless Chromium page load
chromium_visit() {
    local n=$1 fam=$2 outcome=$3 cause=$4 what=$5
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$outcome" "$cause" "$what" chromium A >>"$W/expect.tsv"
    tn exec client timeout $CLIENT_TIMEOUT node "$HARNESS_SRC/chromium_visit.mjs" \
        --visit "$n" "$(url_for "$n" "$fam")" >>"$W/clients.jsonl" 2>>"$W/clients.err"
    h_log "visit $n (chromium): $(tail -n 1 "$W/clients.jsonl" | cut -c1-200)"
    sleep 0.5
}

wait_for_event() { # wait_for_event EVENT SECONDS
    h_wait_for "$2" grep -q "\"event\": \"$1\"" "$W/sessions.jsonl"
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_tcpdump 2>/dev/null
    local pid
    for pid in "${CLIENT_PIDS[@]}"; do h_kill_pid "$pid"; done
    if [ -n "${W:-}" ] && [ -f "$W/tailnet.state" ]; then
        [ -n "${TAILNET_DIR:-}" ] && cp "$TAILNET_DIR/tsfwd.log" "$W/" 2>/dev/null
        tn down 2>/dev/null
    fi
    if [ -n "$KEEP_WORK" ] && [ -n "${W:-}" ]; then
        mkdir -p "$KEEP_WORK" && cp -r "$W"/. "$KEEP_WORK"/ 2>/dev/null
    fi
    [ -n "${W:-}" ] && rm -rf "$W"
    exit $rc
}

main() {
    while [ $# -gt 0 ]; do
        case $1 in
        --tail)
            TAIL=${2:?}
            shift
            ;;
        --keep-work)
            KEEP_WORK=${2:?}
            shift
            ;;
        --list)
            list_scenarios
            exit 0
            ;;
        -h | --help) usage 0 ;;
        -*) h_die "unknown option $1" ;;
        *) break ;;
        esac
        shift
    done
    [ $# -eq 3 ] || usage 2
    SCENARIO=$1 OUT_PCAP=$2 OUT_JSON=$3
    local fn="scen_${SCENARIO//-/_}"
    declare -F "$fn" >/dev/null || h_die "unknown scenario '$SCENARIO' (try --list)"
    [ "$(id -u)" -eq 0 ] || h_skip "make_capture needs root (network namespaces, TUN, tcpdump)"
    "$HARNESS_SRC/setup.sh" >/dev/null || h_die "setup.sh failed"
    [ -f "$BOKEHJS_DIR/VERSION" ] && REAL_STATIC=(--static-dir "$BOKEHJS_DIR")
    command -v tcpdump >/dev/null || h_skip "tcpdump is not installed"
    OUT_PCAP=$(realpath -m "$OUT_PCAP") OUT_JSON=$(realpath -m "$OUT_JSON")
    mkdir -p "$(dirname "$OUT_PCAP")" "$(dirname "$OUT_JSON")"

    END_PATH=/favicon.ico # black-hole scenarios use /APP/metadata: small, creates no session
    DESC='' TN_ARGS=() SRV_A=() SRV_B=() MIDSTREAM=0 NEEDS_CHROMIUM=0 SERVER_ARGS_TEXT=
    check_capture() { :; }
    "$fn"
    if [ "$NEEDS_CHROMIUM" = 1 ]; then
        "$HARNESS_SRC/setup.sh" --chromium >/dev/null 2>&1
        command -v chromium >/dev/null || h_skip "chromium is not installed"
        [ -d "$HARNESS_BUILD/node/node_modules/playwright-core" ] || h_skip "playwright-core missing"
    fi

    W=$(mktemp -d "${TMPDIR:-/tmp}/ow-capture.XXXXXX") || h_die "mktemp failed"
    trap cleanup EXIT
    trap 'exit 1' INT TERM
    : >"$W/expect.tsv"
    : >"$W/clients.jsonl"
    : >"$W/sessions.jsonl"

    local rc=0
    tn up "${TN_ARGS[@]}" || {
        rc=$?
        [ $rc -eq 77 ] && exit 77
        h_die "tailnet up failed"
    }
    # shellcheck disable=SC1091
    . "$W/tailnet.state"
    start_server A "$PORT" "${SRV_A[@]}"
    [ ${#SRV_B[@]} -gt 0 ] && start_server B "$PORT_B" "${SRV_B[@]}"
    rm -f "$OUT_PCAP"
    [ "$MIDSTREAM" = 1 ] || start_tcpdump
    h_log "scenario $SCENARIO: running"
    run_scenario
    if [ "$MIDSTREAM" != 1 ]; then
        h_log "waiting $TAIL s (grace times pass)"
        sleep "$TAIL"
        # a browser-less GET ends the capture after the tail, like the shared captures' favicon
        tn exec client curl -s -o /dev/null --max-time 5 "http://$SV4:$PORT$END_PATH"
        sleep "$TCPDUMP_SETTLE"
        stop_tcpdump
    fi
    [ -s "$OUT_PCAP" ] || h_die "no capture written"
    check_capture
    local stats mid=()
    [ "$MIDSTREAM" = 1 ] && mid=(--midstream)
    stats="$(capinfos -c -M "$OUT_PCAP" 2>/dev/null | awk -F': *' '/Number of packets/ {print $2}') packets, $(tshark -r "$OUT_PCAP" -T fields -e tcp.stream 2>/dev/null | sort -u | grep -c .) TCP connections"
    "$HARNESS_PY" "$HARNESS_SRC/manifest.py" --scenario "$SCENARIO" --description "$DESC" \
        --pcap "$OUT_PCAP" --out "$OUT_JSON" --expect "$W/expect.tsv" \
        --clients "$W/clients.jsonl" --sessions "$W/sessions.jsonl" \
        --server-args "$SERVER_ARGS_TEXT" --port "$PORT" --tsfwd-flags "$TSFWD_FLAGS" \
        --mtu-probing "$TAILNET_MTU_PROBING" --vnet "$TAILNET_VNET" --tail "$TAIL" \
        --capture-stats "$stats" "${mid[@]}" || rc=1
    [ $rc -eq 0 ] || sed 's/^/client stderr: /' "$W/clients.err" >&2
    h_log "scenario $SCENARIO: $OUT_PCAP ($(stat -c %s "$OUT_PCAP") bytes, $stats), $OUT_JSON"
    return $rc
}

main "$@"
