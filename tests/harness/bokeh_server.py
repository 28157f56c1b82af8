#!/usr/bin/python3
"""bokeh_server: a Bokeh-protocol test server for the orphanwatch harness.

Speaks what `bokeh serve app.py` (Bokeh 3.6, Tornado) puts on the wire, as described in
shared/reference/bokeh-wire.md: the document page with five <script src> tags and a real
Bokeh-format session token, the static BokehJS bundles (real files from the npm package
@bokeh/bokehjs when given with --static-dir, otherwise synthesized files of the real sizes),
the websocket with Bokeh's origin check, subprotocol, token-expiry check, ACK, PULL-DOC,
PATCH-DOC/OK, keep-alive pings and optional streaming, the favicon, and Bokeh's unused-session
cleanup. Fault options make one script fail or stall. Every event also goes, as one JSON
object per line, to --session-log (the ground truth that make_capture.sh reads).

Runs with Debian's /usr/bin/python3 and python3-tornado (6.2, the version of the shared
captures). Test-harness tool, not part of orphanwatch.
"""
import argparse
import asyncio
import base64
import calendar
import datetime as dt
import hashlib
import json
import logging
import os
import random
import string
import struct
import sys
import tempfile
import time
import uuid
import zlib
from urllib.parse import urlparse

import tornado
import tornado.httpserver
import tornado.iostream
import tornado.ioloop
import tornado.locks
import tornado.web
import tornado.websocket

BUNDLES = ["bokeh", "bokeh-gl", "bokeh-widgets", "bokeh-tables", "bokeh-mathjax"]
REAL_SIZES = {  # Bokeh 3.6.0 bundle sizes (bokeh-wire.md 1.2)
    "bokeh": 1091563,
    "bokeh-gl": 211022,
    "bokeh-widgets": 311821,
    "bokeh-tables": 301216,
    "bokeh-mathjax": 1785889,
}
SMALL_DIVISOR = 40  # --small-static: each bundle is 1/40 of its real size
FAVICON_SIZE = 15086
DEFAULT_BOKEH_VERSION = "3.6.0"
SESSION_ID_CHARS = string.ascii_letters + string.digits
SESSION_ID_LEN = 44
STALL_MAX_S = 3600  # a stalled static response is cut after this (bounded)

log = logging.getLogger("bokeh")
_rng = random.SystemRandom()


# ---------------------------------------------------------------- utilities


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def utc_now_s() -> int:
    return calendar.timegm(dt.datetime.now(tz=dt.timezone.utc).timetuple())


class EventLog:
    """--session-log: one JSON object per line, flushed at once."""

    def __init__(self, path, instance):
        self.f = open(path, "a", encoding="utf-8") if path else None
        self.instance = instance

    def __call__(self, event, **fields):
        if not self.f:
            return
        rec = {"t": round(time.time(), 6), "event": event, "server": self.instance}
        rec.update(fields)
        self.f.write(json.dumps(rec, sort_keys=False) + "\n")
        self.f.flush()


class IdCounter:
    """Bokeh 3.x model ids and server msgids: p<integer> from one per-process counter."""

    def __init__(self, start=1001):
        self.n = start

    def __call__(self) -> str:
        v = "p%d" % self.n
        self.n += 1
        return v


# ---------------------------------------------------------------- static files


def synth_bundle(name: str, size: int, version: str) -> bytes:
    """Deterministic stand-in for a BokehJS bundle: a JS-looking text of exactly `size` bytes."""
    head = (
        "'use strict';\n/*!\n * Synthetic stand-in for %s.min.js %s (orphanwatch test harness).\n"
        " * Same size as the real bundle; the content is deterministic filler.\n */\n"
        % (name, version)
    ).encode()
    out = bytearray(head)
    counter = 0
    while len(out) < size:
        digest = hashlib.sha256(("%s:%d" % (name, counter)).encode()).hexdigest()
        out += ("var _%s_%d=\"%s\";\n" % (name.replace("-", "_"), counter, digest)).encode()
        counter += 1
    return bytes(out[:size])


