#!/bin/bash
# gen_tshark.sh: the synthetic traffic generator (bench/owgen) writes captures that a reference
# decoder reads cleanly. For each variant (IPv4+IPv6 on link type RAW, 64 KB super-packets,
# Ethernet link type, checksum offload) it generates a small file with a fixed seed and a plan
# covering every failure cause, then checks with tshark: no malformed packet and no expert
# error; IPv4 and TCP checksums valid (or zero when offloaded); the numbers of HTTP requests,
# responses, 101s, 403s and 404s and of websocket frames per opcode equal the generator's own
# counts in the ground truth; and every websocket upgrade carries a well-formed Bokeh token
# (bokeh-wire.md 2.1) whose session id is a page load of the ground truth that opened or tried
# a websocket. Needs cc, zlib, tshark and python3 (exit 77 if one is missing).
set -u

src=${OW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
for tool in cc tshark python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "SKIP: $tool not installed"
        exit 77
    fi
done
if [ ! -f /usr/include/zlib.h ]; then
    echo "SKIP: zlib headers not installed (zlib1g-dev)"
    exit 77
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! cc -O2 -Wall -Wextra -Werror -o "$work/owgen" "$src"/bench/owgen*.c -lz; then
    echo "FAIL: bench/owgen does not build warning-free"
    exit 1
fi

plan="healthy:cold:v4,healthy:warm:v6,pmtu_blackhole:cold:v4,pmtu_blackhole:warm:v6"
plan+=",slow_pmtu_recovery:cold:v6,slow_pmtu_recovery:warm:v4,ws_refused:cold:v4"
plan+=",ws_refused:warm:v6,no_scripts_fetched:v4,no_scripts_fetched:v6,script_failed:cold:v6"
plan+=",client_gone:cold:v4,client_gone:warm:v6,token_expired:warm:v4,token_expired:cold:v6"
plan+=",healthy:cold:v6,healthy:warm:v4"

failures=0
fail() {
    echo "FAIL [$variant]: $*"
    failures=$((failures + 1))
}

# count LINES: number of lines of a tshark field listing, occurrences split on commas
count_values() {
    tr ',' '\n' | grep -c "^$1\$"
}

check_variant() {
    variant=$1
    shift
    local before=$failures
    local f="$work/$variant.pcap" t="$work/$variant.json"
    if ! "$work/owgen" --seed 11 --small-static --stream-seconds 40 --interval 1 \
        --plan "$plan" -o "$f" --truth "$t" --quiet "$@"; then
        fail "owgen failed"
        return
    fi
    local ts=(tshark -n -r "$f" -d "tcp.port==5006,http")
    local bad
    bad=$("${ts[@]}" -Y '_ws.malformed || _ws.expert.severity >= error' 2>/dev/null | wc -l)
    [ "$bad" -eq 0 ] || fail "$bad malformed or erroneous packets"
    local offload=0
    case " $* " in *" --offload "*) offload=1 ;; esac
    local sums
    sums=$(tshark -n -r "$f" -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE \
        -T fields -e ip.checksum.status -e tcp.checksum.status -e tcp.checksum 2>/dev/null)
    local npk
    npk=$(printf '%s\n' "$sums" | wc -l)
    if [ "$offload" -eq 0 ]; then
        # status 1 = good; IPv6 has no header checksum (empty first field)
        local badsum
        badsum=$(printf '%s\n' "$sums" | awk -F'\t' '$2 != 1 || ($1 != "" && $1 != 1)' | wc -l)
        [ "$badsum" -eq 0 ] || fail "$badsum of $npk packets with a bad or unverified checksum"
    else
        local nonzero
        nonzero=$(printf '%s\n' "$sums" | awk -F'\t' '$3 != "0x0000"' | wc -l)
        [ "$nonzero" -eq 0 ] || fail "$nonzero TCP checksums not zeroed with --offload"
    fi
    local fields
    fields=$("${ts[@]}" -Y 'http.request || http.response || websocket' -T fields \
        -e http.request.method -e http.response.code -e websocket.opcode -E separator=';' \
        2>/dev/null)
    local got_req got_resp got_101 got_403 got_404
    got_req=$(printf '%s\n' "$fields" | cut -d';' -f1 | grep -c .)
    got_resp=$(printf '%s\n' "$fields" | cut -d';' -f2 | grep -c .)
    got_101=$(printf '%s\n' "$fields" | cut -d';' -f2 | count_values 101)
    got_403=$(printf '%s\n' "$fields" | cut -d';' -f2 | count_values 403)
    got_404=$(printf '%s\n' "$fields" | cut -d';' -f2 | count_values 404)
    local ops
    ops=$(printf '%s\n' "$fields" | cut -d';' -f3)
    local got_text got_bin got_close got_ping got_pong
    got_text=$(printf '%s\n' "$ops" | count_values 1)
    got_bin=$(printf '%s\n' "$ops" | count_values 2)
    got_close=$(printf '%s\n' "$ops" | count_values 8)
    got_ping=$(printf '%s\n' "$ops" | count_values 9)
    got_pong=$(printf '%s\n' "$ops" | count_values 10)
    local want
    want=$(python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))["generator"]["counts"]
