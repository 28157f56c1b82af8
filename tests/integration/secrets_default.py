"""secrets_default: no cookie, Authorization value, token payload or websocket user data
reaches the database unless --store-secrets.

A crafted capture (tests/hostile/craft.py) holds a page GET carrying `Cookie:
sessionid=SECRETCOOKIE123` and `Authorization: Bearer SECRETBEARER456` with a query
`?bokeh-token=SECRETTOKEN789`, its response with a real Bokeh token whose `__bk__zlib_` payload
holds that header and cookie, static fetches whose Referer is the page URL or another URL
(query included), a websocket upgrade carrying the token in `Sec-WebSocket-Protocol: bokeh,
<token>` (and the query again), and Bokeh messages both ways whose contents carry
SECRETUSERDATA. Read with -w:
none of the secret strings, nor the raw token, nor its `__bk__zlib_` value appears in the
database files' bytes, nor in `sqlite3 .dump` of every table, nor in the reports; the session id
does appear (and the rows the secrets would have gone to exist). With --store-secrets the
capture row says store_secrets = 1 (and the query value is kept: the check can see it).

With the shared captures ($ORPHANWATCH_CAPTURES), each one is read too: every token found on
the wire (page HTML `"token":"..."` and Sec-WebSocket-Protocol) is decoded here, and neither
the token, nor its `__bk__zlib_` value, nor any cookie or Authorization value in it (or in a
Cookie / Authorization request header on the wire) reaches the database."""
import json
import os
import re
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "hostile"))
import craft  # noqa: E402

SECRETS = ["SECRETCOOKIE123", "SECRETBEARER456", "SECRETTOKEN789", "SECRETUSERDATA"]
passed = failed = 0


