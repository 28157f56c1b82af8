"""hostile_inputs: attacker-chosen traffic, end to end. Each capture is crafted on the fly by
tests/hostile/craft.py (python stdlib) into a temporary directory, read with
`orphanwatch read FILE -w DB` under /usr/bin/time, then reported (`report DB`, `report DB
--format jsonl`). For every input:
  - the exit status is sane: 0, or 1 with one clear line on stderr for an unreadable file;
  - no crash (signal) and no sanitizer report (the suite also runs under ASan+UBSan);
  - the skip or limit counter that input must hit went up in the capture row's `counters`;
  - peak RSS stays under PEAK_RSS_MB (a flat-memory design keeps each of these tiny).
Inputs: a SYN flood (100,000 SYNs, --max-streams 1000), websocket frames claiming 2^63 and
2^62 bytes, a permessage-deflate bomb, a gzip page bomb, 10,000 headers, a 1 MB header line,
an endless chunked body (50 MB), 200,000 unanswered pipelined requests, 20,000 page loads
(--max-page-loads 1000), 2,000 open permessage-deflate websockets (--max-streams 500), snap
length 60 (RAW and Ethernet), a truncated pcapng (made with editcap when present), an unknown
link type (DLT 147), pcaps cut mid-record-header and mid-packet, garbage both ways on port
5006 (raw and after a 101), request smuggling shapes (CL+TE, two CLs), a 101 without an
upgrade request and a response with no request, and files that cannot be read at all."""
import json
import os
import re
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "hostile"))
import craft  # noqa: E402

PEAK_RSS_MB = 200
RUN_TIMEOUT = 600
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "UndefinedBehaviorSanitizer", "SUMMARY: ")

passed = failed = 0


def ok(name):
    global passed
    passed += 1
    print(f"ok   {name}")


def fail(name, why):
    global failed
    failed += 1
    print(f"FAIL {name}: {why}")


def binary():
    b = os.environ.get("ORPHANWATCH_BIN") or os.path.join(HERE, "..", "..", "build", "orphanwatch")
    if not os.path.exists(b):
        print(f"orphanwatch binary not found ({b}); set ORPHANWATCH_BIN")
        print("0 passed, 1 failed")
        sys.exit(1)
    return b


BIN = binary()
TIME = "/usr/bin/time" if os.path.exists("/usr/bin/time") else None


def sanitized(path):
    with open(path, "rb") as f:
        return b"__asan_init" in f.read()


if sanitized(BIN):
    # ASan keeps freed memory in a quarantine (256 MB by default) that a flood of short
    # connections fills: cap it so that peak RSS still measures orphanwatch's own memory.
    os.environ["ASAN_OPTIONS"] = ":".join(
        o for o in (os.environ.get("ASAN_OPTIONS", ""), "quarantine_size_mb=32") if o)


def run(args, cwd):
    """Runs orphanwatch ARGS; returns (rc, stdout, stderr, peak RSS in KB or None). A death by
    a signal is returned as a negative status, also through /usr/bin/time."""
    rss_file = os.path.join(cwd, "rss.txt")
    cmd = [BIN] + args
    if TIME:
        cmd = [TIME, "-f", "%M", "-o", rss_file] + cmd
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=RUN_TIMEOUT, cwd=cwd)
    except subprocess.TimeoutExpired:
        return None, "", "timed out", None
    rc, rss = p.returncode, None
    if TIME and os.path.exists(rss_file):
        text = open(rss_file).read()
        os.unlink(rss_file)
        m = re.search(r"terminated by signal (\d+)", text)
        if m:
            rc = -int(m.group(1))
        words = text.split()
        rss = int(words[-1]) if words and words[-1].isdigit() else None
    return rc, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"), rss


def sanitizer_report(text):
    return next((m for m in SANITIZER_MARKS if m in text), None)


def counters(db):
    con = sqlite3.connect(db)
    try:
        rows = con.execute("SELECT counters, end_reason FROM captures ORDER BY id").fetchall()
    finally:
        con.close()
    if not rows or not rows[-1][0]:
        return None, None
    return json.loads(rows[-1][0]), rows[-1][1]


