"""read_files: `orphanwatch read` of several files (rotated captures) is one capture.

The bundled sample (tests/data/sample.pcap) is cut into three files at two packets in the
middle of page loads, named so that their names sort in another order than their times, one
of them gzip-compressed. Read together (in the names' order, and in reverse) they give what
the whole file gives: the same page loads with the same outcomes and verdicts (by session id),
where each part alone leaves page loads undecided; the capture row names the three files, in
time order, by absolute path; the report says "(+2 more files)"; a BPF expression after the
files still applies; a page load whose packets span two files is exported byte for byte as
from the whole file; a file cut inside a packet is said and the next one read; files that
overlap in time are read and a warning says so; standard input with other files is refused.
The capture_files rows give each file's first and last packet times and packets, in reading
order; with the three parts and the whole sample overlapping them, a page load of the second
part is exported without opening the first part, each packet with its copy.
"""
import gzip
import json
import os
import re
import sqlite3
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "harness"))
import owtest  # noqa: E402
import pcaptool  # noqa: E402

SAMPLE = os.path.join(HERE, "..", "data", "sample.pcap")
check = owtest.check


def outcomes(db):
    out = owtest.run(["report", db, "--format", "jsonl"]).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    return {r["session_id"]: (r["outcome"], r["verdict"]) for r in rows}


