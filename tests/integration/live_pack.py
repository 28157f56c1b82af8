"""live_pack: the database a live capture created is packed when the capture ends.

A veth pair (one end in a network namespace), a small generated Ethernet capture (bench/owgen,
300 page loads, small scripts) replayed onto it with tcpreplay, and `orphanwatch live -i VETH
--no-ui --user nobody -w DB` capturing the other end as root, then running as nobody. Three
runs:
  1. a stale packed copy (DB-compacting, nobody's, 0600, zeros: what a kill -9 during packing
     leaves) beside a new DB path; SIGINT after the replay: exit 0, "stopped (signal)", the
     stale copy reported and gone, the file renamed over (a new inode), owned by nobody, mode
     0600, no free page, exactly as large as a VACUUM INTO copy of it, nothing beside it,
     integrity ok, end_reason 'signal', every page load of the replay's ground truth present;
  2. a new DB, SIGINT then at once SIGTERM (the second signal skips the packing): exit 0,
     "packing skipped" said, the same inode, larger than a VACUUM INTO copy (unpacked),
     integrity ok, end_reason 'signal', the page loads present;
  3. run 1's DB appended to (it exists: not packed): the same inode, two capture rows;
  4. no -w (the default, timestamped name) in a directory holding earlier default databases
     of the interface, one with a packed copy a killed packing left (nobody's, 0600, zeros)
     and one with a file of that name not ours (0644): the first is removed and said, the
     second left alone and named, the databases untouched.
Root only (exits 77 with the reason otherwise); needs tcpreplay and a C compiler for owgen."""
import json
import os
import pwd
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

SKIP = 77
SRC = os.environ.get("OW_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BIN = os.environ.get("ORPHANWATCH_BIN") or os.path.join(SRC, "build", "orphanwatch")
PAGE_LOADS = 300


def skip(why):
    print(f"SKIP: {why}", flush=True)
    sys.exit(SKIP)


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def ok(self, desc, cond, detail=""):
        if cond:
            self.passed += 1
            print(f"ok: {desc}" + (f" ({detail})" if detail else ""), flush=True)
        else:
            self.failed += 1
            print(f"FAIL: {desc}" + (f": {detail}" if detail else ""), flush=True)
        return bool(cond)


def sh(*args, **kw):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120, **kw)


def environment():
    if os.geteuid() != 0:
        skip("not root: live capture and network namespaces need root")
    for tool in ("tcpreplay", "cc", "ip"):
        if not shutil.which(tool):
            skip(f"{tool} is not installed")
    if not os.access(BIN, os.X_OK):
        print(f"orphanwatch binary not found at {BIN} (set ORPHANWATCH_BIN)")
        sys.exit(1)
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        skip("no user nobody")


def make_capture(work):
    """A small Ethernet capture and its ground truth (bench/owgen, deterministic)."""
    gen = os.path.join(work, "owgen")
    srcs = [os.path.join(SRC, "bench", f) for f in sorted(os.listdir(os.path.join(SRC, "bench")))
            if f.startswith("owgen") and f.endswith(".c")]
    r = sh("cc", "-O2", "-o", gen, *srcs, "-lz")
    if r.returncode:
        skip(f"cannot build bench/owgen: {r.stderr.strip()[-300:]}")
    pcap, truth = os.path.join(work, "gen.pcap"), os.path.join(work, "gen.json")
    r = sh(gen, "--seed", "7", "--page-loads", str(PAGE_LOADS), "--small-static",
           "--stream-seconds", "1", "--linktype", "en10mb", "--quiet", "-o", pcap,
           "--truth", truth)
    if r.returncode:
        raise RuntimeError(f"owgen failed: {r.stderr}")
    with open(truth) as f:
        sids = {p["session_id"] for p in json.load(f).get("page_loads", []) if p.get("session_id")}
    return pcap, sids


class Veth:
    def __init__(self):
        tag = str(os.getpid())
        self.ns, self.a, self.b = f"owpack{tag}", f"owp{tag}a", f"owp{tag}b"
        if sh("ip", "netns", "add", self.ns).returncode:
            skip("cannot create a network namespace here")
        for cmd in (["ip", "link", "add", self.a, "type", "veth", "peer", "name", self.b],
                    ["ip", "link", "set", self.b, "netns", self.ns],
                    ["ip", "link", "set", self.a, "up"],
                    ["ip", "netns", "exec", self.ns, "ip", "link", "set", self.b, "up"]):
            r = sh(*cmd)
            if r.returncode:
                self.close()
                skip(f"veth setup failed ({' '.join(cmd)}): {r.stderr.strip()}")

    def replay(self, pcap):
        r = sh("ip", "netns", "exec", self.ns, "tcpreplay", "--topspeed", "-i", self.b, pcap)
        if r.returncode:
            raise RuntimeError(f"tcpreplay failed: {r.stderr}")

    def close(self):
        sh("ip", "link", "del", self.a)
        sh("ip", "netns", "del", self.ns)


