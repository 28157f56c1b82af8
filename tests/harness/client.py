#!/usr/bin/python3
"""client: a scripted "browser" for the orphanwatch harness (Python stdlib only).

Does on the wire what Chromium + BokehJS do for one Bokeh page load (bokeh-wire.md 4.4 and 6):
GET the page, parse the session token, GET the five scripts in parallel (the core bundle on
the page's keep-alive connection, the others on up to five new connections, Referer = page URL),
open the websocket on a new connection (page query string, Origin, "bokeh, <token>"
subprotocol, permessage-deflate offer, masked frames), wait for ACK, PULL-DOC-REQ, wait for the
reply, send PATCH-DOC (document_ready), answer pings, hold, close with 1001, then close every
connection like a closed tab.

Failure modes (one flag each) reproduce every orphanwatch verdict; see tests/harness/README.md.
Prints one JSON object per page load on stdout: the client's ground truth.
"""
import argparse
import base64
import hashlib
import json
import os
import re
import socket
import struct
import sys
import threading
import time
import uuid
import zlib
from urllib.parse import urlsplit

CHROME_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/156.0.0.0 Safari/537.36"
)
CURL_UA = "curl/7.88.1"
PAGE_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/jxl,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)
MAX_CONNS_PER_HOST = 6  # Chromium's limit
MAX_HEADER_BYTES = 65536
MAX_BODY_BYTES = 64 * 1024 * 1024
MAX_WS_PAYLOAD = 32 * 1024 * 1024
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CORE = "bokeh"


class Timeout(Exception):
    pass


class Conn:
    """One TCP connection with a read buffer and deadline-bounded reads."""

    def __init__(self, host, port, timeout, rcvbuf=0):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.local = self.sock.getsockname()[:2]
        self.buf = bytearray()
        self.closed = False

    def send(self, data):
        self.sock.sendall(data)

    def fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise Timeout()
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise Timeout()
        if not chunk:
            raise EOFError()
        self.buf += chunk

    def read_until(self, marker, deadline, limit=MAX_HEADER_BYTES):
        while True:
            i = self.buf.find(marker)
            if i >= 0:
                out = bytes(self.buf[: i + len(marker)])
                del self.buf[: i + len(marker)]
                return out
            if len(self.buf) > limit:
                raise ValueError("header too long")
            self.fill(deadline)

    def read_exact(self, n, deadline):
        while len(self.buf) < n:
            self.fill(deadline)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def close(self, reset=False):
        if self.closed:
            return
        self.closed = True
        try:
            if reset:  # abortive close: RST, like a tab closed while data is in flight
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.sock.close()
        except OSError:
            pass


class Response:
    def __init__(self):
        self.status = None
        self.headers = {}
        self.body = b""
        self.complete = False
        self.error = None
        self.length = None


def read_response(conn, deadline, body_limit=MAX_BODY_BYTES, stop_when=None):
    """Reads one HTTP/1.1 response (Content-Length or chunked). `stop_when(body)` may end the
    read early (returns a partial response)."""
    r = Response()
    head = conn.read_until(b"\r\n\r\n", deadline).decode("iso-8859-1")
    lines = head.split("\r\n")
    parts = lines[0].split(" ", 2)
    r.status = int(parts[1])
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            r.headers[k.strip().lower()] = v.strip()
    body = bytearray()
    if r.headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size_line = conn.read_until(b"\r\n", deadline)
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                conn.read_until(b"\r\n", deadline)
                break
            if len(body) + size > body_limit:
                raise ValueError("body too long")
            body += conn.read_exact(size, deadline)
            conn.read_exact(2, deadline)
        r.complete = True
    elif "content-length" in r.headers:
        r.length = int(r.headers["content-length"])
        if r.length > body_limit:
            raise ValueError("body too long")
        while len(body) < r.length:
            if not conn.buf:
                conn.fill(deadline)
            take = min(len(conn.buf), r.length - len(body))
            body += conn.buf[:take]
            del conn.buf[:take]
            if stop_when and stop_when(body):
                r.body = bytes(body)
                return r
        r.complete = True
    elif r.status in (101, 204, 304):
        r.complete = True
    r.body = bytes(body)
    return r


