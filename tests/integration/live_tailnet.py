"""live_tailnet: `orphanwatch live` on a tailnet's tailscale0, end to end, as an operator runs it.

A test tailnet (tests/harness/tailnet.sh) with a path-MTU black hole on half of the TCP
connections (tsfwd --blackhole-over 1200 --blackhole-fraction 0.5 --seed S, server
tcp_mtu_probing 0); which connections fall in the black hole is steered from the client
namespace's ephemeral ports (tests/harness/live_lib.py), so each page load is healthy or
black-holed on purpose, in one capture. The Bokeh test server runs in the server namespace and
`orphanwatch live -i tailscale0 --no-ui -w DB --user nobody --grace 5` there as root, the
database in a directory only nobody can write. From the client namespace: black-holed page
loads over IPv4 and IPv6 (client.py; expected orphan / pmtu_blackhole), healthy ones over IPv4
and IPv6 (connected, no verdict), a kube-probe curl and a curl-like client.py over IPv6 (orphan
/ no_scripts_fetched). The ground truth is what the clients and the server's session log say.

Asserts: while it runs, /proc/PID/status shows no 0 among the real/effective/saved/fs uids and
gids, no group 0, CapEff and CapPrm 0; a verdict line per page load is printed while it runs
(orphans about --grace after the page, connected ones before the client is done), naming the
right outcome and verdict, the session id and the client (IPv6 in brackets, RFC 5952); another
process (`orphanwatch report DB --format jsonl` as nobody, every 0.2 s) reads the database
without error and sees each printed verdict within 2.5 s. Stopped with SIGINT: exit 0 within 30
s, "stopped (signal)", captures.end_reason 'signal'; every ground-truth page load is in the jsonl
once with its session id, client (RFC 5952), client port, server, outcome and verdict (and
nothing else is); the database is owned by nobody, mode 0600, with no root-owned companion file,
and passes PRAGMA integrity_check. Harness sanity (tsfwd dropped exactly on the predicted
connections, the clients did what was meant) is checked too, so a broken set-up is not blamed on
orphanwatch. Needs root; exits 77 with the reason otherwise. OW_LIVE_KEEP=1 keeps the work
directory; OW_LIVE_SEED changes the seed."""
import os
import signal
import sqlite3
import stat
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
import live_lib as L  # noqa: E402

GRACE = 5
FRACTION = 0.5
SEED = int(os.environ.get("OW_LIVE_SEED", "7"))
DB_VISIBLE_S = 2.5  # commit interval 1 s + one report run + polling period


def db_rows(path, sql):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def drive(live, c):
    """Runs the page loads; returns the ground truth, one dict per page load."""
    n_bh = live.use_ports("blackholed")
    n_ok = live.use_ports("healthy")
    c.ok("harness: enough client ports in each class", n_bh >= 30 and n_ok >= 30,
         f"{n_bh} black-holed, {n_ok} healthy of 400")
    gt = []
    # black-holed loads first, in the background (the client waits 8 s for the page)
    live.use_ports("blackholed")
    bh = [live.start_client(4, 1, "--timeout", "8", "--script-timeout", "8", timeout=40),
          live.start_client(6, 2, "--timeout", "8", "--script-timeout", "8", timeout=40)]
    for h in bh:  # their page connections exist (the server saw the GET): switch classes
        c.ok(f"harness: black-holed visit {h[3]} reached the server",
             live.session_of_visit(h[3], 15) is not None)
    live.use_ports("healthy")
    for fam, visit in ((4, 3), (6, 4)):
        rec = live.run_client(fam, visit, timeout=60)
        c.ok(f"harness: healthy visit {visit} (IPv{fam}) rendered", rec.get("what") == "rendered",
             fail=f"{rec.get('what')} {rec.get('error', '')}")
        ports = [rec.get("client_port")] + [s.get("port") for s in rec.get("scripts", [])] + \
            [(rec.get("ws") or {}).get("port")]
        gt.append(dict(rec=rec, kind="healthy", family=fam, visit=visit, ports=ports,
                       session_id=rec.get("session_id"), client_port=rec.get("client_port"),
                       outcome="connected", verdict=None))
    t = time.time()
    cr = live.run_curl(4, 5, "kube-probe/1.29")
    c.ok("harness: curl health check got 200", cr["http_code"] == "200", str(cr))
    gt.append(dict(rec=cr, kind="curl", family=4, visit=5, ports=[cr["client_port"]],
                   session_id=None, client_port=cr["client_port"], outcome="orphan",
                   verdict="no_scripts_fetched", user_agent="kube-probe/1.29", t0=t))
    rec = live.run_client(6, 6, "--curl", timeout=30)
    c.ok("harness: client.py --curl over IPv6 fetched only the page",
         rec.get("what") == "no_scripts", str(rec.get("what")))
    gt.append(dict(rec=rec, kind="curl", family=6, visit=6, ports=[rec.get("client_port")],
                   session_id=rec.get("session_id"), client_port=rec.get("client_port"),
                   outcome="orphan", verdict="no_scripts_fetched"))
    for h in bh:
        rec = live.finish_client(h, timeout=60)
        c.ok(f"harness: black-holed visit {h[3]} (IPv{h[2]}) never got its page",
             rec.get("what") == "timeout" and not rec.get("session_id"), str(rec.get("what")))
        gt.append(dict(rec=rec, kind="blackholed", family=h[2], visit=h[3],
                       ports=[rec.get("client_port")], session_id=None,
                       client_port=rec.get("client_port"), outcome="orphan",
                       verdict="pmtu_blackhole"))
    # the server's session log: the session each page load created (and when)
    for g in gt:
        ev = live.session_of_visit(g["visit"], 5) or {}
        g["created"] = ev.get("t")
        if g["session_id"] is None:
            g["session_id"] = ev.get("session_id")
        c.ok(f"harness: visit {g['visit']}: the server's session matches the client's",
             ev.get("session_id") == g["session_id"] and ev.get("remote_port") == g["client_port"]
             and g["session_id"], f"log {ev.get('session_id')}:{ev.get('remote_port')} client "
             f"{g['session_id']}:{g['client_port']}")
        want_bh = g["kind"] == "blackholed"
        pred = [live.predicted_blackholed(g["family"], p) for p in g["ports"] if p]
        c.ok(f"harness: visit {g['visit']}: every connection is "
             f"{'black-holed' if want_bh else 'healthy'} by tsfwd's hash",
             pred and all(x == want_bh for x in pred), f"ports {g['ports']}")
    return gt