def check(cond, what, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok   {what}")
    else:
        failed += 1
        print(f"FAIL {what}{': ' + detail if detail else ''}")
    return cond


def binary():
    b = os.environ.get("ORPHANWATCH_BIN") or os.path.join(HERE, "..", "..", "build", "orphanwatch")
    if not os.path.exists(b):
        print(f"orphanwatch binary not found ({b}); set ORPHANWATCH_BIN\n0 passed, 1 failed")
        sys.exit(1)
    return b


BIN = binary()


def ow(*args):
    return subprocess.run([BIN] + list(args), capture_output=True, timeout=900)


# ------------------------------------------------------------------ the crafted capture


def craft_capture(path):
    w = craft.PcapWriter(path)
    sid = craft.session_id("secrets")
    token = craft.bokeh_token(sid, w.now + 300,
                              headers={"Host": "100.64.0.1:5006",
                                       "Authorization": "Bearer SECRETBEARER456",
                                       "Cookie": "sessionid=SECRETCOOKIE123"},
                              cookies={"sessionid": "SECRETCOOKIE123"})
    secret_headers = [("User-Agent", "craft-secrets"), ("Cookie", "sessionid=SECRETCOOKIE123"),
                      ("Authorization", "Bearer SECRETBEARER456")]
    page_url = "/app?bokeh-token=SECRETTOKEN789&visit=1"
    c = craft.TcpConn(w, cport=50000).handshake()
    c.c2s(craft.http_request("GET", page_url, secret_headers))
    c.s2c(craft.http_response(200, [("Content-Type", "text/html; charset=UTF-8"),
                                    ("Set-Cookie", "sessionid=SECRETCOOKIE123; HttpOnly")],
                              craft.bokeh_page(token)))
    c.close()
    s = craft.TcpConn(w, cport=50001).handshake()
    s.c2s(craft.http_request("GET", "/static/js/bokeh.min.js?v=1", secret_headers + [
        ("Referer", "http://100.64.0.1:5006" + page_url)]))
    s.s2c(craft.http_response(200, [("Content-Type", "application/javascript")], b"/*js*/"))
    # a Referer that is not the linked page's URL is stored as it came: redacted too
    s.c2s(craft.http_request("GET", "/static/js/bokeh-widgets.min.js?v=1", secret_headers + [
        ("Referer", "http://100.64.0.1:5006/other?bokeh-token=SECRETTOKEN789&x=1")]))
    s.s2c(craft.http_response(200, [("Content-Type", "application/javascript")], b"/*js*/"))
    s.close()
    ws = craft.TcpConn(w, cport=50002).handshake()
    ws.c2s(craft.ws_upgrade_request("/app/ws?bokeh-token=SECRETTOKEN789", token=token,
                                    headers=secret_headers[1:]))
    ws.s2c(craft.ws_upgrade_response())
    for m in craft.bokeh_ws_message("ACK", "1"):
        ws.s2c(craft.ws_frame(m))
    for m in craft.bokeh_ws_message("PULL-DOC-REQ", "2"):
        ws.c2s(craft.ws_frame(m, masked=True))
    doc = json.dumps({"doc": {"roots": [{"type": "Div", "text": "SECRETUSERDATA"}]}}).encode()
    for m in craft.bokeh_ws_message("PULL-DOC-REPLY", "3", reqid="2", content=doc):
        ws.s2c(craft.ws_frame(m))
    patch = json.dumps({"events": [{"kind": "ModelChanged", "new": "SECRETUSERDATA"}]}).encode()
    for m in craft.bokeh_ws_message("PATCH-DOC", "4", content=patch):
        ws.c2s(craft.ws_frame(m, masked=True))
    ws.close()
    w.close()
    return sid, token


# ------------------------------------------------------------------ what the database holds


def db_files(db):
    return [p for p in (db, db + "-wal", db + "-shm", db + "-journal") if os.path.exists(p)]


def db_bytes(db):
    return b"".join(open(p, "rb").read() for p in db_files(db))


def db_dump(db):
    """Every table as SQL text: the sqlite3 shell's .dump when installed, else iterdump."""
    sq = shutil.which("sqlite3")
    if sq:
        p = subprocess.run([sq, db, ".dump"], capture_output=True, timeout=600)
        if p.returncode == 0:
            return p.stdout.decode("utf-8", errors="replace")
    con = sqlite3.connect(db)
    try:
        return "\n".join(con.iterdump())
    finally:
        con.close()


def query(db, sql):
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def leaks(needles, db, extra_texts=()):
    """The needles found in the database bytes, its dump or the extra texts."""
    raw = db_bytes(db)
    dump = db_dump(db)
    found = []
    for n in needles:
        if n.encode() in raw or n in dump or any(n in t for t in extra_texts):
            found.append(n)
    return found


def test_crafted(tmp):
    pcap = os.path.join(tmp, "secrets.pcap")
    sid, token = craft_capture(pcap)
    payload = craft.decode_token_payload(token)
    check(payload and payload["cookies"]["sessionid"] == "SECRETCOOKIE123",
          "the crafted token carries the cookie in __bk__zlib_")
    zblob = json.loads(craft.base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))[
        "__bk__zlib_"]

    db = os.path.join(tmp, "secrets.db")
    p = ow("read", pcap, "-w", db, "-q")
    check(p.returncode == 0, "read -w exits 0", p.stderr.decode()[:300])
    reports = [ow("report", db).stdout.decode(errors="replace"),
               ow("report", db, "--format", "jsonl").stdout.decode(errors="replace"),
               ow("read", pcap).stdout.decode(errors="replace")]
    found = leaks(SECRETS + [token, zblob], db, reports)
    check(not found, "no secret, token or __bk__zlib_ value in the database bytes, its .dump "
                     "or the reports", f"found {[f[:40] for f in found]}")

    # the rows the secrets would have gone to are there, so the absence means something
    dump = db_dump(db)
    check(sid in dump and sid.encode() in db_bytes(db), "the session id is in the database")
    rows = query(db, "SELECT kind, target, referer FROM http_exchanges ORDER BY id")
    check(len(rows) >= 3, "page, static and websocket exchanges are stored", str(rows))
    check(any("bokeh-token=REDACTED" in (r[1] or "") for r in rows),
          "the token-bearing query value is redacted in targets", str(rows))
    check(any("bokeh-token=REDACTED" in (r[2] or "") for r in rows),
          "... and in the Referer", str(rows))
    pl = query(db, "SELECT s.session_id, p.path FROM page_loads p LEFT JOIN sessions s "
                   "ON s.id = p.session_ref")
    check(len(pl) == 1 and pl[0][0] == sid, "one page load with the session id", str(pl))
    bm = query(db, "SELECT msgtype FROM bokeh_messages")
    check({"ACK", "PULL-DOC-REPLY", "PATCH-DOC"} <= {r[0] for r in bm},
          "the Bokeh messages carrying the user data were decoded (type only)", str(bm))
    cap = query(db, "SELECT store_secrets FROM captures")
    check(cap == [(0,)], "store_secrets is 0 by default", str(cap))

    db2 = os.path.join(tmp, "secrets-stored.db")
    p = ow("read", pcap, "-w", db2, "-q", "--store-secrets")
    check(p.returncode == 0, "read -w --store-secrets exits 0", p.stderr.decode()[:300])
    cap = query(db2, "SELECT store_secrets FROM captures")
    check(cap == [(1,)], "with --store-secrets the capture row says store_secrets = 1", str(cap))
    check("SECRETTOKEN789" in db_dump(db2),
          "with --store-secrets the token-bearing query value is kept (the check sees it)")


# ------------------------------------------------------------------ the shared captures


