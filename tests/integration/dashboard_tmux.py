#!/usr/bin/env python3
"""dashboard_tmux: drives `orphanwatch dashboard` in a tmux pane and reads the screen back.

Builds a capture database with known content (db/schema.sql + INSERTs: 40 page loads, 7
orphans, evidence, fetches, a websocket, a hostile User-Agent), then checks: the header
(source, packets, drops, outcome counts, orphan rate, sparklines), the list (newest first,
the orphans' session prefixes and clients), `o` orphans only, `/` search narrowing to one row,
`f` filter by verdict, Enter -> detail with the evidence and advice, `c` clients view with the
orphan rates, `i` the capture view (the kernel drops in words; the key bar counts them), resize 80x24 <-> 200x60 keeping the layout, `--ascii`, `q` exiting 0 with the
terminal restored, SIGTERM restoring the terminal too, and that escape sequences stored in the
database never reach the terminal. With ORPHANWATCH_CAPTURES set and `orphanwatch read` working,
also opens a database made from blackhole-half.pcap and looks for its 7 orphans.

Needs tmux and python3's sqlite3; exits 77 (skipped) without them. The database builders are
also used by tests/harness/dash_bench.py.
"""
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("OW_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
SCHEMA = os.path.join(SOURCE_DIR, "db", "schema.sql")
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
HOSTILE_UA = "Mozilla/5.0 EVILBOT \x1b]0;PWNED\x07\x1b[2J\x1b[31mred\x1b[0m \x9b31m\u202eevil"
T0 = 1795636800.0  # epoch seconds of the first page load


# ---------------------------------------------------------------- database builders

def create_schema(db, indexes=True):
    """Runs db/schema.sql; without indexes, returns the CREATE INDEX statements for later."""
    text = open(SCHEMA).read()
    index_sql = re.findall(r"CREATE INDEX[^;]*;", text)
    if not indexes:
        for stmt in index_sql:
            text = text.replace(stmt, "")
    db.executescript(text)
    return index_sql


def session_id(rng):
    return "".join(rng.choice(B62) for _ in range(44))


PL_COLS = ("id capture_id http_id connection_id session_ref client client_port server "
           "server_port host path app ua_ref started status resp_bytes ttfb ttlb "
           "static_count static_bytes static_failed websockets first_ws_ts outcome verdict "
           "confidence summary advice decided_ts").split()


def text_ref(db, table, column, text):
    """The id of text's row in sessions (column session_id) or user_agents (user_agent), made
    when missing (a session row made here is a stub, as the writer makes it: NULL first_ts)."""
    if text is None:
        return None
    db.execute("INSERT INTO %s (%s) VALUES (?) ON CONFLICT DO NOTHING" % (table, column), (text,))
    return db.execute("SELECT id FROM %s WHERE %s = ?" % (table, column), (text,)).fetchone()[0]


def insert_page_load(db, **kw):
    """A page_loads row; session_id and user_agent are given as text (stored by reference)."""
    kw["session_ref"] = text_ref(db, "sessions", "session_id", kw.pop("session_id", None))
    kw["ua_ref"] = text_ref(db, "user_agents", "user_agent", kw.pop("user_agent", None))
    row = [kw.get(c) for c in PL_COLS]
    db.execute("INSERT INTO page_loads (%s) VALUES (%s)" % (",".join(PL_COLS),
                                                           ",".join("?" * len(PL_COLS))), row)


def make_known_db(path):
    """40 page loads with known outcomes; returns what the screen should show."""
    rng = random.Random(7)
    db = sqlite3.connect(path)
    create_schema(db)
    db.execute("INSERT INTO captures (id, source, live, started, ended, end_reason, packets, "
               "bytes, kernel_drops, if_drops, grace) VALUES (1, 'known-test.pcap', 0, ?, ?, "
               "'eof', 123456, 98765432, 7, 0, 15.0)", (T0 - 5, T0 + 40 * 60 + 30))
    clients = ["100.64.0.2"] * 10 + ["100.64.0.3"] * 10 + ["100.64.0.4"] * 10 + \
        ["fd7a:115c:a1e0::2"] * 10
    rng.shuffle(clients)
    loads = []
    n_pmtu = n_noscript = 0
    for i in range(40):
        sid = session_id(rng)
        while any(l["sid"][:8] == sid[:8] for l in loads):
            sid = session_id(rng)
        client = clients[i]
        pl = dict(id=i + 1, sid=sid, client=client, started=T0 + i * 60 + 1.5,
                  outcome="connected", verdict=None, ua="Mozilla/5.0 (X11; Linux) Chrome/131")
        if client == "100.64.0.2" and n_pmtu < 5:
            pl.update(outcome="orphan", verdict="pmtu_blackhole")
            n_pmtu += 1
        elif client == "100.64.0.4" and n_noscript < 2:
            pl.update(outcome="orphan", verdict="no_scripts_fetched")
            n_noscript += 1
        loads.append(pl)
    # a few other outcomes on clients without orphans
    others = [l for l in loads if l["client"] == "100.64.0.3"]
    others[0].update(outcome="ws_refused", verdict="ws_refused")
    others[1].update(outcome="undecided")
    others[2].update(verdict="slow_pmtu_recovery")
    hostile = [l for l in loads if l["client"] == "fd7a:115c:a1e0::2"][3]
    hostile["ua"] = HOSTILE_UA
    # newest first, so that sessions.id differs from page_loads.id (41 - id): a reader joining
    # on the wrong id shows the wrong session
    for l in reversed(loads):
        connected = l["outcome"] == "connected"
        insert_page_load(
            db, id=l["id"], capture_id=1, session_id=l["sid"], client=l["client"],
            client_port=40000 + l["id"], server="100.64.0.1", server_port=5006,
            host="100.64.0.1:5006", path="/bserve_test?visit=%d" % l["id"], app="/bserve_test",
            user_agent=l["ua"], started=l["started"], status=200, resp_bytes=13508,
            ttfb=0.012, ttlb=0.020, static_count=0 if l["verdict"] == "no_scripts_fetched" else 5,
            static_bytes=3400000, static_failed=0,
            websockets=1 if l["outcome"] in ("connected", "ws_refused") else 0,
            first_ws_ts=l["started"] + 0.7 if connected else None, outcome=l["outcome"],
            verdict=l["verdict"], confidence=0.9 if l["verdict"] else None,
            summary=("large server segments were lost on the path" if l["verdict"] ==
                     "pmtu_blackhole" else None),
            advice=("Lower the tunnel MTU or set net.ipv4.tcp_mtu_probing=1 on the server" if
                    l["verdict"] == "pmtu_blackhole" else None),
            decided_ts=l["started"] + 15)
    # the newest pmtu orphan gets a full timeline: page connection, two fetches, evidence
    target = max((l for l in loads if l["verdict"] == "pmtu_blackhole"), key=lambda l: l["id"])
    t = target["started"]
    db.execute("INSERT INTO connections (id, capture_id, client, client_port, server, "
               "server_port, family, close, retrans_s2c, lost_retrans_s2c, longest_stall_s2c, "
               "rto_s2c) VALUES (1, 1, ?, 49674, '100.64.0.1', 5006, 4, 'fin', 0, 0, 0.0, 0)",
               (target["client"],))
    db.execute("INSERT INTO connections (id, capture_id, client, client_port, server, "
               "server_port, family, close, retrans_s2c, lost_retrans_s2c, longest_stall_s2c, "
               "rto_s2c, max_seg_lost_s2c) VALUES (2, 1, ?, 49686, '100.64.0.1', 5006, 4, "
               "'rst', 8, 8, 12.5, 8, 1280)", (target["client"],))
    db.execute("UPDATE page_loads SET connection_id = 1, http_id = 1 WHERE id = ?",
               (target["id"],))
    db.execute("INSERT INTO http_exchanges (id, connection_id, seq, kind, req_ts, method, "
               "target, status, resp_ts, resp_end_ts, resp_body_bytes, complete, page_load_id) "
               "VALUES (1, 1, 0, 'page', ?, 'GET', '/bserve_test?visit=1', 200, ?, ?, 13508, 1, "
               "?)", (t, t + 0.012, t + 0.020, target["id"]))
    db.execute("INSERT INTO http_exchanges (id, connection_id, seq, kind, req_ts, method, "
               "target, status, resp_ts, resp_end_ts, resp_body_bytes, complete, page_load_id) "
               "VALUES (2, 1, 1, 'static', ?, 'GET', '/static/js/bokeh.min.js', 200, ?, ?, "
               "1209000, 1, ?)", (t + 0.05, t + 0.06, t + 0.4, target["id"]))
    db.execute("INSERT INTO http_exchanges (id, connection_id, seq, kind, req_ts, method, "
               "target, status, resp_ts, resp_end_ts, resp_body_bytes, complete, "
               "last_byte_acked, page_load_id) VALUES (3, 2, 0, 'static', ?, 'GET', "
               "'/static/js/bokeh-gl.min.js', 200, ?, NULL, 0, 0, 0, ?)",
               (t + 0.05, t + 0.07, target["id"]))
    evidence = ["server sent 1280-byte segments on :49686 never acked",
                "8 retransmissions of the same segment, longest stall 12.5s",
                "no websocket upgrade carried session " + target["sid"][:8]]
    for i, text in enumerate(evidence):
        db.execute("INSERT INTO evidence (page_load_id, seq, connection_id, text) VALUES "
                   "(?, ?, 2, ?)", (target["id"], i, text))
    # a connected page load with its websocket and Bokeh messages
    conn_pl = max((l for l in loads if l["outcome"] == "connected"), key=lambda l: l["id"])
    ws_t = conn_pl["started"] + 0.7
    db.execute("INSERT INTO connections (id, capture_id, client, client_port, server, "
               "server_port, family, close, retrans_s2c, lost_retrans_s2c, longest_stall_s2c) "
               "VALUES (3, 1, ?, 50000, '100.64.0.1', 5006, 4, 'fin', 0, 0, 0)",
               (conn_pl["client"],))
    db.execute("INSERT INTO websockets (id, connection_id, page_load_id, session_ref, upgrade_ts, "
               "status, reason, path, subprotocol_ok, deflate, messages_c2s, messages_s2c, "
               "msg_counts, close_code_c2s, close_code_s2c, close_ts, errors) VALUES (1, 3, ?, ?, "
               "?, 101, 'Switching Protocols', '/bserve_test/ws', 1, 1, 2, 3, "
               "'{\"ACK\":1,\"PULL-DOC-REPLY\":1}', 1001, 1001, ?, 0)",
               (conn_pl["id"], text_ref(db, "sessions", "session_id", conn_pl["sid"]), ws_t,
                ws_t + 5))
    for i, (dt, d, mt) in enumerate([(0.01, 1, "ACK"), (0.02, 0, "PULL-DOC-REQ"),
                                     (0.05, 1, "PULL-DOC-REPLY")]):
        db.execute("INSERT INTO bokeh_messages (id, websocket_id, ts, dir, msgtype, msgid, size) "
                   "VALUES (?, 1, ?, ?, ?, ?, 100)", (i + 1, ws_t + dt, d, mt, str(i + 1)))
    db.commit()
    db.close()
    by_client = {}
    for l in loads:
        c = by_client.setdefault(l["client"], [0, 0])
        c[0] += 1
        c[1] += l["outcome"] == "orphan"
    return dict(loads=loads, target=target, evidence=evidence, hostile=hostile,
                connected=conn_pl, by_client=by_client,
                orphans=[l for l in loads if l["outcome"] == "orphan"])


def make_big_db(path, n, seed=1, minutes=None):
    """n page loads (page_loads and captures only), quickly: for benchmarks."""
    rng = random.Random(seed)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    index_sql = create_schema(db, indexes=False)
    minutes = minutes or max(60, n // 200)
    step = minutes * 60.0 / n
    db.execute("INSERT INTO captures (id, source, live, started, ended, end_reason, packets, "
               "kernel_drops) VALUES (1, 'bench.pcap', 0, ?, ?, 'eof', ?, 0)",
               (T0, T0 + n * step, n * 40))
    outcomes = ["connected"] * 85 + ["orphan"] * 10 + ["ws_refused", "ws_no_doc", "undecided"] * 1
    verdicts = {"orphan": ["pmtu_blackhole", "no_scripts_fetched", "unknown", "client_gone"],
                "ws_refused": ["ws_refused"], "ws_no_doc": ["render_failed"]}
    clients = ["100.64.%d.%d" % (a, b) for a in range(4) for b in range(1, 251)]

    # page load i has session i (a stub row) and User-Agent i % 97 + 1
    db.executemany("INSERT INTO user_agents (id, user_agent) VALUES (?, ?)",
                   [(k + 1, "Mozilla/5.0 bench %d" % k) for k in range(97)])
    sessions = []

    def rows():
        for i in range(1, n + 1):
            o = rng.choice(outcomes)
            v = rng.choice(verdicts[o]) if o in verdicts else None
            started = T0 + i * step
            sessions.append((i, "%08x%s" % (i, "".join(rng.choice(B62) for _ in range(36)))))
            yield (i, 1, i,
                   rng.choice(clients), 40000 + i % 20000, "100.64.0.1", 5006,
                   "/app%d" % (i % 7), "/app%d" % (i % 7), i % 97 + 1,
                   started, 200, 13000, 0.01, 0.02 + (i % 13) / 10.0, 5, 3400000, 0,
                   1 if o in ("connected", "ws_refused", "ws_no_doc") else 0,
                   started + 0.7 if o == "connected" else None, o, v, 0.8 if v else None)
    db.executemany("INSERT INTO page_loads (id, capture_id, session_ref, client, client_port, "
                   "server, server_port, path, app, ua_ref, started, status, resp_bytes, "
                   "ttfb, ttlb, static_count, static_bytes, static_failed, websockets, "
                   "first_ws_ts, outcome, verdict, confidence) VALUES "
                   "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows())
    db.executemany("INSERT INTO sessions (id, session_id) VALUES (?, ?)", sessions)
    for stmt in index_sql:
        db.execute(stmt)
    db.commit()
    db.execute("PRAGMA journal_mode=WAL")  # like the capture writer leaves it
    db.close()


# ---------------------------------------------------------------- tmux driver

class Tmux:
    """One private tmux server (its own socket) with one pane running a plain shell."""

    def __init__(self, workdir, width=80, height=24):
        self.sock = "owdash%d" % os.getpid()
        self.env = dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8")
        self.env.pop("TMUX", None)
        self.workdir = workdir
        self.tmux("new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height),
                  "env LANG=C.UTF-8 LC_ALL=C.UTF-8 TZ=UTC 'PS1=OWPROMPT$ ' "
                  "bash --norc --noprofile")
        self.wait_for(lambda s: "OWPROMPT$" in s, "the shell prompt")

    def tmux(self, *args, check=True):
        r = subprocess.run(["tmux", "-u", "-L", self.sock] + list(args), env=self.env,
                           capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError("tmux %s: %s" % (" ".join(args), r.stderr.strip()))
        return r.stdout

    def keys(self, *keys):
        self.tmux("send-keys", "-t", "t", *keys)

    def type(self, text):
        self.tmux("send-keys", "-t", "t", "-l", text)

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", "t")

    def lines(self):
        return self.screen().split("\n")

    def size(self):
        w, h = self.tmux("display", "-p", "-t", "t", "#{pane_width} #{pane_height}").split()
        return int(w), int(h)

    def wait_for(self, pred, what, timeout=10.0):
        """The screen once pred holds and it has stopped changing: tmux can capture a screen
        the dashboard is still writing, more so on a loaded machine."""
        end = time.time() + timeout
        s = ""
        while time.time() < end:
            s = self.screen()
            if pred(s):
                time.sleep(0.05)
                again = self.screen()
                if again == s:
                    return s
                continue
            time.sleep(0.05)
        raise AssertionError("timed out waiting for %s; screen:\n%s" % (what, s))

    def resize(self, w, h):
        self.tmux("resize-window", "-t", "t", "-x", str(w), "-y", str(h))

    def close(self):
        self.tmux("kill-server", check=False)


# ---------------------------------------------------------------- checks

failures = []


def check(cond, what):
    if cond:
        print("ok   " + what)
    else:
        print("FAIL " + what)
        failures.append(what)
    return cond


TIME_RE = re.compile(r"^\d\d:\d\d:\d\d ")


def list_rows(screen):
    """The list lines of a screen: those starting with a clock time."""
    return [l for l in screen.split("\n") if TIME_RE.match(l)]


def sid_of(row):
    """The SESSION column of a list row: TIME CLIENT APP SESSION ..."""
    return row.split()[3]


def display_width(s):
    import unicodedata
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


# Runs the dashboard as a child, then records how it ended and the tty modes left behind.
# The wrapper ignores SIGINT (the child does not), so a Ctrl-C ends only the dashboard.
WRAPPER = r"""
import os, resource, signal, subprocess, sys
work = sys.argv[1]
signal.signal(signal.SIGINT, signal.SIG_IGN)
def child():
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
p = subprocess.Popen(sys.argv[2:], preexec_fn=child)
open(os.path.join(work, "pid"), "w").write(str(p.pid))
rc = p.wait()
open(os.path.join(work, "exit"), "w").write(str(128 - rc if rc < 0 else rc))
stty = subprocess.run(["stty", "-a"], capture_output=True, text=True).stdout
open(os.path.join(work, "stty"), "w").write(stty)
print("DONE-MARK")
"""


def run_dashboard(tm, bin_, db, workdir, extra=""):
    """Starts the dashboard in the pane (through WRAPPER)."""
    for f in ("exit", "stty", "pid"):
        p = os.path.join(workdir, f)
        if os.path.exists(p):
            os.unlink(p)
    wrapper = os.path.join(workdir, "run.py")
    with open(wrapper, "w") as f:
        f.write(WRAPPER)
    args = [sys.executable, wrapper, workdir, bin_, "dashboard"] + extra.split() + [db]
    tm.type(" ".join("'%s'" % a for a in args))
    tm.keys("Enter")


def wait_exit(tm, workdir, timeout=10.0):
    """Waits for the wrapper's record (and the shell prompt after it): (status, stty -a)."""
    stty_file = os.path.join(workdir, "stty")
    end = time.time() + timeout
    while not os.path.exists(stty_file) and time.time() < end:
        time.sleep(0.05)
    if not os.path.exists(stty_file):
        raise AssertionError("the dashboard did not exit; screen:\n" + tm.screen())
    time.sleep(0.05)  # the wrapper writes the file, then prints its mark
    try:
        tm.wait_for(lambda s: "OWPROMPT$" in s.split("DONE-MARK")[-1], "the shell prompt", 3.0)
    except AssertionError:
        pass  # checked by the caller where it matters
    code = int(open(os.path.join(workdir, "exit")).read().strip())
    return code, open(stty_file).read()


def tty_sane(stty):
    words = stty.replace(";", " ").split()
    return all(w in words for w in ("icanon", "echo", "isig")) and "-echo" not in words


def check_layout(tm, width, height, expect_rows, label):
    tm.wait_for(lambda s: len(s.split("\n")) >= height and
                len(list_rows(s)) == expect_rows, "%s: %d list rows" % (label, expect_rows))
    s = tm.screen()
    lines = s.split("\n")
    check("known-test.pcap" in lines[0] and "packets" in lines[0], label + ": header on the first line")
    check(re.match(r"(page )?loads 40 ", lines[1]) is not None, label + ": outcome counts")
    bar = [l for l in lines if l.startswith("TIME ")]
    check(len(bar) == 1 and all(t in bar[0] for t in ("CLIENT", "SESSION", "OUTCOME")),
          label + ": one column header line")
    check(all(display_width(l) <= width for l in lines),
          label + ": no line wider than %d" % width)
    rows = list_rows(s)
    check(len(rows) == expect_rows, label + ": %d list rows (got %d)" % (expect_rows, len(rows)))
    # every row is whole: its outcome word sits on the same line as its time
    check(all(re.search(r"\b(connected|orphan|ws_refused|undecided)\b", r) for r in rows),
          label + ": each row holds its outcome (nothing wrapped)")
    return s


def main():
    bin_ = os.environ.get("ORPHANWATCH_BIN")
    if not shutil.which("tmux"):
        print("SKIP: tmux is not installed")
        return 77
    if not bin_ or not os.access(bin_, os.X_OK):
        print("SKIP: ORPHANWATCH_BIN is not set to an executable")
        return 77
    r = subprocess.run([bin_, "dashboard", "--help"], capture_output=True, text=True)
    if r.returncode != 0 or "dashboard" not in r.stdout:
        print("SKIP: `%s dashboard --help` does not run the dashboard yet (%s)" %
              (bin_, (r.stderr or r.stdout).strip()[:200]))
        return 77
    workdir = tempfile.mkdtemp(prefix="owdash")
    db = os.path.join(workdir, "known.db")
    k = make_known_db(db)
    tm = Tmux(workdir)
    try:
        scenario(tm, bin_, db, k, workdir)
        capture_scenario(tm, bin_, workdir)
    finally:
        tm.close()
        shutil.rmtree(workdir, ignore_errors=True)
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("all checks passed")
    return 0


def scenario(tm, bin_, db, k, workdir):
    newest_first = sorted(k["loads"], key=lambda l: -l["started"])
    run_dashboard(tm, bin_, db, workdir)
    s = tm.wait_for(lambda s: len(list_rows(s)) == 18, "the list")
    lines = s.split("\n")
    check("known-test.pcap" in lines[0] and "packets 123,456" in lines[0] and
          "drops 7" in lines[0], "header: source, packets, kernel drops")
    check("orphan rate 17.5%" in lines[1] and "orphan 7" in lines[1] and
          "connected 31" in lines[1], "header: outcome counts and orphan rate")
    check(lines[2].startswith("loads/min") and any(c in lines[2] for c in "▁▂▃▄▅▆▇█"),
          "header: page-load sparkline in block characters")
    check(lines[3].startswith("orphans/min"), "header: orphan sparkline")
    rows = list_rows(s)
    check([sid_of(r) for r in rows[:18]] == [l["sid"][:8] for l in newest_first[:18]],
          "list: newest first, session prefixes in order")
    for l in newest_first[:18]:
        row = [r for r in rows if l["sid"][:8] in r]
        if l["outcome"] == "orphan":
            check(row and " orphan " in row[0] and l["client"] in row[0],
                  "list: orphan %s of %s shown" % (l["sid"][:8], l["client"]))
    check_layout(tm, 80, 24, 18, "80x24")

    # mouse: a click (an xterm X10 mouse report) selects the third row; Enter opens it
    y = 4 + 1 + 2
    tm.type("\x1b[M%c%c%c\x1b[M%c%c%c" % (32, 33 + 3, 33 + y, 35, 33 + 3, 33 + y))
    tm.keys("Enter")
    s = tm.wait_for(lambda s: "Timeline" in s, "the detail after a click")
    check(newest_first[2]["sid"] in s, "mouse: a click selects the row under it")
    tm.keys("BSpace")
    tm.wait_for(lambda s: len(list_rows(s)) == 18, "Backspace back to the list")

    # o: orphans only
    tm.keys("o")
    s = tm.wait_for(lambda s: len(list_rows(s)) == 7, "7 orphan rows")
    rows = list_rows(s)
    check(all(" orphan " in r for r in rows), "o: only orphans listed")
    check(sorted(sid_of(r) for r in rows) == sorted(l["sid"][:8] for l in k["orphans"]),
          "o: the 7 expected orphan session prefixes")
    check(all(any(l["sid"][:8] in r and l["client"][:15] in r for r in rows)
              for l in k["orphans"]), "o: each orphan with its client")
    tm.keys("o")
    tm.wait_for(lambda s: len(list_rows(s)) == 18, "all rows again")

    # /: incremental search, by user agent and by session id
    tm.keys("/")
    tm.type("EVILB")
    s = tm.wait_for(lambda s: len(list_rows(s)) == 1, "search to narrow to one row")
    check(k["hostile"]["sid"][:8] in list_rows(s)[0], "/: search by user agent finds the row")
    title = tm.tmux("display", "-p", "-t", "t", "#{pane_title}")
    check("PWNED" not in title, "hostile user agent did not set the terminal title")
    check("\x1b" not in s and "PWNED" not in s.split("\n")[0], "no escape sequence on screen")
    tm.keys("Escape")
    tm.wait_for(lambda s: len(list_rows(s)) == 18, "Esc to drop the search")
    sid = k["connected"]["sid"]
    tm.keys("/")
    tm.type(sid[:12])
    s = tm.wait_for(lambda s: len(list_rows(s)) == 1, "session-id search to narrow")
    check(sid[:8] in list_rows(s)[0], "/: search by session id narrows to that row")
    tm.keys("Enter")
    tm.keys("Escape")  # in the list, Esc clears the search
    tm.wait_for(lambda s: len(list_rows(s)) == 18, "Esc in the list to clear the search")

    # f: filter by verdict
    tm.keys("f")
    tm.keys("C-u")
    tm.type("verdict:pmtu_blackhole")
    tm.keys("Enter")
    s = tm.wait_for(lambda s: len(list_rows(s)) == 5, "5 pmtu_blackhole rows")
    rows = list_rows(s)
    check(all("pmtu_blackhole" in r for r in rows), "f: only pmtu_blackhole rows")
    keybar = s.rstrip("\n").split("\n")[-1]
    check("verdict:pmtu_blackhole  5 shown" in keybar,
          "f: the filter and the count are shown in the key bar" +
          ("" if "5 shown" in keybar else ": " + keybar))
    check(sid_of(rows[0]) == k["target"]["sid"][:8], "f: newest pmtu orphan first")

    # Enter: detail of the first (the page load with the full timeline)
    tm.keys("Enter")
    s = tm.wait_for(lambda s: "Timeline" in s, "the detail view")
    check(k["target"]["sid"] in s, "detail: full session id")
    check("CUT SHORT" in s and "bokeh-gl.min.js" in s, "detail: the cut-short static fetch")
    check("retrans 8" in s and "lost retrans 8" in s and "12.5s" in s,
          "detail: retransmissions and stall of the fetch's connection")
    tm.keys("End")
    s = tm.wait_for(lambda s: "Advice" in s, "the end of the detail")
    check("Verdict  orphan: pmtu_blackhole (confidence 90%)" in s, "detail: verdict, confidence")
    flat = " ".join(s.split())
    check(all(" ".join(e.split()) in flat for e in k["evidence"]), "detail: every evidence row")
    check("tcp_mtu_probing=1" in flat and "Lower the tunnel MTU" in flat, "detail: the advice")
    tm.keys("Escape")
    tm.wait_for(lambda s: len(list_rows(s)) == 5, "back to the filtered list")
    tm.keys("f")
    tm.keys("C-u")
    tm.keys("Enter")
    tm.wait_for(lambda s: len(list_rows(s)) == 18, "filter cleared")

    # detail of a connected page load: websocket and Bokeh messages
    tm.keys("/")
    tm.type(k["connected"]["sid"][:12])
    tm.wait_for(lambda s: len(list_rows(s)) == 1, "the connected row")
    tm.keys("Enter", "Enter")
    s = tm.wait_for(lambda s: "websocket upgrade" in s, "the websocket in the detail")
    check("101" in s and "PULL-DOC-REPLY" in s and "client 1001, server 1001" in s,
          "detail: websocket upgrade, Bokeh messages, close codes")
    tm.keys("Escape", "Escape")
    tm.wait_for(lambda s: len(list_rows(s)) == 18, "list again")

    # c: clients view
    tm.keys("c")
    # every client's row drawn (tmux may capture a screen half written by a loaded machine)
    s = tm.wait_for(lambda s: "DOMINANT VERDICT" in s and all(
        any(l.startswith(c + " ") for l in s.split("\n")) for c in k["by_client"]),
        "the clients view with every client")
    for client, (n, o) in k["by_client"].items():
        line = [l for l in s.split("\n") if l.startswith(client + " ")]
        rate = "%.1f%%" % (100.0 * o / n)
        check(line and rate in line[0] and (" %d " % n) in line[0],
              "c: %s has %d page loads, orphan rate %s (row: %r)"
              % (client, n, rate, line[0] if line else None))
    line = [l for l in s.split("\n") if l.startswith("100.64.0.2 ")]
    check(line and "pmtu_blackhole (5)" in line[0], "c: dominant verdict of 100.64.0.2")
    tm.keys("Escape")
    tm.wait_for(lambda s: len(list_rows(s)) == 18, "list after the clients view")

    # ?: help lists the keys and the verdict meanings
    tm.keys("?")
    s = tm.wait_for(lambda s: "Keys" in s, "help")
    check("orphans only" in s and "this help" in s, "?: help lists the keys")
    tm.keys("End")
    s = tm.wait_for(lambda s: "client_gone" in s, "the end of the help")
    check("the wire shows no cause" in s, "?: help gives the verdict meanings")
    tm.keys("Escape")

    # i: the capture view; the key bar flags what the capture could not see (7 kernel drops)
    s = tm.wait_for(lambda s: len(list_rows(s)) == 18, "list after the help")
    keybar = s.rstrip("\n").split("\n")[-1]
    check("blind spots 1 (i)" in keybar, "the key bar counts the blind spots: " + keybar)
    tm.keys("i")
    s = tm.wait_for(lambda s: "What the capture could not see" in s, "the capture view")
    check("known-test.pcap" in s and "7 packets were dropped" in s and "kernel_drops" not in s,
          "i: the capture, its drops in words")
    tm.keys("i")
    tm.wait_for(lambda s: len(list_rows(s)) == 18, "list after the capture view")

    # resize: 200x60 and back
    tm.resize(200, 60)
    s = check_layout(tm, 200, 60, 40, "200x60")
    check("USER AGENT" in s, "200x60: the user-agent column appears when wide")
    tm.resize(80, 24)
    check_layout(tm, 80, 24, 18, "80x24 again")

    # paging: End shows the oldest, Home the newest
    tm.keys("End")
    s = tm.wait_for(lambda s: k["loads"][0]["sid"][:8] in s, "End: oldest row")
    check(sid_of(list_rows(s)[-1]) == k["loads"][0]["sid"][:8], "End: oldest is the last row")
    tm.keys("Home")
    s = tm.wait_for(lambda s: list_rows(s) and
                    sid_of(list_rows(s)[0]) == newest_first[0]["sid"][:8], "Home")
    tm.keys("PgDn")
    s = tm.wait_for(lambda s: list_rows(s) and
                    sid_of(list_rows(s)[0]) == newest_first[18]["sid"][:8], "PgDn")
    check(True, "PgDn: the next page starts with the 19th newest")

    # q: exit 0, terminal restored
    tm.keys("q")
    code, stty = wait_exit(tm, workdir)
    check(code == 0, "q: exit status 0 (got %d)" % code)
    check(tty_sane(stty), "q: terminal modes restored (icanon echo isig)")
    s = tm.screen()
    check("OWPROMPT$" in s.split("DONE-MARK")[-1] and "orphans/min" not in s,
          "q: the shell prompt is back, the dashboard screen gone")

    # SIGTERM: the handler restores the terminal and the process dies of the signal
    tm.keys("C-l")
    run_dashboard(tm, bin_, db, workdir)
    tm.wait_for(lambda s: len(list_rows(s)) == 18, "the list (SIGTERM run)")
    pid = int(open(os.path.join(workdir, "pid")).read())
    os.kill(pid, 15)
    code, stty = wait_exit(tm, workdir)
    check(code == 128 + 15, "SIGTERM: killed by the signal (status %d)" % code)
    check(tty_sane(stty), "SIGTERM: terminal modes restored")

    # Ctrl-C: SIGINT from the tty, same; and a crash signal (SIGSEGV) too
    for key, sig, name in (("C-c", 2, "Ctrl-C"), (None, 11, "SIGSEGV")):
        tm.keys("C-l")
        run_dashboard(tm, bin_, db, workdir)
        tm.wait_for(lambda s: len(list_rows(s)) == 18, "the list (%s run)" % name)
        if key:
            tm.keys(key)
        else:
            os.kill(int(open(os.path.join(workdir, "pid")).read()), sig)
        code, stty = wait_exit(tm, workdir)
        # under AddressSanitizer the handler the dashboard restores before re-raising is
        # ASan's own, which reports the SEGV and aborts (128 + SIGABRT)
        sanitized = sig == 11 and "ASAN_OPTIONS" in os.environ
        check(code == 128 + sig or (sanitized and code == 128 + 6),
              "%s: ended by the signal (status %d)" % (name, code))
        check(tty_sane(stty), "%s: terminal modes restored" % name)

    # --ascii: no character outside ASCII on screen
    tm.keys("C-l")
    run_dashboard(tm, bin_, db, workdir, "--ascii")
    s = tm.wait_for(lambda s: len(list_rows(s)) == 18, "the list (--ascii)")
    check(all(ord(c) < 128 for c in s), "--ascii: only ASCII on screen")
    check(re.search(r"loads/min +[ _.\-=#]+ max", s) is not None, "--ascii: _.-=# sparkline")
    tm.keys("q")
    code, _ = wait_exit(tm, workdir)
    check(code == 0, "--ascii: exit 0")


def capture_scenario(tm, bin_, workdir):
    caps = os.environ.get("ORPHANWATCH_CAPTURES")
    if not caps:
        print("note: ORPHANWATCH_CAPTURES not set: skipping the blackhole-half.pcap part")
        return
    pcap = os.path.join(caps, "blackhole-half.pcap")
    truth = os.path.join(caps, "blackhole-half.json")
    if not os.path.exists(pcap):
        print("note: %s missing: skipping the capture part" % pcap)
        return
    db = os.path.join(workdir, "blackhole-half.db")
    r = subprocess.run([bin_, "read", pcap, "-w", db], capture_output=True, text=True)
    if r.returncode != 0 or not os.path.exists(db):
        print("note: `orphanwatch read %s -w X.db` does not work yet (%s): skipping the "
              "capture part" % (pcap, (r.stderr or r.stdout).strip()[:200]))
        return
    expected = [p for p in json.load(open(truth))["page_loads"]
                if p["expected_outcome"] == "orphan"]
    tm.keys("C-l")
    run_dashboard(tm, bin_, db, workdir)
    tm.wait_for(lambda s: "page loads" in s, "the dashboard on blackhole-half.db")
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    in_db = [r[0][:8] for r in con.execute(
        "SELECT s.session_id FROM page_loads p LEFT JOIN sessions s ON s.id = p.session_ref "
        "WHERE p.outcome = 'orphan' ORDER BY p.started DESC, p.id DESC")]
    con.close()
    tm.keys("o")
    s = tm.wait_for(lambda s: list_rows(s) and all(" orphan " in r for r in list_rows(s)),
                    "the orphans")
    rows = list_rows(s)
    check([sid_of(r) for r in rows] == in_db,
          "blackhole-half: the list shows the database's orphans, newest first")
    check(all(any(p["session_id"][:8] in r for r in rows) for p in expected),
          "blackhole-half: the ground truth's 7 orphan sessions are listed (%d rows)" %
          len(rows))
    tm.keys("q")
    code, _ = wait_exit(tm, workdir)
    check(code == 0, "blackhole-half: exit 0")


if __name__ == "__main__":
    sys.exit(main())
