#!/usr/bin/env python3
"""pcaptool: rewrites a RAW-link-type pcap (such as the shared tailscale0 captures) into the
other shapes a real Tailscale host produces, to test capture/ against them. Stdlib only.

usage: pcaptool.py VARIANT IN.pcap OUT [options]

variants
  eth | vlan | qinq       Ethernet, with one 802.1Q tag, with 802.1ad + 802.1Q tags (QinQ)
  sll | sll2              Linux cooked capture v1 (113) / v2 (276), as `tcpdump -i any`
  null | null-be | loop   BSD loopback: NULL host order (little-endian), NULL big-endian,
                          LOOP network order; IPv6 uses --af6 (default 30, Darwin)
  ipv6                    IPv4 -> IPv6 (100.64.0.N -> fd7a:115c:a1e0::N), TCP checksums
                          recomputed; --ext K: extension headers (hop-by-hop, routing,
                          destination options) on every Kth packet; --frag K: every Kth data
                          packet fragmented (some fragments written out of order)
  ipv4frag                every --frag K-th IPv4 data packet fragmented
  coalesce                consecutive same-direction data segments merged into super-packets
                          of up to --max bytes of payload (default 65535; IPv4 total length
                          0 past 65535), TCP checksum zeroed (TSO/GRO on tailscale0)
  drop                    packets removed at random: --rate R --seed S
  snap                    every packet cut to --snap N captured bytes
  pcapng2                 pcapng with two interfaces of different link types: RAW and
                          Ethernet, connections alternating between them
  pcapng                  pcapng, one RAW interface
  pcapng-raw2             pcapng with two RAW interfaces (tailscale0 and another tunnel),
                          connections alternating between them
  pcapng-sections         pcapng of two sections, each with its own RAW interface: the
                          first half of the packets, then the rest (`cat a.pcapng b.pcapng`)
  dlt                     the same packets under link type --dlt N (for unsupported types)
"""
import ipaddress
import os
import random
import struct
import sys

LINKTYPE_NULL, LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LOOP = 0, 1, 101, 108
LINKTYPE_SLL, LINKTYPE_SLL2 = 113, 276


def read_pcap(path):
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        e = "<"
    else:
        e = ">"
    nano = struct.unpack(e + "I", data[:4])[0] == 0xA1B23C4D
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    packets, off = [], 24
    while off + 16 <= len(data):
        sec, frac, cap, wire = struct.unpack(e + "IIII", data[off:off + 16])
        off += 16
        packets.append((sec + frac / (1e9 if nano else 1e6), data[off:off + cap], wire))
        off += cap
    if linktype not in (LINKTYPE_RAW, 12):
        sys.exit(f"{path}: link type {linktype}, pcaptool reads RAW captures")
    return packets


def write_pcap(path, linktype, packets, snaplen=262144):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype))
        for ts, pkt, wire in packets:
            sec = int(ts)
            usec = int(round((ts - sec) * 1e6))
            if usec >= 1000000:
                sec, usec = sec + 1, usec - 1000000
            f.write(struct.pack("<IIII", sec, usec, len(pkt), max(wire, len(pkt))))
            f.write(pkt)


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip_version(pkt):
    return pkt[0] >> 4 if pkt else 0


# ---- link layers ----

MAC_A, MAC_B = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")


def ethertype(pkt):
    return 0x86DD if ip_version(pkt) == 6 else 0x0800


def link_eth(pkt, tags=()):
    hdr = MAC_A + MAC_B
    for tpid, vid in tags:
        hdr += struct.pack("!HH", tpid, vid)
    return hdr + struct.pack("!H", ethertype(pkt)) + pkt


def link_sll(pkt):
    return struct.pack("!HHH8sH", 0, 0xFFFE, 0, b"", ethertype(pkt)) + pkt


def link_sll2(pkt):
    return struct.pack("!HHIHBB8s", ethertype(pkt), 0, 5, 0xFFFE, 0, 0, b"") + pkt


def link_null(pkt, order, af6):
    af = af6 if ip_version(pkt) == 6 else 2
    return struct.pack(order + "I", af) + pkt


# ---- IPv4 -> IPv6 ----

def map_addr(a4):
    a = ipaddress.IPv4Address(a4)
    if a in ipaddress.IPv4Network("100.64.0.0/16"):
        return ipaddress.IPv6Address("fd7a:115c:a1e0::") + (int(a) & 0xFFFF)
    return ipaddress.IPv6Address("fd7a:115c:a1e0:1::") + int(a)


