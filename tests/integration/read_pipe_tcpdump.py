"""read_pipe_tcpdump: `tcpdump -w - | orphanwatch read -` with the real tcpdump (needs root).

An HTTP server on a free loopback port answers a small request every 2 s, six times, while
tcpdump captures that port on `lo` and writes to orphanwatch's standard input:
  1. without -U, tcpdump keeps its output in a 4 KB buffer until it fills, so packets reach
     orphanwatch seconds after they were captured: orphanwatch says once that the writer holds
     packets back (and stops going by the clock while the pipe is silent);
  2. with -U each packet is written as it is captured: nothing is said;
  3. without -U again, sixteen requests in quick succession: no packet is seconds late before
     the blocks fill, but the pipe carries whole 4 KB blocks, which is said (once).
  4. a Bokeh page served by the harness's Bokeh test server and fetched once with the
     favicon, its scripts and websocket never (--grace 2): with -U, its packets read at once,
     it is an orphan in the database 5 s later while tcpdump still runs (the clock decides
     while the pipe is silent); without -U, pending then (tcpdump holds the last packets), and
     an orphan once tcpdump ends (it flushes everything: the 5 s passed count).
  5. run 4 without -U again, ended as Ctrl-C in a terminal ends a pipeline: SIGINT to tcpdump
     and orphanwatch at once. orphanwatch reads on until tcpdump, flushing its buffer as it
     exits, closes the pipe: every packet tcpdump says it captured is read (before, the
     signal ended the reading first and its last block was lost), and the page load is an
     orphan. Runs 4 and 5 compare tcpdump's count of packets captured with the capture row's.
Every run reports its exchanges. Skipped (77) when not root, or without tcpdump; run 4 only
with python3-tornado."""
import http.server
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
from owtest import binary, check, finish, outcomes_now, skip  # noqa: E402

ROUNDS = 6
HELD = "holds packets back"
HARNESS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness")


