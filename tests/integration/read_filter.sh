#!/usr/bin/env bash
# read_filter: a BPF expression given to `orphanwatch read` filters the file's packets, as it
# does live (it used to be stored in captures.filter and otherwise ignored). On the bundled
# sample: the packets kept equal tcpdump's count for the same expression; a host filter keeps
# exactly that client's page loads; a filter matching nothing keeps nothing; a bad expression
# is a clear error; a pcapng file with two link types (the own reader) filters the same way.
set -u
bin="${ORPHANWATCH_BIN:-}"
src="${OW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
sample="$src/tests/data/sample.pcap"
[ -x "$bin" ] || { echo "orphanwatch not built: skipped"; exit 77; }
command -v tcpdump >/dev/null || { echo "tcpdump not installed (setup.sh installs it): skipped"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL $*"; fail=1; }

read_into() { # read_into FILE DB [EXPRESSION...]
    local f=$1 db=$2
    shift 2
    rm -f "$db"
    "$bin" read "$f" -w "$db" "$@" >"$tmp/out" 2>&1
}
q() { python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])' "$@"; }

python3 "$src/tests/harness/pcaptool.py" pcapng2 "$sample" "$tmp/two.pcapng" || bad "pcaptool pcapng2 failed"

read_into "$sample" "$tmp/all.db" || bad "unfiltered read failed: $(cat "$tmp/out")"
client=$(q "$tmp/all.db" "SELECT client FROM page_loads GROUP BY client ORDER BY COUNT(*) DESC, client LIMIT 1")
want_pl=$(q "$tmp/all.db" "SELECT COUNT(*) FROM page_loads WHERE client = '$client'")
all_pl=$(q "$tmp/all.db" "SELECT COUNT(*) FROM page_loads")
[ "$want_pl" -lt "$all_pl" ] || bad "the sample has one client only: the test proves nothing"

for f in "$sample" "$tmp/two.pcapng"; do
    name=$(basename "$f")
    read_into "$f" "$tmp/host.db" host "$client" || { bad "$name: filtered read failed: $(cat "$tmp/out")"; continue; }
    got_pl=$(q "$tmp/host.db" "SELECT COUNT(*) FROM page_loads")
    others=$(q "$tmp/host.db" "SELECT COUNT(*) FROM page_loads WHERE client <> '$client'")
    packets=$(q "$tmp/host.db" "SELECT packets FROM captures")
    stored=$(q "$tmp/host.db" "SELECT filter FROM captures")
    want_packets=$(tcpdump -r "$sample" -nn "host $client" 2>/dev/null | wc -l)
    [ "$got_pl" = "$want_pl" ] || bad "$name host $client: $got_pl page loads, want $want_pl"
    [ "$others" = 0 ] || bad "$name host $client: $others page loads of other clients"
    [ "$packets" = "$want_packets" ] || bad "$name host $client: $packets packets, tcpdump $want_packets"
    [ "$stored" = "host $client" ] || bad "$name: captures.filter is '$stored'"
    echo "ok $name host $client: $got_pl page loads, $packets packets (tcpdump $want_packets)"

    read_into "$f" "$tmp/none.db" port 1 || { bad "$name port 1: read failed: $(cat "$tmp/out")"; continue; }
    [ "$(q "$tmp/none.db" "SELECT packets FROM captures")" = 0 ] || bad "$name port 1: packets kept"
    [ "$(q "$tmp/none.db" "SELECT COUNT(*) FROM page_loads")" = 0 ] || bad "$name port 1: page loads"
    echo "ok $name port 1: nothing kept"
done

if read_into "$sample" "$tmp/bad.db" 'tcp['; then
    bad "a bad expression was accepted"
else
    grep -q 'bad BPF filter' "$tmp/out" || bad "unclear message for a bad expression: $(cat "$tmp/out")"
    echo "ok bad expression: $(head -c 160 "$tmp/out")"
fi
exit $fail
