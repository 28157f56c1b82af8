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

STAGES = (b"GET /", b"Upgrade: websocket", b"HTTP/1.1 101", b'"msgtype"')


def records(data):
    """The records of a little- or big-endian microsecond/nanosecond pcap, RAW link type."""
    if len(data) < 24:
        sys.exit("seeds_from_pcap: not a pcap file")
    magic = struct.unpack_from("<I", data)[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        order = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        order = ">"
    else:
        sys.exit("seeds_from_pcap: not a pcap file")
    if struct.unpack_from(order + "I", data, 20)[0] != 101:
        sys.exit("seeds_from_pcap: link type is not RAW (101)")
    out, off = [], 24
    while off + 16 <= len(data):
        incl = struct.unpack_from(order + "I", data, off + 8)[0]
        if off + 16 + incl > len(data):
            break
        rec = data[off:off + 16 + incl]
        if order == ">":  # the targets write a little-endian file header
            rec = struct.pack("<IIII", *struct.unpack_from(">IIII", rec)) + rec[16:]
        out.append(rec)
        off += 16 + incl
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pcap")
    ap.add_argument("out", nargs="+")
    ap.add_argument("--max", type=int, default=60000)
    a = ap.parse_args()
    recs = records(open(a.pcap, "rb").read())
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
