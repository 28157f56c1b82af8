#!/usr/bin/env bash
# capture_linktypes: everything a real tailscale0 / `-i any` / Ethernet capture can look like,
# made from the shared RAW captures by tests/harness/pcaptool.py, must give the same
# connections and bytes: compared with tshark's view of each variant and with the original.
#   link layers (Ethernet, 802.1Q, QinQ, SLL, SLL2, NULL both orders, LOOP, pcapng, pcapng
#   with two link types, with two RAW interfaces, in two sections: libpcap 1.10 refuses the
#   last two), IPv6 (with extension headers and fragments; real addresses, never
#   stand-ins), IPv4 fragments, TSO/GRO super-packets (identical to the original), removed
#   packets and snap lengths (gaps counted, never more than the original), an unsupported link
#   type (clear error), files cut mid-packet / mid-block (message, no crash).
set -u
bin="${OW_BUILD_DIR:-}/tests/test_capture_basic"
caps="${ORPHANWATCH_CAPTURES:-}"
src="${OW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
tool="$src/tests/harness/pcaptool.py"
cmp="$src/tests/harness/pcaptool_compare.py"
command -v tshark >/dev/null || { echo "tshark not installed: skipped"; exit 77; }
[ -x "$bin" ] || { echo "$bin not built: skipped"; exit 77; }
[ -n "$caps" ] && [ -f "$caps/healthy-v4.pcap" ] || { echo "no shared captures: skipped"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL $*"; fail=1; }

dump() { # dump FILE OUT: capture/'s per-connection counts, bounded in time (no stall)
    timeout 120 "$bin" --dump "$1" >"$2" 2>"$2.err"
}

# streams NAME VARIANT FILE: the pcapng read from standard input, from a pipe and
# gzip-compressed (none can be looked into before it is read: the own reader reads them all)
# gives what the file by name gives
streams() {
    timeout 120 "$bin" --dump - <"$3" >"$tmp/s.txt" 2>"$tmp/s.err" ||
        bad "$1 $2 on standard input: failed: $(head -c 300 "$tmp/s.err")"
    cmp -s "$tmp/v.txt" "$tmp/s.txt" || bad "$1 $2 on standard input: differs from by name"
    timeout 120 "$bin" --dump <(cat "$3") >"$tmp/s.txt" 2>"$tmp/s.err" ||
        bad "$1 $2 from a pipe: failed: $(head -c 300 "$tmp/s.err")"
    cmp -s "$tmp/v.txt" "$tmp/s.txt" || bad "$1 $2 from a pipe: differs from by name"
    gzip -c "$3" >"$3.gz"
    timeout 120 "$bin" --dump "$3.gz" >"$tmp/s.txt" 2>"$tmp/s.err" ||
        bad "$1 $2 gzip-compressed: failed: $(head -c 300 "$tmp/s.err")"
    cmp -s "$tmp/v.txt" "$tmp/s.txt" || bad "$1 $2 gzip-compressed: differs from by name"
    echo "ok $1 $2 on standard input, from a pipe, gzip-compressed"
}

stat_of() { # stat_of DUMP NAME
    sed -n "s/^stats .* $2 \([0-9]*\).*/\1/p" "$1" | head -n 1
}

for name in healthcheck-curl healthy-v4; do
    orig="$caps/$name.pcap"
    dump "$orig" "$tmp/orig.txt" || bad "$name: original capture failed"

    for v in eth vlan qinq sll sll2 null null-be loop pcapng pcapng2 pcapng-raw2 pcapng-sections coalesce ipv4frag; do
        f="$tmp/$name-$v.pcap"
        extra=()
        [ "$v" = ipv4frag ] && extra=(--frag 4)
        python3 "$tool" "$v" "$orig" "$f" "${extra[@]}" || { bad "$name $v: pcaptool failed"; continue; }
        dump "$f" "$tmp/v.txt" || { bad "$name $v: capture failed: $(cat "$tmp/v.txt.err")"; continue; }
        python3 "$cmp" "$tmp/v.txt" "$f" >"$tmp/cmp.txt" || { cat "$tmp/cmp.txt"; bad "$name $v: differs from tshark"; }
        python3 "$cmp" --dumps "$tmp/orig.txt" "$tmp/v.txt" >"$tmp/cmp.txt" || { cat "$tmp/cmp.txt"; bad "$name $v: differs from the original"; }
        echo "ok $name $v"
        case "$v" in pcapng*) streams "$name" "$v" "$f" ;; esac
    done
    [ "$(stat_of "$tmp/v.txt" reassembled)" -gt 0 ] || bad "$name ipv4frag: nothing reassembled"

    # super-packets past 64 KB (IPv4 total length 0, as TSO leaves it)
    f="$tmp/$name-tso.pcap"
    python3 "$tool" coalesce "$orig" "$f" --max 120000
    dump "$f" "$tmp/v.txt" || bad "$name tso: capture failed"
    python3 "$cmp" --dumps "$tmp/orig.txt" "$tmp/v.txt" >"$tmp/cmp.txt" || { cat "$tmp/cmp.txt"; bad "$name tso: differs from the original"; }
    echo "ok $name tso"

    for args in "" "--ext 3" "--ext 2 --frag 3"; do
        f="$tmp/$name-v6.pcap"
        # shellcheck disable=SC2086
        python3 "$tool" ipv6 "$orig" "$f" $args
        dump "$f" "$tmp/v.txt" || { bad "$name ipv6 $args: capture failed"; continue; }
        python3 "$cmp" "$tmp/v.txt" "$f" >"$tmp/cmp.txt" || { cat "$tmp/cmp.txt"; bad "$name ipv6 $args: differs from tshark"; }
        python3 "$cmp" --dumps --map-v6 "$tmp/orig.txt" "$tmp/v.txt" >"$tmp/cmp.txt" || { cat "$tmp/cmp.txt"; bad "$name ipv6 $args: differs from the original"; }
        grep -q '^flow fd7a:115c:a1e0::2 [0-9]* fd7a:115c:a1e0::1 5006 ' "$tmp/v.txt" || bad "$name ipv6 $args: real IPv6 addresses (RFC 5952) missing"
        grep -qE '^flow (240|24[1-9]|25[0-5])\.' "$tmp/v.txt" && bad "$name ipv6 $args: a stand-in address reached the sink"
        grep -q ' 100\.64\.' "$tmp/v.txt" && bad "$name ipv6 $args: IPv4 addresses in an IPv6 capture"
        echo "ok $name ipv6 $args"
    done

    for args in "drop --rate 0.01 --seed 1" "drop --rate 0.05 --seed 2" "snap --snap 200" "snap --snap 1000"; do
        f="$tmp/$name-lossy.pcap"
        # shellcheck disable=SC2086
        python3 "$tool" $args "$orig" "$f" 2>/dev/null || python3 "$tool" ${args%% *} "$orig" "$f" ${args#* }
        dump "$f" "$tmp/v.txt" || { bad "$name $args: capture failed or stalled"; continue; }
        python3 "$cmp" --lossy "$tmp/v.txt" "$f" "$tmp/orig.txt" >"$tmp/cmp.txt" || { cat "$tmp/cmp.txt"; bad "$name $args: wrong bytes"; }
        tail -n 1 "$tmp/cmp.txt"
        # the small capture may lose only pure ACKs; the large one surely loses data
        [ "$name" = healthcheck-curl ] || [ "$(stat_of "$tmp/v.txt" gaps)" -gt 0 ] || bad "$name $args: no gap counted"
        echo "ok $name $args"
    done
done

# an unsupported link type: a clear error naming it
python3 "$tool" dlt "$caps/healthcheck-curl.pcap" "$tmp/dlt.pcap" --dlt 147
if "$bin" --dump "$tmp/dlt.pcap" >"$tmp/v.txt" 2>"$tmp/err.txt"; then
    bad "link type 147 accepted"
else
    grep -q "unsupported link type 147" "$tmp/err.txt" || bad "unclear message for link type 147: $(cat "$tmp/err.txt")"
    echo "ok unsupported link type: $(cat "$tmp/err.txt")"
fi

# files cut short: a clear message (or a counted skip), the packets before it analysed
cut_test() { # cut_test FILE LABEL
    local size
    size=$(stat -c %s "$1")
    head -c $((size - 333)) "$1" >"$tmp/cut"
    timeout 60 "$bin" --dump "$tmp/cut" >"$tmp/v.txt" 2>"$tmp/err.txt"
    local rc=$?
    [ $rc -le 1 ] || bad "$2 cut short: crashed or hung (exit $rc)"
    grep -q '^flow ' "$tmp/v.txt" || bad "$2 cut short: nothing analysed"
    grep -qiE 'ends inside|truncated' "$tmp/err.txt" || bad "$2 cut short: no message"
    echo "ok $2 cut short (exit $rc): $(head -c 200 "$tmp/err.txt")"
}
cut_test "$caps/healthcheck-curl.pcap" pcap
python3 "$tool" pcapng "$caps/healthcheck-curl.pcap" "$tmp/one.pcapng"
cut_test "$tmp/one.pcapng" pcapng
python3 "$tool" pcapng2 "$caps/healthcheck-curl.pcap" "$tmp/two.pcapng"
cut_test "$tmp/two.pcapng" "pcapng (two link types)"
head -c 20 "$caps/healthcheck-curl.pcap" >"$tmp/hdr.pcap"
if "$bin" --dump "$tmp/hdr.pcap" >/dev/null 2>"$tmp/err.txt"; then
    bad "a 20-byte pcap was accepted"
else
    echo "ok truncated file header: $(cat "$tmp/err.txt")"
fi

# a pcapng of two sections (libpcap 1.10 stops at the second) from standard input, and with
# a BPF filter that cannot apply to its link type: the whole report, as by name; and a
# clear refusal (a file by name is refused before reading; a stream at its first packet)
ow="${ORPHANWATCH_BIN:-}"
if [ -x "$ow" ]; then
    python3 "$tool" pcapng-sections "$caps/healthcheck-curl.pcap" "$tmp/sec.pcapng"
    "$ow" read "$tmp/sec.pcapng" --format jsonl >"$tmp/by-name.txt" 2>"$tmp/err.txt" ||
        bad "pcapng sections by name: failed: $(cat "$tmp/err.txt")"
    "$ow" read - --format jsonl <"$tmp/sec.pcapng" >"$tmp/stdin.txt" 2>"$tmp/err.txt" ||
        bad "pcapng sections on standard input: failed: $(cat "$tmp/err.txt")"
    [ -s "$tmp/by-name.txt" ] && cmp -s "$tmp/by-name.txt" "$tmp/stdin.txt" ||
        bad "pcapng sections on standard input: a report other than by name's"
    for how in name stdin; do
        if [ $how = name ]; then
            "$ow" read "$tmp/sec.pcapng" 'ether host 1:2:3:4:5:6' >/dev/null 2>"$tmp/err.txt"
        else
            "$ow" read - 'ether host 1:2:3:4:5:6' <"$tmp/sec.pcapng" >/dev/null 2>"$tmp/err.txt"
        fi
        rc=$?
        [ $rc -ne 0 ] && grep -q "ethernet addresses supported only" "$tmp/err.txt" ||
            bad "a filter that cannot apply, by $how: exit $rc, $(cat "$tmp/err.txt")"
    done
    echo "ok pcapng sections: read on standard input as by name; a filter that cannot apply refused"
fi

exit $fail
