"""live_vnet: `orphanwatch live` on a tailscale0 that hands it TCP super-packets.

The test tailnet in --vnet mode (tsfwd: IFF_VNET_HDR + TSO/checksum offload, as Tailscale >=
1.36 runs its TUN), so a capture on the server's tailscale0 sees server->client packets of up
to 64 KB with partial checksums instead of 1280-byte segments. The Bokeh test server serves
bundles of the real sizes (the real BokehJS 3.6.0 when tests/harness/setup.sh fetched it);
`orphanwatch live -i tailscale0 --no-ui -w DB --user nobody --grace 5` captures in the server
namespace. Healthy page loads from the client namespace: IPv4 cold, IPv6 cold, IPv4 warm.

Asserts: tsfwd really passed GSO super-packets (harness sanity); each page load's verdict line
(connected, no verdict) is printed while orphanwatch runs; after SIGTERM (the other clean stop:
exit 0, "stopped (signal)", end_reason 'signal', integrity ok) every page load is connected with its session id, client (RFC 5952)
and client port; a connection shows server segments larger than the 1280-byte MTU (the
super-packets were taken whole), no capture counter reports a bad TCP header or checksum, a gap
or a truncated packet, and every script's response body has exactly the bytes the client
received, complete. Needs root; exits 77 with the reason otherwise."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
import live_lib as L  # noqa: E402

GRACE = 5


def db_rows(path, sql, args=()):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def run(live, c):
    live.tailnet_up("--vnet", "--stats")
    static = os.path.join(L.harness_build(), "bokehjs-3.6.0")
    real = os.path.exists(os.path.join(static, "VERSION"))
    live.start_server("--allow-websocket-origin", "*", *(["--static-dir", static] if real else []))
    L.log(f"static files: {'real BokehJS 3.6.0' if real else 'synthesized at the real sizes'}")
    t_start = time.time()
    live.start_orphanwatch(GRACE)
    L.check_privileges(live, c, "after start")
    gt = []
    for visit, fam, args in ((1, 4, []), (2, 6, []), (3, 4, ["--warm"])):
        rec = live.run_client(fam, visit, *args, timeout=90)
        c.ok(f"harness: visit {visit} (IPv{fam}{' warm' if args else ''}) rendered",
             rec.get("what") == "rendered", fail=f"{rec.get('what')} {rec.get('error', '')}")
        gt.append(dict(rec=rec, visit=visit, family=fam, session_id=rec.get("session_id"),
                       client_port=rec.get("client_port")))
    st = subprocess.run([os.path.join(L.HARNESS, "tailnet.sh"), "stats"], env=live.env,
                        capture_output=True, text=True, timeout=20).stdout
    s2c = [l for l in st.splitlines() if "server->client" in l]
    gso = int(s2c[0].split("gso ")[1].split(")")[0]) if s2c and "gso " in s2c[0] else 0
    c.ok("harness: tsfwd passed GSO super-packets server->client", gso > 0, st.strip())
    connected = lambda g: any((p["outcome"], p["verdict"]) == ("connected", None)
                              for _, p, _ in L.lines_of(live.ow_lines(), g))
    L.wait_until(lambda: all(connected(g) for g in gt), 10, step=0.2)
    t_stop = time.time()
    for g in gt:
        c.ok(f"visit {g['visit']}: 'connected' line printed while running", connected(g),
             fail=str([raw for _, _, raw in live.ow_lines()]))
    rc, dt = live.stop_orphanwatch(signal.SIGTERM, timeout=30)
    c.eq("SIGTERM: exit status", 0, rc)
    err = " | ".join(l for _, l in live.ow_err.snapshot())
    c.ok("SIGTERM: says it stopped on a signal", "stopped (signal)" in err, err[-300:])
    c.eq("PRAGMA integrity_check", [("ok",)], db_rows(live.db, "PRAGMA integrity_check"))
    caps = db_rows(live.db, "SELECT end_reason, counters FROM captures")
    c.eq("capture ended by a signal", "signal", caps[0][0] if caps else None)
    counters = json.loads(caps[0][1]) if caps and caps[0][1] else {}
    bad = {k: counters.get(k) for k in ("bad_tcp", "bad_ip", "truncated", "gaps", "gap_bytes",
                                        "buffer_overflows", "nids_refused")}
    c.ok("no bad TCP/IP packet, truncation, gap or overflow counted",
         counters and all(v == 0 for v in bad.values()), str(bad))
    big = db_rows(live.db, "SELECT MAX(max_seg_s2c) FROM connections")[0][0] or 0
    c.ok("server segments larger than the 1280-byte MTU were captured whole", big > 1280,
         f"largest {big} bytes")
    r, loads = live.report_jsonl()
    c.eq("page loads in the database", len(gt), len(loads))
    by_sid = {d.get("session_id"): d for d in loads}
    for g in gt:
        name = f"visit {g['visit']} (IPv{g['family']})"
        d = by_sid.get(g["session_id"])
        if not c.ok(f"{name}: in the database under session {g['session_id']}", d):
            continue
        c.eq(f"{name}: client (RFC 5952), client port, outcome, verdict",
             (L.rfc5952(live.client_addr(g["family"])), g["client_port"], "connected", None),
             (d.get("client"), d.get("client_port"), d.get("outcome"), d.get("verdict")))
        for s in g["rec"].get("scripts", []):
            rows = db_rows(live.db,
                           "SELECT h.resp_body_bytes, h.complete FROM http_exchanges h JOIN "
                           "connections c ON c.id = h.connection_id WHERE c.client_port = ? AND "
                           "c.family = ? AND h.target LIKE ?",
                           (s["port"], g["family"], s["url"].split("?")[0] + "%"))
            c.eq(f"{name}: {s['name']} body bytes and completeness as the client got them",
                 [(s["bytes"], 1)], rows)
    L.log(f"stopped {dt:.2f} s after SIGTERM; capture ran {t_stop - t_start:.1f} s")


def main():
    L.main("live_vnet", run, need=())


if __name__ == "__main__":
    main()
