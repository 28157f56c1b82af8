#!/usr/bin/env python3
"""craft: hostile capture files for orphanwatch's tests, in python3 stdlib only.

Writes pcap (and pcapng) files with RAW (DLT 101) or Ethernet link types, carrying IPv4 or
IPv6 TCP connections with correct sequence and acknowledgement numbers, handshakes, FIN/RST
and checksums, so that orphanwatch's capture layer (libnids) reassembles them exactly as a
real capture. On top: HTTP/1.x messages, RFC 6455 websocket frames (masked from the client,
any declared length, permessage-deflate), Bokeh session tokens and pages.

Library use (tests/integration/hostile_inputs.py, secrets_default.py):

    w = PcapWriter(path)                       # linktype=LINKTYPE_RAW, snaplen=262144
    c = TcpConn(w, "100.64.0.2", 40000, "100.64.0.1", 5006)
    c.handshake(); c.c2s(http_request("GET", "/app")); c.s2c(http_response(200, body=b"..."))
    c.close(); w.close()

Command line (one scenario per call, for reproducing a test by hand):

    python3 tests/hostile/craft.py list
    python3 tests/hostile/craft.py SCENARIO OUT.pcap
"""
import array
import base64
import ipaddress
import json
import os
import random
import struct
import sys
import zlib

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_USER0 = 147

TH_FIN, TH_SYN, TH_RST, TH_PSH, TH_ACK = 0x01, 0x02, 0x04, 0x08, 0x10

CLIENT4, SERVER4 = "100.64.0.2", "100.64.0.1"
CLIENT6, SERVER6 = "fd7a:115c:a1e0::2", "fd7a:115c:a1e0::1"
BOKEH_PORT = 5006


# ------------------------------------------------------------------ files


class PcapWriter:
    """A classic pcap file (microsecond timestamps, little endian). Packets longer than the
    snap length are cut, keeping their original length, as tcpdump -s does."""

    def __init__(self, path, linktype=LINKTYPE_RAW, snaplen=262144, start=1_790_000_000.0):
        self.path = path
        self.f = open(path, "wb")
        self.linktype = linktype
        self.snaplen = snaplen
        self.now = start  # the capture clock; TcpConn advances it
        self.packets = 0
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype))

    def tick(self, dt=0.0001):
        self.now += dt
        return self.now

    def write(self, data, ts=None):
        ts = self.now if ts is None else ts
        sec = int(ts)
        usec = int(round((ts - sec) * 1e6))
        if usec >= 1_000_000:
            sec, usec = sec + 1, usec - 1_000_000
        cap = data[: self.snaplen]
        self.f.write(struct.pack("<IIII", sec, usec, len(cap), len(data)))
        self.f.write(cap)
        self.packets += 1

    def close(self):
        self.f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class PcapngWriter(PcapWriter):
    """The same as a pcapng file: one section, one interface, enhanced packet blocks."""

    def __init__(self, path, linktype=LINKTYPE_RAW, snaplen=262144, start=1_790_000_000.0):
        self.path = path
        self.f = open(path, "wb")
        self.linktype = linktype
        self.snaplen = snaplen
        self.now = start
        self.packets = 0
        shb = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
        self._block(0x0A0D0D0A, shb)
        idb = struct.pack("<HHI", linktype, 0, snaplen)
        self._block(0x00000001, idb)

    def _block(self, btype, body):
        body += b"\0" * (-len(body) % 4)
        total = len(body) + 12
        self.f.write(struct.pack("<II", btype, total) + body + struct.pack("<I", total))

    def write(self, data, ts=None):
        ts = self.now if ts is None else ts
        t = int(round(ts * 1e6))
        cap = data[: self.snaplen]
        epb = struct.pack("<IIIII", 0, t >> 32, t & 0xFFFFFFFF, len(cap), len(data)) + cap
        self._block(0x00000006, epb)
        self.packets += 1


# ------------------------------------------------------------------ packets