def synth_favicon() -> bytes:
    """15086 bytes with an ICO header (the size of Bokeh's logo icon)."""
    header = struct.pack("<HHH", 0, 1, 1) + struct.pack(
        "<BBBBHHII", 48, 48, 0, 0, 1, 32, FAVICON_SIZE - 22, 22
    )
    body = bytearray(header)
    counter = 0
    while len(body) < FAVICON_SIZE:
        body += hashlib.sha256(b"favicon%d" % counter).digest()
        counter += 1
    return bytes(body[:FAVICON_SIZE])


def prepare_static(args) -> str:
    """Returns the directory that holds js/<bundle>.min.js."""
    if args.static_dir:
        for b in BUNDLES:
            p = os.path.join(args.static_dir, "js", b + ".min.js")
            if not os.path.isfile(p) and b not in args.fail_static:
                sys.exit("bokeh_server: missing %s" % p)
        return os.path.abspath(args.static_dir)
    kind = "small" if args.small_static else "real"
    root = args.synth_dir or os.path.join(
        tempfile.gettempdir(), "ow-bokeh-static-%s-%s" % (args.bokeh_version, kind)
    )
    jsdir = os.path.join(root, "js")
    os.makedirs(jsdir, exist_ok=True)
    for b in BUNDLES:
        size = REAL_SIZES[b] // (SMALL_DIVISOR if args.small_static else 1)
        p = os.path.join(jsdir, b + ".min.js")
        if os.path.isfile(p) and os.path.getsize(p) == size:
            continue
        tmp = "%s.%d.tmp" % (p, os.getpid())
        with open(tmp, "wb") as f:
            f.write(synth_bundle(b, size, args.bokeh_version))
        os.replace(tmp, p)
    return root


def bundle_name(path: str) -> str:
    base = os.path.basename(path)
    for suffix in (".min.js", ".js"):
        if base.endswith(suffix):
            return base[: -len(suffix)]
    return base


# ---------------------------------------------------------------- sessions and documents


class Session:
    def __init__(self, sid, ids, stream):
        self.id = sid
        self.div_id = ids()
        self.cds_id = ids() if stream else None
        self.column_id = ids()
        self.connections = set()
        self.last_detach = time.monotonic()
        self.created = time.time()
        self.updates = 0

    def doc_json(self, version, title):
        div_text = "Updates: %d" % self.updates if self.cds_id else "Testing..."
        column = {
            "type": "object",
            "name": "Column",
            "id": self.column_id,
            "attributes": {
                "children": [
                    {
                        "type": "object",
                        "name": "Div",
                        "id": self.div_id,
                        "attributes": {"text": div_text},
                    }
                ]
            },
        }
        roots = [column]
        if self.cds_id:
            roots.append(
                {
                    "type": "object",
                    "name": "ColumnDataSource",
                    "id": self.cds_id,
                    "attributes": {
                        "data": {"type": "map", "entries": [["x", []], ["y", []]]}
                    },
                }
            )
        return {"version": version, "title": title, "roots": roots}


def compact(obj) -> str:
    return json.dumps(obj, separators=(",", ":"))


def make_token(session_id, expiration_s, request):
    """A Bokeh 3.x unsigned session token (bokeh-wire.md 2.1, 2.2)."""
    headers = {k: v for k, v in request.headers.items()}
    cookies = {}
    if "Cookie" in request.headers:
        cookies = {k: v.value for k, v in request.cookies.items()}
        headers.pop("Cookie", None)
    arguments = {
        k: [{"bytes": b64u(v)} for v in vals] for k, vals in request.query_arguments.items()
    }
    extra = {"headers": headers, "cookies": cookies, "arguments": arguments}
    payload = {
        "session_id": session_id,
        "session_expiry": utc_now_s() + expiration_s,
        "__bk__zlib_": b64u(zlib.compress(json.dumps(extra).encode("utf-8"), 9)),
    }
    return b64u(json.dumps(payload).encode("utf-8")), payload["session_expiry"]


def token_payload(token: str) -> dict:
    return json.loads(b64u_decode(token.split(".", 1)[0]).decode("utf-8"))


