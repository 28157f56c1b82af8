#!/usr/bin/env python3
"""synth_db: builds an orphanwatch database from db/schema.sql holding N synthetic page loads.

Seeded and reproducible: the same arguments give the same rows. The mix is meant to look like
a real Bokeh server's traffic: IPv4 and IPv6 clients (a few heavy ones), several apps, browser
and non-browser user agents, cold and warm caches, every outcome and verdict with the
connections, HTTP exchanges, websockets, Bokeh messages and evidence each implies, sessions
(including a few websocket-only ones) and a captures row with its counters. Like the real
writer it stores each session id and User-Agent text once (sessions, user_agents) and refers to
it by id (session_ref, ua_ref), stores per websocket only the first Bokeh message of each type in
each direction (a reply names its request by id, reply_to), leaves http_exchanges.host NULL on a
page load's rows (same Host as the page) and connections.rto_series_s2c NULL with no timeouts.

Used by the query tests, the dashboard's tests and the benchmark (1,000,000 page loads build in
a few minutes: rows go in with executemany inside one transaction, and the indexes no trigger
looks rows up by are built after).

    python3 tests/harness/synth_db.py OUT.db --page-loads 10000 --seed 1
    python3 tests/harness/synth_db.py OUT.db --page-loads 1000000 --force

As a module: build(path, page_loads, ...) returns a dict of row counts;
add_websocket(conn, session_id, ...) adds a websocket carrying a session (for merge tests);
session_ref(conn, session_id) / ua_ref(conn, user_agent) return the id of a text's row, made
when missing.
"""
import argparse
import json
import os
import random
import re
import sqlite3
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SCHEMA = os.path.join(HERE, "..", "..", "db", "schema.sql")
BASE_TIME = 1714550400.0  # 2024-05-01T08:00:00Z
CHUNK = 20000             # page loads generated per executemany batch
# Indexes a trigger looks rows up by while the rows go in: built before them. Without one, that
# trigger scans its table once per row inserted and the build grows with the square of its
# size (evidence_http, for http_exchanges_insert: an hour for 1,000,000 page loads, not
# minutes). tests/integration/synth_db_linear.py fails when a trigger needs another.
TRIGGER_LOOKUPS = ("evidence_http",)

# apps as the correlator names them: the page path without its query string
APPS = [("/sliders", 5), ("/crossfilter", 3), ("/bserve_test", 2), ("/dashboard", 1)]
SCRIPTS = ["bokeh", "bokeh-gl", "bokeh-widgets", "bokeh-tables", "bokeh-mathjax"]
BROWSER_UAS = [
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "HeadlessChrome/120.0.6099.224 Safari/537.36", 7),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", 2),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.2 Safari/605.1.15", 1),
]
PROBE_UAS = ["curl/7.88.1", "kube-probe/1.28", "Python-urllib/3.11"]

# (outcome, verdict, weight): the scenario of one page load
SCENARIOS = [
    ("connected", None, 740), ("connected", "slow_pmtu_recovery", 30),
    ("orphan", "pmtu_blackhole", 40), ("orphan", "script_stalled", 30),
    ("orphan", "script_failed", 15), ("orphan", "ws_never_attempted", 15),
    ("orphan", "client_gone", 10), ("orphan", "unknown", 10),
    ("ws_refused", "ws_refused", 20), ("ws_no_doc", "token_expired", 10),
    ("ws_no_doc", "render_failed", 5), ("undecided", None, 10), ("pending", None, 5),
]
SUMMARIES = {
    "slow_pmtu_recovery": "connected after the server fell back to smaller segments",
    "pmtu_blackhole": "large server segments vanished on the path (PMTU black hole)",
    "script_stalled": "a script download stopped part-way",
    "script_failed": "a script was answered with an error",
    "ws_never_attempted": "the scripts arrived but no websocket was opened",
    "no_scripts_fetched": "the page was served but nothing followed (probe or crawler)",
    "client_gone": "the client closed the page connection early",
    "unknown": "no websocket followed and the wire shows no cause",
    "ws_refused": "the websocket upgrade was refused",
    "token_expired": "the session token had expired when the websocket opened",
    "render_failed": "the document was pulled but never reported ready",
}
ADVICE = {
    "pmtu_blackhole": "lower the tunnel MTU or enable net.ipv4.tcp_mtu_probing=1 on the server",
    "slow_pmtu_recovery": "lower the MTU so the probing is not needed",
    "script_stalled": "check the path for drops of large packets",
    "ws_refused": "add the page's origin to --allow-websocket-origin",
    "token_expired": "raise --session-token-expiration",
}