def checksum(data):
    """RFC 1071 Internet checksum, summed in C by array (fast on megabytes)."""
    if len(data) % 2:
        data += b"\0"
    a = array.array("H", data)
    s = sum(a)
    if sys.byteorder == "little":  # array summed host-order words: fold, then swap back
        s = (s & 0xFFFF) + (s >> 16)
        s = (s & 0xFFFF) + (s >> 16)
        s = ((s & 0xFF) << 8) | (s >> 8)
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def _ip_bytes(a):
    return ipaddress.ip_address(a).packed


def _is_v6(a):
    return ipaddress.ip_address(a).version == 6


def ipv4_packet(src, dst, proto, payload, ident=0, ttl=64):
    total = 20 + len(payload)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total & 0xFFFF, ident & 0xFFFF, 0x4000, ttl,
                      proto, 0, _ip_bytes(src), _ip_bytes(dst))
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    return hdr + payload


def ipv6_packet(src, dst, nh, payload, hlim=64):
    hdr = struct.pack("!IHBB16s16s", 0x60000000, len(payload), nh, hlim, _ip_bytes(src),
                      _ip_bytes(dst))
    return hdr + payload


def tcp_segment(src, dst, sport, dport, seq, ack, flags, payload=b"", win=65535, opts=b""):
    """A TCP header + payload with its checksum over the pseudo-header of src/dst."""
    opts += b"\0" * (-len(opts) % 4)
    off = (20 + len(opts)) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, off << 4,
                      flags, win, 0, 0) + opts
    seg = hdr + payload
    if _is_v6(src):
        pseudo = _ip_bytes(src) + _ip_bytes(dst) + struct.pack("!IxxxB", len(seg), 6)
    else:
        pseudo = _ip_bytes(src) + _ip_bytes(dst) + struct.pack("!xBH", 6, len(seg))
    csum = checksum(pseudo + seg)
    return seg[:16] + struct.pack("!H", csum) + seg[18:]


def ip_packet(src, dst, proto, payload, ident=0):
    if _is_v6(src):
        return ipv6_packet(src, dst, proto, payload)
    return ipv4_packet(src, dst, proto, payload, ident)


def ethernet(ip, v6):
    return b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + struct.pack("!H", 0x86DD if v6 else 0x0800) + ip


class TcpConn:
    """One TCP connection written into a PcapWriter: handshake, data both ways (segments of at
    most mss bytes, each acknowledged by the peer), FIN or RST. Sequence numbers are exact."""

    def __init__(self, w, client=CLIENT4, cport=40000, server=SERVER4, sport=BOKEH_PORT,
                 mss=1400, isn_c=None, isn_s=None, dt=0.0001):
        self.w, self.client, self.server = w, client, server
        self.cport, self.sport = cport, sport
        self.v6 = _is_v6(client)
        self.mss = mss
        self.dt = dt
        self.cseq = random.getrandbits(32) if isn_c is None else isn_c
        self.sseq = random.getrandbits(32) if isn_s is None else isn_s
        self.ident = random.getrandbits(16)

    def _emit(self, from_client, flags, payload=b"", opts=b""):
        if from_client:
            src, dst, sp, dp, seq, ack = (self.client, self.server, self.cport, self.sport,
                                          self.cseq, self.sseq)
        else:
            src, dst, sp, dp, seq, ack = (self.server, self.client, self.sport, self.cport,
                                          self.sseq, self.cseq)
        if not flags & TH_ACK:
            ack = 0
        seg = tcp_segment(src, dst, sp, dp, seq, ack, flags, payload, opts=opts)
        self.ident += 1
        pkt = ip_packet(src, dst, 6, seg, self.ident)
        if self.w.linktype == LINKTYPE_ETHERNET:
            pkt = ethernet(pkt, self.v6)
        self.w.tick(self.dt)
        self.w.write(pkt)
        adv = len(payload) + (1 if flags & (TH_SYN | TH_FIN) else 0)
        if from_client:
            self.cseq = (self.cseq + adv) & 0xFFFFFFFF
        else:
            self.sseq = (self.sseq + adv) & 0xFFFFFFFF

    def syn(self):
        mss_opt = struct.pack("!BBH", 2, 4, self.mss)
        self._emit(True, TH_SYN, opts=mss_opt)

    def handshake(self):
        mss_opt = struct.pack("!BBH", 2, 4, self.mss)
        self._emit(True, TH_SYN, opts=mss_opt)
        self._emit(False, TH_SYN | TH_ACK, opts=mss_opt)
        self._emit(True, TH_ACK)
        return self

    def send(self, from_client, data, ack_every=1):
        """data in segments of mss bytes; the receiver ACKs every ack_every segments."""
        mv = memoryview(data)
        n = 0
        for off in range(0, len(data), self.mss):
            self._emit(from_client, TH_ACK | TH_PSH, bytes(mv[off:off + self.mss]))
            n += 1
            if n % ack_every == 0:
                self._emit(not from_client, TH_ACK)
        if n % ack_every:
            self._emit(not from_client, TH_ACK)
        return self

    def c2s(self, data, **kw):
        return self.send(True, data, **kw)

    def s2c(self, data, **kw):
        return self.send(False, data, **kw)

    def close(self, client_first=True):
        self._emit(client_first, TH_FIN | TH_ACK)
        self._emit(not client_first, TH_FIN | TH_ACK)
        self._emit(client_first, TH_ACK)

    def reset(self, from_client=True):
        self._emit(from_client, TH_RST | TH_ACK)