def http_request(path, host, headers):
    lines = ["GET %s HTTP/1.1" % path, "Host: %s" % host]
    lines += ["%s: %s" % kv for kv in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("iso-8859-1")


def parse_token(html):
    m = re.search(rb'"token":"([A-Za-z0-9_\-.]+)"', html)
    return m.group(1).decode("ascii") if m else None


def token_payload(token):
    part = token.split(".", 1)[0]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def script_urls(html):
    return [u.decode() for u in re.findall(rb'<script type="text/javascript" src="([^"]+)"', html)]


def bundle_of(url):
    base = url.split("?", 1)[0].rsplit("/", 1)[-1]
    return base[: -len(".min.js")] if base.endswith(".min.js") else base


def bokeh_msgid():
    return uuid.uuid4().hex.upper()  # BokehJS: 32 uppercase hex digits, a UUIDv4 without dashes


# ---------------------------------------------------------------- websocket framing


def mask_bytes(payload, key):
    n = len(payload)
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big") if n else b""


def ws_frame(opcode, payload):
    key = os.urandom(4)
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    return head + key + mask_bytes(payload, key)


class WS:
    def __init__(self, conn, deflate):
        self.conn = conn
        self.inflater = zlib.decompressobj(-15) if deflate else None
        self.partial = None
        self.pings = 0
        self.server_close = None
        self.frames_in = 0
        self.lock = threading.Lock()

    def send_text(self, text):
        with self.lock:
            self.conn.send(ws_frame(0x1, text.encode("utf-8")))

    def send_close(self, code=None):
        payload = struct.pack(">H", code) if code is not None else b""
        with self.lock:
            self.conn.send(ws_frame(0x8, payload))

    def read_message(self, deadline):
        """Returns (opcode, payload) of the next data message; answers pings on the way.
        Returns (8, payload) for a close frame."""
        while True:
            b0, b1 = self.conn.read_exact(2, deadline)
            fin, rsv1, opcode = b0 & 0x80, b0 & 0x40, b0 & 0x0F
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self.conn.read_exact(2, deadline))[0]
            elif n == 127:
                n = struct.unpack(">Q", self.conn.read_exact(8, deadline))[0]
            if n > MAX_WS_PAYLOAD:
                raise ValueError("websocket frame too long: %d" % n)
            key = self.conn.read_exact(4, deadline) if b1 & 0x80 else None
            payload = self.conn.read_exact(n, deadline)
            if key:
                payload = mask_bytes(payload, key)
            self.frames_in += 1
            if opcode == 0x9:
                self.pings += 1
                with self.lock:
                    self.conn.send(ws_frame(0xA, payload))
                continue
            if opcode == 0xA:
                continue
            if opcode == 0x8:
                self.server_close = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
                return 8, payload
            if opcode in (0x1, 0x2):
                self.partial = [opcode, rsv1, bytearray(payload)]
            elif opcode == 0x0 and self.partial:
                self.partial[2] += payload
            else:
                raise ValueError("unexpected websocket opcode %d" % opcode)
            if fin:
                op, compressed, data = self.partial
                self.partial = None
                if compressed and self.inflater:
                    data = self.inflater.decompress(bytes(data) + b"\x00\x00\xff\xff", MAX_WS_PAYLOAD)
                return op, bytes(data)

    def read_bokeh(self, deadline):
        """One Bokeh message: header, metadata, content (+ buffers). None on close."""
        frags = []
        want = 3
        while len(frags) < want:
            op, data = self.read_message(deadline)
            if op == 8:
                return None
            frags.append(data)
            if len(frags) == 1:
                hdr = json.loads(frags[0])
                want = 3 + 2 * int(hdr.get("num_buffers", 0))
        return json.loads(frags[0]), json.loads(frags[2])

    def send_bokeh(self, msgtype, content):
        header = {"msgid": bokeh_msgid(), "msgtype": msgtype}
        with self.lock:
            for part in (header, {}, content):
                text = json.dumps(part, separators=(",", ":"))
                self.conn.send(ws_frame(0x1, text.encode("utf-8")))
        return header["msgid"]


# ---------------------------------------------------------------- the page load


