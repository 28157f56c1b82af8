#!/usr/bin/env python3
"""query_formats: `orphanwatch query`, `sql` and `merge` on synthetic databases.

Every query runs in every format: the JSON is compared with the same question asked in SQL
directly, JSON lines must equal the JSON array, the CSV (csv module) must carry the same values,
and the table must show every column (and stay inside its width, with a cut mark, when narrow).
Filters (client, verdict, outcome, app, absolute and relative times), local time offsets, the
timeline and its prefix errors, the read-only refusal of `sql`, and a merge of two servers'
databases where one session's page is in A and its websocket in B (ws_elsewhere) are checked,
and the text report: its order, what it counts instead of listing, its per-client lines.
"""
import collections
import csv
import datetime
import io
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

SRC = os.environ.get("OW_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
sys.path.insert(0, os.path.join(SRC, "tests", "harness"))
sys.dont_write_bytecode = True  # no __pycache__ left in the source tree
import synth_db  # noqa: E402

BIN = os.environ.get("ORPHANWATCH_BIN", "")
FORMATS = ("json", "jsonl", "csv", "table")
LIMIT = 40
failures = []


def check(cond, what):
    if not cond:
        print("FAIL " + what)
        failures.append(what)
    return cond


def ow(*args, env=None, expect=0):
    e = dict(os.environ, TZ="UTC0", LANG="C.UTF-8")
    e.update(env or {})
    r = subprocess.run([BIN] + [str(a) for a in args], capture_output=True, text=True, env=e)
    if expect is not None and r.returncode != expect:
        check(False, "%s exited %d (expected %d): %s" % (" ".join(map(str, args)), r.returncode,
                                                         expect, r.stderr.strip()[:500]))
    return r


def iso(t):
    """ISO 8601 as ow_time(.., utc) writes it."""
    ms = round(t * 1000)
    d = datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (ms % 1000)


def latest_in_order(db, sql, params=(), limit=LIMIT):
    """ids of the newest `limit` rows of sql (which selects id, t), oldest first."""
    rows = db.execute(sql, params).fetchall()
    rows.sort(key=lambda r: (r[1], r[0]))
    return [r[0] for r in rows[-limit:]] if limit else [r[0] for r in rows]


def same_across_formats(name, out):
    rows = out["json"]
    check(out["jsonl"] == rows, "%s: jsonl equals json" % name)
    table = out["csv"]
    if rows:
        keys = list(rows[0].keys())
        check(table[0] == keys, "%s: csv header is the json keys" % name)
        want = [["" if v is None else str(v) for v in row.values()] for row in rows]
        got = table[1:]
        ok = len(got) == len(want) and all(
            len(g) == len(w) and all(same_value(a, b) for a, b in zip(g, w))
            for g, w in zip(got, want))
        check(ok, "%s: csv rows carry the json values" % name)
        header = out["table"].splitlines()[0].split()
        check(header == keys, "%s: table header shows every column" % name)
        check(out["table"].rstrip().endswith("rows)") or out["table"].rstrip().endswith(
            "row)") or "limit" in out["table"].splitlines()[-1], "%s: table footer" % name)
    else:
        check(table == [] or len(table) == 1, "%s: empty csv" % name)


def same_value(csv_text, json_text):
    if csv_text == json_text:
        return True
    try:
        return float(csv_text) == float(json_text)
    except ValueError:
        return False


def parse(fmt, text):
    if fmt == "json":
        return json.loads(text)
    if fmt == "jsonl":
        return [json.loads(line) for line in text.splitlines()]
    if fmt == "csv":
        return list(csv.reader(io.StringIO(text, newline="")))
    return text


def query(dbpath, *args):
    """Runs the query in every format, checks they agree, returns the JSON rows (or None)."""
    res = {}
    for fmt in FORMATS:
        r = ow("query", dbpath, *args, "--format", fmt, "--utc", "--width", "0")
        if r.returncode != 0:
            return None
        res[fmt] = parse(fmt, r.stdout)
    same_across_formats(" ".join(map(str, args)), res)
    return res["json"]


# ---- the queries, each against direct SQL ----

def test_page_lists(path, db):
    rows = query(path, "orphans", "--limit", LIMIT)
    want = latest_in_order(db, "SELECT id, started FROM page_loads WHERE outcome = 'orphan'")
    check(rows is not None and [r["id"] for r in rows] == want, "orphans: the latest, in order")
    if rows:
        p = db.execute("SELECT p.started, p.client, p.verdict, s.session_id FROM page_loads p "
                       "LEFT JOIN sessions s ON s.id = p.session_ref WHERE p.id = ?",
                       (rows[0]["id"],)).fetchone()
        check(rows[0]["started"] == iso(p[0]) and rows[0]["client"] == p[1] and
              rows[0]["verdict"] == p[2] and rows[0]["session_id"] == p[3],
              "orphans: fields match the row")
    v6 = db.execute("SELECT client FROM page_loads WHERE client LIKE '%:%' GROUP BY client "
                    "ORDER BY COUNT(*) DESC LIMIT 1").fetchone()[0]
    long_form = v6.replace("::", ":0:0:0:0:")  # the same address, not in RFC 5952 form
    rows = query(path, "pageloads", "--client", long_form, "--limit", 0)
    want = latest_in_order(db, "SELECT id, started FROM page_loads WHERE client = ?", (v6,), 0)
    check(rows is not None and [r["id"] for r in rows] == want,
          "pageloads --client (IPv6 normalized)")
    rows = query(path, "pageloads", "--verdict", "pmtu_blackhole", "--app", "/sliders",
                 "--limit", LIMIT)
    want = latest_in_order(db, "SELECT id, started FROM page_loads WHERE verdict = "
                               "'pmtu_blackhole' AND app = '/sliders'")
    check(rows is not None and [r["id"] for r in rows] == want, "pageloads --verdict --app")
    rows = query(path, "pageloads", "--verdict", "none", "--outcome", "connected", "--limit", 5)
    want = latest_in_order(db, "SELECT id, started FROM page_loads WHERE verdict IS NULL AND "
                               "outcome = 'connected'", (), 5)
    check(rows is not None and [r["id"] for r in rows] == want, "pageloads --verdict none")


def test_times(path, db):
    t0, t1 = db.execute("SELECT MIN(started), MAX(started) FROM page_loads").fetchone()
    a, b = t0 + (t1 - t0) * 0.4, t0 + (t1 - t0) * 0.45
    rows = query(path, "pageloads", "--since", iso(a), "--until", iso(b), "--limit", 0)
    want = latest_in_order(db, "SELECT id, started FROM page_loads WHERE started >= ? AND "
                               "started < ?", (round(a, 3), round(b, 3)), 0)
    check(rows is not None and [r["id"] for r in rows] == want, "--since/--until ISO 8601")
    ref = db.execute("SELECT MAX(ended) FROM captures").fetchone()[0]
    rows = query(path, "pageloads", "--since", "1h", "--limit", 0)
    want = latest_in_order(db, "SELECT id, started FROM page_loads WHERE started >= ?",
                           (ref - 3600,), 0)
    check(rows is not None and [r["id"] for r in rows] == want,
          "--since 1h counts back from the capture's end")
    r = ow("query", path, "orphans", "--limit", 1, "-f", "json",
           env={"TZ": "CET-1CEST,M3.5.0,M10.5.0/3"})
    check(r.returncode == 0 and json.loads(r.stdout)[0]["started"].endswith("+02:00"),
          "local time carries its offset")
    r = ow("query", path, "orphans", "--since", "last tuesday", expect=2)
    check("is not a time" in r.stderr, "a bad time is a usage error with a message")


def test_sessions_connections(path, db):
    rows = query(path, "sessions", "--limit", LIMIT)
    want = db.execute("SELECT session_id FROM (SELECT session_id, first_ts FROM sessions ORDER BY "
                      "first_ts DESC, session_id DESC LIMIT ?) ORDER BY first_ts, session_id",
                      (LIMIT,)).fetchall()
    check(rows is not None and [r["session_id"] for r in rows] == [w[0] for w in want],
          "sessions: the latest, in order")
    rows = query(path, "sessions", "--outcome", "websocket_only", "--limit", 0)
    n = db.execute("SELECT COUNT(*) FROM sessions WHERE outcome = 'websocket_only'").fetchone()[0]
    check(rows is not None and len(rows) == n and n > 0, "sessions --outcome websocket_only")
    client = db.execute("SELECT client FROM connections GROUP BY client ORDER BY COUNT(*) DESC "
                        "LIMIT 1").fetchone()[0]
    rows = query(path, "connections", "--client", client, "--limit", LIMIT)
    want = latest_in_order(db, "SELECT id, first_ts FROM connections WHERE client = ?", (client,))
    check(rows is not None and [r["id"] for r in rows] == want, "connections --client")
    r = ow("query", path, "connections", expect=2)
    check("--client" in r.stderr, "connections without --client is refused")


def test_clients(path, db):
    rows = query(path, "clients", "--limit", 0)
    per = collections.defaultdict(lambda: [0, 0, collections.Counter()])
    for client, outcome, verdict in db.execute("SELECT client, outcome, verdict FROM page_loads"):
        per[client][0] += 1
        per[client][1] += outcome == "orphan"
        if verdict:
            per[client][2][verdict] += 1
    check(rows is not None and len(rows) == len(per), "clients: one row per client")
    for r in rows or []:
        n, orphans, verdicts = per[r["client"]]
        top = max(verdicts.items(), key=lambda kv: (kv[1], [-ord(c) for c in kv[0]]),
                  default=(None, 0))
        if not check(r["page_loads"] == n and r["orphans"] == orphans and
                     abs(r["orphan_rate"] - orphans / n) <= 0.0005 + 1e-12 and
                     r["dominant_count"] == top[1] and verdicts.get(r["dominant_verdict"], 0) ==
                     top[1], "clients: %s matches SQL" % r["client"]):
            break
    orders = [(-r["orphans"], -r["page_loads"]) for r in rows or []]
    check(orders == sorted(orders), "clients: most orphans first")


def test_verdicts(path, db):
    rows = query(path, "verdicts", "--limit", 0)
    want = dict(db.execute("SELECT verdict, COUNT(*) FROM page_loads WHERE verdict IS NOT NULL "
                           "GROUP BY verdict"))
    got = {r["verdict"]: r["page_loads"] for r in rows or [] if r["level"] == "verdict"}
    check(got == want, "verdicts: counts per verdict")
    sums = collections.Counter()
    for r in rows or []:
        if r["level"] == "resource":
            sums[r["verdict"]] += r["page_loads"]
            if r["verdict"] == "script_stalled" and not r["description"].startswith(
                    "%d of %d page loads from %s stalled on /static/js/" % (
                        r["page_loads"], r["of_page_loads"], r["client"])):
                check(False, "verdicts: sentence '%s'" % r["description"])
    check(dict(sums) == want, "verdicts: the per-resource rows add up to each verdict")


def test_stats(path, db):
    rows = query(path, "stats")
    got = {(r["section"], r["name"]): r["value"] for r in rows or []}
    check(got.get(("page_loads", "total")) == db.execute(
        "SELECT COUNT(*) FROM page_loads").fetchone()[0], "stats: page loads total")
    for outcome, n in db.execute("SELECT outcome, COUNT(*) FROM page_loads GROUP BY outcome"):
        check(got.get(("outcome", outcome)) == n, "stats: outcome %s" % outcome)
    cap = db.execute("SELECT packets, counters FROM captures").fetchone()
    check(got.get(("capture", "packets")) == cap[0], "stats: capture packets")
    for k, v in json.loads(cap[1]).items():
        check(got.get(("counter", k)) == v, "stats: counter %s expanded" % k)


def test_timeline(path, db):
    pid, sid, n_static = db.execute(
        "SELECT p.id, s.session_id, (SELECT COUNT(*) FROM http_exchanges h WHERE "
        "h.page_load_id = p.id AND h.kind = 'static') FROM page_loads p JOIN sessions s ON "
        "s.id = p.session_ref WHERE p.verdict = 'script_stalled' LIMIT 1").fetchone()
    rows = query(path, "timeline", sid[:12])
    events = [r["event"] for r in rows or []]
    check(events[:1] == ["page request"] and "outcome" in events and "evidence" in events,
          "timeline: request first, outcome and evidence")
    check(events.count("static fetch") == n_static, "timeline: every static fetch")
    rel = [r["rel_s"] for r in rows or []]
    check(rel == sorted(rel) and rel[0] == 0, "timeline: in time order, relative to the request")
    stalled = [r["detail"] for r in rows or [] if "incomplete" in r["detail"]]
    check(any("retransmissions s2c" in d for d in stalled), "timeline: the stalled fetch")
    sid = db.execute("SELECT s.session_id FROM page_loads p JOIN sessions s ON "
                     "s.id = p.session_ref WHERE p.outcome = 'connected' AND p.websockets > 0 "
                     "LIMIT 1").fetchone()[0]
    events = [r["event"] for r in query(path, "timeline", sid) or []]
    check("websocket upgrade" in events and "bokeh S->C" in events, "timeline: websocket events")
    prefixes = db.execute("SELECT substr(s.session_id, 1, 1) AS pre FROM page_loads p JOIN "
                          "sessions s ON s.id = p.session_ref GROUP BY pre HAVING COUNT(*) > 1 "
                          "LIMIT 1").fetchone()[0]
    r = ow("query", path, "timeline", prefixes, expect=1)
    check("ambiguous" in r.stderr and r.stderr.count("\n  ") >= 2, "timeline: ambiguous prefix")
    r = ow("query", path, "timeline", "!nope", expect=1)
    check("no page load" in r.stderr, "timeline: unknown prefix")


def test_table_width(path):
    r = ow("query", path, "clients", "--limit", 5, "--width", 80)
    lines = r.stdout.splitlines()
    check(all(len(line) <= 80 for line in lines), "table fits 80 columns")
    check("\u2026" in r.stdout, "table marks cut values with …")
    r = ow("query", path, "clients", "--limit", 5, "--width", 80, env={"LANG": "C", "LC_ALL": ""})
    check("~" in r.stdout and "\u2026" not in r.stdout, "table marks cut values with ~ (not UTF-8)")


def test_sql(path, db):
    r = ow("sql", path, "SELECT COUNT(*) AS n, ow_time(MIN(started)) AS t FROM page_loads", "-f",
           "json", "--utc")
    n, t = db.execute("SELECT COUNT(*), MIN(started) FROM page_loads").fetchone()
    check(r.returncode == 0 and json.loads(r.stdout) == [{"n": n, "t": iso(t)}], "sql: json")
    for stmt in ("DELETE FROM page_loads", "UPDATE page_loads SET verdict = NULL",
                 "DROP TABLE evidence", "INSERT INTO captures(source, live) VALUES('x', 0)",
                 "PRAGMA query_only = 0; DELETE FROM sessions"):
        r = ow("sql", path, stmt, expect=1)
        check("the database is opened read-only" in r.stderr, "sql refuses: " + stmt)
    check(db.execute("SELECT COUNT(*) FROM page_loads").fetchone()[0] == n, "sql changed nothing")
    r = ow("sql", path, "SELECT nonsense FROM page_loads", expect=1)
    check("nonsense" in r.stderr, "sql: an SQL error is reported")


def test_merge(tmp):
    a, b, out = (os.path.join(tmp, n) for n in ("a.db", "b.db", "merged.db"))
    synth_db.build(a, 300, seed=11, server="100.64.0.1")
    synth_db.build(b, 300, seed=12, server="100.64.0.9", start=synth_db.BASE_TIME + 60)
    da = sqlite3.connect(a)
    pid, sid, client, t = da.execute(
        "SELECT p.id, s.session_id, p.client, p.started FROM page_loads p JOIN sessions s ON "
        "s.id = p.session_ref WHERE p.outcome = 'orphan' AND p.verdict = 'ws_never_attempted' "
        "LIMIT 1").fetchone()
    counts = [sqlite3.connect(p).execute("SELECT (SELECT COUNT(*) FROM page_loads), (SELECT "
                                         "COUNT(*) FROM connections)").fetchone() for p in (a, b)]
    orphans_a = da.execute("SELECT COUNT(*) FROM page_loads WHERE outcome = 'orphan'").fetchone()
    da.close()
    da = sqlite3.connect(a)
    da.execute("INSERT INTO capture_files SELECT id, 0, source, started, ended, packets FROM "
               "captures")
    da.commit()
    da.close()
    dbb = sqlite3.connect(b)
    synth_db.add_websocket(dbb, sid, client, "100.64.0.9", 5006, t + 1.2)
    dbb.execute("DROP TABLE capture_files")  # as a file written before the table existed
    dbb.commit()
    dbb.close()
    r = ow("merge", out, a, b)
    check("1 orphan page load re-labelled ws_elsewhere" in r.stdout, "merge: summary line")
    m = sqlite3.connect(out)
    check(m.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM page_loads").fetchone() ==
          (counts[0][0] + counts[1][0],) * 2, "merge: every page load, ids unique")
    check(m.execute("SELECT COUNT(*) FROM connections").fetchone()[0] ==
          counts[0][1] + counts[1][1] + 1, "merge: every connection")
    check([s for (s,) in m.execute("SELECT source FROM captures ORDER BY id")] ==
          ["synthetic-100.64.0.1.pcap", "synthetic-100.64.0.9.pcap"], "merge: captures keep source")
    check(m.execute("SELECT COUNT(*) FROM page_loads p JOIN http_exchanges h ON h.id = p.http_id "
                    "WHERE h.page_load_id <> p.id").fetchone()[0] == 0, "merge: references shifted")
    check(m.execute("SELECT f.file = c.source, f.seq FROM capture_files f JOIN captures c ON "
                    "c.id = f.capture_id").fetchall() == [(1, 0)],
          "merge: capture_files copied with their capture; an input without the table merged")
    row = m.execute("SELECT p.id, p.verdict, p.websockets FROM page_loads p JOIN sessions s ON "
                    "s.id = p.session_ref WHERE s.session_id = ?", (sid,)).fetchone()
    check(row[1] == "ws_elsewhere" and row[2] == 1, "merge: the orphan is ws_elsewhere, 1 ws")
    check(m.execute("SELECT COUNT(*) FROM sessions WHERE session_id = ?", (sid,)).fetchone()[0]
          == 1 and m.execute("SELECT COUNT(*) FROM websockets w JOIN page_loads p ON "
                             "p.session_ref = w.session_ref WHERE p.id = ?",
                             (row[0],)).fetchone()[0] == 1,
          "merge: one sessions row, shared by the page load and the other server's websocket")
    check(m.execute("SELECT COUNT(*) = COUNT(DISTINCT user_agent) FROM user_agents").fetchone()[0]
          == 1 and m.execute("SELECT COUNT(*) FROM page_loads WHERE ua_ref NOT IN (SELECT id "
                             "FROM user_agents)").fetchone()[0] == 0,
          "merge: each User-Agent stored once, every page load's ua_ref names one")
    ev = " ".join(t for (t,) in m.execute("SELECT text FROM evidence WHERE page_load_id = ?",
                                          (row[0],)))
    check("100.64.0.9:5006" in ev and "101" in ev, "merge: evidence names the server and status")
    check(m.execute("SELECT COUNT(*) FROM page_loads WHERE verdict = 'ws_elsewhere'").fetchone()[0]
          == 1 and m.execute("SELECT COUNT(*) FROM page_loads WHERE outcome = 'orphan' AND "
                             "capture_id = 1").fetchone() == orphans_a,
          "merge: no other page load changed")
    m.close()
    rows = query(out, "verdicts", "--verdict", "ws_elsewhere")
    check(rows is not None and rows[0]["page_loads"] == 1, "merge: query sees ws_elsewhere")
    r = ow("merge", out, a, b, expect=1)
    check("exists" in r.stderr, "merge refuses an existing output")
    bad = os.path.join(tmp, "bad.db")
    r = ow("merge", bad, a, os.path.join(tmp, "missing.db"), expect=1)
    check(not os.path.exists(bad), "a failed merge leaves no output")


def test_report(path, db):
    """The text report: failed page loads in its order (orphans first, then by time), the rest
    counted; healthy ones counted; the per-client lines equal SQL over page_loads."""
    r = ow("report", path)
    text = r.stdout
    order = {"orphan": 0, "ws_refused": 1, "ws_no_doc": 2, "undecided": 3, "pending": 4}
    failed = db.execute("SELECT p.outcome, p.started, s.session_id FROM page_loads p LEFT JOIN "
                        "sessions s ON s.id = p.session_ref WHERE p.outcome <> 'connected' OR "
                        "p.verdict IS NOT NULL ORDER BY p.id").fetchall()
    failed.sort(key=lambda f: (order.get(f[0], 5), f[1]))
    shown = [line.split("session ")[1].strip() for line in text.splitlines()
             if line.startswith("[") and "session " in line]
    check(shown == [f[2] for f in failed[:200]], "report: the first 200 failed, orphans first")
    check("... and %d more (report --all" % (len(failed) - 200) in text,
          "report: the other failed page loads counted")
    healthy = db.execute("SELECT COUNT(*) FROM page_loads WHERE outcome = 'connected' "
                         "AND verdict IS NULL").fetchone()[0]
    check("  ... and %d more\n" % (healthy - 50) in text, "report: healthy ones counted")
    top = db.execute("SELECT client, COUNT(*), SUM(outcome = 'orphan') FROM page_loads "
                     "GROUP BY client ORDER BY 3 DESC, 2 DESC, client LIMIT 1").fetchone()
    line = text.split("BY CLIENT\n")[1].splitlines()[0].split()
    check(line[:5] == [top[0], str(top[1]), "page", "loads,", str(top[2])],
          "report: BY CLIENT's first line (%s) is %s" % (line[:5], top))
    r = ow("report", path, "--all")
    check(r.stdout.count("\n[") == len(failed) and "more" not in r.stdout,
          "report --all: every failed page load")


def main():
    if not BIN or not os.access(BIN, os.X_OK):
        print("ORPHANWATCH_BIN is not set to an executable: cannot run")
        return 77
    r = subprocess.run([BIN, "query", "--help"], capture_output=True, text=True)
    if r.returncode != 0 or "usage: orphanwatch query" not in r.stdout:
        print("this orphanwatch has no 'query' subcommand yet: skipped")
        return 77
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "synth.db")
        synth_db.build(path, 3000, seed=7)
        db = sqlite3.connect(path)
        for test in (test_page_lists, test_times, test_sessions_connections, test_clients,
                     test_verdicts, test_stats, test_timeline, test_sql, test_report):
            test(path, db)
        test_table_width(path)
        db.close()
        test_merge(tmp)
    print("%d failed" % len(failures) if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