PAGE_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>{title}</title>
    <style>
      html, body {{
        box-sizing: border-box;
        display: flow-root;
        height: 100%;
        margin: 0;
        padding: 0;
      }}
    </style>
{scripts}
    <script type="text/javascript">
        Bokeh.set_log_level("info");
    </script>
  </head>
  <body>
    <div id="{div_uuid}" data-root-id="{root_id}" style="display: contents;"></div>
  
    <script type="application/json" id="{json_uuid}">
      {{}}
    </script>
    <script type="text/javascript">
      (function() {{
        const fn = function() {{
          Bokeh.safely(function() {{
            (function(root) {{
              function embed_document(root) {{
              const docs_json = document.getElementById('{json_uuid}').textContent;
              const render_items = {render_items};
              root.Bokeh.embed.embed_items(docs_json, render_items);
              }}
              if (root.Bokeh !== undefined) {{
                embed_document(root);
              }} else {{
                let attempts = 0;
                const timer = setInterval(function(root) {{
                  if (root.Bokeh !== undefined) {{
                    clearInterval(timer);
                    embed_document(root);
                  }} else {{
                    attempts++;
                    if (attempts > 100) {{
                      clearInterval(timer);
                      console.log("Bokeh: ERROR: Unable to run BokehJS code because BokehJS library is missing");
                    }}
                  }}
                }}, 10, root)
              }}
            }})(window);
          }});
        }};
        if (document.readyState != "loading") fn();
        else document.addEventListener("DOMContentLoaded", fn);
      }})();
    </script>
  </body>
