"""live_sigkill: `kill -9` of `orphanwatch live` loses at most the last second, never the file.

A clean test tailnet (tests/harness/tailnet.sh), the Bokeh test server and `orphanwatch live -i
tailscale0 --no-ui -w DB --grace 5` in the server namespace, started as root the way `sudo` does
it: no --user, SUDO_UID/SUDO_GID/SUDO_USER naming an unprivileged account (daemon, else nobody;
the database directory belongs to it). Page loads from the client namespace: healthy over IPv4
(cold and warm) and IPv6, a kube-probe curl (orphan / no_scripts_fetched) and a client that
fetches the scripts but opens no websocket, over IPv6 (orphan / ws_never_attempted). Once every
one was decided (its verdict line printed) at least 3 s ago — older than the 1 s commit interval
plus margin, the orphans older than the grace time — and while another page load is in flight
and a reader polls the database, orphanwatch gets SIGKILL.

Asserts: the privileges dropped to the SUDO_UID account (uids, gids, groups, no capabilities);
the process died of SIGKILL; the database (still owned by that account, mode 0600, no
root-owned companion) opens, passes PRAGMA integrity_check, has its capture row (not 'signal'),
and `orphanwatch report DB --format jsonl` lists every page load decided before the kill with
its session id, client (RFC 5952), client port, outcome and verdict, once; `query DB stats`
said 'running' while it captured; after the kill the row still says 'running' but `orphanwatch
report` and `query DB stats` show the capture as killed (no writer holds the file), without
changing the row. Needs root; exits 77 with the reason otherwise. OW_LIVE_KEEP=1 keeps the work
directory."""
import json
import os
import pwd
import signal
import stat
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
import live_lib as L  # noqa: E402

GRACE = 5
SETTLE_S = 3.0  # decided this long before the kill: committed (1 s interval) with margin

INTEGRITY = """import json, sqlite3, sys
con = sqlite3.connect(sys.argv[1], timeout=10)
out = {"integrity": [r[0] for r in con.execute("PRAGMA integrity_check")],
       "captures": con.execute("SELECT id, source, live, end_reason FROM captures").fetchall(),
       "journal_mode": con.execute("PRAGMA journal_mode").fetchone()[0]}
con.close()
print(json.dumps(out))
"""


def sudo_user():
    for name in ("daemon", "nobody"):
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            continue
        if pw.pw_uid and pw.pw_gid:
            return name
    L.skip("neither daemon nor nobody exists as an unprivileged account")


def drive(live, c):
    gt = []
    plan = [  # visit, family, client.py args, expected outcome and verdict
        (1, 4, [], "connected", None),
        (2, 6, [], "connected", None),
        (4, 6, ["--stop-after-scripts"], "orphan", "ws_never_attempted"),
        (5, 4, ["--warm"], "connected", None),
    ]
    for visit, fam, args, outcome, verdict in plan:
        rec = live.run_client(fam, visit, *args, timeout=60)
        want = "rendered" if outcome == "connected" else "ws_never_attempted"
        c.ok(f"harness: visit {visit} (IPv{fam}) did what was meant ({want})",
             rec.get("what") == want, fail=f"{rec.get('what')} {rec.get('error', '')}")
        gt.append(dict(visit=visit, family=fam, session_id=rec.get("session_id"),
                       client_port=rec.get("client_port"), outcome=outcome, verdict=verdict))
        if visit == 2:
            cr = live.run_curl(4, 3, "kube-probe/1.29")
            c.ok("harness: curl health check got 200", cr["http_code"] == "200", str(cr))
            gt.append(dict(visit=3, family=4, session_id=None, client_port=cr["client_port"],
                           outcome="orphan", verdict="no_scripts_fetched"))
    for g in gt:
        ev = live.session_of_visit(g["visit"], 5) or {}
        g["created"] = ev.get("t")
        if g["session_id"] is None:
            g["session_id"] = ev.get("session_id")
        c.ok(f"harness: visit {g['visit']}: the server's session matches the client's",
             g["session_id"] and ev.get("session_id") == g["session_id"] and
             ev.get("remote_port") == g["client_port"],
             f"log {ev.get('session_id')}:{ev.get('remote_port')} client "
             f"{g['session_id']}:{g['client_port']}")
    return gt


def stats_end_reasons(live):
    """The end_reason values `orphanwatch query DB stats` prints (None when it fails)."""
    r = live.as_user([live.bin, "query", live.db, "stats", "--format", "csv"], timeout=60)
    if r.returncode:
        L.log(f"query stats: exit {r.returncode}: {r.stderr.strip()[-300:]}")
        return None
    return [ln.split(",")[-1] for ln in r.stdout.splitlines() if ",capture,end_reason," in ln]


def decided_at(live, g):
    for t, p, _ in L.lines_of(live.ow_lines(), g):
        if (p["outcome"], p["verdict"]) == (g["outcome"], g["verdict"]):
            return t
    return None


