#!/bin/bash
# gen_sample.sh: the bundled sample (tests/data/sample.pcap + sample.json) is exactly what
# bench/make_sample.sh makes from the current generator: regenerates it into a temporary
# directory and compares bytes, and checks the ground truth names every failure cause with
# both address families present. When the generator changes on purpose, rerun
# bench/make_sample.sh and commit the new sample. Needs cc and zlib (exit 77 otherwise).
set -u

src=${OW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
if ! command -v cc >/dev/null 2>&1 || [ ! -f /usr/include/zlib.h ]; then
    echo "SKIP: cc or zlib headers (zlib1g-dev) missing"
    exit 77
fi
for f in sample.pcap sample.json; do
    if [ ! -s "$src/tests/data/$f" ]; then
        echo "FAIL: tests/data/$f missing (run bench/make_sample.sh)"
        exit 1
    fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! bash "$src/bench/make_sample.sh" "$work" >"$work/log" 2>&1; then
    cat "$work/log"
    echo "FAIL: bench/make_sample.sh failed"
    exit 1
fi

rc=0
for f in sample.pcap sample.json; do
    if ! cmp -s "$work/$f" "$src/tests/data/$f"; then
        echo "FAIL: tests/data/$f differs from what bench/make_sample.sh makes now" \
            "(rerun it and commit the result if the generator changed on purpose)"
        rc=1
    fi
done

size=$(stat -c %s "$src/tests/data/sample.pcap")
if [ "$size" -ge 2000000 ]; then
    echo "FAIL: sample.pcap is $size bytes (limit 2,000,000)"
    rc=1
fi

if command -v python3 >/dev/null 2>&1; then
    if ! python3 - "$src/tests/data/sample.json" <<'PYEOF'; then
import json, sys
d = json.load(open(sys.argv[1]))
pl = d["page_loads"]
causes = {p["expected_cause"] for p in pl}
want = {None, "pmtu_blackhole", "slow_pmtu_recovery", "ws_refused", "no_scripts_fetched",
        "script_failed", "client_gone", "token_expired"}
assert want <= causes, "causes missing: %s" % sorted(str(c) for c in want - causes)
assert any(":" in p["client"] for p in pl) and any("." in p["client"] for p in pl)
assert {p["cache"] for p in pl if p["expected_cause"] is None} == {"cold", "warm"}
assert [p["visit"] for p in pl] == list(range(1, len(pl) + 1))
assert len({p["session_id"] for p in pl}) == len(pl)
PYEOF
        echo "FAIL: sample.json does not cover every cause, both families and both caches"
        rc=1
    fi
fi

[ "$rc" -eq 0 ] && echo "ok: tests/data/sample.* match bench/make_sample.sh ($size bytes)"
exit "$rc"