def check_live_lines(live, c, gt, t_stop):
    lines = live.ow_lines(before=t_stop)
    bad = [raw for _, p, raw in lines if p is None]
    c.ok("every stdout line is a verdict line", not bad, f"{bad[:3]}")
    for g in gt:
        name = f"live line, visit {g['visit']} ({g['kind']}, IPv{g['family']})"
        mine = L.lines_of(lines, g)
        if not c.ok(f"{name}: printed before the stop", mine,
                    fail=f"no line for session {(g['session_id'] or '')[:12]} port "
                    f"{g['client_port']}"):
            continue
        t_first, first, _ = mine[0]
        t_last, last, raw = mine[-1]
        want = (g["outcome"], g["verdict"])
        c.eq(f"{name}: outcome and verdict of the last line before the stop", want,
             (last["outcome"], last["verdict"]))
        shown = [(p["outcome"], p["verdict"]) for _, p, _ in mine]
        c.ok(f"{name}: no other outcome or verdict was shown while live",
             all(s == want for s in shown), f"lines: {shown}")
        c.eq(f"{name}: client address as printed", (L.rfc5952(live.client_addr(g["family"])),
                                                    g["family"] == 6),
             (last["client"], last["bracketed"]))
        if g["outcome"] == "orphan" and g.get("created"):
            due = g["created"] + GRACE
            c.ok(f"{name}: printed when the grace time ran out (about {GRACE} s after the page)",
                 due - 0.5 <= t_first <= due + 3.0, f"{t_first - g['created']:.2f} s after the page")
        elif g["outcome"] == "connected":
            end = g["rec"].get("ended_at") or 0
            c.ok(f"{name}: printed while the page was open", t_first <= end + 2.0,
                 f"{t_first - end:+.2f} s against the client's end")
        seen = live.poller.first_seen.get((g["session_id"], last["outcome"], last["verdict"]))
        c.ok(f"{name}: a reader sees it in the database within {DB_VISIBLE_S} s",
             seen is not None and seen - t_last <= DB_VISIBLE_S,
             "never seen" if seen is None else f"{seen - t_last:+.2f} s")


