#!/usr/bin/env python3
"""dash_bench: times the dashboard on a big capture database (not a test; the benchmark script
calls it). Builds (or takes) a database of N page loads, opens `orphanwatch dashboard` on it in
a private tmux server, and measures, each until the screen shows what the database says it
should: the first screen (also straight from a pty, without tmux's polling), PgDn x20, End, Home, `o` (orphans only), `s` (sort by client), `c`
(clients view), and `/` with a search that matches nothing (the worst case: a full scan).

  python3 tests/harness/dash_bench.py [--bin PATH] [--db X.db | --page-loads N --seed S]
                                      [--width 200 --height 60] [--json]

The database comes from tests/harness/synth_db.py when it exists, else from the builder in
tests/integration/dashboard_tmux.py. Needs tmux. Prints one line per step (seconds).
"""
import argparse
import fcntl
import json
import os
import pty
import select
import signal
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import termios
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "integration"))
import dashboard_tmux as dt  # noqa: E402  (the tmux driver and the database builder)


def build_db(path, n, seed):
    synth = os.path.join(HERE, "synth_db.py")
    t = time.time()
    if os.path.exists(synth):
        subprocess.run([sys.executable, synth, path, "--page-loads", str(n), "--seed",
                        str(seed)], check=True)
        how = "synth_db.py"
    else:
        dt.make_big_db(path, n, seed)
        how = "dashboard_tmux.make_big_db"
    return how, time.time() - t


def sid8(db, sql, *args):
    row = db.execute(sql, args).fetchone()
    return (row[0] or "")[:8] if row else None


def top_row(screen):
    rows = dt.list_rows(screen)
    return rows[0] if rows else ""


def timed(tm, keys, pred, what, timeout=60.0):
    t = time.time()
    if keys:
        tm.keys(*keys)
    tm.wait_for(pred, what, timeout)
    return time.time() - t


def first_screen_pty(binary, path, newest, width, height, runs=5):
    """Seconds from exec to the newest page load's session on screen, read straight from a
    pty (no tmux, no polling interval): the median of runs."""
    times = []
    for _ in range(runs):
        pid, fd = pty.fork()
        if pid == 0:
            os.environ.update(TERM="xterm-256color", LANG="C.UTF-8", LINES=str(height),
                              COLUMNS=str(width))
            os.execv(binary, [binary, "dashboard", path])
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
        t0, buf = time.time(), b""
        while time.time() - t0 < 60 and newest.encode() not in buf:
            if select.select([fd], [], [], 0.01)[0]:
                try:
                    buf += os.read(fd, 65536)
                except OSError:
                    break
        times.append(time.time() - t0 if newest.encode() in buf else float("nan"))
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
        os.close(fd)
    return sorted(times)[len(times) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.environ.get("ORPHANWATCH_BIN"))
    ap.add_argument("--db")
    ap.add_argument("--page-loads", type=int, default=1000000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--width", type=int, default=200)
    ap.add_argument("--height", type=int, default=60)
    ap.add_argument("--json", action="store_true", help="one JSON object instead of lines")
    a = ap.parse_args()
    if not shutil.which("tmux"):
        print("dash_bench: tmux is not installed", file=sys.stderr)
        return 77
    if not a.bin:
        print("dash_bench: give --bin or set ORPHANWATCH_BIN", file=sys.stderr)
        return 2
    work = tempfile.mkdtemp(prefix="owdashbench")
    res = {}
    tm = None
    try:
        path = a.db
        if not path:
            path = os.path.join(work, "bench.db")
            res["db_builder"], res["build_db_s"] = build_db(path, a.page_loads, a.seed)
        db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
        res["page_loads"] = db.execute("SELECT COUNT(*) FROM page_loads").fetchone()[0]
        height = a.height - 6  # header 4, column bar, key bar
        order = "ORDER BY p.started DESC, p.id DESC"
        # a page load's session id: the text of its sessions row (schema v3)
        sel = "SELECT s.session_id FROM page_loads p LEFT JOIN sessions s ON s.id = p.session_ref"
        newest = sid8(db, "%s %s LIMIT 1" % (sel, order))
        after20 = sid8(db, "%s %s LIMIT 1 OFFSET ?" % (sel, order), 20 * height)
        oldest = sid8(db, "%s ORDER BY p.started, p.id LIMIT 1" % sel)
        orphan = sid8(db, "%s WHERE p.outcome = 'orphan' %s LIMIT 1" % (sel, order))
        longest = sid8(db, "%s ORDER BY COALESCE(p.first_ws_ts - p.started, p.ttlb, -1.0) DESC, "
                           "p.id DESC LIMIT 1" % sel)
        first_client = db.execute("SELECT client FROM page_loads ORDER BY client, started, "
                                  "id LIMIT 1").fetchone()[0]
        db.close()

        res["open_pty_s"] = first_screen_pty(a.bin, path, newest, a.width, a.height)
        tm = dt.Tmux(work, a.width, a.height)
        t = time.time()
        dt.run_dashboard(tm, a.bin, path, work)
        tm.wait_for(lambda s: newest in top_row(s), "the first screen", 120)
        res["open_s"] = time.time() - t
        pages = []
        for i in range(20):
            before = top_row(tm.screen())
            pages.append(timed(tm, ["PgDn"], lambda s, b=before: top_row(s) != b, "PgDn"))
        tm.wait_for(lambda s: after20 in top_row(s), "page 21")
        res["pgdn_mean_s"] = sum(pages) / len(pages)
        res["pgdn_max_s"] = max(pages)
        res["end_s"] = timed(tm, ["End"], lambda s: oldest in (dt.list_rows(s) or [""])[-1],
                             "End")
        res["home_s"] = timed(tm, ["Home"], lambda s: newest in top_row(s), "Home")
        res["orphans_only_s"] = timed(tm, ["o"], lambda s: orphan in top_row(s), "o")
        tm.keys("o")
        tm.wait_for(lambda s: newest in top_row(s), "all rows again")
        res["sort_client_s"] = timed(tm, ["s"], lambda s: first_client in top_row(s), "s")
        res["sort_duration_s"] = timed(tm, ["s"], lambda s: longest in top_row(s), "s")
        tm.keys("s")  # back to time
        tm.wait_for(lambda s: newest in top_row(s), "time order again")
        res["clients_view_s"] = timed(tm, ["c"], lambda s: "DOMINANT VERDICT" in s and
                                      len(s.split("DOMINANT VERDICT")[1].strip()) > 0, "c", 300)
        tm.keys("Escape")
        tm.wait_for(lambda s: newest in top_row(s), "the list")
        tm.keys("/")
        t = time.time()
        tm.type("zqzqzq")
        tm.wait_for(lambda s: "no page loads match" in s, "an empty search", 300)
        res["search_nomatch_s"] = time.time() - t
        tm.keys("Escape", "q")
        code, _ = dt.wait_exit(tm, work)
        res["exit_status"] = code
    finally:
        if tm:
            tm.close()
        shutil.rmtree(work, ignore_errors=True)
    if a.json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            print("%-18s %s" % (k, ("%.3f" % v) if isinstance(v, float) else v))
    return 0


if __name__ == "__main__":
    sys.exit(main())