# ------------------------------------------------------------------ HTTP


def http_request(method, target, headers=(), body=b"", host="100.64.0.1:5006"):
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in headers]
    if body and not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in headers):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def http_response(status, headers=(), body=b"", reason=None, length=True):
    reason = reason or {101: "Switching Protocols", 200: "OK", 403: "Forbidden",
                        404: "Not Found"}.get(status, "Status")
    lines = [f"HTTP/1.1 {status} {reason}", "Server: TornadoServer/6.2"]
    lines += [f"{k}: {v}" for k, v in headers]
    if length and status != 101 and not any(
            k.lower() in ("content-length", "transfer-encoding") for k, _ in headers):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def chunk(data):
    return b"%x\r\n" % len(data) + data + b"\r\n"


def gzip_bytes(data_iter, level=9):
    """gzip of the concatenated chunks of data_iter, made incrementally (bombs stay small)."""
    co = zlib.compressobj(level, zlib.DEFLATED, 31)
    out = [co.compress(d) for d in data_iter]
    out.append(co.flush())
    return b"".join(out)


def zeros(total, step=1 << 20):
    while total > 0:
        n = min(step, total)
        yield bytes(n)
        total -= n


WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
WS_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def ws_upgrade_request(path="/app/ws", token=None, extensions=None, headers=()):
    h = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", WS_KEY),
         ("Sec-WebSocket-Version", "13"), ("Origin", "http://100.64.0.1:5006")]
    if token:
        h.append(("Sec-WebSocket-Protocol", f"bokeh, {token}"))
    if extensions:
        h.append(("Sec-WebSocket-Extensions", extensions))
    return http_request("GET", path, h + list(headers))


def ws_upgrade_response(extensions=None, subprotocol="bokeh"):
    h = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", WS_ACCEPT)]
    if subprotocol:
        h.append(("Sec-WebSocket-Protocol", subprotocol))
    if extensions:
        h.append(("Sec-WebSocket-Extensions", extensions))
    return http_response(101, h)


# ------------------------------------------------------------------ WebSocket


