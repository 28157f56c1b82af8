#!/bin/bash
# make_sample.sh: regenerates the bundled sample capture tests/data/sample.pcap and its ground
# truth tests/data/sample.json with owgen and a fixed seed and plan. Deterministic: running it
# twice gives identical bytes (with the same zlib, which makes the tokens' compressed payload).
#
# The sample: 13 interleaved page loads over IPv4 and IPv6 (link type RAW, like tailscale0):
# healthy cold and warm loads, two path-MTU black holes (one on a script connection of a cold
# load, one on the HTML connection of a warm load), a slow PMTU recovery, a refused websocket
# (403), two script-less clients (curl / kube-probe), a missing bokeh.min.js (404), a client
# that resets mid-page, and an expired token (101, then an empty close frame). Static scripts
# are 1/64 of their real size (--small-static) to keep the file under 2 MB; black-holed
# segments are still 1280-byte packets. Usage: bench/make_sample.sh [OUTDIR]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
outdir=${1:-$root/tests/data}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cc -O2 -o "$work/owgen" "$here"/owgen*.c -lz

plan="healthy:cold:v4,healthy:warm:v6,pmtu_blackhole:cold:v4,no_scripts_fetched:v4"
plan+=",slow_pmtu_recovery:cold:v6,ws_refused:warm:v4,healthy:warm:v4,script_failed:cold:v6"
plan+=",client_gone:cold:v4,token_expired:warm:v6,pmtu_blackhole:warm:v6,no_scripts_fetched:v6"
plan+=",healthy:cold:v6"

mkdir -p "$outdir"
"$work/owgen" --seed 1 --small-static --stream-seconds 20 --interval 1.5 --plan "$plan" \
    -o "$work/sample.pcap" --truth "$work/sample.json"
mv "$work/sample.pcap" "$outdir/sample.pcap"
mv "$work/sample.json" "$outdir/sample.json"
ls -l "$outdir/sample.pcap" "$outdir/sample.json"
