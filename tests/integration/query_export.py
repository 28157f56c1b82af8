"""export (issue 7): the pcap exported for an orphan page load is read back by tshark and holds
exactly that page load's connections, with every one of their packets from the original; from
a database read from a gzip-compressed capture, export reads that file and writes the same."""
import gzip
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
from owtest import read_db, run, skip  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.join(HERE, "..", "data", "sample.pcap")


def tshark_conns(pcap, display_filter=""):
    args = ["tshark", "-r", pcap, "-T", "fields", "-e", "ip.src", "-e", "ipv6.src",
            "-e", "tcp.srcport", "-e", "tcp.dstport"]
    if display_filter:
        args += ["-Y", display_filter]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    conns, packets = set(), 0
    for line in out.splitlines():
        v4, v6, sp, dp = (line.split("\t") + ["", "", "", ""])[:4]
        if not sp:
            continue
        packets += 1
        client_port = int(sp) if int(dp) == 5006 else int(dp)
        conns.add(client_port)
    return conns, packets


def main():
    if not shutil.which("tshark"):
        skip("tshark is not installed")
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        db = read_db(SAMPLE, tmp)
        con = sqlite3.connect(db)
        orphans = con.execute("SELECT p.id, s.session_id FROM page_loads p LEFT JOIN sessions s "
                              "ON s.id = p.session_ref WHERE p.outcome='orphan'").fetchall()
        if not orphans:
            print("FAIL: the sample has no orphan")
            sys.exit(1)
        for page_id, sid in orphans:
            want = {r[0] for r in con.execute(
                "SELECT client_port FROM connections WHERE id IN (SELECT connection_id FROM "
                "page_loads WHERE id=?1 UNION SELECT connection_id FROM http_exchanges WHERE "
                "page_load_id=?1 UNION SELECT connection_id FROM websockets WHERE session_ref="
                "(SELECT id FROM sessions WHERE session_id=?2))",
                (page_id, sid))}
            client = con.execute("SELECT client FROM page_loads WHERE id=?", (page_id,)).fetchone()[0]
            out = os.path.join(tmp, sid[:8] + ".pcap")
            run(["export", db, "--session", sid[:12], "-w", out])
            got, got_packets = tshark_conns(out)
            ipf = "ipv6.addr" if ":" in client else "ip.addr"
            port_filter = " or ".join(f"tcp.port=={p}" for p in sorted(want))
            _, orig_packets = tshark_conns(SAMPLE, f"{ipf}=={client} and ({port_filter})")
            if got == want and got_packets == orig_packets:
                passed += 1
                print(f"ok   {sid[:12]}: {len(got)} connections, {got_packets} packets")
            else:
                failed += 1
                print(f"FAIL {sid[:12]}: connections {sorted(got)} != {sorted(want)} or "
                      f"packets {got_packets} != {orig_packets}")
        bad = run(["export", db, "--session", "no-such-session", "-w", os.path.join(tmp, "x.pcap")],
                  check=False)
        if bad.returncode != 0 and bad.stderr.strip():
            passed += 1
        else:
            failed += 1
            print("FAIL: an unknown session must be a clear error")
        # a database read from a gzip-compressed capture exports from it the same packets
        gz = os.path.join(tmp, "sample.pcap.gz")
        with open(SAMPLE, "rb") as f, gzip.open(gz, "wb") as g:
            g.write(f.read())
        gdb = read_db(gz, tmp)
        sid = orphans[0][1]
        plain, gzipped = os.path.join(tmp, "plain.pcap"), os.path.join(tmp, "gz.pcap")
        run(["export", db, "--session", sid[:12], "-w", plain])
        r = run(["export", gdb, "--session", sid[:12], "-w", gzipped], check=False)
        if r.returncode == 0 and open(plain, "rb").read() == open(gzipped, "rb").read():
            passed += 1
            print(f"ok   {sid[:12]}: exported from the gzip capture, the same bytes")
        else:
            failed += 1
            print(f"FAIL {sid[:12]}: export from the gzip capture: {r.stderr.strip()}")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