def split(tmp):
    """Three parts, named c (first), a (second, gzip) and b (third)."""
    packets = pcaptool.read_pcap(SAMPLE)
    n = len(packets)
    cuts = [0, n // 3, 2 * n // 3, n]
    names = ["c.pcap", "a.pcap.gz", "b.pcap"]
    paths = []
    for i, name in enumerate(names):
        path = os.path.join(tmp, name)
        plain = path[:-3] if name.endswith(".gz") else path
        pcaptool.write_pcap(plain, pcaptool.LINKTYPE_RAW, packets[cuts[i]:cuts[i + 1]])
        if name.endswith(".gz"):
            with open(plain, "rb") as f, gzip.open(path, "wb") as g:
                g.write(f.read())
            os.unlink(plain)
        paths.append(path)
    return paths, packets[cuts[1]][0], [packets[c][0] for c in cuts[:3]]


def db_of(tmp, name, args):
    db = os.path.join(tmp, name)
    owtest.run(["read"] + args + ["-w", db, "-q"])
    return db


def main():
    with tempfile.TemporaryDirectory() as tmp:
        paths, cut_ts, paths_first = split(tmp)
        whole = outcomes(db_of(tmp, "whole.db", [SAMPLE]))
        check(len(whole) >= 10, f"the whole sample: {len(whole)} page loads")
        by_name = sorted(paths)
        for label, order in (("names' order", by_name), ("reverse", by_name[::-1])):
            db = db_of(tmp, f"parts-{len(label)}.db", order)
            got = outcomes(db)
            diff = {k: (whole.get(k), got.get(k)) for k in set(whole) | set(got)
                    if whole.get(k) != got.get(k)}
            check(not diff, f"{label}: the same page loads, outcomes and verdicts as the whole",
                  str(diff)[:400])
        with sqlite3.connect(db) as c:
            source = c.execute("SELECT source FROM captures").fetchone()[0]
        check(source.split("\n") == [os.path.realpath(p) for p in paths],
              "the capture row names the files in time order", repr(source))
        alone = outcomes(db_of(tmp, "first.db", [paths[0]]))
        check(any(o == "undecided" for o, _ in alone.values()),
              "the first part alone leaves page loads undecided")
        report = owtest.run(["report", db]).stdout
        check(f"{os.path.realpath(paths[0])} (+2 more files)" in report,
              "the report names the first file and how many more")
        filtered = outcomes(db_of(tmp, "filtered.db", by_name + ["tcp", "port", "5006"]))
        check(filtered == whole, "a BPF expression after the files applies to all of them")

        # a page load whose fetches span the first cut: exported as from the whole file
        with sqlite3.connect(db) as c:
            row = c.execute(
                "SELECT s.session_id FROM page_loads p JOIN sessions s ON s.id = p.session_ref "
                "JOIN http_exchanges h ON h.page_load_id = p.id GROUP BY p.id "
                "HAVING MIN(h.req_ts) < ?1 AND MAX(COALESCE(h.resp_end_ts, h.req_ts)) > ?1",
                (cut_ts,)).fetchone()
        check(row is not None, "a page load spans the first cut")
        if row:
            a, b = os.path.join(tmp, "from-parts.pcap"), os.path.join(tmp, "from-whole.pcap")
            owtest.run(["export", db, "--session", row[0][:12], "-w", a])
            owtest.run(["export", os.path.join(tmp, "whole.db"), "--session", row[0][:12],
                        "-w", b])
            check(open(a, "rb").read() == open(b, "rb").read(),
                  "its export from the three files equals the export from the whole")
            # the files never overlapped: a page load of the second part is exported without
            # the first (files end where the next begins), and the same as from the whole
            with sqlite3.connect(db) as c:
                open_max = c.execute("SELECT json_extract(counters, '$.files_open_max') "
                                     "FROM captures").fetchone()[0]
                last = c.execute(
                    "SELECT s.session_id FROM page_loads p JOIN sessions s ON s.id = "
                    "p.session_ref WHERE p.started > ?1 + 2 ORDER BY p.started DESC LIMIT 1",
                    (paths_first[1],)).fetchone()
            check(open_max == 1, "rotated parts: files_open_max 1 (read one at a time)",
                  str(open_max))
            check(last is not None, "a page load lies in the second part")
            if last:
                e1, e2 = os.path.join(tmp, "last-parts.pcap"), os.path.join(tmp, "last-whole.pcap")
                p = owtest.run(["export", db, "--session", last[0][:12], "-w", e1])
                owtest.run(["export", os.path.join(tmp, "whole.db"), "--session", last[0][:12],
                            "-w", e2])
                read = re.search(r"read (\d) of 3 files", p.stderr)
                check(read and int(read.group(1)) < 3 and
                      open(e1, "rb").read() == open(e2, "rb").read(),
                      f"a page load of the second part: {read and read.group(0)}, the first "
                      "passed over; the same packets as from the whole", p.stderr.strip())
            # the same with the parts named by --source (repeatable), out of order
            c_ = os.path.join(tmp, "from-sources.pcap")
            owtest.run(["export", os.path.join(tmp, "whole.db"), "--session", row[0][:12],
                        "-w", c_, "--source", paths[2], "--source", paths[0],
                        "--source", paths[1]])
            check(open(c_, "rb").read() == open(b, "rb").read(),
                  "its export from the parts as --source files equals the export from the whole")
            # paths longer than the 8 KB the capture row used to hold: all kept, all read
            deep = os.path.join(tmp, *(["d" * 200] * 14))
            os.makedirs(deep)
            longs = []
            for path in paths:
                longs.append(os.path.join(deep, os.path.basename(path)))
                with open(path, "rb") as f, open(longs[-1], "wb") as g:
                    g.write(f.read())
            ldb = db_of(tmp, "long.db", longs)
            with sqlite3.connect(ldb) as c:
                source = c.execute("SELECT source FROM captures").fetchone()[0]
            check(len(source) > 8192 and source.split("\n") == [os.path.realpath(p) for p in longs],
                  f"paths of {len(source)} bytes: the capture row names every file")
            d_ = os.path.join(tmp, "from-long.pcap")
            owtest.run(["export", ldb, "--session", row[0][:12], "-w", d_])
            check(open(d_, "rb").read() == open(b, "rb").read(),
                  "export from those files equals the export from the whole")
        # every file's times in capture_files; export opens only the files that hold a page
        # load's packets, even when they overlap (the parts with the whole sample)
        with sqlite3.connect(db) as c:
            spans = c.execute("SELECT seq, file, first_ts, last_ts, packets FROM capture_files "
                              "ORDER BY seq").fetchall()
        sizes = [len(pcaptool.read_pcap(p)) if not p.endswith(".gz") else None for p in paths]
        check([s[1] for s in spans] == [os.path.realpath(p) for p in paths] and
              [round(s[2], 6) for s in spans] == [round(t, 6) for t in paths_first] and
              all(s[3] >= s[2] for s in spans) and
              all(z is None or s[4] == z for s, z in zip(spans, sizes)),
              "capture_files: each file in reading order with its first and last packet times and "
              "its packets", str(spans))
        with sqlite3.connect(os.path.join(tmp, "whole.db")) as c:
            one = c.execute("SELECT f.seq, f.file, f.first_ts = c.started, f.last_ts = c.ended, "
                            "f.packets FROM capture_files f JOIN captures c ON "
                            "c.id = f.capture_id").fetchall()
        check(one == [(0, os.path.realpath(SAMPLE), 1, 1, len(pcaptool.read_pcap(SAMPLE)))],
              "capture_files of one file: its row, the capture's times and every packet", str(one))
        over = db_of(tmp, "over.db", paths + [SAMPLE])
        with sqlite3.connect(over) as c:
            late = c.execute(
                "SELECT s.session_id FROM page_loads p JOIN sessions s ON s.id = p.session_ref "
                "WHERE p.started > ?1 + 2 ORDER BY p.started LIMIT 1",
                (paths_first[1],)).fetchone()
            open_max = c.execute("SELECT json_extract(counters, '$.files_open_max') "
                                 "FROM captures").fetchone()[0]
        check(late is not None and open_max == 2, "parts and whole: overlapping, a page load "
              "in the second part", f"{late} {open_max}")
        if late:
            e1, e2 = os.path.join(tmp, "over-late.pcap"), os.path.join(tmp, "whole-late.pcap")
            p = owtest.run(["export", over, "--session", late[0][:12], "-w", e1])
            owtest.run(["export", os.path.join(tmp, "whole.db"), "--session", late[0][:12],
                        "-w", e2])
            pa, pb = pcaptool.read_pcap(e2), pcaptool.read_pcap(e1)
            read = re.search(r"read (\d) of 4 files", p.stderr)
            check(read and 2 <= int(read.group(1)) <= 3 and len(pa) > 0 and
                  sorted(pb) == sorted(pa + pa),
                  "overlapping files: a page load of the second part exported without opening "
                  f"the first part ({read and read.group(0)}; {len(pb)} packets: each of "
                  f"{len(pa)} with its copy)", p.stderr.strip())
        # a file cut inside a packet, then another: said, and the next one read
        with open(paths[0], "rb") as f:
            data = f.read()
        cut = os.path.join(tmp, "cut.pcap")
        with open(cut, "wb") as f:
            f.write(data[:len(data) - 100])
        p = owtest.run(["read", cut, paths[2], "-w", os.path.join(tmp, "cut.db")])
        check("ends inside a packet" in p.stderr and "going on with the other files" in p.stderr,
              "a cut file among others: said, and the next one read", p.stderr.strip()[:300])
        with sqlite3.connect(os.path.join(tmp, "cut.db")) as c:
            last = c.execute("SELECT ended FROM captures").fetchone()[0]
        check(last is not None and last > cut_ts, "the packets of the file after the cut file "
              "were read")
        # files that overlap in time (here the sample twice): merged packet by packet, so
        # time never goes back and each packet meets its copy (counted, analysed once)
        twice = os.path.join(tmp, "twice.db")
        p = owtest.run(["read", SAMPLE, SAMPLE, "-w", twice])
        once = owtest.read_db(SAMPLE, tmp)
        with sqlite3.connect(twice) as c, sqlite3.connect(once) as d:
            back, dups = c.execute("SELECT json_extract(counters, '$.time_backwards'), "
                                   "json_extract(counters, '$.duplicates') FROM captures").fetchone()
            # decided_ts too: a decision must not move with the batches ticks follow
            q = ("SELECT group_concat(outcome || '/' || IFNULL(verdict, '-') || '/' || "
                 "IFNULL(retrans, 0) || '/' || printf('%.6f', decided_ts)) FROM (SELECT "
                 "p.outcome, p.verdict, p.decided_ts, "
                 "(SELECT SUM(retrans_s2c + retrans_c2s) FROM connections) AS retrans "
                 "FROM page_loads p ORDER BY p.started)")
            want = d.execute(q).fetchone()[0]
            same = want is not None and c.execute(q).fetchone()[0] == want
        with sqlite3.connect(twice) as c:
            open_max = c.execute("SELECT json_extract(counters, '$.files_open_max') "
                                 "FROM captures").fetchone()[0]
        check(open_max == 2, "the sample twice: files_open_max 2", str(open_max))
        check(back == 0 and dups > 0 and "came over a second earlier" not in p.stderr,
              f"overlapping files: merged in time ({dups} copies met, time never back)",
              f"{back} {dups} {p.stderr.strip()[:300]}")
        check(same, "overlapping files: the outcomes, verdicts, retransmissions and decision "
              "times of one")
        # and export reads them merged: each packet with its copy, in time order
        with sqlite3.connect(once) as d:
            sid = d.execute("SELECT s.session_id FROM page_loads p JOIN sessions s ON s.id = "
                            "p.session_ref ORDER BY p.started LIMIT 1").fetchone()[0]
        a, b = os.path.join(tmp, "ex-once.pcap"), os.path.join(tmp, "ex-twice.pcap")
        owtest.run(["export", once, "--session", sid[:12], "-w", a])
        owtest.run(["export", twice, "--session", sid[:12], "-w", b])
        pa, pb = pcaptool.read_pcap(a), pcaptool.read_pcap(b)
        times = [t for t, _, _ in pb]
        check(len(pa) > 0 and times == sorted(times) and sorted(pb) == sorted(pa + pa),
              f"overlapping files exported merged: {len(pb)} packets in time "
              f"order, each of the {len(pa)} with its copy", f"{len(pa)} {len(pb)}")
        p = owtest.run(["read", "-", paths[1]], check=False, stdin=open(paths[0], "rb"))
        check(p.returncode != 0 and "standard input" in p.stderr,
              "standard input with other files: refused, said why", p.stderr.strip())
        fifo = os.path.join(tmp, "fifo")
        os.mkfifo(fifo)
        p = owtest.run(["read", fifo, paths[1]], check=False, timeout=30)
        check(p.returncode != 0 and "not a regular file" in p.stderr,
              "a pipe with other files: refused before its packets are read, said why",
              p.stderr.strip())
    owtest.finish()


if __name__ == "__main__":
    main()