def check_run(name, tmp, pcap, extra=(), expect_rc=0, want=(), stderr_re=None, more=None):
    """Reads pcap into a fresh database and checks everything listed in the module doc.
    want: counter names that must be > 0 (tuples of names: any of them)."""
    db = os.path.join(tmp, name + ".db")
    for suffix in ("", "-wal", "-shm", "-journal"):
        if os.path.exists(db + suffix):
            os.unlink(db + suffix)
    rc, out, err, rss = run(["read", pcap, "-w", db, "-q"] + list(extra), tmp)
    problems = []
    if rc is None:
        fail(name, f"no result within {RUN_TIMEOUT} s")
        return None
    if rc < 0 or rc > 128:
        problems.append(f"killed by a signal (status {rc})")
    elif rc != expect_rc:
        problems.append(f"exit status {rc}, expected {expect_rc}; stderr: {err.strip()[:300]}")
    san = sanitizer_report(err)
    if san:
        problems.append(f"sanitizer report ({san}): {err.strip()[:600]}")
    if stderr_re and not re.search(stderr_re, err):
        problems.append(f"stderr does not match /{stderr_re}/: {err.strip()[:300]!r}")
    if expect_rc != 0:
        msg = [l for l in err.splitlines() if l.strip()]
        if len(msg) != 1 or not msg[0].startswith("orphanwatch: "):
            problems.append(f"expected one 'orphanwatch: ...' line on stderr, got {msg!r}")
    if rss is not None and rss > PEAK_RSS_MB * 1024:
        problems.append(f"peak RSS {rss // 1024} MB > {PEAK_RSS_MB} MB")
    c = None
    if expect_rc == 0:
        if not os.path.exists(db):
            problems.append("no database written")
        else:
            c, end_reason = counters(db)
            if c is None:
                problems.append("no capture row with counters")
            else:
                for w in want:
                    names = (w,) if isinstance(w, str) else w
                    if not any(c.get(n, 0) > 0 for n in names):
                        problems.append(f"counter {' or '.join(names)} did not go up: "
                                        f"{ {k: v for k, v in c.items() if v} }")
                if end_reason not in ("eof",):
                    problems.append(f"capture end_reason {end_reason!r}, expected eof")
            problems += check_reports(db, tmp)
    if more and c is not None:
        problems += more(c, db, err)
    if problems:
        fail(name, "; ".join(problems))
    else:
        note = f"peak {rss // 1024} MB" if rss is not None else "peak RSS not measured"
        ok(f"{name} ({note})")
    return c


def check_reports(db, tmp):
    problems = []
    for args in (["report", db], ["report", db, "--format", "jsonl"]):
        rc, out, err, rss = run(args, tmp)
        what = " ".join(a for a in args if a != db)
        if rc != 0:
            problems.append(f"`{what}` exit status {rc}: {err.strip()[:200]}")
        san = sanitizer_report(err)
        if san:
            problems.append(f"`{what}` sanitizer report: {err.strip()[:400]}")
        if rss is not None and rss > PEAK_RSS_MB * 1024:
            problems.append(f"`{what}` peak RSS {rss // 1024} MB")
        if "jsonl" in args:
            for line in out.splitlines():
                try:
                    json.loads(line)
                except ValueError:
                    problems.append(f"jsonl line is not JSON: {line[:120]!r}")
                    break
    return problems


def need(cond, why):
    return [] if cond else [why]


# ------------------------------------------------------------------ file surgery


def pcap_records(path):
    d = open(path, "rb").read()
    off, recs = 24, []
    while off + 16 <= len(d):
        caplen = struct.unpack("<I", d[off + 8:off + 12])[0]
        recs.append((off, caplen))
        off += 16 + caplen
    return d, recs


def pcapng_blocks(path):
    d = open(path, "rb").read()
    off, blocks = 0, []
    while off + 8 <= len(d):
        btype, blen = struct.unpack("<II", d[off:off + 8])
        blocks.append((off, btype, blen))
        off += blen
    return d, blocks


