#!/usr/bin/env python3
"""query_rollup: the rollup tables (db/schema.sql) equal a fresh GROUP BY over page_loads.

The triggers keep rollup_outcomes, rollup_clients, rollup_verdicts, rollup_minutes and
page_loads.resource; this recomputes each from page_loads (the resource from evidence and
http_exchanges, as the verdicts query defined it) after every kind of write: synth_db.py's
executemany, a writer-like pattern in SQL (INSERT OR REPLACE re-emits, evidence rewritten, an
exchange written after the evidence naming it, UPDATE, DELETE), a merge with a ws_elsewhere
re-label, and `orphanwatch read` of the shared captures and their merge. Then the queries that
read the rollups (clients, verdicts, stats without a time filter) must print exactly what the
same query prints when a time filter covering everything (`--since @0`) makes it scan page_loads.
"""
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile

SRC = os.environ.get("OW_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
sys.path.insert(0, os.path.join(SRC, "tests", "harness"))
sys.dont_write_bytecode = True  # no __pycache__ left in the source tree
import synth_db  # noqa: E402

BIN = os.environ.get("ORPHANWATCH_BIN", "")
CAPTURES = os.environ.get("ORPHANWATCH_CAPTURES", "")
SCHEMA = os.path.join(SRC, "db", "schema.sql")
failures = []


def check(cond, what):
    if not cond:
        print("FAIL " + what)
        failures.append(what)
    return cond


def ow(*args, expect=0):
    e = dict(os.environ, TZ="UTC0", LANG="C.UTF-8")
    r = subprocess.run([BIN] + [str(a) for a in args], capture_output=True, text=True, env=e)
    if expect is not None and r.returncode != expect:
        check(False, "%s exited %d: %s" % (" ".join(map(str, args)), r.returncode,
                                            r.stderr.strip()[:300]))
    return r


def ow_path(t):
    if t is None:
        return None
    cut = [i for i in (t.find("?"), t.find("#")) if i >= 0]
    return t[:min(cut)] if cut else t


FRESH = {
    "rollup_outcomes": "SELECT COALESCE(app, x''), outcome, COALESCE(verdict, x''), COUNT(*) "
                       "FROM page_loads GROUP BY 1, 2, 3",
    "rollup_clients": "SELECT COALESCE(client, x''), COUNT(*), SUM(outcome = 'orphan'), "
                      "MIN(started), MAX(started) FROM page_loads GROUP BY 1",
    "rollup_verdicts": "SELECT COALESCE(client, x''), verdict, COALESCE(py_path(COALESCE((SELECT "
                       "h.target FROM evidence e JOIN http_exchanges h ON h.id = e.http_id "
                       "WHERE e.page_load_id = pl.id ORDER BY e.seq LIMIT 1), pl.path)), x''), "
                       "COUNT(*) FROM page_loads pl WHERE verdict IS NOT NULL GROUP BY 1, 2, 3",
    "rollup_minutes": "SELECT CAST(started / 60 AS INTEGER), COUNT(*), SUM(outcome = 'orphan') "
                      "FROM page_loads WHERE started IS NOT NULL GROUP BY 1",
}


def check_rollups(db, label, exact_times=True):
    """Every rollup equals its fresh GROUP BY; first/last only bound the truth after DELETEs."""
    db.create_function("py_path", 1, ow_path)
    for table, sql in FRESH.items():
        want = sorted(db.execute(sql).fetchall(), key=repr)
        got = sorted(db.execute("SELECT * FROM %s" % table).fetchall(), key=repr)
        if table == "rollup_clients" and not exact_times:
            ok = [w[:3] for w in want] == [g[:3] for g in got] and all(
                (w[3] is None) == (g[3] is None) and (w[3] is None or (g[3] <= w[3] and
                                                                        g[4] >= w[4]))
                for w, g in zip(want, got))
        else:
            ok = want == got
        if not check(ok, "%s: %s equals a fresh GROUP BY over page_loads" % (label, table)):
            print("  want %r\n  got  %r" % (want[:6], got[:6]))
    n = db.execute("SELECT COUNT(*) FROM page_loads").fetchone()[0]
    check(db.execute("SELECT COALESCE(SUM(n), 0) FROM rollup_outcomes").fetchone()[0] == n,
          "%s: rollup_outcomes adds up to the page loads" % label)
    return n


def writer_pattern(seed, with_deletes):
    """Rows written the way the C writer and merge do, plus UPDATE and DELETE; an in-memory db."""
    rng = random.Random(seed)
    db = sqlite3.connect(":memory:", isolation_level=None)
    with open(SCHEMA) as f:
        db.executescript(f.read())
    fixed = {}
    verdicts = [None, None, "pmtu_blackhole", "script_stalled", "unknown"]
    outcomes = ["pending", "connected", "orphan"]
    targets = ["/static/a.js?v=1", "/static/b.js", None, "/ws#x"]
    for _ in range(4000):
        op, pid = rng.random(), rng.randint(1, 80)
        if pid not in fixed:  # a page keeps its client and started when re-emitted
            fixed[pid] = (rng.choice(["100.64.0.2", "fd7a::3", None]),
                          round(rng.uniform(0, 900), 3) if rng.random() < 0.95 else None)
        client, started = fixed[pid]
        hids = (pid, pid + 100)  # the exchanges of this page
        if op < 0.45:  # (re-)emit the page, then rewrite its evidence
            db.execute("INSERT OR REPLACE INTO page_loads(id, capture_id, client, app, path, "
                       "started, outcome, verdict) VALUES(?, 1, ?, ?, ?, ?, ?, ?)",
                       (pid, client, rng.choice(["/app", "", None]),
                        rng.choice(["/app?x=1", "/app", "/app#f", None]), started,
                        rng.choice(outcomes), rng.choice(verdicts)))
            db.execute("DELETE FROM evidence WHERE page_load_id = ?", (pid,))
            for seq in range(rng.randint(0, 3)):
                db.execute("INSERT INTO evidence VALUES(?, ?, NULL, ?, 'e')",
                           (pid, seq, rng.choice((None,) + hids)))
        elif op < 0.55:
            db.execute("UPDATE page_loads SET verdict = ?, outcome = ? WHERE id = ?",
                       (rng.choice(verdicts), rng.choice(outcomes), pid))
        elif op < 0.75:  # an exchange (re-)written, maybe after the evidence naming it
            hid = rng.choice(hids)
            db.execute("INSERT OR REPLACE INTO http_exchanges(id, connection_id, seq, target, "
                       "page_load_id) VALUES(?, 1, 0, ?, ?)", (hid, targets[hid % 4], pid))
        elif op < 0.85:
            db.execute("INSERT OR REPLACE INTO evidence VALUES(?, ?, NULL, ?, 'e')",
                       (pid, rng.randint(0, 3), rng.choice((None,) + hids)))
        elif op < 0.9:
            db.execute("DELETE FROM evidence WHERE page_load_id = ? AND seq = ?",
                       (pid, rng.randint(0, 3)))
        elif op < 0.93 and with_deletes:
            db.execute("DELETE FROM page_loads WHERE id = ?", (pid,))
            db.execute("DELETE FROM evidence WHERE page_load_id = ?", (pid,))
    return db


def query_lines(path, *args):
    r = ow("query", path, *args, "-f", "jsonl", "--utc", "--limit", 0)
    return [json.loads(line) for line in r.stdout.splitlines()
            if '"section":"capture"' not in line and '"section":"counter"' not in line]


def check_queries(path, label):
    """The rollup answers equal the page_loads scan (--since @0 covers every page load)."""
    db = sqlite3.connect(path)
    if db.execute("SELECT COUNT(*) FROM page_loads WHERE started IS NULL OR started < 0"
                  ).fetchone()[0]:
        db.close()
        return
    client = db.execute("SELECT client, verdict FROM page_loads WHERE verdict IS NOT NULL "
                        "ORDER BY id LIMIT 1").fetchone()
    app = db.execute("SELECT app FROM page_loads ORDER BY id LIMIT 1").fetchone()
    verdict = db.execute("SELECT verdict FROM page_loads WHERE verdict IS NOT NULL "
                         "GROUP BY 1 ORDER BY COUNT(*) DESC LIMIT 1").fetchone()
    db.close()
    filters = [[]]
    if client:
        filters.append(["--client", client[0]])
    if verdict:
        filters += [["--verdict", verdict[0]], ["--client", client[0], "--verdict", client[1]]]
    extra = {"stats": [["--verdict", "none"], ["--outcome", "orphan"]] +
             ([["--app", app[0]], ["--app", app[0], "--outcome", "connected"]] if app else [])}
    for q in ("clients", "verdicts", "stats"):
        for f in filters + extra.get(q, []):
            fast, scan = query_lines(path, q, *f), query_lines(path, q, *f, "--since", "@0")
            check(fast == scan and (fast or not f), "%s: query %s %s from the rollups equals "
                  "the page_loads scan" % (label, q, " ".join(f)))


def main():
    if not BIN or not os.access(BIN, os.X_OK):
        print("ORPHANWATCH_BIN is not set to an executable: cannot run")
        return 77
    for seed in (1, 2, 3):
        check_rollups(writer_pattern(seed, False), "writer pattern %d" % seed)
        check_rollups(writer_pattern(seed, True), "writer pattern %d with deletes" % seed,
                      exact_times=False)
    with tempfile.TemporaryDirectory() as tmp:
        a, b, m = (os.path.join(tmp, n) for n in ("a.db", "b.db", "ab.db"))
        synth_db.build(a, 2000, seed=21, server="100.64.0.1")
        synth_db.build(b, 500, seed=22, server="100.64.0.9", start=synth_db.BASE_TIME + 60)
        da = sqlite3.connect(a)
        sid, client, t = da.execute("SELECT s.session_id, p.client, p.started FROM page_loads p "
                                    "JOIN sessions s ON s.id = p.session_ref WHERE "
                                    "p.outcome = 'orphan' LIMIT 1").fetchone()
        da.close()
        dbb = sqlite3.connect(b)
        synth_db.add_websocket(dbb, sid, client, "100.64.0.9", 5006, t + 1.2)
        dbb.commit()
        dbb.close()
        ow("merge", m, a, b)
        for p in (a, b, m):
            db = sqlite3.connect(p)
            check_rollups(db, os.path.basename(p))
            db.close()
            check_queries(p, os.path.basename(p))
        if CAPTURES and os.path.isdir(CAPTURES):
            dbs = []
            for name in sorted(os.listdir(CAPTURES)):
                if name.endswith(".pcap"):
                    out = os.path.join(tmp, name + ".db")
                    if ow("read", os.path.join(CAPTURES, name), "-w", out, "-q").returncode == 0:
                        dbs.append(out)
            check(dbs, "read the shared captures")
            merged = os.path.join(tmp, "captures.db")
            if dbs:
                ow("merge", merged, *dbs)
                dbs.append(merged)
            pages = 0
            for p in dbs:
                db = sqlite3.connect(p)
                pages += check_rollups(db, os.path.basename(p))
                db.close()
                check_queries(p, os.path.basename(p))
            check(pages > 0, "the shared captures hold page loads")
        else:
            print("ORPHANWATCH_CAPTURES not set: the shared captures were not read")
    print("%d failed" % len(failures) if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