class PageLoad:
    def __init__(self, args):
        self.a = args
        u = urlsplit(args.url)
        self.url = args.url
        self.host = u.hostname
        self.port = u.port or 80
        self.netloc = u.netloc
        self.path = u.path or "/"
        self.query = u.query
        self.origin = args.origin or "%s://%s" % (u.scheme, u.netloc)
        m = re.search(r"(?:^|&)visit=(\d+)", self.query)
        self.visit = args.visit if args.visit is not None else (int(m.group(1)) if m else None)
        self.conns = []
        self.rec = {
            "visit": self.visit,
            "url": self.url,
            "client": None,
            "client_port": None,
            "client_kind": "curl" if args.curl else "pyclient",
            "cache": "warm" if args.warm else "cold",
            "started_at": None,
            "session_id": None,
            "session_expiry": None,
            "page_status": None,
            "page_bytes": 0,
            "page_complete": False,
            "scripts": [],
            "favicon": None,
            "ws": {"attempted": False},
            "rendered": False,
            "websocket_opened": False,
            "what": None,
            "error": None,
        }

    def deadline(self, seconds=None):
        return time.monotonic() + (seconds if seconds is not None else self.a.timeout)

    def connect(self, host=None, port=None, rcvbuf=0):
        c = Conn(host or self.host, port or self.port, self.a.timeout, rcvbuf)
        self.conns.append(c)
        return c

    def page_headers(self):
        if self.a.curl:
            return [("User-Agent", self.a.user_agent or CURL_UA), ("Accept", "*/*")]
        return [
            ("Connection", "keep-alive"),
            ("Upgrade-Insecure-Requests", "1"),
            ("User-Agent", self.a.user_agent or CHROME_UA),
            ("Accept", PAGE_ACCEPT),
            ("Accept-Encoding", "gzip, deflate"),
            ("Accept-Language", "en-US,en;q=0.9"),
        ]

    def sub_headers(self, accept="*/*"):
        return [
            ("Connection", "keep-alive"),
            ("User-Agent", self.a.user_agent or CHROME_UA),
            ("Accept", accept),
            ("Referer", self.url),
            ("Accept-Encoding", "gzip, deflate"),
            ("Accept-Language", "en-US,en;q=0.9"),
        ]

    # -- steps

    def get_page(self):
        rec = self.rec
        rcvbuf = self.a.close_early_rcvbuf if self.a.close_early else 0
        c = self.connect(rcvbuf=rcvbuf)
        rec["client"], rec["client_port"] = c.local[0], c.local[1]
        target = self.path + ("?" + self.query if self.query else "")
        c.send(http_request(target, self.netloc, self.page_headers()))
        stop = None
        if self.a.close_early:
            # read until the token is complete, then reset the connection (tab closed)
            stop = lambda body: re.search(rb'"token":"[^"]+"', bytes(body)) is not None  # noqa
        r = read_response(c, self.deadline(), stop_when=stop)
        rec["page_status"], rec["page_bytes"], rec["page_complete"] = r.status, len(r.body), r.complete
        token = parse_token(r.body)
        if token:
            self.token = token
            p = token_payload(token)
            rec["session_id"], rec["session_expiry"] = p.get("session_id"), p.get("session_expiry")
        else:
            self.token = None
        return c, r

    def fetch(self, conn, url, result, deadline):
        result.update({"url": url, "name": bundle_of(url), "port": conn.local[1]})
        try:
            conn.send(http_request(url, self.netloc, self.sub_headers()))
            r = read_response(conn, deadline)
            result.update(status=r.status, bytes=len(r.body), complete=r.complete)
        except Timeout:
            result.update(status=result.get("status"), stalled=True, complete=False)
        except (OSError, EOFError, ValueError) as e:
            result.update(error=repr(e), complete=False)

    def get_scripts(self, page_conn, urls):
        """Chromium: the first script on the page's connection, the rest on new ones (<= 6)."""
        deadline = self.deadline(self.a.script_timeout)
        results = [{} for _ in urls]
        threads = []
        conns = [page_conn]
        for i, url in enumerate(urls):
            if i == 0:
                c = page_conn
            elif len(conns) < MAX_CONNS_PER_HOST:
                try:
                    c = self.connect()
                except OSError as e:
                    results[i].update(url=url, name=bundle_of(url), error=repr(e))
                    continue
                conns.append(c)
            else:
                c = conns[1 + (i - 1) % (MAX_CONNS_PER_HOST - 1)]
            t = threading.Thread(target=self.fetch, args=(c, url, results[i], deadline))
            t.start()
            threads.append(t)
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()) + 5)
        self.rec["scripts"] = results
        return results, conns

    def get_favicon(self, conn):
        res = {}
        try:
            conn.send(http_request("/favicon.ico", self.netloc, self.sub_headers(
                "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8")))
            r = read_response(conn, self.deadline(5))
            res = {"status": r.status, "bytes": len(r.body), "port": conn.local[1]}
        except (OSError, EOFError, ValueError, Timeout) as e:
            res = {"error": repr(e)}
        self.rec["favicon"] = res

    def open_ws(self):
        ws_rec = self.rec["ws"]
        ws_rec["attempted"] = True
        host, port, netloc = self.host, self.port, self.netloc
        if self.a.ws_host:
            netloc = self.a.ws_host
            u = urlsplit("//" + netloc)
            host, port = u.hostname, u.port or 80
        app_path = self.path.rstrip("/")
        target = app_path + "/ws" + ("?" + self.query if self.query else "")
        ws_rec["url"] = "ws://%s%s" % (netloc, target)
        c = self.connect(host, port)
        ws_rec["port"] = c.local[1]
        key = base64.b64encode(os.urandom(16)).decode()
        headers = [
            ("Connection", "Upgrade"),
            ("Pragma", "no-cache"),
            ("Cache-Control", "no-cache"),
            ("User-Agent", self.a.user_agent or CHROME_UA),
            ("Upgrade", "websocket"),
            ("Origin", self.origin),
            ("Sec-WebSocket-Version", "13"),
            ("Accept-Encoding", "gzip, deflate"),
            ("Accept-Language", "en-US,en;q=0.9"),
            ("Sec-WebSocket-Key", key),
            ("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"),
            ("Sec-WebSocket-Protocol", "bokeh, %s" % self.token),
        ]
        c.send(http_request(target, netloc, headers))
        r = read_response(c, self.deadline())
        ws_rec["status"] = r.status
        if r.status != 101:
            return None
        accept = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()
        if r.headers.get("sec-websocket-accept") != accept:
            ws_rec["error"] = "bad Sec-WebSocket-Accept"
            return None
        proto = r.headers.get("sec-websocket-protocol")
        ws_rec["subprotocol"] = proto
        self.rec["websocket_opened"] = True
        deflate = "permessage-deflate" in r.headers.get("sec-websocket-extensions", "")
        ws = WS(c, deflate)
        if proto != "bokeh":  # Chromium fails the handshake: 1006, TCP closed
            c.close()
            ws_rec["client_close"] = 1006
            return None
        return ws

    def run_ws(self, ws, render_ok):
        ws_rec = self.rec["ws"]
        first = ws.read_bokeh(self.deadline())
        if first is None:  # closed before ACK (expired token, bad subprotocol)
            ws_rec["server_close"] = ws.server_close if ws.server_close is not None else "empty"
            ws_rec["ack"] = False
            try:
                ws.send_close()  # echo the empty close frame
                ws_rec["client_close"] = "empty"
            except OSError:
                pass
            return "ws_closed_before_ack"
        ws_rec["ack"] = first[0].get("msgtype") == "ACK"
        if not ws_rec["ack"]:
            ws.send_close(1002)
            return "first_message_not_ack"
        req = ws.send_bokeh("PULL-DOC-REQ", {})
        ws_rec["doc"] = False
        deadline = self.deadline()
        while True:
            m = ws.read_bokeh(deadline)
            if m is None:
                ws_rec["server_close"] = ws.server_close
                return "ws_closed_before_doc"
            if m[0].get("reqid") == req and m[0].get("msgtype") == "PULL-DOC-REPLY":
                ws_rec["doc"] = True
                ws_rec["doc_version"] = m[1].get("doc", {}).get("version")
                break
        ws_rec["patch_sent"] = False
        if render_ok and not self.a.no_patch:
            ready = {"events": [{"kind": "MessageSent", "msg_type": "bokeh_event", "msg_data": {
                "type": "event", "name": "document_ready", "values": {"type": "map"}}}]}
            ws.send_bokeh("PATCH-DOC", ready)
            ws_rec["patch_sent"] = True
            self.rec["rendered"] = True
        # hold the page open: answer pings, count server messages (OK, streamed PATCH-DOCs)
        counts = {}
        end = time.monotonic() + self.a.hold
        while time.monotonic() < end:
            try:
                m = ws.read_bokeh(end)
            except Timeout:
                break
            if m is None:
                ws_rec["server_close"] = ws.server_close
                break
            t = m[0].get("msgtype")
            counts[t] = counts.get(t, 0) + 1
        ws_rec["messages"] = counts
        ws_rec["pings"] = ws.pings
        if ws.server_close is None:
            ws.send_close(1001)
            ws_rec["client_close"] = 1001
            try:
                while ws.read_message(self.deadline(2))[0] != 8:
                    pass
                ws_rec["server_close"] = ws.server_close
            except (Timeout, EOFError, OSError, ValueError):
                pass
        return "rendered" if self.rec["rendered"] else "render_failed"

    def run(self):
        rec = self.rec
        rec["started_at"] = time.time()
        page_conn, page = self.get_page()
        if self.a.close_early:
            time.sleep(self.a.close_early_wait)
            page_conn.close(reset=True)
            return "closed_early"
        if self.a.curl or self.a.no_scripts:
            return "no_scripts"
        if page.status != 200 or not self.token:
            return "page_failed"
        conns = [page_conn]
        core_ok = render_ok = True
        if not self.a.warm:
            results, conns = self.get_scripts(page_conn, script_urls(page.body))
            for res in results:
                ok = res.get("status") == 200 and res.get("complete")
                if res.get("stalled"):
                    return "script_stalled:%s" % res.get("name")
                if not ok and res.get("name") == CORE:
                    core_ok = False
                elif not ok:
                    render_ok = False
            if not core_ok:  # plugins throw, embed code throws: no websocket (6)
                return "script_failed:%s" % CORE
        if self.a.stop_after_scripts:
            time.sleep(self.a.hold)
            return "ws_never_attempted"
        if self.a.delay_ws:
            time.sleep(self.a.delay_ws)
        ws = self.open_ws()
        if ws is None:
            st = rec["ws"].get("status")
            return "ws_refused:%s" % st if st != 101 else "ws_failed"
        if not self.a.warm and not self.a.no_favicon:
            fav = threading.Thread(target=self.get_favicon, args=(conns[-1],))
            fav.start()
        else:
            fav = None
        what = self.run_ws(ws, render_ok)
        if fav:
            fav.join(6)
        if self.a.ws_host:
            what = "ws_elsewhere:" + what
        if not render_ok and what == "render_failed":
            what = "render_failed:plugin_failed"
        return what

    def finish(self):
        for c in self.conns:
            c.close()


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="scripted Bokeh page load (orphanwatch harness)")
    p.add_argument("url", help="page URL, e.g. http://100.64.0.1:5006/bserve_test?visit=1")
    p.add_argument("--visit", type=int, help="visit number (default: ?visit= of the URL)")
    p.add_argument("--warm", action="store_true", help="scripts cached: no script GETs")
    p.add_argument("--curl", action="store_true", help="curl-like health check (curl UA, no scripts)")
    p.add_argument("--no-scripts", action="store_true", help="GET the page only, then close")
    p.add_argument("--stop-after-scripts", action="store_true",
                   help="fetch the scripts, never open the websocket")
    p.add_argument("--no-patch", action="store_true",
                   help="pull the document, then stay silent (render failure)")
    p.add_argument("--close-early", action="store_true",
                   help="reset the page connection while its response is being received")
    p.add_argument("--close-early-rcvbuf", type=int, default=2048, help=argparse.SUPPRESS)
    p.add_argument("--close-early-wait", type=float, default=0.05, help=argparse.SUPPRESS)
    p.add_argument("--delay-ws", type=float, default=0.0, metavar="S",
                   help="wait S seconds after the scripts before opening the websocket")
    p.add_argument("--ws-host", metavar="HOST:PORT", help="open the websocket to another server")
    p.add_argument("--origin", help="Origin header of the websocket (default: the page origin)")
    p.add_argument("--hold", type=float, default=1.0, help="seconds the page stays open")
    p.add_argument("--script-timeout", type=float, default=30.0,
                   help="give up on the scripts after S seconds (tab closed)")
    p.add_argument("--timeout", type=float, default=15.0, help="timeout of every other step")
    p.add_argument("--user-agent")
    p.add_argument("--no-favicon", action="store_true")
    return p.parse_args(argv)


def main(argv=None):
    a = parse_args(argv)
    pl = PageLoad(a)
    try:
        pl.rec["what"] = pl.run()
    except Timeout:
        pl.rec["what"] = pl.rec["error"] = "timeout"
    except (OSError, EOFError, ValueError) as e:
        pl.rec["what"] = "error"
        pl.rec["error"] = repr(e)
    finally:
        pl.finish()
    pl.rec["ended_at"] = time.time()
    print(json.dumps(pl.rec), flush=True)
    return 0 if pl.rec["what"] != "error" else 1


if __name__ == "__main__":
    sys.exit(main())