def pcap_streams(path):
    """Payload bytes per (src, sport, dst, dport), in capture order, from a pcap (RAW, Ethernet,
    Linux SLL/SLL2, NULL). Enough to find tokens and headers; no reassembly."""
    streams = {}
    with open(path, "rb") as f:
        hdr = f.read(24)
        magic = struct.unpack("<I", hdr[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            e = "<"
        elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
            e = ">"
        else:
            return None
        linktype = struct.unpack(e + "I", hdr[20:24])[0] & 0xFFFF
        l2 = {101: 0, 228: 0, 229: 0, 1: 14, 113: 16, 276: 20, 0: 4, 108: 4}.get(linktype)
        if l2 is None:
            return None
        while True:
            rh = f.read(16)
            if len(rh) < 16:
                break
            caplen = struct.unpack(e + "I", rh[8:12])[0]
            pkt = f.read(caplen)
            ip = pkt[l2:]
            if linktype == 1 and pkt[12:14] == b"\x81\x00":
                ip = pkt[18:]
            if not ip:
                continue
            v = ip[0] >> 4
            if v == 4:
                ihl = (ip[0] & 15) * 4
                if ip[9] != 6:
                    continue
                src, dst, tcp = ip[12:16], ip[16:20], ip[ihl:]
            elif v == 6:
                if ip[6] != 6:
                    continue
                src, dst, tcp = ip[8:24], ip[24:40], ip[40:]
            else:
                continue
            if len(tcp) < 20:
                continue
            sport, dport = struct.unpack("!HH", tcp[:4])
            data = tcp[(tcp[12] >> 4) * 4:]
            if data:
                streams.setdefault((src, sport, dst, dport), bytearray()).extend(data)
    return streams


TOKEN_RE = re.compile(rb'"token":"([A-Za-z0-9_\-.]{20,})"')
SUBPROTO_RE = re.compile(rb"Sec-WebSocket-Protocol:[ \t]*bokeh[ \t]*,[ \t]*([A-Za-z0-9_\-.]{20,})",
                         re.I)
HEADER_RE = re.compile(rb"^(Cookie|Authorization):[ \t]*([^\r\n]+)", re.I | re.M)


def b64u_decode(s):
    return craft.base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def secrets_of_token(tok):
    """(raw token, __bk__zlib_ value, cookie and Authorization values) of one token."""
    out = {tok}
    try:
        j = json.loads(b64u_decode(tok.split(".")[0]))
    except ValueError:
        return out
    z = j.get("__bk__zlib_")
    payload = {}
    if z:
        out.add(z)
        try:
            payload = json.loads(zlib.decompress(b64u_decode(z)))
        except (ValueError, zlib.error):
            payload = {}
    for k in ("headers", "cookies"):  # 2.0-2.3 put them at top level
        if k in j:
            payload.setdefault(k, j[k])
    for name, value in (payload.get("cookies") or {}).items():
        out.add(str(value))
    for name, value in (payload.get("headers") or {}).items():
        if name.lower() in ("cookie", "authorization"):
            out.add(str(value))
            out.update(part.split("=", 1)[1] for part in str(value).split(";") if "=" in part)
    return out


def test_shared(tmp):
    caps = os.environ.get("ORPHANWATCH_CAPTURES", "")
    if not caps or not os.path.isdir(caps):
        print("note: ORPHANWATCH_CAPTURES not set or missing: shared captures not checked")
        return
    pcaps = sorted(f for f in os.listdir(caps) if f.endswith((".pcap", ".pcapng")))
    for name in pcaps:
        path = os.path.join(caps, name)
        streams = pcap_streams(path)
        if streams is None:
            print(f"note: {name}: link type not read by this test; skipped")
            continue
        tokens, values, blobs = set(), set(), set()
        for data in streams.values():
            for m in TOKEN_RE.finditer(data):
                tokens.add(m.group(1).decode())
            for m in SUBPROTO_RE.finditer(data):
                tokens.add(m.group(1).decode())
            for m in HEADER_RE.finditer(data):
                v = m.group(2).decode("latin-1").strip()
                values.add(v)
                values.update(p.split("=", 1)[1] for p in v.split(";") if "=" in p)
        for t in tokens:
            inside = secrets_of_token(t) - {t}
            z = json.loads(b64u_decode(t.split(".")[0])).get("__bk__zlib_")
            blobs |= {z} if z else set()
            values |= inside - blobs
        values = {v for v in values if len(v) >= 8}  # shorter ones match by chance
        needles = sorted(tokens | blobs | values)
        db = os.path.join(tmp, name + ".db")
        p = ow("read", path, "-w", db, "-q")
        if not check(p.returncode == 0, f"{name}: read -w exits 0", p.stderr.decode()[:300]):
            continue
        found = leaks(needles, db)
        check(tokens and not found,
              f"{name}: none of {len(tokens)} tokens, {len(blobs)} __bk__zlib_ values or "
              f"{len(values)} cookie/Authorization values reaches the database",
              f"found {[f[:40] for f in found]}" if found else "no token found on the wire")
        os.unlink(db)


def main():
    tmp = tempfile.mkdtemp(prefix="ow-secrets-")
    try:
        test_crafted(tmp)
        test_shared(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
