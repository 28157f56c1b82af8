"""Verdicts on captures the project makes itself (issue 4): for every failure the shared
captures lack, tests/harness/make_capture.sh builds a tailnet (network namespaces, TUN
devices, the test Bokeh server, a scripted browser), captures the scenario with tcpdump on
tailscale0 and writes its ground truth; orphanwatch must find every page load with the
expected outcome and verdict. Also: IPv6 and mixed IPv4/IPv6 page loads, TSO super-packets,
and a websocket picked up mid-stream. Needs root (namespaces); skips with the reason otherwise."""
import concurrent.futures
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
import captures_outcomes  # noqa: E402
from owtest import read_db, run, skip  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MAKE = os.path.join(HERE, "..", "harness", "make_capture.sh")
SCENARIOS = ["script-404", "script-stall", "token-expired", "render-failed", "plugin-404",
             "ws-never", "client-gone", "ws-elsewhere", "blackhole-v6", "healthcheck",
             "healthy-v6", "mixed-v4v6", "ws-refused-v6", "vnet-superpackets", "midstream"]


def make(scenario, tmp):
    pcap = os.path.join(tmp, scenario + ".pcap")
    truth = os.path.join(tmp, scenario + ".json")
    env = dict(os.environ, TAILNET_STATE=os.path.join(tmp, scenario + ".state"))
    p = subprocess.run(["bash", MAKE, scenario, pcap, truth], capture_output=True, text=True,
                       env=env, timeout=600)
    return scenario, p, pcap, truth


def merged_servers(pcap, tmp):
    """Two servers' databases (each sees only its own port) merged: the page loads that are
    orphans on server A because their websocket went to server B get ws_elsewhere."""
    dbs = []
    for port in ("5006", "5007"):
        db = os.path.join(tmp, f"elsewhere-{port}.db")
        run(["read", pcap, "-p", port, "-w", db, "-q"])
        dbs.append(db)
    out = os.path.join(tmp, "elsewhere-merged.db")
    if os.path.exists(out):
        os.unlink(out)
    run(["merge", out] + dbs)
    con = sqlite3.connect(out)
    n = con.execute("SELECT COUNT(*) FROM page_loads WHERE outcome='orphan' AND "
                    "verdict='ws_elsewhere'").fetchone()[0]
    alone = sqlite3.connect(dbs[0]).execute(
        "SELECT COUNT(*) FROM page_loads WHERE verdict='ws_elsewhere'").fetchone()[0]
    if n != 2 or alone != 0:
        return [f"merge: {n} ws_elsewhere page loads after merging (want 2), {alone} before"]
    return []


def extra_checks(scenario, pcap, tmp):
    problems = []
    if scenario == "vnet-superpackets":
        out = subprocess.run(["tshark", "-r", pcap, "-Y", "frame.len > 1280", "-T", "fields",
                              "-e", "frame.len"], capture_output=True, text=True).stdout
        if not out.split():
            problems.append("no super-packet (> 1280 bytes) in the capture")
    if scenario == "ws-elsewhere":
        problems += merged_servers(pcap, tmp)
    if scenario == "midstream":
        con = sqlite3.connect(read_db(pcap, tmp))
        rows = con.execute("SELECT COUNT(*), SUM(frames_c2s + frames_s2c), SUM(messages_s2c) "
                           "FROM websockets WHERE midstream = 1").fetchone()
        if not rows[0] or not rows[1] or not rows[2]:
            problems.append(f"no websocket decoded after a mid-stream pick-up: {rows}")
    return problems


def main():
    if os.geteuid() != 0:
        skip("needs root: the scenarios build network namespaces and TUN devices")
    failed = passed = 0
    with tempfile.TemporaryDirectory() as tmp:
        with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
            jobs = [pool.submit(make, s, tmp) for s in SCENARIOS]
            for job in concurrent.futures.as_completed(jobs):
                scenario, p, pcap, truth = job.result()
                if p.returncode == 77:
                    skip(f"harness cannot run here: {p.stdout[-300:]} {p.stderr[-300:]}")
                if p.returncode != 0:
                    failed += 1
                    print(f"FAIL {scenario}: make_capture.sh exited {p.returncode}\n{p.stderr[-1500:]}")
                    continue
                captures_outcomes.CHECK_VERDICT = True
                n, problems = captures_outcomes.check_capture(pcap, truth, tmp)
                problems += extra_checks(scenario, pcap, tmp)
                if problems:
                    failed += 1
                    print(f"FAIL {scenario}: {len(problems)} problem(s) in {n} page loads")
                    for pr in problems:
                        print("   ", pr)
                else:
                    passed += 1
                    print(f"ok   {scenario}: {n} page loads match")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
