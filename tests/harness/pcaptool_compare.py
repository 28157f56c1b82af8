#!/usr/bin/env python3
"""pcaptool_compare: compares orphanwatch capture/'s per-connection byte counts (the lines
`test_capture_basic --dump FILE` prints) with tshark's view of the same file.

tshark's count for a connection and direction is the extent of the sequence space carrying
data: max(relative seq + len) - 1 over the data segments, so retransmissions and
out-of-order delivery count once, as a reassembler delivers them.

usage: pcaptool_compare.py [--ports 5006,...] [--allow-gaps] DUMP_OUTPUT PCAP
       pcaptool_compare.py --tshark-only PCAP        (prints tshark's table)
Exit status 0 when every connection matches, 1 otherwise (differences printed)."""
import ipaddress
import subprocess
import sys


def norm(addr):
    return str(ipaddress.ip_address(addr))


def tshark_table(pcap, ports):
    fields = ["tcp.stream", "ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst",
              "tcp.dstport", "tcp.seq", "tcp.len", "tcp.flags.syn", "tcp.flags.ack"]
    cmd = ["tshark", "-n", "-r", pcap, "-o", "tcp.relative_sequence_numbers:TRUE",
           "-o", "tcp.desegment_tcp_streams:FALSE", "-Y", "tcp", "-T", "fields",
           "-E", "separator=\t", "-E", "occurrence=l"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
    conns = {}
    for line in out.splitlines():
        v = line.split("\t")
        if len(v) < len(fields) or not v[0]:
            continue
        stream, s4, s6, sp, d4, d6, dp, seq, ln, syn, ack = v[:11]
        src, dst = norm(s6 or s4), norm(d6 or d4)
        sp, dp = int(sp), int(dp)
        if sp in ports and dp not in ports:
            key, direction = (dst, dp, src, sp), 1
        elif dp in ports:
            key, direction = (src, sp, dst, dp), 0
        else:
            continue
        c = conns.setdefault((stream, key), [0, 0])
        ln = int(ln or 0)
        if ln > 0:
            c[direction] = max(c[direction], int(seq) + ln - 1)
    table = {}
    for (stream, key), v in conns.items():
        # several tshark streams on one 4-tuple (port reuse): keep them apart by stream order
        table.setdefault(key, []).append((int(stream), v))
    return {k: [v for _, v in sorted(lst)] for k, lst in table.items()}


def dump_table(path):
    table = {}
    for line in open(path):
        w = line.split()
        if not w or w[0] != "flow":
            continue
        key = (norm(w[1]), int(w[2]), norm(w[3]), int(w[4]))
        c2s, s2c = int(w[6]), int(w[8])
        gap_c2s, gap_s2c = int(w[13]), int(w[14])
        table.setdefault(key, []).append(([c2s, s2c], [gap_c2s, gap_s2c], " ".join(w[15:])))
    return table


def main(argv):
    ports = {5006}
    allow_gaps = False
    args = []
    i = 0
    while i < len(argv):
        if argv[i] == "--ports":
            ports = {int(p) for p in argv[i + 1].split(",")}
            i += 2
            continue
        if argv[i] == "--allow-gaps":
            allow_gaps = True
        else:
            args.append(argv[i])
        i += 1
    if args and args[0] == "--tshark-only":
        for k, v in sorted(tshark_table(args[1], ports).items()):
            print(k, v)
        return 0
    dump_path, pcap = args
    ts = tshark_table(pcap, ports)
    ow = dump_table(dump_path)
    bad = 0
    for key in sorted(set(ts) | set(ow)):
        t = [v for v in ts.get(key, []) if v != [0, 0]]
        o = ow.get(key, [])
        o_data = [x for x in o if x[0] != [0, 0] or x[1] != [0, 0]]
        if len(t) != len(o_data):
            if not t and all(x[0] == [0, 0] for x in o):
                continue  # connections without data on either side
            print(f"MISMATCH {key}: tshark {t} orphanwatch {[x[0] for x in o]}")
            bad += 1
            continue
        for tv, (ov, gaps, rest) in zip(t, o_data):
            seen = [ov[0] + gaps[0], ov[1] + gaps[1]] if allow_gaps else ov
            if seen != tv:
                print(f"MISMATCH {key}: tshark {tv} orphanwatch {ov} gaps {gaps} {rest}")
                bad += 1
    n = sum(len(v) for v in ts.values())
    print(f"{pcap}: {n} tshark connections, {sum(len(v) for v in ow.values())} orphanwatch, "
          f"{bad} mismatches")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
