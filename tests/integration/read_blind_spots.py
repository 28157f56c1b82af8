"""read_blind_spots: what a capture could not see is said, not silently left out.

The bundled sample capture (tests/data/sample.pcap) is read as it is and in variants made
here with pcaptool:
- as it is: the report's WHAT THE CAPTURE COULD NOT SEE says "nothing", `read -w` prints no
  warning on stderr, and page loads are reported;
- every packet cut to a snap length of 120 bytes (the file header says 120; each record keeps
  its original length), as `tcpdump -s 120` writes: the report says how many packets were cut
  short, of how many, and to capture whole packets; `read -w` and `read -q -w` say so on
  stderr (one warning, for the run just made); `read --format jsonl` says so on stderr and
  keeps stdout pure JSON lines;
- read with -p 8080 (the server is on 5006): the report says no packet was TCP to port 8080
  and names -p; it says that no Bokeh page load was seen, not that every page load connected;
- appended to the database of the clean read: the warning printed is the new capture's (the
  snap length), while the report of the file, over both captures, lists it too;
- every counter the blind spots read, set in turn in a real capture row whose JSON already
  holds it (json_replace changes only keys that exist: a counter renamed on one side fails
  here), adds a line to the report's section;
- every packet of the sample twice, 1 us apart (as `-i any` over a bridge captures): the copies
  are counted and said, and the retransmission counts, bytes, outcomes and verdicts are the
  sample's.
"""
import os
import sqlite3
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "harness"))
import owtest  # noqa: E402
import pcaptool  # noqa: E402

SAMPLE = os.path.join(HERE, "..", "data", "sample.pcap")
SNAP = 120
check = owtest.check


def section(report):
    """The lines of the report's WHAT THE CAPTURE COULD NOT SEE section, joined."""
    lines = report.splitlines()
    if "WHAT THE CAPTURE COULD NOT SEE" not in lines:
        return None
    i = lines.index("WHAT THE CAPTURE COULD NOT SEE") + 1
    out = []
    while i < len(lines) and lines[i].strip():
        out.append(lines[i].strip())
        i += 1
    return " ".join(out)


def warnings(stderr):
    return [l for l in stderr.splitlines() if l.startswith("orphanwatch: warning: ")]


def cut_copy(tmp):
    packets = pcaptool.read_pcap(SAMPLE)
    cut = [(ts, pkt[:SNAP], len(pkt)) for ts, pkt, _wire in packets]
    path = os.path.join(tmp, "snap120.pcap")
    pcaptool.write_pcap(path, pcaptool.LINKTYPE_RAW, cut, snaplen=SNAP)
    return path, len(packets), sum(1 for _ts, pkt, _w in packets if len(pkt) > SNAP)


def clean(tmp):
    p = owtest.run(["read", SAMPLE])
    s = section(p.stdout)
    check(s is not None and s.startswith("nothing"), "clean sample: the section says nothing",
          str(s))
    check("page loads" in p.stdout and "No Bokeh page load was seen" not in p.stdout,
          "clean sample: page loads reported")
    db = os.path.join(tmp, "clean.db")
    p = owtest.run(["read", SAMPLE, "-w", db])
    check(warnings(p.stderr) == [], "clean sample: read -w warns of nothing", p.stderr)
    return db


def snapped(tmp, path, total, cut):
    p = owtest.run(["read", path])
    s = section(p.stdout) or ""
    check(f"{cut} of {total} packets were cut short by the snap length" in s,
          f"snap {SNAP}: the report counts {cut} of {total} packets cut short", s)
    check("tcpdump -s 0" in s, "snap: the report says how to capture whole packets", s)
    for extra in ([], ["-q"]):
        db = os.path.join(tmp, f"snap{len(extra)}.db")
        p = owtest.run(["read", path, "-w", db] + extra)
        w = warnings(p.stderr)
        check(len(w) == 1 and f"{cut} of {total} packets were cut short" in w[0],
              f"snap: read -w {' '.join(extra)} warns once on stderr", p.stderr)
        check(p.stdout == "", "snap: read -w prints nothing on stdout")
    p = owtest.run(["read", path, "--format", "jsonl"])
    check(any("cut short" in l for l in warnings(p.stderr)), "snap: jsonl: warning on stderr",
          p.stderr)
    check("cut short" not in p.stdout and "warning" not in p.stdout,
          "snap: jsonl: stdout holds no warning")


def wrong_port():
    p = owtest.run(["read", SAMPLE, "-p", "8080"])
    s = section(p.stdout) or ""
    check("None of the" in s and "port 8080" in s and "-p PORT" in s,
          "-p 8080: the report says nothing was on port 8080 and names -p", s)
    check("No Bokeh page load was seen." in p.stdout, "-p 8080: no page load was seen")
    check("Every page load connected" not in p.stdout,
          "-p 8080: not 'every page load connected' when there were none")


def appended(tmp, db, path, total, cut):
    p = owtest.run(["read", path, "-w", db])
    w = warnings(p.stderr)
    check(len(w) == 1 and "cut short" in w[0], "append: the new capture's warning is printed",
          p.stderr)
    with sqlite3.connect(db) as c:
        n = c.execute("SELECT COUNT(*) FROM captures").fetchone()[0]
    check(n == 2, "append: two capture rows", str(n))
    s = section(owtest.run(["report", db]).stdout) or ""
    check(f"{cut} of {2 * total} packets" in s,
          "append: the file's report counts over both captures", s)