</html>"""


# ---------------------------------------------------------------- the server state


class BokehTestServer:
    def __init__(self, args):
        self.args = args
        self.ids = IdCounter()
        self.sessions = {}
        self.connections = set()
        self.events = EventLog(args.session_log, args.instance)
        self.static_root = prepare_static(args)
        self.hashes = {}
        for b in BUNDLES:
            p = os.path.join(self.static_root, "js", b + ".min.js")
            if b in args.fail_static or not os.path.isfile(p):
                self.hashes[b] = None
            else:
                with open(p, "rb") as f:
                    self.hashes[b] = hashlib.sha512(f.read()).hexdigest()
        self.favicon = synth_favicon()
        self.origins = self.allowlist(args.allow_websocket_origin, args.port)

    @staticmethod
    def allowlist(hosts, port):
        if not hosts:
            return ["localhost:%d" % port]
        out = []
        for h in hosts:
            if "*" in h:
                log.warning(
                    "Host wildcard %r will allow connections originating from multiple (or "
                    "possibly all) hostnames or IPs. Use non-wildcard values to restrict access "
                    "explicitly",
                    h,
                )
            if h == "*":
                out.append(h)
            elif ":" in h:
                out.append(h)
            else:
                out.append(h + ":80")
        return out

    def new_session(self, sid=None):
        sid = sid or "".join(_rng.choice(SESSION_ID_CHARS) for _ in range(SESSION_ID_LEN))
        s = Session(sid, self.ids, bool(self.args.stream))
        self.sessions[sid] = s
        return s

    def script_tags(self):
        lines = []
        for b in BUNDLES:
            v = self.hashes[b]
            if v is None:
                path = os.path.join(self.static_root, "js", b + ".min.js")
                log.error("Could not open static file %r", path)
            lines.append(
                '    <script type="text/javascript" src="/static/js/%s.min.js?v=%s"></script>'
                % (b, v)
            )
        return "\n".join(lines)

    def render_page(self, session, token):
        div_uuid, json_uuid = str(uuid.uuid4()), str(uuid.uuid4())
        items = [
            {
                "token": token,
                "roots": {session.column_id: div_uuid},
                "root_ids": [session.column_id],
                "use_for_title": True,
            }
        ]
        return PAGE_TEMPLATE.format(
            title=self.args.title,
            scripts=self.script_tags(),
            div_uuid=div_uuid,
            json_uuid=json_uuid,
            root_id=session.column_id,
            render_items=compact(items),
        )

    # periodic jobs (all started at server start, like Bokeh's)

    def cleanup_sessions(self):
        now = time.monotonic()
        lifetime_s = self.args.unused_session_lifetime / 1000.0
        stale = [
            s
            for s in self.sessions.values()
            if not s.connections and now - s.last_detach > lifetime_s
        ]
        if not stale:
            return
        log.debug("Scheduling %d sessions to discard", len(stale))
        for s in stale:
            ms = (now - s.last_detach) * 1000.0
            log.debug("Discarding session %r last in use %r milliseconds ago", s.id, ms)
            self.events("session_discarded", session_id=s.id, unused_ms=round(ms, 1))
            del self.sessions[s.id]

    def keep_alive(self):
        for c in list(self.connections):
            c.send_ping()

    def log_stats(self):
        unused = sum(1 for s in self.sessions.values() if not s.connections)
        log.debug("[pid %d] %d clients connected", os.getpid(), len(self.connections))
        log.debug(
            "[pid %d]   /%s has %d sessions with %d unused",
            os.getpid(),
            self.args.app,
            len(self.sessions),
            unused,
        )

    def stream_tick(self):
        for c in list(self.connections):
            if c.doc_pulled:
                asyncio.ensure_future(c.send_stream_update())


def peer(handler):
    addr = handler.request.connection.context.address
    if isinstance(addr, tuple) and len(addr) >= 2:
        return addr[0], addr[1]
    return handler.request.remote_ip, None


# ---------------------------------------------------------------- HTTP handlers


class BaseHandler(tornado.web.RequestHandler):
    def initialize(self, server):
        self.server = server


class DocHandler(BaseHandler):
    async def get(self):
        srv = self.server
        session = srv.new_session()
        token, expiry = make_token(session.id, srv.args.token_expiration, self.request)
        ip, port = peer(self)
        args = {k: [v.decode("utf-8", "replace") for v in vals]
                for k, vals in self.request.query_arguments.items()}
        # what bokeh serve's test app prints for each session (see the shared server logs)
        print("Executing script for Session ID: %s" % session.id, flush=True)
        print(
            "Session request: %s"
            % json.dumps(
                {
                    "session_id": session.id,
                    "uri": self.request.uri,
                    "remote_ip": ip,
                    "user_agent": self.request.headers.get("User-Agent", ""),
                    "arguments": args,
                }
            ),
            flush=True,
        )
        srv.events(
            "session_created",
            session_id=session.id,
            uri=self.request.uri,
            visit=(args.get("visit") or [None])[0],
            remote_ip=ip,
            remote_port=port,
            user_agent=self.request.headers.get("User-Agent", ""),
            session_expiry=expiry,
            token_len=len(token),
        )
        if srv.args.page_delay > 0:
            await asyncio.sleep(srv.args.page_delay / 1000.0)
        self.set_header("Content-Type", "text/html")
        self.write(srv.render_page(session, token))


class MetadataHandler(BaseHandler):
    def get(self):
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps({"url": "/" + self.server.args.app, "data": {}}))


class RootHandler(BaseHandler):
    def get(self):
        self.redirect("/" + self.server.args.app)


class IcoHandler(BaseHandler):
    async def get(self):
        self.set_header("Content-Type", "image/x-icon")
        self.write(self.server.favicon)
        await self.flush()  # like Bokeh's IcoHandler: flushed before finish -> chunked


class StaticHandler(tornado.web.StaticFileHandler):
    """Bokeh's static handler (a Tornado StaticFileHandler), plus --fail-static/--stall-static."""

    def initialize(self, path, server):
        super().initialize(path)
        self.server = server
        self._stall_at = None
        self._body_sent = 0
        self._closed = None

    async def get(self, path, include_body=True):
        name = bundle_name(path)
        ip, port = peer(self)
        if name in self.server.args.fail_static:
            self.server.events("static", path=path, status=404, remote_ip=ip, remote_port=port)
            raise tornado.web.HTTPError(404)
        if name in self.server.args.stall_static:
            full = os.path.join(self.root, path)
            size = os.path.getsize(full) if os.path.isfile(full) else 0
            self._stall_at = self.server.args.stall_after or max(1, size * 2 // 5)
            self._closed = asyncio.get_event_loop().create_future()
            self.server.events(
                "static", path=path, status=200, stalled_after=self._stall_at, size=size,
                remote_ip=ip, remote_port=port,
            )
        else:
            self.server.events("static", path=path, status=200, remote_ip=ip, remote_port=port)
        await super().get(path, include_body)

    def write(self, chunk):
        if self._stall_at is not None and isinstance(chunk, bytes):
            room = max(0, self._stall_at - self._body_sent)
            chunk = chunk[:room]
            self._body_sent += len(chunk)
        super().write(chunk)

    def flush(self, include_footers=False):
        fut = super().flush(include_footers)
        if self._stall_at is None or include_footers or self._body_sent < self._stall_at:
            return fut
        return asyncio.ensure_future(self._stall(fut))

    async def _stall(self, flushed):
        await flushed
        log.debug("stalling %s after %d body bytes", self.request.path, self._body_sent)
        try:
            await asyncio.wait_for(asyncio.shield(self._closed), STALL_MAX_S)
        except asyncio.TimeoutError:
            pass
        self.request.connection.stream.close()
        raise tornado.iostream.StreamClosedError()

    def on_connection_close(self):
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(True)


# ---------------------------------------------------------------- websocket


class ProtocolError(Exception):
    pass


def check_allowlist(host, allowlist):
    """bokeh.server.util.check_allowlist / match_host, including their quirks."""
    if ":" not in host:
        host = host + ":80"
    if host in allowlist:
        return True
    return any(match_host(host, pattern) for pattern in allowlist)


def match_host(host, pattern):
    host_port = None
    if ":" in host:
        host, host_port = host.rsplit(":", 1)
    pattern_port = None
    if ":" in pattern:
        pattern, pattern_port = pattern.rsplit(":", 1)
        if pattern_port == "*":
            pattern_port = None
    if pattern_port is not None and host_port != pattern_port:
        return False
    host_parts = host.split(".")
    pattern_parts = pattern.split(".")
    if len(pattern_parts) > len(host_parts):
        return False
    return all(h == p or p == "*" for h, p in zip(host_parts, pattern_parts))


class WSHandler(tornado.websocket.WebSocketHandler):
    def initialize(self, server):
        self.server = server
        self._token = None
        self.session = None
        self.write_lock = tornado.locks.Lock()
        self.ping_count = 0
        self.doc_pulled = False
        self.fragments = []
        self.expected = 3

    # -- handshake (Tornado calls these in this order)

    def check_origin(self, origin):
        origin_host = urlparse(origin).netloc.lower()
        allowed = self.server.origins
        if check_allowlist(origin_host, allowed):
            return True
        log.error(
            "Refusing websocket connection from Origin '%s'; \
                      use --allow-websocket-origin=%s or set BOKEH_ALLOW_WS_ORIGIN=%s to permit "
            "this; currently we allow origins %r",
            origin,
            origin_host,
            origin_host,
            set(allowed),
        )
        ip, port = peer(self)
        self.server.events(
            "ws_refused", origin=origin, uri=self.request.uri, remote_ip=ip, remote_port=port,
            session_id=self._session_id_from_header(),
        )
        return False

    def _session_id_from_header(self):
        items = [s.strip() for s in self.request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
        if len(items) == 2:
            try:
                return token_payload(items[1]).get("session_id")
            except Exception:
                return None
        return None

    def select_subprotocol(self, subprotocols):
        log.debug("Subprotocol header received")
        log.log(5, "Supplied subprotocol headers: %r", subprotocols)
        if not len(subprotocols) == 2:
            return None
        self._token = subprotocols[1]
        return subprotocols[0]

    def get_compression_options(self):
        level = self.server.args.websocket_compression_level
        if level is None:
            return None
        return {"compression_level": level, "mem_level": self.server.args.websocket_compression_mem_level}

    def open(self):
        log.info("WebSocket connection opened")
        ip, port = peer(self)
        token = self._token
        sid = None
        try:
            sid = token_payload(token).get("session_id") if token else None
        except Exception:
            pass
        base = dict(session_id=sid, uri=self.request.uri, remote_ip=ip, remote_port=port)
        if self.selected_subprotocol != "bokeh":
            self.server.events("ws_protocol_error", reason="subprotocol", **base)
            self.close()
            raise ProtocolError("Subprotocol header is not 'bokeh'")
        if token is None:
            self.close()
            raise ProtocolError("No token received in subprotocol header")
        now = utc_now_s()
        payload = token_payload(token)
        if "session_expiry" not in payload:
            self.server.events("ws_protocol_error", reason="no_expiry", **base)
            self.close()
            raise ProtocolError("Session expiry has not been provided")
        if now >= payload["session_expiry"]:
            self.server.events(
                "ws_token_expired", session_expiry=payload["session_expiry"], now=now, **base
            )
            self.close()
            raise ProtocolError(
                "Token is expired. Configure the app with a larger value for "
                "--session-token-expiration if necessary"
            )
        self.server.events("ws_opened", **base)
        tornado.ioloop.IOLoop.current().add_callback(self._async_open, sid)

    async def _async_open(self, sid):
        srv = self.server
        session = srv.sessions.get(sid)
        if session is None:  # unknown id with a valid token: a fresh session, same id
            session = srv.new_session(sid)
            srv.events("session_created_by_ws", session_id=sid, uri=self.request.uri)
        log.debug("Receiver created for Protocol()")
        log.debug("ProtocolHandler created for Protocol()")
        self.session = session
        session.connections.add(self)
        srv.connections.add(self)
        log.info("ServerConnection created")
        await self.send_message("ACK", {})
        srv.events("ws_ack", session_id=sid)

    # -- sending Bokeh messages

    async def send_message(self, msgtype, content, reqid=None, buffers=()):
        header = {"msgid": self.server.ids(), "msgtype": msgtype}
        if reqid is not None:
            header["reqid"] = reqid
        if buffers:
            header["num_buffers"] = len(buffers)
        try:
            async with self.write_lock:
                await self.write_message(json.dumps(header))
                await self.write_message(json.dumps({}))
                await self.write_message(content if isinstance(content, str) else compact(content))
                for buf_id, data in buffers:
                    await self.write_message(json.dumps({"id": buf_id}))
                    await self.write_message(data, binary=True)
        except tornado.websocket.WebSocketClosedError:
            log.warning("Failed sending message as connection was closed")

    def send_ping(self):
        try:
            self.ping(str(self.ping_count).encode("utf-8"))
            self.ping_count += 1
        except tornado.websocket.WebSocketClosedError:
            pass

    async def send_stream_update(self):
        s = self.session
        if s is None or s.cds_id is None:
            return
        s.updates += 1
        n = 5
        base = s.updates * n
        xs = struct.pack("<%dd" % n, *[float(base + i) for i in range(n)])
        ys = struct.pack("<%dd" % n, *[((base + i) * 7919 % 1000) / 10.0 for i in range(n)])
        bx, by = self.server.ids(), self.server.ids()

        def col(name, bid):
            return [
                name,
                {
                    "type": "ndarray",
                    "array": {"type": "bytes", "data": {"id": bid}},
                    "shape": [n],
                    "dtype": "float64",
                    "order": "little",
                },
            ]

        streamed = {
            "events": [
                {
                    "kind": "ColumnsStreamed",
                    "model": {"id": s.cds_id},
                    "attr": "data",
                    "data": {"type": "map", "entries": [col("x", bx), col("y", by)]},
                    "rollover": 500,
                }
            ]
        }
        await self.send_message("PATCH-DOC", streamed, buffers=[(bx, xs), (by, ys)])
        changed = {
            "events": [
                {
                    "kind": "ModelChanged",
                    "model": {"id": s.div_id},
                    "attr": "text",
                    "new": "Updates: %d" % s.updates,
                }
            ]
        }
        await self.send_message("PATCH-DOC", changed)

    # -- receiving Bokeh messages (3 + 2*num_buffers websocket messages each)

    async def on_message(self, fragment):
        binary = isinstance(fragment, bytes)
        n = len(self.fragments)
        text_slot = n < 3 or (n - 3) % 2 == 0
        if binary == text_slot:
            await self.protocol_error("expected %s fragment" % ("text" if text_slot else "binary"))
            return
        self.fragments.append(fragment)
        if n == 0:
            try:
                header = json.loads(fragment)
                self.expected = 3 + 2 * int(header.get("num_buffers", 0))
            except Exception as e:
                await self.internal_error("server failed to parse a message", e)
                return
        if len(self.fragments) < self.expected:
            return
        frags, self.fragments, self.expected = self.fragments, [], 3
        try:
            header, content = json.loads(frags[0]), json.loads(frags[2])
        except Exception as e:
            await self.internal_error("server failed to parse a message", e)
            return
        await self.handle(header, content)

    async def protocol_error(self, text):
        log.error("Bokeh Server protocol error: %s, closing connection", text)
        self.close(10001, text)

    async def internal_error(self, text, exc):
        log.error("Unhandled exception receiving a message: %r", exc)
        log.error("Bokeh Server internal error: %s, closing connection", text)
        self.close(10000, text)

    async def handle(self, header, content):
        msgtype, msgid = header.get("msgtype"), header.get("msgid")
        s = self.session
        sid = s.id if s else None
        if msgtype == "PULL-DOC-REQ":
            log.debug("Sending pull-doc-reply from session %r", sid)
            doc = s.doc_json(self.server.args.bokeh_version, self.server.args.title)
            await self.send_message("PULL-DOC-REPLY", {"doc": doc}, reqid=msgid)
            self.doc_pulled = True
            self.server.events("ws_pull_doc", session_id=sid)
        elif msgtype in ("PATCH-DOC", "PUSH-DOC"):
            ready = any(
                e.get("kind") == "MessageSent"
                and isinstance(e.get("msg_data"), dict)
                and e["msg_data"].get("name") == "document_ready"
                for e in content.get("events", [])
                if isinstance(e, dict)
            )
            await self.send_message("OK", {}, reqid=msgid)
            self.server.events("ws_patch_doc", session_id=sid, document_ready=ready, msgtype=msgtype)
        elif msgtype == "SERVER-INFO-REQ":
            v = self.server.args.bokeh_version
            await self.send_message(
                "SERVER-INFO-REPLY", {"version_info": {"bokeh": v, "server": v}}, reqid=msgid
            )
        else:
            text = "Message %r content: %r not expected on server" % (msgtype, content)
            log.error("Bokeh Server internal error: %s, closing connection", text)
            self.close(10000, text)

    def on_pong(self, data):
        log.log(5, "received pong %r", data)

    def on_close(self):
        log.info("WebSocket connection closed: code=%s, reason=%r", self.close_code, self.close_reason)
        srv = self.server
        srv.connections.discard(self)
        if self.session is not None:
            self.session.connections.discard(self)
            self.session.last_detach = time.monotonic()
        ip, port = peer(self)
        srv.events(
            "ws_closed",
            session_id=self.session.id if self.session else None,
            code=self.close_code,
            reason=self.close_reason,
            remote_ip=ip,
            remote_port=port,
        )


# ---------------------------------------------------------------- main


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Bokeh-protocol test server (orphanwatch harness)")
    p.add_argument("--port", type=int, default=5006)
    p.add_argument("--address", action="append", default=None,
                   help="listen address (repeatable; default: all, IPv4 and IPv6)")
    p.add_argument("--app", default="bserve_test", help="app name: page at /APP (default bserve_test)")
    p.add_argument("--title", default="TEST", help="document title")
    p.add_argument("--allow-websocket-origin", action="append", default=[],
                   help="like bokeh serve (repeatable; default only localhost:PORT)")
    p.add_argument("--token-expiration", "--session-token-expiration", type=int, default=300,
                   dest="token_expiration", help="session token validity in seconds (default 300)")
    p.add_argument("--keep-alive", type=int, default=37000, help="ping period in ms, 0 = off")
    p.add_argument("--check-unused-sessions", type=int, default=17000, help="ms")
    p.add_argument("--unused-session-lifetime", type=int, default=15000, help="ms")
    p.add_argument("--stats-log-frequency", type=int, default=15000, help="ms")
    p.add_argument("--stream", type=int, default=0, metavar="MS",
                   help="push a PATCH-DOC with binary buffers to every connected session every MS")
    p.add_argument("--websocket-compression-level", type=int, default=None)
    p.add_argument("--websocket-compression-mem-level", type=int, default=None)
    p.add_argument("--fail-static", action="append", default=[], metavar="NAME",
                   help="404 for this bundle (bokeh, bokeh-gl, ...; the page then says ?v=None)")
    p.add_argument("--stall-static", action="append", default=[], metavar="NAME",
                   help="send headers and part of this bundle's body, then stall")
    p.add_argument("--stall-after", type=int, default=0, metavar="BYTES",
                   help="body bytes sent before the stall (default 40%% of the file)")
    p.add_argument("--static-dir", help="directory with js/<bundle>.min.js (real BokehJS)")
    p.add_argument("--small-static", action="store_true",
                   help="synthesized bundles at 1/40 of the real sizes")
    p.add_argument("--synth-dir", help="where synthesized bundles are written (default: tmp)")
    p.add_argument("--bokeh-version", default=None,
                   help="version in PULL-DOC-REPLY (default: the static dir's VERSION file, else 3.6.0)")
    p.add_argument("--page-delay", type=int, default=0, metavar="MS",
                   help="time the app takes to build a session before the page is written")
    p.add_argument("--session-log", help="append one JSON line per event to this file")
    p.add_argument("--instance", default=None, help="name of this server in the session log")
    p.add_argument("--log-level", default="info",
                   choices=["trace", "debug", "info", "warning", "error", "critical"])
    p.add_argument("--ready-file", help="write the pid here once listening")
    a = p.parse_args(argv)
    a.fail_static = {bundle_name(n) for n in a.fail_static}
    a.stall_static = {bundle_name(n) for n in a.stall_static}
    if a.bokeh_version is None:
        vfile = os.path.join(a.static_dir, "VERSION") if a.static_dir else None
        if vfile and os.path.isfile(vfile):
            with open(vfile) as f:
                a.bokeh_version = f.read().strip()
        else:
            a.bokeh_version = DEFAULT_BOKEH_VERSION
    if a.instance is None:
        a.instance = "%s:%d" % ((a.address or ["*"])[0], a.port)
    return a


def setup_logging(level):
    logging.addLevelName(5, "TRACE")
    logging.basicConfig(format="%(asctime)s %(message)s", stream=sys.stderr)
    log.setLevel(5 if level == "trace" else getattr(logging, level.upper()))
    logging.getLogger("tornado").setLevel(logging.WARNING)


def make_app(srv):
    a = srv.args
    app = "/" + a.app
    kw = {"server": srv}
    return tornado.web.Application(
        [
            (r"/favicon.ico", IcoHandler, kw),
            (app + r"/?", DocHandler, kw),
            (app + r"/ws", WSHandler, kw),
            (app + r"/metadata", MetadataHandler, kw),
            (app + r"/static/(.*)", StaticHandler, {"path": srv.static_root, "server": srv}),
            (r"/?", RootHandler, kw),
            (r"/static/(.*)", StaticHandler, {"path": srv.static_root, "server": srv}),
        ],
        websocket_max_message_size=20971520,
    )


def main(argv=None):
    args = parse_args(argv)
    setup_logging(args.log_level)
    log.info("Starting Bokeh server version %s (running on Tornado %s)",
             args.bokeh_version, tornado.version)
    srv = BokehTestServer(args)
    log.info("User authentication hooks NOT provided (default user enabled)")
    log.debug("These host origins can connect to the websocket: %r", srv.origins)
    http = tornado.httpserver.HTTPServer(make_app(srv), xheaders=False)
    for addr in args.address or [""]:
        http.listen(args.port, address=addr)
    for opt, default, text in (
        ("keep_alive", 37000, "Keep-alive ping configured every %d milliseconds"),
        ("stats_log_frequency", 15000, "Log statistics every %d milliseconds"),
        ("check_unused_sessions", 17000, "Check for unused sessions every %d milliseconds"),
        ("unused_session_lifetime", 15000, "Unused sessions last for %d milliseconds"),
    ):
        if getattr(args, opt) != default:
            log.info(text, getattr(args, opt))
    cb = tornado.ioloop.PeriodicCallback
    timers = [cb(srv.cleanup_sessions, args.check_unused_sessions),
              cb(srv.log_stats, args.stats_log_frequency)]
    if args.keep_alive > 0:
        timers.append(cb(srv.keep_alive, args.keep_alive))
    if args.stream > 0:
        timers.append(cb(srv.stream_tick, args.stream))
    for t in timers:
        t.start()
    host = (args.address or ["localhost"])[0]
    log.info("Bokeh app running at: http://%s:%d/%s", host, args.port, args.app)
    log.info("Starting Bokeh server with process id: %d", os.getpid())
    srv.events("server_start", pid=os.getpid(), port=args.port, address=args.address,
               bokeh_version=args.bokeh_version, static_root=srv.static_root,
               hashes=srv.hashes, origins=srv.origins)
    if args.ready_file:
        with open(args.ready_file + ".tmp", "w") as f:
            f.write("%d\n" % os.getpid())
        os.replace(args.ready_file + ".tmp", args.ready_file)

    import signal

    def on_signal(signum, frame):
        log.info("Received signal %d, shutting down", signum)
        tornado.ioloop.IOLoop.current().add_callback_from_signal(
            tornado.ioloop.IOLoop.current().stop)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    tornado.ioloop.IOLoop.current().start()
    srv.events("server_stop")


if __name__ == "__main__":
    main()