CONN_COLS = ("id", "capture_id", "client", "client_port", "server", "server_port", "family",
             "first_ts", "last_ts", "syn_seen", "close", "kind", "bytes_c2s", "bytes_s2c",
             "requests", "syn_count", "rtt", "max_idle", "mss_c", "mss_s", "max_seg_s2c",
             "max_seg_acked_s2c", "max_seg_lost_s2c", "retrans_s2c", "rto_s2c", "rto_series_s2c",
             "longest_stall_s2c", "recovered_smaller_s2c", "gaps_c2s", "gaps_s2c")
HTTP_COLS = ("id", "connection_id", "seq", "kind", "req_ts", "method", "target", "host",
             "ua_ref", "referer", "resp_ts", "resp_end_ts", "status", "reason",
             "content_type", "content_length", "resp_body_bytes", "complete", "last_byte_acked",
             "page_load_id")
WS_COLS = ("id", "connection_id", "http_id", "page_load_id", "session_ref", "upgrade_ts", "status",
           "reason", "origin", "path", "subprotocol_ok", "token_expiry", "deflate", "frames_c2s",
           "frames_s2c", "bytes_c2s", "bytes_s2c", "messages_c2s", "messages_s2c", "msg_counts",
           "ack_ts", "pull_doc_ts", "client_patch_docs", "close_code_c2s", "close_code_s2c",
           "close_reason", "close_ts", "end_ts", "midstream", "errors")
BOKEH_COLS = ("id", "websocket_id", "ts", "dir", "msgtype", "msgid", "reply_to", "reqid",
              "size", "num_buffers")
PAGE_COLS = ("id", "capture_id", "http_id", "connection_id", "session_ref", "client",
             "client_port", "server", "server_port", "host", "path", "app", "ua_ref",
             "started", "status", "resp_bytes", "ttfb", "ttlb", "token_expiry", "static_count",
             "static_bytes", "static_failed", "websockets", "first_ws_ts", "outcome", "verdict",
             "confidence", "summary", "advice", "decided_ts")
EVIDENCE_COLS = ("page_load_id", "seq", "connection_id", "http_id", "text")
SESSION_COLS = ("id", "session_id", "first_ts", "last_ts", "page_loads", "websockets",
                "token_expiry", "outcome")
UA_COLS = ("id", "user_agent")
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def schema_statements(schema_text):
    """The schema's statements, split into (tables, views, triggers, pragmas and the indexes of
    TRIGGER_LOOKUPS; the other indexes): those others are built after the rows go in."""
    now, later, buf = [], [], ""
    for line in schema_text.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            body = re.sub(r"--[^\n]*", "", buf).strip()
            index = re.match(r"CREATE\s+INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", body, re.I)
            (later if index and index.group(1) not in TRIGGER_LOOKUPS else now).append(buf)
            buf = ""
    return now, later


def weighted(rng, items):
    """A picker for [(value, weight)]."""
    values = [v for v, _ in items]
    cum, total = [], 0
    for _, w in items:
        total += w
        cum.append(total)
    return lambda: rng.choices(values, cum_weights=cum)[0]