# the captures.counters keys ui/blind_spots.c reads, each with a word of the line it causes
COUNTERS = {
    "db_rows_failed": "could not be written",
    "truncated": "cut short",
    "gaps": "gaps in TCP streams",
    "streams_evicted": "--max-streams",
    "nids_refused": "refused by TCP reassembly",
    "page_loads_evicted": "--max-page-loads",
    "buffer_overflows": "--max-stream-buffer",
    "http_pending_overflow": "pipelined HTTP requests",
    "inflate_budget_skipped": "compressed websocket messages",
    "bad_ip": "malformed IP or TCP",
    "bad_tcp": "malformed IP or TCP",
    "http_errors": "could not be decoded",
    "ws_errors": "could not be decoded",
    "bokeh_errors": "could not be decoded",
    "time_backwards": "came over a second earlier",
    "duplicates": "captured twice",
    "files_cut": "capture files end inside a packet",
}


def duplicated(tmp):
    """Every packet of the sample twice, 1 us apart (an interface and its bridge under -i
    any): the same page loads, outcomes and retransmission counts as the sample, and the copies
    said; the sample itself has none. The same with the copies in a second file read with the
    sample: merged in time, a copy may come a few packets after its original (a burst within
    one microsecond), and no time goes back."""
    packets = pcaptool.read_pcap(SAMPLE)
    twice = [x for t, pkt, w in packets for x in ((t, pkt, w), (t + 1e-6, pkt, w))]
    path = os.path.join(tmp, "twice.pcap")
    pcaptool.write_pcap(path, pcaptool.LINKTYPE_RAW, twice)
    copy = os.path.join(tmp, "copy.pcap")
    pcaptool.write_pcap(copy, pcaptool.LINKTYPE_RAW, [(t + 1e-6, pkt, w) for t, pkt, w in packets])
    facts = []
    for name, src in (("once", [SAMPLE]), ("twice", [path]), ("merged", [SAMPLE, copy])):
        db = os.path.join(tmp, f"dup-{name}.db")
        owtest.run(["read"] + src + ["-w", db, "-q"])
        with sqlite3.connect(db) as c:
            facts.append((
                # copies without data: over IPv4 told by the id, over IPv6 (no id) by the
                # connection's data having been seen twice, a SYN always; each family apart
                c.execute("SELECT SUM(retrans_s2c), SUM(retrans_c2s), SUM(bytes_s2c), "
                          "group_concat(n) FROM (SELECT family, SUM(retrans_s2c) AS "
                          "retrans_s2c, SUM(retrans_c2s) AS retrans_c2s, SUM(bytes_s2c) AS "
                          "bytes_s2c, family || ':' || SUM(dup_acks_c2s + dup_acks_s2c) || '/' "
                          "|| SUM(syn_count) || '/' || SUM(sack_blocks) AS n FROM connections "
                          "GROUP BY family ORDER BY family)").fetchone(),
                c.execute("SELECT group_concat(outcome || '/' || IFNULL(verdict, '-')) FROM "
                          "(SELECT outcome, verdict FROM page_loads ORDER BY started)").fetchone(),
                c.execute("SELECT json_extract(counters, '$.duplicates') FROM captures")
                .fetchone()[0],
                c.execute("SELECT json_extract(counters, '$.time_backwards') FROM captures")
                .fetchone()[0]))
    check(facts[0][2] == 0, "the sample has no copies", str(facts[0][2]))
    check(facts[1][2] > 0, f"every packet twice: {facts[1][2]} copies counted")
    check(facts[0][:2] == facts[1][:2],
          "every packet twice: the same retransmissions, bytes, outcomes and verdicts, and "
          "over IPv4 and IPv6 the same duplicate ACKs, SYNs and SACK blocks",
          f"{facts[0][:2]} / {facts[1][:2]}")
    check(facts[2][2] == facts[1][2] and facts[2][3] == 0,
          f"copies in a second file: merged, all {facts[2][2]} copies counted, time never back",
          f"{facts[2][2:]}")
    check(facts[0][:2] == facts[2][:2],
          "copies in a second file: the same retransmissions, bytes, outcomes and verdicts, "
          "and over IPv4 and IPv6 the same duplicate ACKs, SYNs and SACK blocks",
          f"{facts[0][:2]} / {facts[2][:2]}")
    s = section(owtest.run(["report", os.path.join(tmp, "dup-twice.db")]).stdout) or ""
    check("captured twice" in s, "every packet twice: the report says so", s)


def each_counter(tmp):
    src = os.path.join(tmp, "counters.db")
    owtest.run(["read", SAMPLE, "-w", src, "-q"])
    for key, words in COUNTERS.items():
        db = os.path.join(tmp, f"c_{key}.db")
        with open(src, "rb") as f, open(db, "wb") as g:
            g.write(f.read())
        with sqlite3.connect(db) as c:
            c.execute("UPDATE captures SET counters = json_replace(counters, ?, 7)",
                      (f"$.{key}",))
            v = c.execute("SELECT json_extract(counters, ?) FROM captures",
                          (f"$.{key}",)).fetchone()[0]
        s = section(owtest.run(["report", db]).stdout) or ""
        check(v == 7 and words in s and not s.startswith("nothing"),
              f"counter {key}: in the capture row, and its line is reported", f"{v} / {s}")
    s = section(owtest.run(["report", src]).stdout) or ""
    check(s.startswith("nothing"), "counters: the unchanged row gives nothing", s)


def main():
    if not os.path.exists(SAMPLE):
        sys.exit(f"{SAMPLE} missing")
    with tempfile.TemporaryDirectory() as tmp:
        path, total, cut = cut_copy(tmp)
        check(cut > 0, f"the snap-{SNAP} copy cuts {cut} of {total} packets")
        db = clean(tmp)
        snapped(tmp, path, total, cut)
        wrong_port()
        appended(tmp, db, path, total, cut)
        each_counter(tmp)
        duplicated(tmp)
    owtest.finish()


if __name__ == "__main__":
    main()