def make_pcapng(tmp):
    """A valid pcapng of three page loads: editcap's conversion when it is installed (what the
    brief asks for), else craft's own pcapng writer."""
    src = os.path.join(tmp, "small.pcap")
    craft.small_capture(src)
    out = os.path.join(tmp, "small.pcapng")
    editcap = shutil.which("editcap")
    if editcap:
        subprocess.run([editcap, "-F", "pcapng", src, out], check=True, capture_output=True)
        return out, "editcap"
    craft.small_capture(out, writer=craft.PcapngWriter)
    return out, "craft"


# ------------------------------------------------------------------ cases


def main():
    craft.random.seed(20261125)
    tmp = tempfile.mkdtemp(prefix="ow-hostile-")
    try:
        run_cases(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def run_cases(tmp):
    def path(n):
        return os.path.join(tmp, n)

    if not TIME:
        print("note: /usr/bin/time not installed: peak RSS is not measured")

    # a SYN flood: 100,000 SYNs, a quarter to other ports, from many source ports
    f = path("synflood.pcap")
    craft.syn_flood(f, n=100_000)
    check_run("syn flood, --max-streams 1000", tmp, f, ["--max-streams", "1000"],
              want=[("streams_evicted", "nids_refused"), "not_server_port"],
              more=lambda c, db, err: need(c.get("streams", 0) >= 1000,
                                           f"only {c.get('streams')} streams seen"))
    os.unlink(f)

    # websocket frames claiming 2^63 (illegal: top bit) and 2^62 bytes after a proper 101
    f = path("ws63.pcap")
    craft.ws_huge_length(f, 1 << 63)
    check_run("websocket frame claiming 2^63 bytes", tmp, f, want=["ws_errors", "ws_upgrades"])
    f = path("ws62.pcap")
    craft.ws_huge_length(f, 1 << 62)
    check_run("websocket frame claiming 2^62 bytes", tmp, f, want=["ws_truncated", "ws_upgrades"])

    # permessage-deflate bomb: one message inflating to 120 MB each way
    f = path("wsbomb.pcap")
    craft.ws_deflate_bomb(f, size=120 << 20)
    check_run("permessage-deflate bomb (120 MB)", tmp, f, want=["ws_truncated"],
              more=lambda c, db, err: ws_deflate_seen(db))

    # gzip page bomb: 200 MB of zeros in a ~200 KB gzip body
    f = path("gzbomb.pcap")
    craft.gzip_page_bomb(f, size=200 << 20)
    check_run("gzip page bomb (200 MB)", tmp, f, want=["page_body_truncated"])

    f = path("headers.pcap")
    craft.many_headers(f, n=10_000)
    check_run("10,000 headers", tmp, f, want=["http_errors"])

    f = path("longline.pcap")
    craft.long_header_line(f, size=1 << 20)
    check_run("1 MB header line", tmp, f, want=["http_errors"],
              more=lambda c, db, err: need(c.get("http_requests", 0) >= 1,
                                           "the request after the long line was not found"))

    f = path("chunked.pcap")
    craft.endless_chunked(f, total=50 << 20)
    check_run("endless chunked body (50 MB)", tmp, f, want=["page_body_truncated"])
    os.unlink(f)

    f = path("pipelined.pcap")
    craft.pipelined_requests(f, n=200_000)
    check_run("200,000 unanswered pipelined requests", tmp, f, want=["http_pending_overflow"])
    os.unlink(f)

    # memory held per page load and per deflate websocket is bounded by the options that cap
    # their number (defaults: 100,000 page loads of ~11 KB, 65,536 streams of ~80 KB of zlib
    # state each when permessage-deflate is on): with small caps the counters must show it
    f = path("pageflood.pcap")
    craft.page_flood(f, n=20_000)
    check_run("20,000 page loads, --max-page-loads 1000", tmp, f, ["--max-page-loads", "1000"],
              want=["page_loads_evicted"],
              more=lambda c, db, err: need(c.get("page_loads", 0) == 20_000,
                                           f"page_loads {c.get('page_loads')}, expected 20000"))
    os.unlink(f)
    f = path("wsmany.pcap")
    craft.ws_deflate_many(f, n=2000)
    check_run("2,000 open deflate websockets, --max-streams 500", tmp, f,
              ["--max-streams", "500"], want=["streams_evicted", "ws_messages"])
    os.unlink(f)

    f = path("snap60.pcap")
    craft.snaplen_60(f)
    check_run("snap length 60", tmp, f, want=["truncated"])
    f = path("snap60e.pcap")
    craft.snaplen_60(f, linktype=craft.LINKTYPE_ETHERNET)
    check_run("snap length 60, Ethernet", tmp, f, want=["truncated"])

    # a truncated pcapng: cut in the middle of an enhanced packet block after a page load
    ng, how = make_pcapng(tmp)
    d, blocks = pcapng_blocks(ng)
    epbs = [b for b in blocks if b[1] == 6]
    for label, cut in (("mid-block", lambda o, l: o + l // 2),
                       ("mid-block-header", lambda o, l: o + 6)):
        o, _, blen = epbs[len(epbs) // 2]
        f = path(f"cut-{label}.pcapng")
        open(f, "wb").write(d[:cut(o, blen)])
        check_run(f"pcapng ({how}) truncated {label}", tmp, f, want=["files_cut", "page_loads"],
                  stderr_re=r"ends inside|truncated")

    # an unknown link type: a clear error naming it, exit 1
    f = path("user0.pcap")
    craft.unknown_linktype(f)
    check_run("unknown link type 147 (USER0)", tmp, f, expect_rc=1,
              stderr_re=r"link type 147")

    # pcaps cut mid-record-header and mid-packet (after the first page load)
    small = path("small.pcap")
    d, recs = pcap_records(small)
    o, caplen = recs[len(recs) // 2]
    for label, end in (("mid-packet-header", o + 7), ("mid-packet", o + 16 + caplen // 2)):
        f = path(f"cut-{label}.pcap")
        open(f, "wb").write(d[:end])
        check_run(f"pcap truncated {label}", tmp, f, want=["files_cut", "page_loads"],
                  stderr_re=r"ends inside")

    # files that cannot be read at all: one clear line, exit 1
    for label, content in (("truncated file header", d[:13]), ("empty file", b""),
                           ("not a capture", b"hello, this is not a pcap file at all\n" * 4)):
        f = path("unreadable.pcap")
        open(f, "wb").write(content)
        check_run(f"unreadable: {label}", tmp, f, expect_rc=1, stderr_re=r"cannot read")
    check_run("unreadable: no such file", tmp, path("missing.pcap"), expect_rc=1,
              stderr_re=r"cannot read.*No such file")
    check_run("unreadable: a directory", tmp, tmp, expect_rc=1, stderr_re=r"cannot read")

    # garbage both ways on port 5006: as HTTP, and as websocket frames after a 101
    f = path("garbage-http.pcap")
    craft.garbage_http(f)
    check_run("garbage as HTTP both ways", tmp, f, want=["http_errors"])
    f = path("garbage-ws.pcap")
    craft.garbage_ws(f)
    check_run("garbage as websocket frames both ways", tmp, f, want=["ws_errors"])

    # smuggling shapes, a 101 nobody asked for, a response with no request
    f = path("smuggling.pcap")
    craft.smuggling(f)
    check_run("smuggling (CL+TE, two CLs), unrequested 101, response without request", tmp, f,
              want=["http_errors", "http_unpaired"], more=smuggling_rows)


def ws_deflate_seen(db):
    con = sqlite3.connect(db)
    try:
        row = con.execute("SELECT deflate, messages_c2s, messages_s2c FROM websockets").fetchone()
    finally:
        con.close()
    return need(row is not None and row[0] == 1 and row[1] >= 1 and row[2] >= 1,
                f"websocket row does not show the deflate messages: {row}")


def smuggling_rows(c, db, err):
    con = sqlite3.connect(db)
    try:
        targets = [r[0] for r in con.execute("SELECT target FROM http_exchanges")]
        ws = con.execute("SELECT COUNT(*) FROM websockets").fetchone()[0]
    finally:
        con.close()
    problems = need("/smuggled" in targets,
                    f"the request hidden behind CL+TE was not decoded as one: {targets}")
    problems += need(ws >= 1, "the unrequested 101 left no websocket row")
    return problems


if __name__ == "__main__":
    sys.exit(main())