w = c["ws_frames"]
print(c["http_requests"], c["http_responses"], c["http_101"], c["http_403"], c["http_404"],
      w["text"], w["binary"], w["close"], w["ping"], w["pong"])' "$t")
    local got="$got_req $got_resp $got_101 $got_403 $got_404"
    got+=" $got_text $got_bin $got_close $got_ping $got_pong"
    if [ "$got" != "$want" ]; then
        fail "tshark counts (requests responses 101 403 404 text binary close ping pong)" \
            "'$got' differ from the generator's '$want'"
    fi
    # at least some of everything, so the comparison above means something
    for n in $got_req $got_101 $got_403 $got_404 $got_text $got_bin $got_close $got_ping; do
        [ "$n" -gt 0 ] || fail "a count is zero: '$got'"
    done
    "${ts[@]}" -Y 'http.request && http.sec_websocket_protocol' -T fields \
        -e http.sec_websocket_protocol 2>/dev/null >"$work/$variant.protocols"
    if ! python3 - "$t" "$work/$variant.protocols" <<'PYEOF'; then
import base64, json, sys, zlib
truth = json.load(open(sys.argv[1]))
pages = {p["session_id"]: p for p in truth["page_loads"]}
want = {s for s, p in pages.items()
        if p["websocket_opened"] or p["expected_outcome"] == "ws_refused"}
seen = set()
def b64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
for line in open(sys.argv[2]):
    items = [x.strip() for x in line.strip().split(",")]
    assert len(items) == 2 and items[0] == "bokeh", line
    token = items[1]
    assert token.startswith("eyJzZXNzaW9uX2lkIjogI"), token[:30]
    body = b64u(token)
    js = json.loads(body)
    assert list(js) == ["session_id", "session_expiry", "__bk__zlib_"], list(js)
    assert body.startswith(b'{"session_id": "') and b'", "session_expiry": ' in body
    sid = js["session_id"]
    assert len(sid) == 44 and sid.isalnum(), sid
    z = b64u(js["__bk__zlib_"])
    assert z[:2] == b"\x78\xda", z[:2]
    extra = json.loads(zlib.decompress(z))
    assert set(extra) == {"headers", "cookies", "arguments"}, extra.keys()
    assert "Host" in extra["headers"] and "User-Agent" in extra["headers"]
    assert sid in pages, "token of an unknown session " + sid
    p = pages[sid]
    started = p["started_at"]
    if p["expected_cause"] == "token_expired":
        assert js["session_expiry"] < started + 400 and js["session_expiry"] > started + 250
    else:
        assert abs(js["session_expiry"] - (started + 300)) < 5, (js["session_expiry"], started)
    assert p["url"].endswith("?visit=%d" % p["visit"])
    seen.add(sid)
missing = want - seen
assert not missing, "page loads without their websocket upgrade: %s" % sorted(missing)
assert len(truth["page_loads"]) == 17, len(truth["page_loads"])
PYEOF
        fail "websocket tokens do not match the ground truth"
    fi
    [ "$failures" -eq "$before" ] || return
    echo "ok [$variant]: $npk packets; tshark: $got_req requests, $got_resp responses" \
        "($got_101 x 101, $got_403 x 403, $got_404 x 404); ws frames text $got_text," \
        "binary $got_bin, close $got_close, ping $got_ping, pong $got_pong"
}

check_variant raw
check_variant superpackets --superpackets
check_variant en10mb --linktype en10mb
check_variant offload --offload --superpackets

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all generator variants decode cleanly in tshark"
