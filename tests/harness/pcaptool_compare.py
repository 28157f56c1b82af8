#!/usr/bin/env python3
"""pcaptool_compare: compares orphanwatch capture/'s per-connection byte counts (the lines
`test_capture_basic --dump FILE` prints) with tshark's view of the same file.

tshark's count for a connection and direction is the extent of the sequence space carrying
data: max(relative seq + len) - 1 over the data segments, so retransmissions and
out-of-order delivery count once, as a reassembler delivers them.

usage: pcaptool_compare.py [--ports 5006,...] DUMP PCAP      delivered == tshark's bytes
       pcaptool_compare.py --lossy DUMP PCAP ORIGINAL_DUMP    packets removed (see below)
       pcaptool_compare.py --dumps [--map-v6] DUMP_A DUMP_B  the same connections, the same
                                                             bytes (IPv4 -> IPv6 mapped)
       pcaptool_compare.py --tshark-only PCAP                prints tshark's table
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


def map_v6(key):
    """The address mapping of `pcaptool.py ipv6` (100.64.0.N -> fd7a:115c:a1e0::N)."""
    out = []
    for i, x in enumerate(key):
        if i % 2 == 0:
            a = ipaddress.ip_address(x)
            if a.version == 4 and a in ipaddress.ip_network("100.64.0.0/16"):
                x = str(ipaddress.IPv6Address("fd7a:115c:a1e0::") + (int(a) & 0xFFFF))
        out.append(x)
    return tuple(out)


def compare_dumps(a_path, b_path, v6):
    """Two dumps of the same connections must agree exactly (bytes and gaps)."""
    a, b = dump_table(a_path), dump_table(b_path)
    if v6:
        a = {map_v6(k): v for k, v in a.items()}
    bad = 0
    for key in sorted(set(a) | set(b)):
        x = [(v[0], v[1]) for v in a.get(key, [])]
        y = [(v[0], v[1]) for v in b.get(key, [])]
        if x != y:
            print(f"MISMATCH {key}: {a_path} {x} {b_path} {y}")
            bad += 1
    print(f"{b_path}: {sum(len(v) for v in b.values())} connections, {bad} differ from {a_path}")
    return 1 if bad else 0


def compare_lossy(dump_path, pcap, orig_path, ports):
    """Packets removed: what was delivered was seen (<= tshark's extent) and delivered + gaps
    never exceeds the original connection."""
    ts, ow, orig = tshark_table(pcap, ports), dump_table(dump_path), dump_table(orig_path)
    bad = exact = total = 0
    for key, conns in ow.items():
        for i, (data, gaps, rest) in enumerate(conns):
            total += 1
            o = orig.get(key, [])
            t = ts.get(key, [])
            if i >= len(o):
                print(f"EXTRA {key}: {data} {gaps} {rest}")
                bad += 1
                continue
            odata = o[i][0]
            seen = t[i] if i < len(t) else [0, 0]
            for d in (0, 1):
                if data[d] + gaps[d] > odata[d] or data[d] > max(seen[d], 0) + 0:
                    print(f"WRONG {key} dir {d}: delivered {data[d]} gaps {gaps[d]} original "
                          f"{odata[d]} tshark sees {seen[d]} {rest}")
                    bad += 1
            exact += data[0] + gaps[0] == odata[0] and data[1] + gaps[1] == odata[1]
    print(f"{pcap}: {total} connections, {exact} complete (delivered + gaps = original), "
          f"{bad} wrong")
    return 1 if bad else 0


def main(argv):
    ports = {5006}
    flags = set()
    args = []
    i = 0
    while i < len(argv):
        if argv[i] == "--ports":
            ports = {int(p) for p in argv[i + 1].split(",")}
            i += 2
            continue
        if argv[i].startswith("--"):
            flags.add(argv[i])
        else:
            args.append(argv[i])
        i += 1
    if "--tshark-only" in flags:
        for k, v in sorted(tshark_table(args[0], ports).items()):
            print(k, v)
        return 0
    if "--dumps" in flags:
        return compare_dumps(args[0], args[1], "--map-v6" in flags)
    if "--lossy" in flags:
        return compare_lossy(args[0], args[1], args[2], ports)
    dump_path, pcap = args
    ts = tshark_table(pcap, ports)
    ow = dump_table(dump_path)
    bad = 0
    for key in sorted(set(ts) | set(ow)):
        t = [v for v in ts.get(key, []) if v != [0, 0]]
        o = [x for x in ow.get(key, []) if x[0] != [0, 0] or x[1] != [0, 0]]
        if len(t) != len(o):
            print(f"MISMATCH {key}: tshark {t} orphanwatch {[x[0] for x in o]}")
            bad += 1
            continue
        for tv, (ov, gaps, rest) in zip(t, o):
            if ov != tv:
                print(f"MISMATCH {key}: tshark {tv} orphanwatch {ov} gaps {gaps} {rest}")
                bad += 1
    n = sum(len(v) for v in ts.values())
    print(f"{pcap}: {n} tshark connections, {sum(len(v) for v in ow.values())} orphanwatch, "
          f"{bad} mismatches")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
