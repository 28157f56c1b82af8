"""read_signals: `orphanwatch read - -w DB` stopped by signals while it waits on a pipe.

The bundled sample capture is written into read's stdin, which then stays open (a capture
still arriving), so read is blocked in read(2) when the signals come. Two runs:
  1. SIGINT: exit 0, nothing said about an error (the interrupted read is the stop, not an
     "Interrupted system call" error, as it was), end_reason 'signal', every page load of the
     sample present, integrity ok, and the file packed (renamed over: a new inode);
  2. the process stopped (SIGSTOP), SIGINT and SIGTERM sent, then SIGCONT, so that both are
     pending together and delivered in order: the first stops the reading, the second skips
     the packing. Exit 0, "packing skipped" said, the same inode (unpacked), end_reason
     'signal', the page loads present, integrity ok.
  3. run 1's SIGINT checks again with the sample as pcapng (orphanwatch's own pcapng reader),
     when editcap is installed.
  4. a stream of packets as they are captured (`tcpdump -U -w - | orphanwatch read -`): one
     page load's request and response, timed now, then nothing for longer than the grace
     (--grace 2): while the stream is still open, the database already holds the page load
     as an orphan (the clock runs while the pipe is silent, rows are committed); when the
     stream ends (EOF or SIGINT) it stays one, decided at its grace's end. The same packets
     timed an hour ago (an old file piped in): pending while open, undecided at the end; a
     stream ended before the grace ran out: undecided. A stream whose writer held packets
     back (some arrive 3.5 s later than the first did against their own times, as from
     tcpdump without -U): said on stderr, and the page load stays pending while the pipe is
     silent past its grace (only later packets decide it), then is an orphan decided at its
     grace's end once the stream ends. A buffering writer's first block alone (the page
     load's packets and a filler packet, written at once, ending on 4096 bytes: nothing yet
     tells it from a prompt writer): pending while open, an orphan at its grace's end once
     the stream ends.
Runs anywhere (no root): only a pipe and signals."""
import os
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("OW_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BIN = os.environ.get("ORPHANWATCH_BIN") or os.path.join(SRC, "build", "orphanwatch")
SAMPLE = os.path.join(SRC, "tests", "data", "sample.pcap")
sys.path.insert(0, os.path.join(SRC, "tests", "harness"))
import pcaptool  # noqa: E402
from owtest import outcomes_now  # noqa: E402

passed = failed = 0


def check(desc, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok: {desc}", flush=True)
    else:
        failed += 1
        print(f"FAIL: {desc}" + (f": {detail}" if detail else ""), flush=True)


def page_loads_of_file(tmp):
    db = os.path.join(tmp, "whole.db")
    r = subprocess.run([BIN, "read", SAMPLE, "-w", db, "-q"], capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0:
        sys.exit(f"reading the sample failed: {r.stderr}")
    return count(db, "SELECT count(*) FROM page_loads")


def count(db, sql):
    c = sqlite3.connect(db)
    try:
        return c.execute(sql).fetchone()[0]
    finally:
        c.close()


def started_reader(db, capture=SAMPLE):
    """read - -w db, fed the capture; returns (process, inode of the db while it runs)."""
    p = subprocess.Popen([BIN, "read", "-", "-w", db], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with open(capture, "rb") as f:
        p.stdin.write(f.read())
    p.stdin.flush()
    deadline = time.time() + 30
    while not os.path.exists(db) and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # the sample is read; read(2) on the pipe now blocks
    return p, os.stat(db).st_ino


def finished(p):
    try:
        out, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        err += b"\n(killed: did not stop within 60 s)"
    return p.returncode, err.decode(errors="replace")


def common_checks(run, db, rc, err, expected_pages):
    check(f"{run}: exit 0", rc == 0, f"exit {rc}: {err}")
    check(f"{run}: no error reported", "error" not in err.lower(), err)
    check(f"{run}: end_reason signal",
          count(db, "SELECT end_reason FROM captures") == "signal")
    check(f"{run}: every page load of the sample present",
          count(db, "SELECT count(*) FROM page_loads") == expected_pages)
    check(f"{run}: integrity ok", count(db, "PRAGMA integrity_check") == "ok")


def one_page_load(tmp):
    """The packets of the sample's first page load's own connection (request and response),
    and the page load's start."""
    db = os.path.join(tmp, "whole.db")
    started, port = sqlite3.connect(db).execute(
        "SELECT started, client_port FROM page_loads ORDER BY started LIMIT 1").fetchone()
    out = []
    for ts, pkt, wire in pcaptool.read_pcap(SAMPLE):
        info = pcaptool.tcp_info(pkt)
        if info and port in (info[0][1], info[0][3]) and ts <= started + 2:
            out.append((ts, pkt, wire))
    return out, started


def streamed(tmp, name, packets, end_at, wait, how):
    """read - --grace 2 -w DB fed the packets retimed so the last is at end_at, then silent for
    wait seconds, then ended (EOF or SIGINT); returns (outcome, decided_ts - started, rc,
    the outcome other readers of DB saw before the end)."""
    shift = end_at - packets[-1][0]
    path = os.path.join(tmp, name + ".pcap")
    pcaptool.write_pcap(path, pcaptool.LINKTYPE_RAW, [(t + shift, k, w) for t, k, w in packets])
    db = os.path.join(tmp, name + ".db")
    p = subprocess.Popen([BIN, "read", "-", "--grace", "2", "-w", db, "-q"],
                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    with open(path, "rb") as f:
        p.stdin.write(f.read())
    p.stdin.flush()
    time.sleep(wait)
    seen = outcomes_now(db)
    if how == "eof":
        p.stdin.close()
        p.stdin = None
    else:
        p.send_signal(signal.SIGINT)
    rc, _ = finished(p)
    row = sqlite3.connect(db).execute(
        "SELECT outcome, decided_ts - started FROM page_loads").fetchall()
    return (row[0] if len(row) == 1 else (str(row), None)) + (rc, seen)


def first_packet_then_wait(tmp, name, packets):
    """Starts `read - --grace 2 -w DB`, writes it the first packet timed now, and returns 3.5 s
    later (process, DB, the records of the rest of the packets, still timed as captured right
    after the first: one capture, written in two parts)."""
    t0 = time.time()
    shift = t0 - packets[0][0]
    timed = [(t + shift, k, w) for t, k, w in packets]
    first = os.path.join(tmp, name + "-first.pcap")
    rest = os.path.join(tmp, name + "-rest.pcap")
    pcaptool.write_pcap(first, pcaptool.LINKTYPE_RAW, timed[:1])
    pcaptool.write_pcap(rest, pcaptool.LINKTYPE_RAW, timed[1:])
    db = os.path.join(tmp, name + ".db")
    p = subprocess.Popen([BIN, "read", "-", "--grace", "2", "-w", db, "-q"],
                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    with open(first, "rb") as f:
        p.stdin.write(f.read())
    p.stdin.flush()
    time.sleep(max(0.0, t0 + 3.5 - time.time()))
    with open(rest, "rb") as f:
        return p, db, f.read()[24:]  # without the file header


def streamed_held(tmp, packets, wait):
    """A stream whose writer holds packets back (tcpdump without -U): the page load's first
    packet is written timed now, the rest 3.5 s later, still timed as captured right after the
    first, then nothing for wait seconds before EOF. Returns (the outcome other readers of DB
    saw before the end, the outcome and decided_ts - started at the end, stderr)."""
    p, db, rest = first_packet_then_wait(tmp, "held", packets)
    p.stdin.write(rest)
    p.stdin.flush()
    time.sleep(wait)
    seen = outcomes_now(db)
    p.stdin.close()
    p.stdin = None
    rc, err = finished(p)
    row = sqlite3.connect(db).execute(
        "SELECT outcome, decided_ts - started FROM page_loads").fetchall()
    return seen, (row[0] if len(row) == 1 else (str(row), None)), rc, err


def streamed_flush_on_stop(tmp, packets):
    """Ctrl-C on `tcpdump -w - | orphanwatch read -`: both get the signal, and tcpdump writes
    what it held back as it exits. The page load's first packet is written timed now; 3.5 s
    later orphanwatch gets SIGINT, and 0.2 s after it the rest of the packets (still timed
    as captured right after the first) arrive and the pipe is closed. Returns (the outcome
    and decided_ts - started at the end, or None without a page load; rc; stderr; seconds
    from the signal to the exit)."""
    p, db, rest = first_packet_then_wait(tmp, "flush", packets)
    signalled = time.time()
    p.send_signal(signal.SIGINT)
    time.sleep(0.2)
    try:
        p.stdin.write(rest)
        p.stdin.close()
    except BrokenPipeError:  # read did not wait for them
        pass
    p.stdin = None
    rc, err = finished(p)
    took = time.time() - signalled
    rows = sqlite3.connect(db).execute(
        "SELECT outcome, decided_ts - started FROM page_loads").fetchall()
    return (rows[0] if len(rows) == 1 else None), rc, err, took


def stop_while_open(tmp):
    """SIGINT while the writer keeps the pipe open and silent: read stops once its drain's
    second has passed, not later; a second SIGINT during the drain stops it at once."""
    for n in (1, 2):
        db = os.path.join(tmp, f"drain{n}.db")
        p, _ = started_reader(db)
        signalled = time.time()
        p.send_signal(signal.SIGINT)
        if n == 2:
            time.sleep(0.1)
            p.send_signal(signal.SIGINT)
        try:  # stdin stays open (communicate would close it: the end of the stream)
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        took = time.time() - signalled
        rc, err = finished(p)
        check(f"{n} SIGINT on an open, silent pipe: exit 0, said it reads what the writer "
              "still sends", rc == 0 and "stopping; reading what its writer still sends" in err,
              f"rc {rc}: {err}")
        if n == 1:
            check("one SIGINT on an open, silent pipe: stopped after the drain's second (not "
                  "hanging on the open pipe)", 0.9 <= took < 10, f"{took:.2f} s")
        else:
            check("a second SIGINT during the drain: stopped at once (well before the drain's "
                  "second), packing skipped", took < 0.9 and "packing skipped" in err,
                  f"{took:.2f} s: {err}")


def filler_to_block(packets):
    """The packets and, timed as the last, a UDP datagram (to port 9, filtered away) sized so
    that their pcap file is a whole number of 4096-byte blocks, as a buffering writer hands
    over its first block."""
    size = 24 + sum(16 + len(k) for _, k, _ in packets)
    n = -(size + 16) % 4096
    if n < 28:
        n += 4096
    udp = struct.pack("!HHHH", 9, 9, n - 20, 0) + bytes(n - 28)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, n, 1, 0, 64, 17, 0, bytes([100, 64, 0, 9]),
                     bytes([100, 64, 0, 10]))
    ip = ip[:10] + struct.pack("!H", pcaptool.checksum(ip)) + ip[12:]
    ts = packets[-1][0]
    return packets + [(ts, ip + udp, n)]


def stream_size(packets):
    return 24 + sum(16 + len(k) for _, k, _ in packets)


def stream_as_captured(tmp):
    packets, _ = one_page_load(tmp)
    check("stream: the first page load's packets found", len(packets) >= 6, str(len(packets)))
    if len(packets) < 6:
        return
    check("stream: the page load's packets do not end on a 4096-byte block (a prompt writer)",
          stream_size(packets) % 4096 != 0, str(stream_size(packets)))
    for how in ("eof", "sigint"):
        o, after, rc, seen = streamed(tmp, "live-" + how, packets, time.time(), 4.0, how)
        check(f"stream timed now, silent past the grace: an orphan in the database while the "
              f"stream is still open ({how} run)", seen == ["orphan"], str(seen))
        check(f"stream timed now, silent past the grace, ended by {how}: an orphan",
              o == "orphan" and rc == 0, f"{o} rc {rc}")
        check(f"stream ended by {how}: decided at the grace's end (2 s after the response)",
              after is not None and 2.0 <= after < 3.0, str(after))
    o, _, rc, seen = streamed(tmp, "old", packets, time.time() - 3600, 4.0, "eof")
    check("the same packets an hour old (a file piped in): pending while open, then undecided",
          seen == ["pending"] and o == "undecided", f"{seen} {o}")
    o, _, rc, _ = streamed(tmp, "short", packets, time.time(), 0.3, "eof")
    check("a stream timed now ended within the grace: undecided", o == "undecided", o)
    seen, (o, after), rc, err = streamed_held(tmp, packets, 4.0)
    check("stream whose writer holds packets back: said on stderr, once",
          err.count("holds packets back") == 1 and "standard input" in err, err)
    check("stream whose writer holds packets back: pending while open, past its grace (the "
          "clock no longer decides)", seen == ["pending"], str(seen))
    check("stream whose writer holds packets back: an orphan once ended, decided at its "
          "grace's end", o == "orphan" and after is not None and 2.0 <= after < 3.0 and rc == 0,
          f"{o} {after} rc {rc}")
    row, rc, err, took = streamed_flush_on_stop(tmp, packets)
    check("Ctrl-C to writer and reader alike: the packets the writer flushed as it exited are "
          "read (the page load is there)", row is not None and rc == 0, f"{row} rc {rc}: {err}")
    check("Ctrl-C to writer and reader alike: the writer closed the pipe whole, so the page "
          "load is an orphan decided at its grace's end (not undecided)",
          row is not None and row[0] == "orphan" and row[1] is not None and 2.0 <= row[1] < 3.0,
          str(row))
    check("Ctrl-C to writer and reader alike: read ended with the pipe, before its drain's "
          "second was out", took < 1.0, f"{took:.2f} s")
    block = filler_to_block(packets)
    check("the first block: its packets end on a 4096-byte block", stream_size(block) % 4096 == 0,
          str(stream_size(block)))
    o, after, rc, seen = streamed(tmp, "one-block", block, time.time(), 4.0, "eof")
    check("a buffering writer's first block alone: pending while open, past its grace (not "
          "yet known to hand packets over as they come)", seen == ["pending"], str(seen))
    check("a buffering writer's first block alone: an orphan once ended, decided at its "
          "grace's end", o == "orphan" and after is not None and 2.0 <= after < 3.0 and rc == 0,
          f"{o} {after} rc {rc}")


def main():
    if not os.path.exists(BIN):
        sys.exit(f"no binary at {BIN}")
    with tempfile.TemporaryDirectory() as tmp:
        expected = page_loads_of_file(tmp)
        check("the sample has page loads", expected > 0)

        db1 = os.path.join(tmp, "int.db")
        p, ino = started_reader(db1)
        p.send_signal(signal.SIGINT)
        rc, err = finished(p)
        common_checks("SIGINT", db1, rc, err, expected)
        check("SIGINT: packed (a new inode)", os.stat(db1).st_ino != ino)
        check("SIGINT: packing not skipped", "packing skipped" not in err, err)

        db2 = os.path.join(tmp, "int_term.db")
        p, ino = started_reader(db2)
        p.send_signal(signal.SIGSTOP)
        p.send_signal(signal.SIGINT)
        p.send_signal(signal.SIGTERM)
        p.send_signal(signal.SIGCONT)
        rc, err = finished(p)
        common_checks("SIGINT+SIGTERM", db2, rc, err, expected)
        check("SIGINT+SIGTERM: packing skipped, said", "packing skipped" in err, err)
        check("SIGINT+SIGTERM: left unpacked (the same inode)", os.stat(db2).st_ino == ino)
        check("SIGINT+SIGTERM: nothing left beside it",
              sorted(n for n in os.listdir(tmp) if n.startswith("int_term.db")) ==
              ["int_term.db"], str(os.listdir(tmp)))

        # the same as pcapng (read by orphanwatch's own pcapng reader, not libpcap)
        if shutil.which("editcap"):
            ng = os.path.join(tmp, "sample.pcapng")
            subprocess.run(["editcap", "-F", "pcapng", SAMPLE, ng], check=True)
            db3 = os.path.join(tmp, "int_ng.db")
            p, ino = started_reader(db3, ng)
            p.send_signal(signal.SIGINT)
            rc, err = finished(p)
            common_checks("pcapng SIGINT", db3, rc, err, expected)
        else:
            print("NOT RUN: the pcapng case (no editcap: apt-get install tshark)")
        stream_as_captured(tmp)
        stop_while_open(tmp)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
