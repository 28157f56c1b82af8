#!/usr/bin/env bash
# tailnet_chromium: real headless Chromium against bokeh_server.py over the test tailnet, with the
# real BokehJS 3.6.0 bundles. Checks that the harness's server is a faithful Bokeh server (the
# page renders in a browser) and that client.py's model of the browser holds: a healthy page
# renders and sends document_ready; a 404 on the core bundle means no websocket at all; a 404 on
# a plugin bundle means the websocket opens and the document is pulled, but no document_ready.
# Exits 77 with the reason when Chromium, playwright-core or the BokehJS bundles cannot be had,
# or when the tailnet cannot run here (not root, no netns/TUN).
set -u
SRC=${OW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
H=$SRC/tests/harness
. "$H/lib.sh"

[ "$(id -u)" -eq 0 ] || h_skip "not root: network namespaces and TUN devices need root"
[ -c /dev/net/tun ] || h_skip "/dev/net/tun is not available"
ip netns list >/dev/null 2>&1 || h_skip "ip netns is not available"
"$H/setup.sh" >/dev/null || h_skip "harness setup failed"
"$H/setup.sh" --chromium >/dev/null 2>&1
command -v chromium >/dev/null || h_skip "chromium is not installed and could not be installed"
command -v node >/dev/null || h_skip "node is not installed"
[ -d "$HARNESS_BUILD/node/node_modules/playwright-core" ] || h_skip "playwright-core could not be installed"
[ -f "$BOKEHJS_DIR/VERSION" ] || h_skip "the real BokehJS bundles could not be fetched (npm)"
"$HARNESS_PY" -c 'import tornado' 2>/dev/null || h_skip "python3-tornado is not installed"

W=$(mktemp -d "${TMPDIR:-/tmp}/ow-chromium.XXXXXX")
export TAILNET_STATE=$W/tailnet.state
cleanup() {
    "$H/tailnet.sh" down >/dev/null 2>&1
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

"$H/tailnet.sh" up
rc=$?
[ $rc -eq 77 ] && exit 77
[ $rc -eq 0 ] || h_die "tailnet up failed"
# shellcheck disable=SC1090
. "$TAILNET_STATE"

start_server() { # NAME PORT ARGS...
    local name=$1 port=$2
    shift 2
    ip netns exec "$TAILNET_SERVER_NS" "$HARNESS_PY" "$H/bokeh_server.py" --port "$port" \
        --static-dir "$BOKEHJS_DIR" --allow-websocket-origin '*' --instance "$name" \
        --session-log "$W/sessions.jsonl" --ready-file "$W/$name.ready" "$@" \
        >"$W/$name.log" 2>&1 &
    h_wait_for 20 test -s "$W/$name.ready" || h_die "server $name did not start"
}
start_server ok 5006
start_server core404 5007 --fail-static bokeh
start_server plugin404 5008 --fail-static bokeh-widgets

# quick first: does Chromium start at all here?
ip netns exec "$TAILNET_CLIENT_NS" timeout 60 chromium --headless --no-sandbox --disable-gpu \
    --no-first-run --user-data-dir="$W/probe" --dump-dom about:blank >/dev/null 2>"$W/probe.err" ||
    h_skip "chromium cannot run here: $(tail -n 1 "$W/probe.err")"

visit() { # visit N PORT TIMEOUT_MS -> JSON line in $W/v<N>.json
    ip netns exec "$TAILNET_CLIENT_NS" timeout 90 node "$H/chromium_visit.mjs" \
        "http://100.64.0.1:$2/bserve_test?visit=$1" --timeout "$3" >"$W/v$1.json" 2>>"$W/node.err"
}
visit 1 5006 20000
visit 2 5007 8000
visit 3 5008 8000
sleep 1

"$HARNESS_PY" - "$W" <<'EOF'
import json, sys
w = sys.argv[1]
ev = [json.loads(l) for l in open(w + "/sessions.jsonl") if l.startswith("{")]
failed = passed = 0
def check(what, cond, detail=""):
    global failed, passed
    print(("ok: " if cond else "FAIL: ") + what + (" (%s)" % detail if detail else ""))
    passed, failed = passed + bool(cond), failed + (not cond)
def events(server, name):
    return [e for e in ev if e.get("server") == server and e["event"] == name]
v = {n: json.load(open("%s/v%d.json" % (w, n))) for n in (1, 2, 3)}
# 1: healthy
check("healthy page renders in Chromium", v[1]["rendered"], v[1].get("error"))
check("healthy page: one websocket", v[1]["websockets"] == 1, v[1]["websockets"])
check("healthy page: session id in the page is the server's",
      [e["session_id"] for e in events("ok", "session_created")] == [v[1]["session_id"]])
check("healthy page: Chromium pulled the doc and sent document_ready",
      events("ok", "ws_pull_doc") and any(e["document_ready"] for e in events("ok", "ws_patch_doc")))
# 2: core bundle 404 -> no websocket (client.py --fail on bokeh: script_failed, no websocket)
check("core 404: not rendered", not v[2]["rendered"])
check("core 404: no websocket opened", v[2]["websockets"] == 0 and not events("core404", "ws_opened"))
check("core 404: the session was created", len(events("core404", "session_created")) == 1)
# 3: plugin 404 -> websocket, doc pulled, no document_ready (client.py: render_failed)
check("plugin 404: not rendered", not v[3]["rendered"])
check("plugin 404: websocket opened, doc pulled",
      v[3]["websockets"] == 1 and len(events("plugin404", "ws_pull_doc")) == 1)
check("plugin 404: no document_ready",
      not any(e.get("document_ready") for e in events("plugin404", "ws_patch_doc")))
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
EOF
