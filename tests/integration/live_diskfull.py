"""live_diskfull: a live capture whose disk fills up says so while it runs, not only at the end.

Needs root (a 640 KB tmpfs for the database, capture on `lo`); exits 77 (skipped) otherwise.
A local HTTP server on a free port gets requests from a few client threads while
`orphanwatch live -i lo -p PORT -w TMPFS/live.db` captures them, until the tmpfs is full:
- with --no-ui: stderr says "rows could not be written so far: ... full" while the process
  still runs; after SIGINT it exits 1 and says the total, and the capture row's warning (or,
  when not even that row fits any more, that the file cannot show the loss);
- with the dashboard (in a tmux pane, when tmux is installed): the header counts "messages",
  the key bar shows that line, no stderr text is drawn over the screen, and after `q` the
  lines written meanwhile are on stderr, in order, before "stopped"; killed by SIGSEGV
  instead, the process writes those lines to stderr before it dies.
"""
import http.server
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "harness"))
sys.path.insert(0, HERE)
import owtest  # noqa: E402

check = owtest.check
SO_FAR = "rows could not be written so far"


class Page(http.server.BaseHTTPRequestHandler):
    body = b"<html>" + b"x" * 8000 + b"</html>"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Traffic:
    """HTTP requests to 127.0.0.1:port from a few threads until stopped."""

    def __init__(self, port):
        self.port, self.stop, self.sent = port, threading.Event(), 0
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True)
                        for i in range(4)]
        for t in self.threads:
            t.start()

    def run(self, k):
        i = 0
        while not self.stop.is_set():
            i += 1
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/page{k}?n={i}",
                                       timeout=5).read()
                self.sent += 1
            except OSError:
                time.sleep(0.05)

    def end(self):
        self.stop.set()
        for t in self.threads:
            t.join(10)


def mount_tmpfs(path):
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=640k,mode=0777", "tmpfs", path],
                       capture_output=True, text=True)
    if r.returncode != 0:
        owtest.skip(f"cannot mount a tmpfs: {r.stderr.strip()}")


def wait_until(pred, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.2)
    return False


def no_ui(tmp, port):
    fs = os.path.join(tmp, "fs")
    os.mkdir(fs)
    mount_tmpfs(fs)
    err_path = os.path.join(tmp, "noui.err")
    try:
        with open(err_path, "w") as err:
            p = subprocess.Popen([owtest.binary(), "live", "-i", "lo", "-p", str(port), "--no-ui",
                                  "-w", os.path.join(fs, "live.db"), "--user", "nobody"],
                                 stdout=subprocess.DEVNULL, stderr=err)
            traffic = Traffic(port)
            said = wait_until(lambda: SO_FAR in open(err_path).read(), 90)
            running = p.poll() is None
            traffic.end()
            p.send_signal(signal.SIGINT)
            rc = p.wait(60)
        text = open(err_path).read()
        check(said and running, "--no-ui: the lost rows are said while the capture runs",
              text[-500:])
        check("full" in text, "--no-ui: the message says the disk is full", text[-500:])
        check(rc == 1, "--no-ui: exit status 1 after SIGINT", str(rc))
        # the capture row records the loss when a last write still fits on the full disk, and
        # is read back for its warnings when a reader still can open the file there; when
        # either cannot be done, stderr says so (nothing is silent)
        check("rows could not be written:" in text and
              ("warning:" in text or "the capture row could not record those lost rows" in text
               or "could not be read back" in text),
              "--no-ui: the total at the end, and the capture row's warning or why it cannot "
              "be shown", text[-500:])
        check(text.count(SO_FAR) <= 2, "--no-ui: said once, not every second",
              str(text.count(SO_FAR)))
    finally:
        subprocess.run(["umount", fs])


def comm_of(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def with_ui(tmp, port, crash=False):
    """Ended by q, or (crash) by SIGSEGV: the handler gives the terminal back and writes the
    lines kept off the screen to stderr before the process dies."""
    if not shutil.which("tmux"):
        print("tmux not installed: the dashboard part not run")
        return
    how = "SIGSEGV" if crash else "q"
    fs = os.path.join(tmp, "fs-" + how)
    os.mkdir(fs)
    mount_tmpfs(fs)
    err_path = os.path.join(tmp, f"ui-{how}.err")
    sock = f"owdf{os.getpid()}"
    tmux = ["tmux", "-L", sock]
    env = dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8")
    env.pop("TMUX", None)
    cmd = (f"{owtest.binary()} live -i lo -p {port} -w {fs}/live.db --user nobody "
           f"2>{err_path}; echo EXIT=$? >>{err_path}; sleep 600")
    try:
        subprocess.run(tmux + ["new-session", "-d", "-s", "t", "-x", "160", "-y", "30", cmd],
                       env=env, check=True)

        def screen():
            return subprocess.run(tmux + ["capture-pane", "-p", "-t", "t"], env=env,
                                  capture_output=True, text=True).stdout

        traffic = Traffic(port)
        shown = wait_until(lambda: "messages" in screen().split("\n")[0], 90)
        s = screen()
        traffic.end()
        lines = s.split("\n")
        check(shown, "dashboard: the header counts the messages", lines[0])
        check(any(SO_FAR in line for line in lines[-3:]), "dashboard: the key bar shows the line",
              "\n".join(lines[-3:]))
        check(sum(SO_FAR in line for line in lines) == 1,
              "dashboard: no stderr text drawn over the screen", s)
        if crash:
            # the tmux server and the shell carry the command line too: the process named
            # orphanwatch is the one
            pids = subprocess.run(["pgrep", "-f", f"live -i lo -p {port} -w {fs}/live.db"],
                                  capture_output=True, text=True).stdout.split()
            pids = [p for p in pids if comm_of(p) == "orphanwatch"]
            check(len(pids) == 1, "dashboard: the live process found", str(pids))
            for pid in pids:
                os.kill(int(pid), signal.SIGSEGV)
        else:
            subprocess.run(tmux + ["send-keys", "-t", "t", "q"], env=env)
        wait_until(lambda: "EXIT=" in open(err_path).read(), 60)
        text = open(err_path).read()
        if crash:
            # under AddressSanitizer the re-raised SEGV is ASan's report, then SIGABRT
            code = text.rsplit("EXIT=", 1)[-1].strip()
            check(code in ("139", "134"), "dashboard: SIGSEGV: the process died of it", code)
            check("written to stderr while the dashboard was up" in text and SO_FAR in text,
                  "dashboard: SIGSEGV: the lines kept off the screen are on stderr",
                  text[-600:])
        else:
            check(text.find(SO_FAR) >= 0 and text.find(SO_FAR) < text.find("stopped"),
                  "dashboard: after q, the lines written meanwhile are on stderr before "
                  "'stopped'", text[-600:])
    finally:
        subprocess.run(tmux + ["kill-server"], env=env, capture_output=True)
        subprocess.run(["umount", fs])


def main():
    if os.geteuid() != 0:
        owtest.skip("needs root (a tmpfs mount and capture on lo)")
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Page)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    port = srv.server_address[1]
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        no_ui(tmp, port)
        with_ui(tmp, port)
        with_ui(tmp, port, crash=True)
    srv.shutdown()
    owtest.finish()


if __name__ == "__main__":
    main()
