#!/usr/bin/env bash
# capture_tshark: for every shared capture, capture/'s per-connection byte counts in both
# directions (test_capture_basic --dump) must equal tshark's (the sequence-space extent of the
# data each side sent, retransmissions counted once).
set -u
bin="${OW_BUILD_DIR:-}/tests/test_capture_basic"
caps="${ORPHANWATCH_CAPTURES:-}"
cmp="${OW_SOURCE_DIR:-$(dirname "$0")/../..}/tests/harness/pcaptool_compare.py"
command -v tshark >/dev/null || { echo "tshark not installed: skipped"; exit 77; }
[ -x "$bin" ] || { echo "$bin not built: skipped"; exit 77; }
[ -n "$caps" ] && ls "$caps"/*.pcap >/dev/null 2>&1 || { echo "no shared captures: skipped"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
n=0
for pcap in "$caps"/*.pcap; do
    n=$((n + 1))
    if ! "$bin" --dump "$pcap" >"$tmp/dump.txt" 2>"$tmp/err.txt"; then
        echo "FAIL $pcap: capture failed: $(cat "$tmp/err.txt")"
        fail=1
        continue
    fi
    if ! grep -q '^flow ' "$tmp/dump.txt"; then
        echo "FAIL $pcap: no connections reported"
        fail=1
        continue
    fi
    python3 "$cmp" "$tmp/dump.txt" "$pcap" || fail=1
done
echo "capture_tshark: $n captures compared"
exit $fail