def ws_frame(payload, opcode=0x1, masked=False, fin=True, rsv1=False, length=None, mask_key=None):
    """One RFC 6455 frame. length: the declared payload length (default len(payload)); any
    value up to 2^64-1 is encoded in the 64-bit form, even illegal ones (top bit set)."""
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    m = 0x80 if masked else 0
    if n < 126:
        hdr = struct.pack("!BB", b0, m | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", b0, m | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, m | 127, n)
    if masked:
        key = mask_key or os.urandom(4)
        hdr += key
        payload = mask_bytes(payload, key)
    return hdr + payload


def mask_bytes(data, key):
    if not data:
        return b""
    n = len(data)
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


def deflate_message(chunks, level=9):
    """permessage-deflate payload (RFC 7692): raw deflate, sync flush, the 00 00 ff ff tail
    removed. chunks: an iterable of bytes (a bomb is compressed piece by piece)."""
    co = zlib.compressobj(level, zlib.DEFLATED, -15)
    out = [co.compress(c) for c in chunks]
    out.append(co.flush(zlib.Z_SYNC_FLUSH))
    data = b"".join(out)
    assert data.endswith(b"\x00\x00\xff\xff")
    return data[:-4]


# ------------------------------------------------------------------ Bokeh


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def session_id(seed=None):
    rng = random.Random(seed)
    alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(rng.choice(alnum) for _ in range(44))


def bokeh_token(sid, expiry, headers=None, cookies=None, arguments=None):
    """A Bokeh 2.4+/3.x session token: B64U of the JSON (Python's default separators), with the
    request's headers and cookies in __bk__zlib_ (B64U of a level 9 zlib stream)."""
    payload = {"session_id": sid, "session_expiry": int(expiry)}
    if headers is not None or cookies is not None:
        extra = json.dumps({"headers": headers or {}, "cookies": cookies or {},
                            "arguments": arguments or {}})
        payload["__bk__zlib_"] = b64u(zlib.compress(extra.encode(), 9))
    return b64u(json.dumps(payload).encode())


def decode_token_payload(token):
    """The decoded __bk__zlib_ payload of a token (dict), or None."""
    body = token.split(".")[0]
    j = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    z = j.get("__bk__zlib_")
    if not z:
        return None
    return json.loads(zlib.decompress(base64.urlsafe_b64decode(z + "=" * (-len(z) % 4))))


def bokeh_page(token, title="app"):
    return (f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<script type="text/javascript" src="/static/js/bokeh.min.js?v=abc"></script>
</head><body><div id="p1050" style="display: contents;"></div>
<script type="application/json" id="p1051">{{}}</script>
<script type="text/javascript">
  (function() {{
    const fn = function() {{
      Bokeh.safely(function() {{
        (function(root) {{
          function embed_document(root) {{
          const docs_json = document.getElementById('p1051').textContent;
          const render_items = [{{"token":"{token}","roots":{{"p1050":"7c2f1b4e"}},"root_ids":["p1050"]}}];
          root.Bokeh.embed.embed_items(docs_json, render_items);
          }}
          embed_document(root);
        }})(window);
      }});
    }};
    fn();
  }})();
</script></body></html>
""").encode()


def bokeh_ws_message(msgtype, msgid="1", reqid=None, content=b"{}"):
    """The three text websocket messages of a Bokeh message without buffers."""
    hdr = {"msgid": msgid, "msgtype": msgtype}
    if reqid:
        hdr["reqid"] = reqid
    return [json.dumps(hdr).encode(), b"{}", content]


# ------------------------------------------------------------------ scenarios


def _page_and_upgrade(w, cport, extensions=None, token_sid=None):
    """A page load (GET + 200 with a token) and its websocket upgrade (101); returns the open
    websocket connection."""
    sid = token_sid or session_id(cport)
    tok = bokeh_token(sid, w.now + 300)
    page = TcpConn(w, cport=cport).handshake()
    page.c2s(http_request("GET", "/app", [("User-Agent", "craft")]))
    page.s2c(http_response(200, [("Content-Type", "text/html")], bokeh_page(tok)))
    page.close()
    ws = TcpConn(w, cport=cport + 1).handshake()
    ws.c2s(ws_upgrade_request(token=tok, extensions=extensions))
    ws.s2c(ws_upgrade_response(extensions=extensions))
    return ws


def syn_flood(path, n=100_000, ports=2000, extra_ports=True):
    """n SYNs from many source ports to the server port (and some to other ports)."""
    with PcapWriter(path) as w:
        rng = random.Random(1)
        for i in range(n):
            dport = BOKEH_PORT if (not extra_ports or i % 4) else 1024 + i % ports
            sport = 1024 + (i * 7919) % 64000
            src = f"100.64.{(i >> 8) & 0xFF}.{i & 0xFF or 1}"
            seg = tcp_segment(src, SERVER4, sport, dport, rng.getrandbits(32), 0, TH_SYN,
                              opts=struct.pack("!BBH", 2, 4, 1400))
            w.tick(0.00001)
            w.write(ipv4_packet(src, SERVER4, 6, seg, i))


def ws_huge_length(path, length):
    """101 upgrade, then a server frame and a client frame declaring `length` bytes."""
    with PcapWriter(path) as w:
        ws = _page_and_upgrade(w, 41000)
        ws.s2c(ws_frame(b"x" * 1000, opcode=0x2, length=length))
        ws.c2s(ws_frame(b"y" * 1000, opcode=0x2, masked=True, length=length))
        ws.s2c(b"z" * 20000)
        ws.close()


def ws_deflate_bomb(path, size=120 << 20):
    """permessage-deflate negotiated, then one compressed message inflating to size bytes."""
    ext = "permessage-deflate"
    with PcapWriter(path) as w:
        ws = _page_and_upgrade(w, 42000, extensions=ext)
        bomb = deflate_message(zeros(size))
        ws.s2c(ws_frame(bomb, opcode=0x1, rsv1=True), ack_every=8)
        ws.c2s(ws_frame(bomb, opcode=0x1, rsv1=True, masked=True), ack_every=8)
        ws.close()
    return len(bomb)


def gzip_page_bomb(path, size=200 << 20):
    """A page GET answered with a gzip Content-Encoding body that inflates to size bytes."""
    with PcapWriter(path) as w:
        body = gzip_bytes(zeros(size))
        c = TcpConn(w, cport=43000).handshake()
        c.c2s(http_request("GET", "/app", [("Accept-Encoding", "gzip")]))
        c.s2c(http_response(200, [("Content-Type", "text/html"), ("Content-Encoding", "gzip")],
                            body), ack_every=8)
        c.close()
    return len(body)


def many_headers(path, n=10_000):
    with PcapWriter(path) as w:
        c = TcpConn(w, cport=44000).handshake()
        c.c2s(http_request("GET", "/app", [(f"X-H{i}", "v") for i in range(n)]), ack_every=8)
        c.s2c(http_response(200, [("X-H%d" % i, "v") for i in range(n)], b"ok"), ack_every=8)
        c.close()


def long_header_line(path, size=1 << 20):
    with PcapWriter(path) as w:
        c = TcpConn(w, cport=44100).handshake()
        c.c2s(http_request("GET", "/app", [("X-Long", "a" * size)]), ack_every=8)
        c.s2c(http_response(200, [("X-Long", "b" * size)], b"ok"), ack_every=8)
        # a sane exchange afterwards: the parser must find it again
        c.c2s(http_request("GET", "/after"))
        c.s2c(http_response(404, body=b"no"))
        c.close()


def endless_chunked(path, total=50 << 20, chunk_size=4096, mss=32000):
    """A page answered with chunks forever (total bytes of them) and no last chunk."""
    with PcapWriter(path) as w:
        c = TcpConn(w, cport=45000, mss=mss).handshake()
        c.c2s(http_request("GET", "/app"))
        c.s2c(http_response(200, [("Content-Type", "text/html"),
                                  ("Transfer-Encoding", "chunked")]))
        block = chunk(b"<p>" + b"a" * (chunk_size - 3)) * (mss // (chunk_size + 8) + 1)
        sent = 0
        while sent < total:
            c.s2c(block, ack_every=4)
            sent += len(block)
        c.reset(from_client=True)


def pipelined_requests(path, n=200_000):
    """n requests on one connection that are never answered (each one a pending exchange)."""
    with PcapWriter(path) as w:
        c = TcpConn(w, cport=45500, mss=32000).handshake()
        req = http_request("GET", "/static/x.js")
        c.c2s(req * n, ack_every=8)
        c.close()


def page_flood(path, n=20_000, per_conn=200):
    """n page loads (GET + 200 with a fresh token each), per_conn of them per keep-alive
    connection, and no websocket ever: every one is a page load held for its grace time."""
    with PcapWriter(path) as w:
        body_head = bokeh_page("TOKEN").split(b"TOKEN")
        for first in range(0, n, per_conn):
            c = TcpConn(w, cport=10000 + first // per_conn % 50000, mss=32000).handshake()
            reqs, resps = [], []
            for i in range(first, min(n, first + per_conn)):
                tok = bokeh_token(session_id(i), w.now + 300).encode()
                reqs.append(http_request("GET", f"/app?visit={i}", [("User-Agent", "flood")]))
                resps.append(http_response(200, [("Content-Type", "text/html")],
                                           body_head[0] + tok + body_head[1]))
            for rq, rs in zip(reqs, resps):
                c.c2s(rq)
                c.s2c(rs)
            c.close()


def ws_deflate_many(path, n=2000, size=60_000):
    """n websockets negotiating permessage-deflate, each sending one compressed message of
    size bytes each way, all left open (no FIN): per-connection decoder state at its peak."""
    ext = "permessage-deflate"
    msg = deflate_message([b"a" * size])
    with PcapWriter(path) as w:
        conns = []
        for i in range(n):
            ws = TcpConn(w, cport=10000 + i).handshake()
            ws.c2s(ws_upgrade_request(extensions=ext))
            ws.s2c(ws_upgrade_response(extensions=ext))
            ws.s2c(ws_frame(msg, rsv1=True))
            ws.c2s(ws_frame(msg, rsv1=True, masked=True))
            conns.append(ws)


def snaplen_60(path, linktype=LINKTYPE_RAW):
    """A whole page load and websocket session, every packet cut at 60 bytes."""
    with PcapWriter(path, linktype=linktype, snaplen=60) as w:
        ws = _page_and_upgrade(w, 46000)
        for m in bokeh_ws_message("ACK"):
            ws.s2c(ws_frame(m))
        ws.close()


def small_capture(path, writer=PcapWriter, linktype=LINKTYPE_RAW, v6=False, pages=3):
    """A few complete page loads with websockets (a valid capture to cut or convert)."""
    with writer(path, linktype=linktype) as w:
        for i in range(pages):
            cport = 47000 + 10 * i
            sid = session_id(cport)
            tok = bokeh_token(sid, w.now + 300)
            client, server = (CLIENT6, SERVER6) if v6 else (CLIENT4, SERVER4)
            page = TcpConn(w, client, cport, server).handshake()
            page.c2s(http_request("GET", f"/app?visit={i}", [("User-Agent", "craft")]))
            page.s2c(http_response(200, [("Content-Type", "text/html")], bokeh_page(tok)))
            page.close()
            ws = TcpConn(w, client, cport + 1, server).handshake()
            ws.c2s(ws_upgrade_request(token=tok))
            ws.s2c(ws_upgrade_response())
            for m in bokeh_ws_message("ACK"):
                ws.s2c(ws_frame(m))
            for m in bokeh_ws_message("PULL-DOC-REQ", "2"):
                ws.c2s(ws_frame(m, masked=True))
            for m in bokeh_ws_message("PULL-DOC-REPLY", "3", reqid="2"):
                ws.s2c(ws_frame(m))
            ws.close()


def unknown_linktype(path, linktype=LINKTYPE_USER0):
    small_capture(path, linktype=linktype, pages=1)


def garbage_ws(path, size=200_000):
    """101, then random bytes both ways on port 5006."""
    rng = random.Random(7)
    with PcapWriter(path) as w:
        ws = _page_and_upgrade(w, 48000)
        ws.c2s(bytes(rng.getrandbits(8) for _ in range(size)))
        ws.s2c(bytes(rng.getrandbits(8) for _ in range(size)))
        ws.close()


def garbage_http(path, size=200_000):
    """Random bytes both ways on port 5006 with no HTTP at all."""
    rng = random.Random(8)
    with PcapWriter(path) as w:
        c = TcpConn(w, cport=48100).handshake()
        c.c2s(bytes(rng.getrandbits(8) for _ in range(size)))
        c.s2c(bytes(rng.getrandbits(8) for _ in range(size)))
        c.close()


def smuggling(path):
    """Request smuggling shapes: CL+TE, two different CLs, a 101 nobody asked for, and a
    response with no request (each on its own connection)."""
    with PcapWriter(path) as w:
        c = TcpConn(w, cport=49000).handshake()  # CL + TE: TE wins, the rest is a request
        smug = b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
        c.c2s(http_request("POST", "/app", [("Content-Length", "4"),
                                            ("Transfer-Encoding", "chunked")], smug))
        c.s2c(http_response(200, body=b"one"))
        c.s2c(http_response(200, body=b"two"))
        c.close()
        c = TcpConn(w, cport=49010).handshake()  # two different Content-Lengths
        c.c2s(http_request("POST", "/app", [("Content-Length", "5"), ("Content-Length", "50")],
                           b"hello" + b"GET /x HTTP/1.1\r\nHost: y\r\n\r\n"))
        c.s2c(http_response(400, body=b"bad"))
        c.close()
        c = TcpConn(w, cport=49020).handshake()  # a 101 without an upgrade request
        c.c2s(http_request("GET", "/app"))
        c.s2c(ws_upgrade_response())
        c.s2c(ws_frame(b'{"msgtype":"ACK","msgid":"1"}'))
        c.c2s(b"GET /after HTTP/1.1\r\n\r\n")
        c.close()
        c = TcpConn(w, cport=49030).handshake()  # a response with no request
        c.s2c(http_response(200, [("Content-Type", "text/html")], b"<html>nobody asked</html>"))
        c.s2c(http_response(200, [("Transfer-Encoding", "chunked")], chunk(b"x") + b"0\r\n\r\n"))
        c.close()


SCENARIOS = {
    "syn-flood": syn_flood,
    "ws-2^63": lambda p: ws_huge_length(p, 1 << 63),
    "ws-2^62": lambda p: ws_huge_length(p, 1 << 62),
    "ws-deflate-bomb": ws_deflate_bomb,
    "gzip-page-bomb": gzip_page_bomb,
    "many-headers": many_headers,
    "long-header-line": long_header_line,
    "endless-chunked": endless_chunked,
    "pipelined-requests": pipelined_requests,
    "page-flood": page_flood,
    "ws-deflate-many": ws_deflate_many,
    "snaplen-60": snaplen_60,
    "small": small_capture,
    "small-pcapng": lambda p: small_capture(p, writer=PcapngWriter),
    "small-ethernet-v6": lambda p: small_capture(p, linktype=LINKTYPE_ETHERNET, v6=True),
    "unknown-linktype": unknown_linktype,
    "garbage-ws": garbage_ws,
    "garbage-http": garbage_http,
    "smuggling": smuggling,
}


def main(argv):
    if len(argv) == 2 and argv[1] == "list":
        print("\n".join(SCENARIOS))
        return 0
    if len(argv) != 3 or argv[1] not in SCENARIOS:
        print("usage: craft.py list | craft.py SCENARIO OUT.pcap", file=sys.stderr)
        return 2
    random.seed(argv[1])
    SCENARIOS[argv[1]](argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