def make_clients(rng, n):
    """n client addresses, 30 % IPv6 (RFC 5952 text)."""
    out = []
    for i in range(n):
        if rng.random() < 0.3:
            out.append("fd7a:115c:a1e0::%x" % (0x100 + i))
        else:
            out.append("100.64.%d.%d" % (1 + i // 250 % 250, 2 + i % 250))
    return out


class Gen:
    """Generates rows; ids count from the given offsets so several builds can share a file."""

    def __init__(self, args):
        self.rng = random.Random(args.seed)
        self.a = args
        self.t = args.start
        self.ids = {"conn": 0, "http": 0, "ws": 0, "bokeh": 0, "page": 0, "session": 0, "ua": 0}
        self.ua_ids = {}  # User-Agent text -> user_agents.id
        n_clients = max(4, min(20000, args.page_loads // 40))
        self.clients = make_clients(self.rng, n_clients)
        weights = [(c, 40 if i < 3 else 1) for i, c in enumerate(self.clients)]  # heavy users
        self.pick_client = weighted(self.rng, weights)
        self.pick_app = weighted(self.rng, APPS)
        self.pick_ua = weighted(self.rng, BROWSER_UAS)
        self.pick_scenario = weighted(self.rng, [((o, v), w) for o, v, w in SCENARIOS])
        self.rows = {k: [] for k in ("ua", "session", "conn", "http", "ws", "bokeh", "page",
                                     "evidence")}
        self.port = 30000

    def next_id(self, kind):
        self.ids[kind] += 1
        return self.ids[kind]

    def session_id(self):
        return "".join(self.rng.choices(ALPHABET, k=44))

    def new_session(self):
        """A new session id: (its sessions.id, its text); the row is added by add_session."""
        return self.next_id("session"), self.session_id()

    def add_session(self, ref, sid, first, last, page_loads, websockets, expiry, outcome):
        self.rows["session"].append((ref, sid, first, last, page_loads, websockets, expiry,
                                     outcome))

    def ua_ref(self, ua):
        """user_agents.id of ua, its row added the first time the text is seen."""
        ref = self.ua_ids.get(ua)
        if ref is None:
            ref = self.ua_ids[ua] = self.next_id("ua")
            self.rows["ua"].append((ref, ua))
        return ref

    def client_port(self):
        self.port = 30000 + (self.port - 30000 + 1) % 30000
        return self.port

    def conn(self, client, t0, t1, kind, nreq, bytes_s2c, trouble=None):
        cid = self.next_id("conn")
        r = self.rng
        fam = 6 if ":" in client else 4
        rtt = round(r.uniform(0.004, 0.09), 5)
        retr, rto, series, stall, lost, recovered = 0, 0, None, 0.0, 0, 0  # no timeouts: NULL
        max_seg = 1228 if fam == 4 else 1208
        acked = max_seg
        if trouble in ("pmtu_blackhole", "script_stalled"):
            rto = r.randint(3, 7)
            retr = rto + r.randint(0, 4)
            series = json.dumps([round(0.2 * 2 ** k, 3) for k in range(rto - 1)])
            stall = round(t1 - t0, 3)
            lost, acked = max_seg, 512
        elif trouble == "slow_pmtu_recovery":
            rto, retr, recovered, stall = 3, 4, 1, round(r.uniform(1.0, 4.0), 3)
            series = "[0.2,0.4]"
        self.rows["conn"].append((
            cid, self.a.capture_id, client, self.client_port(), self.a.server, self.a.port, fam,
            t0, t1, 1, "fin" if not trouble else "rst", kind, 420 * nreq, bytes_s2c, nreq, 1, rtt,
            round(r.uniform(0.01, 2.0), 3), 1240 if fam == 4 else 1220, 1240, max_seg, acked, lost,
            retr, rto, series, stall, recovered, 0, 0))
        return cid

    def http(self, cid, seq, kind, t, target, ua, status, nbytes, complete, page_id, dur):
        hid = self.next_id("http")
        # like the writer: no Host on a page load's rows (all name the page's Host, as here)
        self.rows["http"].append((
            hid, cid, seq, kind, t, "GET", target,
            None if page_id else "%s:%d" % (self.a.server_host, self.a.port), self.ua_ref(ua),
            None if kind == "page" else "http://%s:%d/" % (self.a.server_host, self.a.port),
            t + dur * 0.3 if status else None, t + dur if status else None, status,
            {200: "OK", 101: "Switching Protocols", 403: "Forbidden", 404: "Not Found"}.get(status),
            "text/html" if kind == "page" else "application/javascript", nbytes if status else None,
            nbytes if complete else nbytes // 3, 1 if complete else 0, 1 if complete else 0,
            page_id))
        return hid

    def statics(self, client, page_id, t, ua, page_cid, verdict):
        """The script fetches of a cold page load; returns (count, bytes, failed, bad http id)."""
        r = self.rng
        n, total, failed, bad = 0, 0, 0, None
        bad_index = r.randrange(len(SCRIPTS)) if verdict in ("script_stalled", "script_failed",
                                                               "pmtu_blackhole") else -1
        for i, name in enumerate(SCRIPTS):
            ts = t + 0.05 + 0.01 * i
            size = r.randint(40000, 900000)
            complete, status, dur = True, 200, r.uniform(0.05, 0.6)
            trouble = None
            if i == bad_index:
                trouble = verdict
                complete = False
                status = 404 if verdict == "script_failed" else 200
                dur = r.uniform(5.0, 15.0) if verdict != "script_failed" else 0.01
                failed += 1
            cid = page_cid if i == 0 and trouble is None else self.conn(
                client, ts, ts + dur, "http", 1, size, trouble)
            target = "/static/js/%s.min.js?v=%064x" % (name, 0xB0CE + i)
            hid = self.http(cid, 1 if cid == page_cid else 0, "static", ts, target, ua, status,
                            size, complete, page_id, dur)
            if i == bad_index:
                bad = (hid, cid)
            n += 1
            total += size if complete else size // 3
        return n, total, failed, bad

    def websocket(self, client, page_id, sref, t, ua, outcome, app):
        """A websocket carrying the session whose sessions.id is sref."""
        r = self.rng
        status = 403 if outcome == "ws_refused" else 101
        msgs = outcome == "connected"
        dur = r.uniform(5, 600) if msgs else 0.05
        cid = self.conn(client, t, t + dur, "websocket", 1, 9000 if msgs else 200)
        hid = self.http(cid, 0, "websocket", t, "%s/ws" % app, ua, status, 0, True, page_id, 0.01)
        wid = self.next_id("ws")
        n_patch = r.randint(0, 4) if msgs else 0
        counts = {"ACK": 1, "PULL-DOC-REQ": 1, "PULL-DOC-REPLY": 1} if msgs else {}
        if n_patch:
            counts["PATCH-DOC"] = n_patch
        close = (1001, 1001, None) if msgs else ((None, None, None) if status != 101
                                                 else (1005, None, None))
        self.rows["ws"].append((
            wid, cid, hid, page_id, sref, t, status,
            "Switching Protocols" if status == 101 else "Forbidden",
            "http://%s:%d" % (self.a.server_host, self.a.port), "%s/ws" % app, 1 if status == 101
            else 0, None, 1, 2 + n_patch if msgs else 1, 3 if msgs else 1, 300 + 200 * n_patch,
            5000 if msgs else 2, 1 + n_patch if msgs else 0, 2 if msgs else 0,
            json.dumps(counts) if counts else None, t + 0.01 if msgs else None,
            t + 0.05 if msgs else None, n_patch, close[0], close[1], close[2],
            t + dur if status == 101 else None, t + dur, 0, 0))
        if msgs:
            # stored like the writer: the first message of each type in each direction (at most
            # 4 kinds here, under the 8 per websocket), so one PATCH-DOC of the n_patch counted;
            # the reply names its request by id (reply_to), its reqid then NULL
            plan = [(0.01, 1, "ACK", False, 40), (0.02, 0, "PULL-DOC-REQ", False, 60),
                    (0.05, 1, "PULL-DOC-REPLY", True, 4900)]
            if n_patch:
                plan.append((0.5, 0, "PATCH-DOC", False, 200))
            for dt, d, mt, reply, size in plan:
                mid = self.next_id("bokeh")
                self.rows["bokeh"].append((mid, wid, t + dt, d, mt, "m%d" % mid,
                                           mid - 1 if reply else None, None, size, 0))
        return wid, cid, hid

    def evidence(self, page_id, verdict, bad, page_hid, page_cid, ws):
        rows = self.rows["evidence"]
        if bad:
            hid, cid = bad
            rows.append((page_id, 0, cid, hid, "%s: connection %d stalled, %d retransmissions" %
                         (verdict, cid, self.rng.randint(2, 9))))
        elif ws and verdict in ("ws_refused", "token_expired", "render_failed"):
            rows.append((page_id, 0, ws[1], ws[2], "%s on the websocket upgrade" % verdict))
        else:
            rows.append((page_id, 0, page_cid, page_hid, "%s after the page response" % verdict))
        if self.rng.random() < 0.5:
            rows.append((page_id, 1, None, None, "no websocket within the grace time"))

    def page_load(self):
        r, a = self.rng, self.a
        self.t += r.expovariate(1.0 / a.gap)
        t = round(self.t, 6)
        client = self.pick_client()
        app = self.pick_app()
        outcome, verdict = self.pick_scenario()
        probe = r.random() < 0.06
        ua = r.choice(PROBE_UAS) if probe else self.pick_ua()
        if probe:
            outcome, verdict = "orphan", "no_scripts_fetched"
        page_id = self.next_id("page")
        sref, sid = self.new_session()
        path = "%s?visit=%d" % (app, page_id) if r.random() < 0.7 else app
        ttfb = round(r.uniform(0.01, 0.3), 4)
        trouble = verdict if verdict == "pmtu_blackhole" and r.random() < 0.3 else None
        page_cid = self.conn(client, t, t + 1.0, "http", 2, 30000, trouble)
        page_port = self.port
        page_bytes = r.randint(8000, 40000)
        page_hid = self.http(page_cid, 0, "page", t, path, ua, 200, page_bytes, trouble is None,
                             page_id, ttfb * 2)
        cold = not probe and verdict not in ("no_scripts_fetched",) and (
            r.random() < 0.4 or verdict in ("script_stalled", "script_failed", "pmtu_blackhole"))
        n, sbytes, failed, bad = (self.statics(client, page_id, t + ttfb * 2, ua, page_cid,
                                               verdict)
                                  if cold and trouble is None else (0, 0, 0, None))
        if trouble:
            bad = (page_hid, page_cid)
        ws = None
        if outcome in ("connected", "ws_refused", "ws_no_doc"):
            ws_t = t + ttfb * 2 + (0.8 if n else 0.1) + r.random() * 0.5
            ws = self.websocket(client, page_id, sref, ws_t, ua, outcome, app)
        if verdict:
            self.evidence(page_id, verdict, bad, page_hid, page_cid, ws)
        decided = t + a.grace if outcome == "orphan" else (ws_t + 0.1 if ws else t + a.grace)
        self.rows["page"].append((
            page_id, a.capture_id, page_hid, page_cid, sref, client, page_port, a.server, a.port,
            "%s:%d" % (a.server_host, a.port), path, app, self.ua_ref(ua), t, 200, page_bytes, ttfb,
            round(ttfb * 2, 4), int(t) + 300, n, sbytes, failed, 1 if ws else 0,
            ws_t if ws else None, outcome, verdict, round(r.uniform(0.6, 0.98), 2)
            if verdict else None, SUMMARIES.get(verdict), ADVICE.get(verdict),
            None if outcome == "pending" else decided))
        self.add_session(sref, sid, t, decided, 1, 1 if ws else 0, int(t) + 300, outcome)
        if r.random() < 0.01:  # a websocket whose page this capture never saw
            oref, osid = self.new_session()
            self.websocket(client, None, oref, t + 0.5, ua, "connected", app)
            self.add_session(oref, osid, t + 0.5, t + 60, 0, 1, None, "websocket_only")

    def flush(self, db):
        tables = [("ua", "user_agents", UA_COLS), ("session", "sessions", SESSION_COLS),
                  ("conn", "connections", CONN_COLS), ("http", "http_exchanges", HTTP_COLS),
                  ("ws", "websockets", WS_COLS), ("bokeh", "bokeh_messages", BOKEH_COLS),
                  ("page", "page_loads", PAGE_COLS), ("evidence", "evidence", EVIDENCE_COLS)]
        for key, table, cols in tables:
            sql = "INSERT INTO %s(%s) VALUES(%s)" % (table, ", ".join(cols),
                                                      ", ".join("?" * len(cols)))
            db.executemany(sql, self.rows[key])
            self.rows[key].clear()


def capture_row(db, args, first, last, n):
    counters = {"packets_truncated": 0, "gaps": n // 50, "streams_evicted": 0,
                "http_heads_too_large": 0, "ws_frames_too_large": 0, "bokeh_bad_json": n // 500}
    db.execute("INSERT INTO captures(id, source, live, filter, server_ports, started, ended, "
               "end_reason, packets, bytes, kernel_drops, if_drops, linktypes, grace, "
               "store_secrets, counters, tool_version) VALUES(?, ?, 0, NULL, ?, ?, ?, 'eof', ?, ?, "
               "0, 0, 'RAW', ?, 0, ?, 'synth')",
               (args.capture_id, args.source, str(args.port), first, last, n * 60, n * 90000,
                args.grace, json.dumps(counters)))


def build(path, page_loads=1000, seed=1, server="100.64.0.1", port=5006, start=BASE_TIME,
          gap=2.0, grace=15.0, schema=DEFAULT_SCHEMA, source=None, force=False, progress=None):
    """Writes a new database at path; returns the row counts. progress: called every 1,000
    SQLite virtual machine steps while the rows go in (a measure of the work, for tests)."""
    if os.path.exists(path):
        if not force:
            raise FileExistsError(path)
        for suffix in ("", "-wal", "-shm", "-journal"):
            if os.path.exists(path + suffix):
                os.unlink(path + suffix)
    args = argparse.Namespace(page_loads=page_loads, seed=seed, server=server, port=port,
                              start=start, gap=gap, grace=grace, capture_id=1,
                              source=source or "synthetic-%s.pcap" % server,
                              server_host=server if ":" not in server else "[%s]" % server)
    with open(schema) as f:
        now, later = schema_statements(f.read())
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    for stmt in now:
        db.execute(stmt)
    gen = Gen(args)
    if progress:
        db.set_progress_handler(progress, 1000)
    db.execute("BEGIN")
    for i in range(page_loads):
        gen.page_load()
        if (i + 1) % CHUNK == 0:
            gen.flush(db)
    gen.flush(db)
    capture_row(db, args, start, gen.t + grace, page_loads)
    db.execute("COMMIT")
    db.set_progress_handler(None, 0)
    for stmt in later:
        db.execute(stmt)
    db.execute("PRAGMA journal_mode=DELETE")
    counts = {t: db.execute("SELECT COUNT(*) FROM %s" % t).fetchone()[0]
              for t in ("page_loads", "connections", "http_exchanges", "websockets",
                        "bokeh_messages", "evidence", "sessions", "user_agents")}
    db.close()
    return counts


def session_ref(db, session_id):
    """sessions.id of session_id; like the real writer, a stub row (NULL first_ts) is made when
    there is none yet."""
    db.execute("INSERT INTO sessions(session_id) VALUES(?) ON CONFLICT DO NOTHING", (session_id,))
    return db.execute("SELECT id FROM sessions WHERE session_id = ?", (session_id,)).fetchone()[0]


def ua_ref(db, user_agent):
    """user_agents.id of user_agent (None for None), its row made when missing."""
    if user_agent is None:
        return None
    db.execute("INSERT INTO user_agents(user_agent) VALUES(?) ON CONFLICT DO NOTHING",
               (user_agent,))
    return db.execute("SELECT id FROM user_agents WHERE user_agent = ?",
                      (user_agent,)).fetchone()[0]


def add_websocket(db, session_id, client, server, port, ts, status=101, capture_id=1):
    """Adds a connection, upgrade exchange and websocket carrying session_id (and the session's
    row when the database has none); returns the websocket's id."""
    cid = db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM connections").fetchone()[0]
    hid = db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM http_exchanges").fetchone()[0]
    wid = db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM websockets").fetchone()[0]
    db.execute("INSERT INTO sessions(session_id, first_ts, last_ts, page_loads, websockets, "
               "outcome) VALUES(?, ?, ?, 0, 1, 'websocket_only') ON CONFLICT DO NOTHING",
               (session_id, ts, ts + 30))
    sref = session_ref(db, session_id)
    db.execute("INSERT INTO connections(id, capture_id, client, client_port, server, server_port, "
               "family, first_ts, last_ts, kind) VALUES(?, ?, ?, 40000, ?, ?, ?, ?, ?, "
               "'websocket')", (cid, capture_id, client, server, port, 6 if ":" in client else 4,
                                ts, ts + 30))
    db.execute("INSERT INTO http_exchanges(id, connection_id, seq, kind, req_ts, method, target, "
               "status) VALUES(?, ?, 0, 'websocket', ?, 'GET', '/app/ws', ?)",
               (hid, cid, ts, status))
    db.execute("INSERT INTO websockets(id, connection_id, http_id, session_ref, upgrade_ts, "
               "status, path) VALUES(?, ?, ?, ?, ?, ?, '/app/ws')",
               (wid, cid, hid, sref, ts, status))
    return wid


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out", help="database file to create")
    p.add_argument("--page-loads", "-n", type=int, default=1000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--server", default="100.64.0.1", help="server address")
    p.add_argument("--port", type=int, default=5006)
    p.add_argument("--start", type=float, default=BASE_TIME, help="first page load (epoch s)")
    p.add_argument("--gap", type=float, default=2.0, help="mean seconds between page loads")
    p.add_argument("--schema", default=DEFAULT_SCHEMA)
    p.add_argument("--force", action="store_true", help="replace an existing file")
    a = p.parse_args()
    try:
        counts = build(a.out, a.page_loads, a.seed, a.server, a.port, a.start, a.gap,
                       schema=a.schema, force=a.force)
    except FileExistsError:
        sys.exit("synth_db: %s exists (use --force to replace it)" % a.out)
    print("synth_db: %s: %s" % (a.out, ", ".join("%d %s" % (v, k) for k, v in counts.items())))


if __name__ == "__main__":
    main()
