"""keep packets (`read --keep-packets DIR --keep-packets-size 1`): the 1.3 MB sample through a
1 MB bound rotates the kept files and deletes the oldest. The files on disk are mode 0600 and
within the bound, the packet_files rows match them (deleted ones marked dropped), the capture
counters agree; with the capture file itself gone, `export` of the newest orphan whose packets
are still kept gives, by tshark, exactly that page load's connections with as many packets as
the original holds for them, and an orphan whose packets were deleted is a clear error."""
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
from owtest import run, skip  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.join(HERE, "..", "data", "sample.pcap")
BOUND = 1 << 20
PAGE_CONNS = ("SELECT client_port, first_ts, last_ts FROM connections WHERE id IN ("
              "SELECT connection_id FROM page_loads WHERE id=?1 UNION SELECT connection_id FROM "
              "http_exchanges WHERE page_load_id=?1 UNION SELECT connection_id FROM websockets "
              "WHERE page_load_id=?1 OR session_ref=(SELECT id FROM sessions WHERE "
              "session_id=?2))")
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def tshark_conns(pcap, display_filter=""):
    args = ["tshark", "-r", pcap, "-T", "fields", "-e", "tcp.srcport", "-e", "tcp.dstport"]
    if display_filter:
        args += ["-Y", display_filter]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    conns, packets = set(), 0
    for line in out.splitlines():
        sp, dp = (line.split("\t") + ["", ""])[:2]
        if not sp:
            continue
        packets += 1
        conns.add(int(sp) if int(dp) == 5006 else int(dp))
    return conns, packets


def read_kept(tmp):
    """Reads a copy of the sample with a 1 MB keep bound, then deletes the copy."""
    copy = os.path.join(tmp, "copy", "sample.pcap")
    os.mkdir(os.path.dirname(copy))
    shutil.copy(SAMPLE, copy)
    db, keep = os.path.join(tmp, "kept.db"), os.path.join(tmp, "keep")
    run(["read", copy, "-w", db, "-q", "--keep-packets", keep, "--keep-packets-size", "1"])
    os.unlink(copy)
    return db, keep


def check_files(con, keep):
    names = sorted(os.listdir(keep))
    paths = {os.path.join(os.path.realpath(keep), n) for n in names}
    check(stat.S_IMODE(os.stat(keep).st_mode) == 0o700, "the keep directory is 0700")
    modes = {oct(stat.S_IMODE(os.stat(p).st_mode)) for p in paths}
    check(modes == {"0o600"}, f"kept files are 0600 ({modes})")
    sizes = [os.path.getsize(p) for p in paths]
    check(sum(sizes) <= BOUND + BOUND // 8, f"kept files total {sum(sizes)} <= {BOUND} + 1/8")
    check(max(sizes) <= BOUND // 8 + 262160, "each file about an eighth of the bound")
    rows = con.execute("SELECT file, packets, dropped FROM packet_files").fetchall()
    alive = {f for f, _, d in rows if not d}
    dropped = [(f, n) for f, n, d in rows if d]
    check(alive == paths, f"packet_files rows not dropped = files on disk ({len(paths)})")
    check(dropped and not any(os.path.exists(f) for f, _ in dropped),
          f"{len(dropped)} dropped rows, their files deleted")
    for f, n, d in rows:
        if not d:
            _, got = tshark_conns(f)
            check(got == n, f"{os.path.basename(f)}: {n} packets in its row, tshark reads {got}")
    return rows


def check_counters(con, rows):
    counters = json.loads(con.execute("SELECT counters FROM captures").fetchone()[0])
    _, server_packets = tshark_conns(SAMPLE, "tcp.port==5006")
    check(counters.get("kept_packets") == server_packets,
          f"kept_packets {counters.get('kept_packets')} = server-port packets {server_packets}")
    check(counters.get("kept_packets") == sum(n for _, n, _ in rows), "rows hold every kept packet")
    dropped = [n for _, n, d in rows if d]
    check(counters.get("kept_files_dropped") == len(dropped), "kept_files_dropped = dropped rows")
    check(counters.get("kept_packets_dropped") == sum(dropped), "kept_packets_dropped = their packets")
    check(counters.get("kept_skipped") == 0, "no packet skipped")


def orphans_by_keep(con, rows):
    """(page id, session, client ports, kept?) for every orphan, newest first."""
    dropped = [con.execute("SELECT first_ts, last_ts FROM packet_files WHERE file=?", (f,))
               .fetchone() for f, _, d in rows if d]
    out = []
    for pid, sid in con.execute("SELECT p.id, s.session_id FROM page_loads p LEFT JOIN sessions s "
                                "ON s.id = p.session_ref WHERE p.outcome='orphan' "
                                "ORDER BY p.started DESC").fetchall():
        conns = con.execute(PAGE_CONNS, (pid, sid)).fetchall()
        gone = any(lo <= last and first <= hi for _, first, last in conns for lo, hi in dropped)
        out.append((pid, sid, {c[0] for c in conns}, not gone))
    return out


def check_export(db, tmp, con, orphans):
    kept = [o for o in orphans if o[3]]
    gone = [o for o in orphans if not o[3]]
    check(kept and gone, f"orphans with kept packets ({len(kept)}) and with deleted ones "
          f"({len(gone)})")
    source = con.execute("SELECT source FROM captures").fetchone()[0]
    check(not os.path.exists(source), "the capture file itself is gone")
    if kept:
        pid, sid, want, _ = kept[0]
        out = os.path.join(tmp, "newest.pcap")
        r = run(["export", db, "--session", sid[:12], "-w", out], check=False)
        check(r.returncode == 0, f"export {sid[:12]} from the kept files: {r.stderr.strip()}")
        if r.returncode == 0:
            got, got_packets = tshark_conns(out)
            client = con.execute("SELECT client FROM page_loads WHERE id=?", (pid,)).fetchone()[0]
            ipf = "ipv6.addr" if ":" in client else "ip.addr"
            ports = " or ".join(f"tcp.port=={p}" for p in sorted(want))
            _, orig = tshark_conns(SAMPLE, f"{ipf}=={client} and ({ports})")
            check(got == want, f"exported connections {sorted(got)} = the page load's")
            check(got_packets == orig, f"exported {got_packets} packets = {orig} in the original")
    if gone:
        out = os.path.join(tmp, "gone.pcap")
        r = run(["export", db, "--session", gone[0][1][:12], "-w", out], check=False)
        check(r.returncode != 0 and "deleted" in r.stderr and not os.path.exists(out),
              f"export of an orphan whose packets were deleted: {r.stderr.strip()}")


def main():
    if not shutil.which("tshark"):
        skip("tshark is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        db, keep = read_kept(tmp)
        con = sqlite3.connect(db)
        rows = check_files(con, keep)
        check_counters(con, rows)
        check_export(db, tmp, con, orphans_by_keep(con, rows))
    print(f"{len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