def default_dbs(veth, dbdir):
    return {f for f in os.listdir(dbdir) if f.startswith(f"orphanwatch-{veth.a}-") and
            f.endswith(".db")}


def run_live(veth, pcap, db, signals, cwd=None):
    """One capture of the replay; the signals are sent back to back after it. Without db, the
    default database name in cwd. Returns (exit status, stderr, the file's inode while
    capturing)."""
    before = default_dbs(veth, cwd) if cwd else set()
    p = subprocess.Popen([BIN, "live", "-i", veth.a, "--no-ui", "--user", "nobody"] +
                         (["-w", db] if db else []),
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, cwd=cwd or os.path.dirname(db))
    try:
        t0 = time.time()
        while not db and time.time() - t0 < 20 and p.poll() is None:
            new = default_dbs(veth, cwd) - before
            db = os.path.join(cwd, new.pop()) if new else None
            time.sleep(0.05)
        while db and not os.path.exists(db) and time.time() - t0 < 20 and p.poll() is None:
            time.sleep(0.05)
        time.sleep(0.5)
        inode = os.stat(db).st_ino if os.path.exists(db) else None
        veth.replay(pcap)
        time.sleep(1.5)  # the last packets through the correlator and committed
        for sig in signals:
            p.send_signal(sig)
        _, err = p.communicate(timeout=60)
        return p.returncode, err, inode
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def facts(db):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        q = lambda sql: con.execute(sql).fetchall()
        return {"integrity": q("PRAGMA integrity_check")[0][0],
                "freelist": q("PRAGMA freelist_count")[0][0],
                "ends": [r[0] for r in q("SELECT end_reason FROM captures ORDER BY id")],
                "sids": {r[0] for r in q("SELECT session_id FROM page_loads_with_text")},
                "page_loads": q("SELECT COUNT(*) FROM page_loads")[0][0]}
    finally:
        con.close()


def vacuum_copy_size(db, work):
    out = os.path.join(work, "copy.db")
    if os.path.exists(out):
        os.unlink(out)
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.execute("VACUUM INTO ?", (out,))
    con.close()
    return os.path.getsize(out)


def beside(db):
    d = os.path.dirname(db)
    return sorted(f for f in os.listdir(d) if f.startswith(os.path.basename(db)) and
                  f != os.path.basename(db))


def check_common(c, name, rc, err, f, sids):
    c.ok(f"{name}: exit status 0", rc == 0, f"{rc}")
    c.ok(f"{name}: says it stopped on a signal", "stopped (signal)" in err)
    c.ok(f"{name}: integrity ok", f["integrity"] == "ok", f["integrity"])
    c.ok(f"{name}: end_reason 'signal'", f["ends"][-1:] == ["signal"], str(f["ends"]))
    missing = sids - f["sids"]
    c.ok(f"{name}: every page load of the replay is in the database",
         f["page_loads"] >= len(sids) > 0 and not missing,
         f"{f['page_loads']} page loads, {len(missing)} of {len(sids)} sessions missing")