def run(live, c):
    live.tailnet_up("--stats")
    live.start_server("--small-static", "--allow-websocket-origin", "*")
    live.start_orphanwatch(GRACE, user_opt=False,
                           extra_env={"SUDO_UID": str(live.uid), "SUDO_GID": str(live.gid),
                                      "SUDO_USER": live.user})
    L.check_privileges(live, c, f"started with SUDO_UID={live.uid} ({live.user})")
    live.poller = L.DbPoller(live, period=0.3)
    gt = drive(live, c)
    last_due = max(g.get("created") or time.time() for g in gt) + GRACE + 6
    L.wait_until(lambda: all(decided_at(live, g) for g in gt), max(0, last_due - time.time()),
                 step=0.2)
    for g in gt:
        g["decided"] = decided_at(live, g)
        c.ok(f"visit {g['visit']}: its verdict line ({g['outcome']}/{g['verdict']}) was printed "
             "while running", g["decided"] is not None)
    decided = [g["decided"] for g in gt if g["decided"]]
    wait = (max(decided) if decided else time.time()) + SETTLE_S - time.time()
    if wait > 0:
        time.sleep(wait)
    c.eq("query stats while it captures: end_reason running (its writer is alive)",
         ["running"], stats_end_reasons(live))
    # a page load in flight at the kill: pending in memory, maybe half in the database
    h = live.start_client(4, 6, "--hold", "3", timeout=40)
    live.session_of_visit(6, 10)
    time.sleep(0.3)
    reads_before = live.poller.reads
    failures_before = live.poller.failures
    t_kill = time.time()
    rc, dt = live.stop_orphanwatch(signal.SIGKILL, timeout=15)
    live.poller.stop()
    c.eq("orphanwatch died of SIGKILL", -signal.SIGKILL, rc)
    c.ok("a reader read the database while it was written, without an error",
         reads_before >= 10 and failures_before == 0,
         f"{reads_before} reads, {failures_before} failed {live.poller.errors[:3]}")
    live.finish_client(h, timeout=40)
    for g in gt:
        g["age"] = t_kill - g["decided"] if g["decided"] else None
    files = {}
    for name in os.listdir(live.dbdir):
        s = os.lstat(os.path.join(live.dbdir, name))
        files[name] = (s.st_uid, s.st_gid, oct(stat.S_IMODE(s.st_mode)), s.st_size)
    L.log(f"after the kill: {files}")
    st = os.lstat(live.db)
    c.eq("database owner uid:gid is the SUDO_UID account's", (live.uid, live.gid),
         (st.st_uid, st.st_gid))
    c.eq("database mode", "0o600", oct(stat.S_IMODE(st.st_mode)))
    c.ok("no file in the database directory belongs to someone else",
         all(v[0] == live.uid for v in files.values()), str(files))
    # open it as its owner would (WAL recovery needs to write the -shm)
    r = live.as_user([L.HARNESS_PY, "-c", INTEGRITY, live.db], timeout=60)
    info = {}
    try:
        info = json.loads(r.stdout)
    except ValueError:
        pass
    c.ok("the database opens (sqlite3, as its owner)", r.returncode == 0 and info,
         fail=f"exit {r.returncode}: {r.stderr.strip()[-300:]}")
    c.eq("PRAGMA integrity_check", ["ok"], info.get("integrity"))
    caps = info.get("captures") or []
    c.ok("the capture row is there, live, not marked as ended by a signal",
         len(caps) == 1 and caps[0][1] == "tailscale0" and caps[0][2] == 1 and
         caps[0][3] != "signal", str(caps))
    # the row still says 'running' (nothing was left to write it), but no writer holds the
    # file: every reader shows the capture as killed, and the file is not changed by that
    r = live.as_user([live.bin, "report", live.db], timeout=60)
    ended = [ln.strip() for ln in r.stdout.splitlines() if "ended:" in ln]
    c.ok("report: the capture line says it was killed, not running",
         r.returncode == 0 and len(ended) == 1 and ended[0].endswith("ended: killed"),
         f"exit {r.returncode}: {ended} {r.stderr.strip()[-300:]}")
    c.eq("query stats: end_reason is killed, not running", ["killed"], stats_end_reasons(live))
    r = live.as_user([L.HARNESS_PY, "-c", INTEGRITY, live.db], timeout=60)
    after = (json.loads(r.stdout).get("captures") if r.returncode == 0 else None) or []
    c.eq("the readers left the row as it was", caps, [list(x) for x in after])
    rep, loads = live.report_jsonl()
    c.eq("report --format jsonl exit status", 0, rep.returncode)
    if rep.returncode:
        L.log(rep.stderr)
    by_sid = {}
    for d in loads:
        by_sid.setdefault(d.get("session_id"), []).append(d)
    for g in gt:
        name = f"visit {g['visit']} (IPv{g['family']}, {g['outcome']}/{g['verdict']})"
        if g["age"] is None or g["age"] < 2.0:
            L.log(f"{name}: decided {g['age']} s before the kill: not asserted")
            continue
        found = by_sid.get(g["session_id"], [])
        if not c.eq(f"{name}, decided {g['age']:.1f} s before the kill: in the database once",
                    1, len(found)):
            continue
        d = found[0]
        c.eq(f"{name}: client (RFC 5952), client port, outcome, verdict",
             (L.rfc5952(live.client_addr(g["family"])), g["client_port"], g["outcome"],
              g["verdict"]),
             (d.get("client"), d.get("client_port"), d.get("outcome"), d.get("verdict")))
    extra = [(d.get("session_id"), d.get("outcome")) for d in loads
             if d.get("session_id") not in {g["session_id"] for g in gt}]
    L.log(f"in the database besides the ground truth (the in-flight page load): {extra}")
    c.ok("nothing but the ground truth and the in-flight page load", len(extra) <= 1, str(extra))


def main():
    L.main("live_sigkill", run, user=sudo_user)


if __name__ == "__main__":
    main()
