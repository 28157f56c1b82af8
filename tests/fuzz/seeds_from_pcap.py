#!/usr/bin/env python3
"""seeds_from_pcap: fuzz seeds for fuzz_capture and fuzz_pipeline cut from a pcap file.

Both targets read one shape byte (0: a pcap of link type RAW) and then pcap records. This cuts
the file's records into windows of whole records (up to MAX bytes each): one from the start
and one starting just before the first record holding each stage of a Bokeh page load (page
request, websocket upgrade and its 101, a server frame with a Bokeh message), so the fuzzer
starts from traffic that reaches every decoder. Seeds are written to each OUT directory,
never into the repository (run_all.sh passes its scratch corpus directories).

    python3 tests/fuzz/seeds_from_pcap.py FILE.pcap OUT_DIR [OUT_DIR ...] [--max 60000]
"""
import argparse
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
import pcaptool  # noqa: E402  (the pcap reader the test harness already has)

STAGES = (b"GET /", b"Upgrade: websocket", b"HTTP/1.1 101", b'"msgtype"')


def records(path):
    """Each packet as a little-endian pcap record (the targets write a little-endian header)."""
    out = []
    for ts, pkt, wire in pcaptool.read_pcap(path):
        sec = int(ts)
        usec = min(int(round((ts - sec) * 1e6)), 999999)
        out.append(struct.pack("<IIII", sec, usec, len(pkt), max(wire, len(pkt))) + pkt)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pcap")
    ap.add_argument("out", nargs="+")
    ap.add_argument("--max", type=int, default=60000)
    a = ap.parse_args()
    recs = records(a.pcap)
    starts = {0}
    for stage in STAGES:
        hit = next((i for i, r in enumerate(recs) if stage in r[16:]), None)
        if hit is not None:
            starts.add(max(0, hit - 2))
    name = os.path.splitext(os.path.basename(a.pcap))[0]
    for d in a.out:
        os.makedirs(d, exist_ok=True)
    n = 0
    for s in sorted(starts):
        body, i = b"", s
        while i < len(recs) and len(body) + len(recs[i]) <= a.max:
            body += recs[i]
            i += 1
        if not body:
            continue
        for d in a.out:
            with open(os.path.join(d, "%s-%d" % (name, s)), "wb") as f:
                f.write(b"\x00" + body)
        n += 1
    print("seeds_from_pcap: %d seeds from %s" % (n, a.pcap))


if __name__ == "__main__":
    main()