def run(c, work, nobody):
    pcap, sids = make_capture(work)
    dbdir = os.path.join(work, "db")
    os.mkdir(dbdir, 0o700)
    os.chown(dbdir, nobody.pw_uid, nobody.pw_gid)
    veth = Veth()
    try:
        # 1. packed, a stale copy cleaned up
        db = os.path.join(dbdir, "packed.db")
        stale = db + "-compacting"
        with open(stale, "wb") as f:
            f.write(bytes(8192))
        os.chmod(stale, 0o600)
        os.chown(stale, nobody.pw_uid, nobody.pw_gid)
        t0 = time.time()
        rc, err, inode = run_live(veth, pcap, db, [signal.SIGINT])
        print(f"run 1 took {time.time() - t0:.1f} s; stderr: {err.strip()}", flush=True)
        st, f = os.stat(db), facts(db)
        check_common(c, "packed", rc, err, f, sids)
        c.ok("packed: the stale packed copy was reported and removed",
             "removed an unfinished packed copy" in err and not os.path.exists(stale))
        c.ok("packed: nothing said about leaving it unpacked",
             "unpacked" not in err and "not compacted" not in err)
        c.ok("packed: renamed over (a new inode)", inode and st.st_ino != inode,
             f"{inode} -> {st.st_ino}")
        c.ok("packed: owned by nobody, mode 0600",
             (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (nobody.pw_uid, nobody.pw_gid, 0o600),
             f"{st.st_uid}:{st.st_gid} {oct(st.st_mode & 0o7777)}")
        c.ok("packed: no free page", f["freelist"] == 0, str(f["freelist"]))
        size, copy = st.st_size, vacuum_copy_size(db, work)
        c.ok("packed: as large as a VACUUM INTO copy", size == copy, f"{size} vs {copy}")
        c.ok("packed: nothing beside it", beside(db) == [], str(beside(db)))
        print(f"packed: {size} bytes, {f['page_loads']} page loads, "
              f"{size / max(1, f['page_loads']):.0f} B per page load", flush=True)

        # 2. the second signal skips the packing (another signal number: two SIGINTs sent
        # back to back may reach the process as one)
        db2 = os.path.join(dbdir, "skipped.db")
        rc, err, inode = run_live(veth, pcap, db2, [signal.SIGINT, signal.SIGTERM])
        st, f = os.stat(db2), facts(db2)
        check_common(c, "second signal", rc, err, f, sids)
        c.ok("second signal: says the packing was skipped or stopped",
             "packing skipped" in err or "packing stopped" in err, err[-300:])
        c.ok("second signal: the same inode (not renamed over)", st.st_ino == inode)
        size, copy = st.st_size, vacuum_copy_size(db2, work)
        c.ok("second signal: left unpacked (larger than a VACUUM INTO copy)", size > copy,
             f"{size} vs {copy}; {size / max(1, f['page_loads']):.0f} B per page load")
        c.ok("second signal: owned by nobody, mode 0600, nothing beside it",
             (st.st_uid, st.st_mode & 0o7777) == (nobody.pw_uid, 0o600) and beside(db2) == [],
             f"{st.st_uid} {oct(st.st_mode & 0o7777)} {beside(db2)}")

        # 3. appending to an existing file: not packed
        inode = os.stat(db).st_ino
        rc, err, _ = run_live(veth, pcap, db, [signal.SIGINT])
        f = facts(db)
        c.ok("appended: exit 0, integrity ok, two capture rows",
             rc == 0 and f["integrity"] == "ok" and f["ends"] == ["signal", "signal"],
             f"{rc} {f['integrity']} {f['ends']}")
        c.ok("appended: not packed (the same inode)", os.stat(db).st_ino == inode)

        # 4. the default, timestamped name: the copies killed packings left beside earlier
        # default databases of the interface here are removed (no run writes those names
        # again), one that is not ours is left alone and named
        earlier = os.path.join(dbdir, f"orphanwatch-{veth.a}-20000101-000000.db")
        other = os.path.join(dbdir, f"orphanwatch-{veth.a}-20000102-000000.db")
        for path, mode in ((earlier, 0o600), (other, 0o644)):
            shutil.copyfile(db2, path)
            os.chmod(path, 0o600)
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
            with open(path + "-compacting", "wb") as f:
                f.write(bytes(4096))
            os.chmod(path + "-compacting", mode)
            os.chown(path + "-compacting", nobody.pw_uid, nobody.pw_gid)
        rc, err, _ = run_live(veth, pcap, None, [signal.SIGINT], cwd=dbdir)
        c.ok("default name: exit 0", rc == 0, f"{rc}: {err[-300:]}")
        c.ok("default name: the stale copy beside an earlier default database removed, said",
             not os.path.exists(earlier + "-compacting") and
             f"{os.path.basename(earlier)}-compacting: removed" in err, err[-400:])
        c.ok("default name: a copy not ours left alone, named",
             os.path.exists(other + "-compacting") and
             f"{os.path.basename(other)}-compacting: left alone" in err, err[-400:])
        c.ok("default name: the earlier databases untouched",
             os.path.exists(earlier) and os.path.exists(other))
    finally:
        veth.close()


def main():
    nobody = environment()
    c = Checks()
    work = tempfile.mkdtemp(prefix="ow-live-pack.")
    os.chmod(work, 0o711)
    t0 = time.time()
    try:
        run(c, work, nobody)
    except Exception as e:  # noqa: BLE001 - reported as a failure
        c.ok("the test ran to completion", False, repr(e))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"live_pack took {time.time() - t0:.1f} s; {c.passed} passed, {c.failed} failed")
    sys.exit(1 if c.failed else 0)


if __name__ == "__main__":
    main()