def check_database(live, c, gt):
    st = os.lstat(live.db)
    c.eq("database owner uid:gid is the unprivileged user's", (live.uid, live.gid),
         (st.st_uid, st.st_gid))
    c.eq("database mode", "0o600", oct(stat.S_IMODE(st.st_mode)))
    others = {}
    for name in os.listdir(live.dbdir):
        s = os.lstat(os.path.join(live.dbdir, name))
        others[name] = (s.st_uid, oct(stat.S_IMODE(s.st_mode)))
    c.ok("every file in the database directory belongs to the unprivileged user",
         all(u == live.uid for u, _ in others.values()), str(others))
    c.eq("PRAGMA integrity_check", [("ok",)], db_rows(live.db, "PRAGMA integrity_check"))
    caps = db_rows(live.db, "SELECT source, live, end_reason, grace FROM captures")
    c.eq("one capture row: tailscale0, live, ended by a signal, grace",
         [("tailscale0", 1, "signal", float(GRACE))], caps)
    r, loads = live.report_jsonl()
    c.eq("report --format jsonl exit status", 0, r.returncode)
    c.eq("page loads in the database (one per ground-truth page load)", len(gt), len(loads))
    by_sid = {}
    for d in loads:
        by_sid.setdefault(d.get("session_id"), []).append(d)
    for g in gt:
        name = f"database, visit {g['visit']} ({g['kind']}, IPv{g['family']})"
        found = by_sid.get(g["session_id"], [])
        if not c.eq(f"{name}: present once under session {g['session_id']}", 1, len(found)):
            continue
        d = found[0]
        c.eq(f"{name}: client (RFC 5952), client port, server, server port",
             (L.rfc5952(live.client_addr(g["family"])), g["client_port"],
              L.rfc5952(live.server_addr(g["family"])), L.PORT),
             (d.get("client"), d.get("client_port"), d.get("server"), d.get("server_port")))
        c.eq(f"{name}: outcome and verdict", (g["outcome"], g["verdict"]),
             (d.get("outcome"), d.get("verdict")))
        c.eq(f"{name}: page status", 200, d.get("status"))
        c.ok(f"{name}: started at the page request", g.get("created") and
             abs((d.get("started") or 0) - g["created"]) < 2.0,
             f"started {d.get('started')} server log {g.get('created')}")
        if g["kind"] == "healthy":
            c.ok(f"{name}: carried by a websocket", (d.get("websockets") or 0) >= 1,
                 f"websockets {d.get('websockets')}")
        if g["kind"] == "blackholed":
            ev = " | ".join(d.get("evidence") or [])
            c.ok(f"{name}: the evidence names the page's connection",
                 f"client port {g['client_port']}" in ev, ev[:300])
        if g.get("user_agent"):
            c.eq(f"{name}: User-Agent", g["user_agent"], d.get("user_agent"))


def check_tsfwd(live, c, gt):
    drops = set()
    for line in live.tsfwd_log().splitlines():
        if line.startswith("tsfwd: drop (blackhole) server->client"):
            dst = line.split(" -> ")[1].split()[0]
            host, _, port = dst.rpartition(":")
            fam = 6 if host.startswith("[") else 4
            drops.add((fam, int(port)))
    wrong = sorted(d for d in drops if not live.predicted_blackholed(*d))
    c.ok("harness: tsfwd dropped only on connections its hash black-holes (as predicted)",
         drops and not wrong, f"{len(drops)} connections dropped on, unexpected {wrong}")
    for g in gt:
        if g["kind"] == "blackholed":
            c.ok(f"harness: tsfwd dropped the page of visit {g['visit']}",
                 (g["family"], g["client_port"]) in drops)


def run(live, c):
    live.tailnet_up("--blackhole-over", "1200", "--blackhole-fraction", str(FRACTION),
                    "--seed", str(SEED), "--mtu-probing", "0", "--stats", "-v")
    live.start_server("--small-static", "--allow-websocket-origin", "*")
    live.steer_ports(SEED, FRACTION)
    t0 = time.time()
    live.start_orphanwatch(GRACE)
    with open(f"/proc/{live.ow.pid}/cmdline", "rb") as f:
        argv0 = f.read().split(b"\0")[0].decode()
    c.eq("the process watched is orphanwatch itself", live.bin, argv0)
    L.check_privileges(live, c, "after start")
    live.poller = L.DbPoller(live)
    gt = drive(live, c)
    # every page load's line, and time for a late (corrected) verdict, then for the reader
    want_all = lambda: all(any((p["outcome"], p["verdict"]) == (g["outcome"], g["verdict"])
                               for _, p, _ in L.lines_of(live.ow_lines(), g)) for g in gt)
    last_due = max(g.get("created") or time.time() for g in gt) + GRACE + 6
    L.wait_until(want_all, max(0.0, last_due - time.time()), step=0.2)
    time.sleep(DB_VISIBLE_S + 0.5)
    L.check_privileges(live, c, "before the stop")
    live.poller.stop()
    c.ok("the reader read the database while it was written, without an error",
         live.poller.reads >= 10 and live.poller.failures == 0,
         f"{live.poller.reads} reads, {live.poller.failures} failed {live.poller.errors[:3]}, "
         f"slowest {live.poller.max_read_s:.2f} s")
    t_stop = time.time()
    rc, dt = live.stop_orphanwatch(signal.SIGINT, timeout=30)
    c.eq("SIGINT: exit status", 0, rc)
    err = " | ".join(l for _, l in live.ow_err.snapshot())
    c.ok("SIGINT: stops within 30 s and says it stopped on a signal",
         rc is not None and "stopped (signal)" in err, f"{dt:.2f} s; stderr: {err[-300:]}")
    after = [raw for t, p, raw in live.ow_lines() if t >= t_stop]
    if after:
        L.log("lines printed at the stop:\n  " + "\n  ".join(after))
    check_live_lines(live, c, gt, t_stop)
    check_database(live, c, gt)
    check_tsfwd(live, c, gt)
    L.log(f"capture ran {t_stop - t0:.1f} s")


def main():
    L.main("live_tailnet", run)


if __name__ == "__main__":
    main()