def tcp_checksum6(src, dst, seg):
    pseudo = src + dst + struct.pack("!IxxxB", len(seg), 6)
    seg = seg[:16] + b"\0\0" + seg[18:]
    c = checksum(pseudo + seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def ext_headers(next_hdr):
    """hop-by-hop (8), routing type 0 with no addresses left (8), destination options (8)"""
    dst = struct.pack("!BB", next_hdr, 0) + b"\x01\x04\0\0\0\0"
    rt = struct.pack("!BBBB", 60, 0, 0, 0) + b"\0\0\0\0"
    hbh = struct.pack("!BB", 43, 0) + b"\x01\x04\0\0\0\0"
    return 0, hbh + rt + dst


def to_ipv6(pkt, with_ext):
    if ip_version(pkt) != 4:
        return pkt
    ihl = (pkt[0] & 15) * 4
    total = struct.unpack("!H", pkt[2:4])[0] or len(pkt)
    src, dst = map_addr(pkt[12:16]).packed, map_addr(pkt[16:20]).packed
    proto, ttl = pkt[9], pkt[8]
    payload = pkt[ihl:total]
    if proto == 6:
        payload = tcp_checksum6(src, dst, payload)
    first = proto
    if with_ext:
        first, ext = ext_headers(proto)
        payload = ext + payload
    return struct.pack("!IHBB", 6 << 28, len(payload), first, ttl) + src + dst + payload


def frag6(pkt, ident, pieces):
    """Splits an IPv6 packet (first next header = the fragmentable part's)."""
    hdr, body, nh = pkt[:40], pkt[40:], pkt[6]
    size = max(8, (len(body) // pieces + 7) // 8 * 8)
    frags, off = [], 0
    while off < len(body):
        chunk = body[off:off + size]
        more = 1 if off + size < len(body) else 0
        fh = struct.pack("!BBHI", nh, 0, off | more, ident)
        h = bytearray(hdr)
        h[6] = 44
        struct.pack_into("!H", h, 4, len(fh) + len(chunk))
        frags.append(bytes(h) + fh + chunk)
        off += size
    return frags


def frag4(pkt, pieces):
    ihl = (pkt[0] & 15) * 4
    hdr, body = bytearray(pkt[:ihl]), pkt[ihl:]
    size = max(8, (len(body) // pieces + 7) // 8 * 8)
    frags, off = [], 0
    while off < len(body):
        chunk = body[off:off + size]
        more = 0x2000 if off + size < len(body) else 0
        h = bytearray(hdr)
        struct.pack_into("!HHH", h, 2, ihl + len(chunk), struct.unpack("!H", hdr[4:6])[0],
                         more | (off // 8))
        struct.pack_into("!H", h, 10, 0)
        struct.pack_into("!H", h, 10, checksum(bytes(h)))
        frags.append(bytes(h) + chunk)
        off += size
    return frags


def tcp_info(pkt):
    """(flow key, direction key, seq, payload length, flags, l4 offset) of a TCP/IP packet."""
    if ip_version(pkt) == 4 and pkt[9] == 6:
        ihl = (pkt[0] & 15) * 4
        total = struct.unpack("!H", pkt[2:4])[0] or len(pkt)
        src, dst = pkt[12:16], pkt[16:20]
    elif ip_version(pkt) == 6 and pkt[6] == 6:
        ihl, total = 40, 40 + struct.unpack("!H", pkt[4:6])[0]
        src, dst = pkt[8:24], pkt[24:40]
    else:
        return None
    t = pkt[ihl:]
    sport, dport, seq = struct.unpack("!HHI", t[:8])
    off = (t[12] >> 4) * 4
    return (src, sport, dst, dport), seq, total - ihl - off, t[13], ihl


def fragment_variant(packets, every, v6):
    out, n, ident = [], 0, 7000
    for ts, pkt, wire in packets:
        info = tcp_info(pkt)
        if info and info[2] > 200:
            n += 1
            if n % every == 0:
                ident += 1
                fr = frag6(pkt, ident, 3) if v6 else frag4(pkt, 3)
                if n % (2 * every) == 0:
                    fr = fr[::-1]  # out of order: last fragment first
                out += [(ts, f, len(f)) for f in fr]
                continue
        out.append((ts, pkt, wire))
    return out


def coalesce(packets, max_payload):
    out, pending = [], {}
    for ts, pkt, wire in packets:
        info = tcp_info(pkt)
        if not info or ip_version(pkt) != 4:
            out.append([ts, pkt])
            continue
        key, seq, plen, flags, ihl = info
        p = pending.get(key)
        mergeable = plen > 0 and flags & ~0x18 == 0  # ACK/PSH only
        if p is not None and mergeable:
            o = out[p]
            okey, oseq, oplen, _, oihl = tcp_info(o[1])
            same_ack = o[1][oihl + 8:oihl + 12] == pkt[ihl + 8:ihl + 12]  # as TSO/GRO
            if oseq + oplen == seq and oplen + plen <= max_payload and same_ack:
                t = pkt[ihl:]
                toff = (t[12] >> 4) * 4
                merged = bytearray(o[1] + pkt[ihl + toff:ihl + toff + plen])
                ot = oihl
                merged[ot + 13] |= flags
                merged[ot + 14:ot + 16] = pkt[ihl + 14:ihl + 16]  # latest window
                merged[ot + 16:ot + 18] = b"\0\0"  # checksum left to the NIC
                total = len(merged)
                struct.pack_into("!H", merged, 2, total if total <= 65535 else 0)
                struct.pack_into("!H", merged, 10, 0)
                struct.pack_into("!H", merged, 10, checksum(bytes(merged[:oihl])))
                o[1] = bytes(merged)
                continue
        if plen > 0:
            pending[key] = len(out)
        else:
            pending.pop(key, None)
        out.append([ts, pkt])
    return [(ts, pkt, len(pkt)) for ts, pkt in out]


def write_pcapng(path, ifaces, packets):
    """ifaces: [linktype, ...]; packets: (ts, iface, data, wirelen)."""

    def block(btype, body):
        body += b"\0" * (-len(body) % 4)
        n = len(body) + 12
        return struct.pack("<II", btype, n) + body + struct.pack("<I", n)

    with open(path, "wb") as f:
        f.write(block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)))
        for lt in ifaces:
            f.write(block(1, struct.pack("<HHI", lt, 0, 262144)))
        for ts, iface, data, wire in packets:
            us = int(round(ts * 1e6))
            f.write(block(6, struct.pack("<IIIII", iface, us >> 32, us & 0xFFFFFFFF, len(data),
                                         wire) + data))


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    variant, src, dst = argv[:3]
    opts = {"--seed": "1", "--rate": "0.01", "--snap": "200", "--ext": "0", "--frag": "0",
            "--max": "65535", "--af6": "30", "--dlt": "147"}
    for i in range(3, len(argv) - 1, 2):
        opts[argv[i]] = argv[i + 1]
    pk = read_pcap(src)
    tags = {"eth": (), "vlan": ((0x8100, 100),), "qinq": ((0x88A8, 200), (0x8100, 100))}
    if variant in tags:
        write_pcap(dst, LINKTYPE_ETHERNET, [(t, link_eth(p, tags[variant]), w + 14 + 4 *
                                             len(tags[variant])) for t, p, w in pk])
    elif variant == "sll":
        write_pcap(dst, LINKTYPE_SLL, [(t, link_sll(p), w + 16) for t, p, w in pk])
    elif variant == "sll2":
        write_pcap(dst, LINKTYPE_SLL2, [(t, link_sll2(p), w + 20) for t, p, w in pk])
    elif variant in ("null", "null-be", "loop"):
        order = "<" if variant == "null" else ">"
        lt = LINKTYPE_LOOP if variant == "loop" else LINKTYPE_NULL
        af6 = int(opts["--af6"])
        write_pcap(dst, lt, [(t, link_null(p, order, af6), w + 4) for t, p, w in pk])
    elif variant == "ipv6":
        ext, frag = int(opts["--ext"]), int(opts["--frag"])
        out = []
        for i, (t, p, w) in enumerate(pk):
            q = to_ipv6(p, ext > 0 and i % ext == 0)
            out.append((t, q, len(q)))
        if frag:
            out = fragment_variant(out, frag, True)
        write_pcap(dst, LINKTYPE_RAW, out)
    elif variant == "ipv4frag":
        write_pcap(dst, LINKTYPE_RAW, fragment_variant(pk, int(opts["--frag"]) or 5, False))
    elif variant == "coalesce":
        write_pcap(dst, LINKTYPE_RAW, coalesce(pk, int(opts["--max"])))
    elif variant == "drop":
        rng = random.Random(int(opts["--seed"]))
        rate = float(opts["--rate"])
        write_pcap(dst, LINKTYPE_RAW, [x for x in pk if rng.random() >= rate])
    elif variant == "snap":
        n = int(opts["--snap"])
        write_pcap(dst, LINKTYPE_RAW, [(t, p[:n], w) for t, p, w in pk], snaplen=n)
    elif variant in ("pcapng2", "pcapng-raw2"):
        # connections alternate by the order they first appear (not by port parity: Linux
        # gives connect() even ports, so every connection had the same link type)
        second = LINKTYPE_ETHERNET if variant == "pcapng2" else LINKTYPE_RAW
        out, order = [], {}
        for t, p, w in pk:
            info = tcp_info(p)
            key = frozenset([info[0][:2], info[0][2:]]) if info else None
            n = order.setdefault(key, len(order))
            if n % 2 and second == LINKTYPE_ETHERNET:
                out.append((t, 1, link_eth(p), w + 14))
            else:
                out.append((t, n % 2, p, w))
        write_pcapng(dst, [LINKTYPE_RAW, second], out)
    elif variant == "pcapng":
        write_pcapng(dst, [LINKTYPE_RAW], [(t, 0, p, w) for t, p, w in pk])
    elif variant == "pcapng-sections":
        half = len(pk) // 2
        write_pcapng(dst, [LINKTYPE_RAW], [(t, 0, p, w) for t, p, w in pk[:half]])
        write_pcapng(dst + ".2", [LINKTYPE_RAW], [(t, 0, p, w) for t, p, w in pk[half:]])
        with open(dst, "ab") as f, open(dst + ".2", "rb") as g:
            f.write(g.read())
        os.unlink(dst + ".2")
    elif variant == "dlt":
        write_pcap(dst, int(opts["--dlt"]), pk)
    else:
        sys.exit(f"unknown variant {variant}\n{__doc__}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