class Small(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hi\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def run(port, unbuffered, rounds=ROUNDS, apart=2.0):
    """tcpdump [-U] on lo piped into orphanwatch read - while rounds requests are made apart
    seconds apart; returns (orphanwatch's exit code, its report, its stderr)."""
    dump = ["tcpdump", "-i", "lo", "-n", "-w", "-"] + (["-U"] if unbuffered else [])
    dump += ["tcp", "port", str(port)]
    td = subprocess.Popen(dump, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    ow = subprocess.Popen([binary(), "read", "-", "-p", str(port)],
                          stdin=td.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    td.stdout.close()
    time.sleep(1.5)  # tcpdump is listening
    for _ in range(rounds):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(f"GET /s HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                      f"Connection: close\r\n\r\n".encode())
            while s.recv(4096):
                pass
        time.sleep(apart)
    time.sleep(2)
    td.terminate()  # tcpdump flushes its buffer and ends the pipe
    td.wait(timeout=30)
    out, err = ow.communicate(timeout=60)
    return ow.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def page_load_open(tmp, unbuffered, ctrl_c=False):
    """tcpdump [-U] on lo piped into `read - --grace 2 -w DB` while one Bokeh page is fetched
    (nothing more); returns (the outcomes other readers saw 5 s later, tcpdump still running,
    the outcomes at the end, orphanwatch's exit code and stderr). tcpdump is ended by SIGTERM,
    or with ctrl_c both get SIGINT at once."""
    port = free_port()
    ready = os.path.join(tmp, f"ready-{port}")
    srv = subprocess.Popen(["/usr/bin/python3", os.path.join(HARNESS, "bokeh_server.py"),
                            "--port", str(port), "--address", "127.0.0.1", "--small-static",
                            "--synth-dir", tmp, "--ready-file", ready, "--log-level", "warning"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = os.path.join(tmp, f"page-{int(unbuffered)}-{int(ctrl_c)}.db")
    td = ow = None
    try:
        deadline = time.time() + 20
        while not os.path.exists(ready) and time.time() < deadline and srv.poll() is None:
            time.sleep(0.1)
        dump = ["tcpdump", "-i", "lo", "-n", "-w", "-"] + (["-U"] if unbuffered else [])
        td = subprocess.Popen(dump + ["tcp", "port", str(port)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
        ow = subprocess.Popen([binary(), "read", "-", "-p", str(port), "--grace", "2", "-w", db,
                               "-q"], stdin=td.stdout, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
        td.stdout.close()
        time.sleep(1.5)  # tcpdump is listening
        # the page, then the favicon (15 KB): without -U, some of the packets fill blocks
        # at once and the last ones wait in tcpdump's buffer until it ends
        for path in ("/bserve_test", "/favicon.ico"):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
                r.read()
        time.sleep(5)
        seen = outcomes_now(db)
        if ctrl_c:
            td.send_signal(signal.SIGINT)
            ow.send_signal(signal.SIGINT)
        else:
            td.terminate()
        _, td_err = td.communicate(timeout=30)
        _, err = ow.communicate(timeout=60)
        m = re.search(rb"(\d+) packets? captured", td_err)
        captured = int(m.group(1)) if m else None
        read = sqlite3.connect(db).execute("SELECT packets FROM captures").fetchone()[0]
        return (seen, outcomes_now(db), ow.returncode, err.decode(errors="replace"),
                (captured, read))
    finally:
        for p in (td, ow, srv):
            if p and p.poll() is None:
                p.kill()
                p.wait()


def main():
    if os.geteuid() != 0:
        skip("capturing on lo with tcpdump needs root (CI runs as root)")
    if not shutil.which("tcpdump"):
        skip("no tcpdump (apt-get install tcpdump)")
    binary()  # exits when there is none
    server = http.server.HTTPServer(("127.0.0.1", 0), Small)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for unbuffered in (False, True):
            name = "tcpdump -U" if unbuffered else "tcpdump without -U"
            rc, out, err = run(port, unbuffered)
            check(rc == 0, f"{name}: exit 0", f"exit {rc}: {err}")
            check(f'"http_responses":{ROUNDS},' in out, f"{name}: the {ROUNDS} exchanges reported",
                  out[:1500])
            if unbuffered:
                check(HELD not in err, f"{name}: nothing said about held packets", err)
            else:
                check(err.count(HELD) == 1, f"{name}: held packets said once", err)
        # requests in quick succession: 4 KB blocks fill within a second, so no packet is
        # seconds late yet; the whole blocks themselves tell
        rc, out, err = run(port, False, rounds=16, apart=0.05)
        check(rc == 0 and '"http_responses":16,' in out, "quick requests without -U: reported",
              f"exit {rc}: {out[:1500]} {err}")
        check(err.count(HELD) == 1 and "whole 4096-byte blocks" in err,
              "quick requests without -U: the whole blocks said once", err)
    finally:
        server.shutdown()
    if subprocess.run(["/usr/bin/python3", "-c", "import tornado"],
                      stderr=subprocess.DEVNULL).returncode != 0:
        print("skip run 4: no python3-tornado for the Bokeh test server (setup.sh installs it)")
        finish()
    with tempfile.TemporaryDirectory() as tmp:
        seen, end, rc, err, _ = page_load_open(tmp, True)
        check(seen == ["orphan"], "page load with -U: an orphan while tcpdump still runs, by the "
              "clock", f"{seen} {err}")
        check(end == ["orphan"] and rc == 0, "page load with -U: an orphan at the end",
              f"{end} rc {rc} {err}")
        seen, end, rc, err, (captured, read) = page_load_open(tmp, False)
        check(captured is not None and captured == read, "page load without -U, tcpdump "
              "ended: every packet tcpdump captured is read", f"{captured} captured, {read} read")
        check(seen in ([], ["pending"]), "page load without -U: not decided by the clock while "
              "tcpdump still runs", f"{seen} {err}")
        check(end == ["orphan"] and rc == 0, "page load without -U: an orphan at the end",
              f"{end} rc {rc} {err}")
        seen, end, rc, err, (captured, read) = page_load_open(tmp, False, ctrl_c=True)
        check(captured is not None and captured == read, "page load without -U, Ctrl-C to "
              "tcpdump and orphanwatch at once: every packet tcpdump captured is read (its last "
              "block comes as it exits)", f"{captured} captured, {read} read")
        check(seen in ([], ["pending"]), "page load without -U, Ctrl-C: not decided by the "
              "clock before it", f"{seen} {err}")
        check(end == ["orphan"] and rc == 0, "page load without -U, Ctrl-C to tcpdump and "
              "orphanwatch at once: what tcpdump flushed is read, an orphan at the end",
              f"{end} rc {rc} {err}")
    finish()


if __name__ == "__main__":
    main()
