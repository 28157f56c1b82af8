"""live_lib: shared machinery of the live-capture acceptance tests (tests/integration/live_*.py).

A test tailnet (tailnet.sh) with the Bokeh test server in its server namespace, `orphanwatch
live` capturing that namespace's tailscale0 as root and dropping to an unprivileged user, page
loads driven from the client namespace (client.py, curl) and their ground truth, the verdict
lines orphanwatch prints (time-stamped as they arrive), a reader process polling the database
while it is written, and port steering: with tsfwd's --blackhole-fraction, which connections are
black-holed depends on a seeded hash of (server addr/port, client addr/port), so reserving the
client namespace's ephemeral ports of the other class (net.ipv4.ip_local_reserved_ports, per
namespace) makes every connection of a page load healthy, or black-holed, on purpose.

Everything started here is tracked and stopped by Live.close() (the tests call it in finally);
every wait is bounded. Root only: the tests skip (77) with the reason otherwise."""
import ipaddress
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("OW_SOURCE_DIR") or os.path.abspath(os.path.join(HERE, "..", ".."))
HARNESS = os.path.join(SRC, "tests", "harness")
HARNESS_PY = "/usr/bin/python3"  # Debian's: it has python3-tornado
APP = "bserve_test"
PORT = 5006
SKIP = 77
M64 = (1 << 64) - 1


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def skip(why):
    print(f"SKIP: {why}", flush=True)
    sys.exit(SKIP)


def harness_build():
    if os.environ.get("OW_HARNESS_BUILD"):
        return os.environ["OW_HARNESS_BUILD"]
    return os.path.join(os.environ.get("OW_BUILD_DIR") or os.path.join(SRC, "build"), "harness")


def binary():
    b = os.environ.get("ORPHANWATCH_BIN") or os.path.join(
        os.environ.get("OW_BUILD_DIR") or os.path.join(SRC, "build"), "orphanwatch")
    if not os.access(b, os.X_OK):
        print(f"orphanwatch binary not found at {b} (set ORPHANWATCH_BIN)")
        sys.exit(1)
    return os.path.abspath(b)


def check_environment(need=("curl",)):
    """Exits 77 with the reason when the live tests cannot run here."""
    if os.geteuid() != 0:
        skip("not root: live capture, network namespaces and TUN devices need root")
    if not os.path.exists("/dev/net/tun"):
        skip("/dev/net/tun is not available")
    if subprocess.run(["ip", "netns", "list"], capture_output=True).returncode != 0:
        skip("ip netns does not work here")
    try:
        r = subprocess.run([os.path.join(HARNESS, "setup.sh"), "--tsfwd", "--deps"],
                           capture_output=True, text=True, timeout=1200)
    except subprocess.TimeoutExpired:
        skip("harness setup (tests/harness/setup.sh --tsfwd --deps) took over 20 minutes")
    if r.returncode != 0:
        skip(f"harness setup failed (tsfwd build or packages): {r.stderr.strip()[-300:]}")
    for tool in need:
        if not shutil.which(tool):
            skip(f"{tool} is not installed")
    if subprocess.run([HARNESS_PY, "-c", "import tornado"], capture_output=True).returncode:
        skip("python3-tornado is not installed")


class Checks:
    """Counts assertions; each prints one line."""

    def __init__(self):
        self.passed = self.failed = 0
        self.failures = []

    def ok(self, desc, cond, detail="", fail=None):
        """detail is printed either way; fail, when given, replaces it on failure."""
        if cond:
            self.passed += 1
            print(f"ok: {desc}" + (f" ({detail})" if detail else ""), flush=True)
        else:
            self.failed += 1
            self.failures.append(desc)
            why = detail if fail is None else fail
            print(f"FAIL: {desc}" + (f": {why}" if why else ""), flush=True)
        return bool(cond)

    def eq(self, desc, expected, actual):
        return self.ok(desc, expected == actual,
                       repr(actual) if expected == actual else f"expected {expected!r}, got {actual!r}")

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        return 0 if self.failed == 0 else 1


def target_user(name):
    """(uid, gid, name) of an unprivileged account orphanwatch will drop to."""
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        skip(f"no user {name!r} on this machine")
    if pw.pw_uid == 0 or pw.pw_gid == 0:
        skip(f"user {name!r} is root or in group 0")
    return pw.pw_uid, pw.pw_gid, pw.pw_name


# ------------------------------------------------------------------ tsfwd's connection hash

def _mix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def tsfwd_blackholed(server, sport, client, cport, seed, fraction):
    """Whether tsfwd --blackhole-fraction F --seed S drops this connection's large
    server->client packets (tsfwd.c connection_hash: FNV-1a over src, dst, proto and ports,
    then splitmix64; black-holed when the top 53 bits / 2^53 < F)."""
    if fraction >= 1.0:
        return True
    h = 1469598103934665603 ^ _mix64(seed)
    data = (ipaddress.ip_address(server).packed + ipaddress.ip_address(client).packed +
            bytes([6, sport >> 8, sport & 255, cport >> 8, cport & 255]))
    for b in data:
        h = ((h ^ b) * 1099511628211) & M64
    return (_mix64(h) >> 11) / 9007199254740992.0 < fraction


# ------------------------------------------------------------------ helpers

def rfc5952(addr):
    return ipaddress.ip_address(addr).compressed


def read_jsonl_file(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        pass  # a line being written
    except FileNotFoundError:
        pass
    return out


def wait_until(pred, timeout, step=0.1):
    end = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.time() >= end:
            return v
        time.sleep(step)


def proc_status(pid):
    """Uid/Gid (4 ints each), Groups (ints), CapEff/CapPrm (ints), NoNewPrivs of a process."""
    st = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            st[k] = v.strip()
    return {
        "Uid": [int(x) for x in st["Uid"].split()],
        "Gid": [int(x) for x in st["Gid"].split()],
        "Groups": [int(x) for x in st.get("Groups", "").split()],
        "CapEff": int(st["CapEff"], 16),
        "CapPrm": int(st["CapPrm"], 16),
        "NoNewPrivs": st.get("NoNewPrivs"),
    }


VERDICT_LINE = re.compile(r"^(\S+Z) (\S+)\s+(\S+)\s+(\[[0-9a-fA-F:.]+\]|[0-9.]+):(\d+) (\S+) "
                          r"session=(\S*)")


def parse_verdict_line(line):
    m = VERDICT_LINE.match(line)
    if not m:
        return None
    host = m.group(4)
    return {"outcome": m.group(2), "verdict": None if m.group(3) == "-" else m.group(3),
            "client": host.strip("[]"), "bracketed": host.startswith("["),
            "client_port": int(m.group(5)), "path": m.group(6), "session": m.group(7)}


def lines_of(lines, g):
    """The verdict lines of one ground-truth page load (its session id prefix and client
    port; the line prints the first 12 characters of the session id)."""
    sid = g["session_id"] or ""
    return [(t, p, raw) for t, p, raw in lines
            if p and p["session"] and sid.startswith(p["session"]) and len(p["session"]) >= 8
            and p["client_port"] == g["client_port"]]


def check_privileges(live, c, when):
    """orphanwatch runs as the unprivileged user: every uid and gid, no group 0, no
    capability."""
    st = proc_status(live.ow.pid)
    c.ok(f"{when}: real, effective, saved and fs uid are {live.uid}, none 0",
         st["Uid"] == [live.uid] * 4 and 0 not in st["Uid"], f"Uid {st['Uid']}")
    c.ok(f"{when}: real, effective, saved and fs gid are {live.gid}, none 0",
         st["Gid"] == [live.gid] * 4 and 0 not in st["Gid"], f"Gid {st['Gid']}")
    c.ok(f"{when}: no supplementary group 0", 0 not in st["Groups"], f"Groups {st['Groups']}")
    c.ok(f"{when}: CapEff and CapPrm are 0", st["CapEff"] == 0 and st["CapPrm"] == 0,
         f"CapEff {st['CapEff']:x} CapPrm {st['CapPrm']:x} NoNewPrivs {st['NoNewPrivs']}")


class LineReader(threading.Thread):
    """Reads a pipe line by line, keeping (arrival time, line)."""

    def __init__(self, pipe):
        super().__init__(daemon=True)
        self.pipe, self.lines, self.lock = pipe, [], threading.Lock()
        self.start()

    def run(self):
        for line in iter(self.pipe.readline, ""):
            with self.lock:
                self.lines.append((time.time(), line.rstrip("\n")))

    def snapshot(self):
        with self.lock:
            return list(self.lines)


class DbPoller(threading.Thread):
    """Another process reading the database while orphanwatch writes it: runs
    `orphanwatch report DB --format jsonl` as the database's owner every `period` seconds and
    remembers when each (session_id, outcome, verdict) was first seen (time the read
    finished)."""

    def __init__(self, live, period=0.2):
        super().__init__(daemon=True)
        self.live, self.period = live, period
        self.first_seen = {}  # (session_id, outcome, verdict) -> time
        self.reads = self.failures = 0
        self.errors = []
        self.max_read_s = 0.0
        self.stop_ev = threading.Event()
        self.start()

    def run(self):
        while not self.stop_ev.is_set():
            t0 = time.time()
            try:
                r = self.live.as_user([self.live.bin, "report", self.live.db, "--format", "jsonl"],
                                      timeout=20)
            except subprocess.TimeoutExpired:
                self.failures += 1
                self.errors.append("report timed out (20 s)")
                continue
            t1 = time.time()
            self.reads += 1
            self.max_read_s = max(self.max_read_s, t1 - t0)
            if r.returncode != 0:
                self.failures += 1
                if len(self.errors) < 10:
                    self.errors.append(f"exit {r.returncode}: {r.stderr.strip()[:300]}")
            else:
                for line in r.stdout.splitlines():
                    try:
                        d = json.loads(line)
                    except ValueError:
                        self.failures += 1
                        self.errors.append(f"not JSON: {line[:200]}")
                        continue
                    self.first_seen.setdefault((d.get("session_id"), d.get("outcome"),
                                                d.get("verdict")), t1)
            self.stop_ev.wait(max(0.0, self.period - (time.time() - t0)))

    def stop(self):
        self.stop_ev.set()
        self.join(timeout=30)


class Live:
    """One test's tailnet, server, orphanwatch and clients; close() undoes everything."""

    def __init__(self, name, user="nobody"):
        self.bin = binary()
        self.uid, self.gid, self.user = target_user(user)
        tmp = os.environ.get("TMPDIR") or "/tmp"
        self.work = tempfile.mkdtemp(prefix=f"ow-{name}.", dir=tmp)
        os.chmod(self.work, 0o711)  # the unprivileged user must reach the db directory
        self.dbdir = os.path.join(self.work, "db")
        os.mkdir(self.dbdir, 0o700)
        os.chown(self.dbdir, self.uid, self.gid)
        self.db = os.path.join(self.dbdir, "live.db")
        self.state = os.path.join(self.work, "tailnet.state")
        self.env = dict(os.environ, TAILNET_STATE=self.state)
        self.procs = []  # (Popen, name) we started, stopped in close()
        self.tn = None
        self.ow = None
        self.ow_out = self.ow_err = None
        self.poller = None
        self.session_log = os.path.join(self.work, "sessions.jsonl")
        self.tsfwd_log_copy = ""
        self.steer = None

    # ---------------------------------------------------------------- tailnet and server
    def tailnet_up(self, *args):
        r = subprocess.run([os.path.join(HARNESS, "tailnet.sh"), "up", "--prefix", "owlive"] +
                           list(args), env=self.env, capture_output=True, text=True, timeout=60)
        if r.returncode == SKIP:
            skip(f"tailnet.sh cannot run here: {r.stderr.strip()}")
        if r.returncode != 0:
            raise RuntimeError(f"tailnet.sh up failed: {r.stderr}")
        self.tn = {}
        with open(self.state) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                self.tn[k] = v.strip("'")
        log(r.stderr.strip())
        return self.tn

    def tsfwd_log(self):
        path = os.path.join(self.tn.get("TAILNET_DIR", ""), "tsfwd.log") if self.tn else ""
        try:
            with open(path) as f:
                self.tsfwd_log_copy = f.read()
        except OSError:
            pass
        return self.tsfwd_log_copy

    def ns(self, side):
        return self.tn["TAILNET_SERVER_NS" if side == "server" else "TAILNET_CLIENT_NS"]

    def server_url(self, family, visit):
        host = self.tn["TAILNET_SERVER_V4"] if family == 4 else f"[{self.tn['TAILNET_SERVER_V6']}]"
        return f"http://{host}:{PORT}/{APP}?visit={visit}"

    def client_addr(self, family):
        return self.tn["TAILNET_CLIENT_V4" if family == 4 else "TAILNET_CLIENT_V6"]

    def server_addr(self, family):
        return self.tn["TAILNET_SERVER_V4" if family == 4 else "TAILNET_SERVER_V6"]

    def start_server(self, *args):
        ready = os.path.join(self.work, "server.ready")
        out = open(os.path.join(self.work, "server.log"), "w")
        p = subprocess.Popen(
            ["ip", "netns", "exec", self.ns("server"), HARNESS_PY,
             os.path.join(HARNESS, "bokeh_server.py"), "--port", str(PORT), "--app", APP,
             "--synth-dir", os.path.join(harness_build(), "synth-static"),
             "--session-log", self.session_log, "--ready-file", ready, "--log-level", "debug"] +
            list(args), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        self.procs.append((p, "bokeh_server"))
        if not wait_until(lambda: os.path.exists(ready) and os.path.getsize(ready) > 0, 30):
            raise RuntimeError("bokeh_server.py did not start: " + self.file_tail("server.log"))

    def file_tail(self, name, n=2000):
        try:
            with open(os.path.join(self.work, name)) as f:
                return f.read()[-n:]
        except OSError:
            return ""

    def sessions(self):
        return read_jsonl_file(self.session_log)

    def session_of_visit(self, visit, timeout=10.0):
        def find():
            for e in self.sessions():
                if e.get("event") == "session_created" and str(e.get("visit")) == str(visit):
                    return e
            return None
        return wait_until(find, timeout)

    # ---------------------------------------------------------------- orphanwatch
    def start_orphanwatch(self, grace, user_opt=True, extra_env=None, extra_args=()):
        args = ["ip", "netns", "exec", self.ns("server"), self.bin, "live", "-i", "tailscale0",
                "--no-ui", "-w", self.db, "--grace", str(grace)] + list(extra_args)
        if user_opt:
            args += ["--user", self.user]
        env = dict(os.environ)
        for k in ("SUDO_UID", "SUDO_GID", "SUDO_USER"):
            env.pop(k, None)
        env.update(extra_env or {})
        self.ow = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, bufsize=1, env=env,
                                   cwd=self.dbdir)
        self.procs.append((self.ow, "orphanwatch"))
        self.ow_out = LineReader(self.ow.stdout)
        self.ow_err = LineReader(self.ow.stderr)
        started = wait_until(lambda: any("capturing on" in l for _, l in self.ow_err.snapshot())
                             or self.ow.poll() is not None, 20)
        if self.ow.poll() is not None or not started:
            raise RuntimeError("orphanwatch live did not start: " +
                               " | ".join(l for _, l in self.ow_err.snapshot()))
        return self.ow

    def ow_lines(self, before=None):
        """Parsed verdict lines [(time, parsed, raw)] printed so far (or before a time)."""
        out = []
        for t, line in self.ow_out.snapshot():
            if before is not None and t >= before:
                continue
            p = parse_verdict_line(line)
            out.append((t, p, line))
        return out

    def stop_orphanwatch(self, sig=signal.SIGINT, timeout=30):
        """Sends sig; returns (exit status, seconds to exit) or (None, timeout) if it hung."""
        t0 = time.time()
        self.ow.send_signal(sig)
        try:
            rc = self.ow.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, timeout
        dt = time.time() - t0
        self.ow_out.join(5)
        self.ow_err.join(5)
        return rc, dt

    def as_user(self, args, timeout=30):
        """Runs args as the unprivileged user (like the person who started `sudo orphanwatch`)."""
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                              user=self.uid, group=self.gid, extra_groups=[], cwd=self.dbdir)

    def report_jsonl(self):
        r = self.as_user([self.bin, "report", self.db, "--format", "jsonl"], timeout=60)
        loads = []
        for line in r.stdout.splitlines():
            try:
                loads.append(json.loads(line))
            except ValueError:
                pass
        return r, loads

    # ---------------------------------------------------------------- clients
    def steer_ports(self, seed, fraction, lo=40000, hi=40399):
        """Sets the client namespace's ephemeral range to lo..hi; use_ports() then picks a
        class. Healthy: not black-holed over v4 nor v6; black-holed: over both."""
        self.steer = {"seed": seed, "fraction": fraction, "lo": lo, "hi": hi}
        self._sysctl("net.ipv4.ip_local_port_range", f"{lo} {hi}")
        self.port_class = {}
        for p in range(lo, hi + 1):
            bh = [tsfwd_blackholed(self.server_addr(f), PORT, self.client_addr(f), p, seed,
                                   fraction) for f in (4, 6)]
            self.port_class[p] = "blackholed" if all(bh) else "healthy" if not any(bh) else "mixed"

    def predicted_blackholed(self, family, cport):
        s = self.steer
        return tsfwd_blackholed(self.server_addr(family), PORT, self.client_addr(family), cport,
                                s["seed"], s["fraction"])

    def use_ports(self, cls):
        usable = [p for p, c in self.port_class.items() if c == cls]
        reserved = [p for p, c in self.port_class.items() if c != cls]
        ranges, start, prev = [], None, None
        for p in sorted(reserved):
            if start is None:
                start = prev = p
            elif p == prev + 1:
                prev = p
            else:
                ranges.append((start, prev))
                start = prev = p
        if start is not None:
            ranges.append((start, prev))
        text = ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in ranges)
        self._sysctl("net.ipv4.ip_local_reserved_ports", text)
        return len(usable)

    def _sysctl(self, key, value):
        r = subprocess.run(["ip", "netns", "exec", self.ns("client"), "sysctl", "-qw",
                            f"{key}={value}"], capture_output=True, text=True, timeout=10)
        if r.returncode != 0:
            raise RuntimeError(f"sysctl {key} in the client namespace: {r.stderr}")

    def client_cmd(self, family, visit, *args, timeout=60):
        return ["ip", "netns", "exec", self.ns("client"), "timeout", str(timeout), HARNESS_PY,
                os.path.join(HARNESS, "client.py"), self.server_url(family, visit)] + list(args)

    def run_client(self, family, visit, *args, timeout=60):
        r = subprocess.run(self.client_cmd(family, visit, *args, timeout=timeout),
                           capture_output=True, text=True, timeout=timeout + 15)
        return self._client_record(r.stdout, r.stderr, family, visit)

    def start_client(self, family, visit, *args, timeout=60):
        out = os.path.join(self.work, f"client{visit}.out")
        f = open(out, "w")
        p = subprocess.Popen(self.client_cmd(family, visit, *args, timeout=timeout),
                             stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        f.close()
        self.procs.append((p, "client.py"))
        return p, out, family, visit

    def finish_client(self, handle, timeout=90):
        p, out, family, visit = handle
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
        with open(out) as f:
            text = f.read()
        return self._client_record(text, "", family, visit)

    def _client_record(self, stdout, stderr, family, visit):
        rec = None
        for line in stdout.splitlines():
            if line.startswith("{"):
                try:
                    rec = json.loads(line)
                except ValueError:
                    pass
        if rec is None:
            rec = {"what": "error", "error": (stdout + stderr).strip()[-500:]}
        rec["family"], rec["visit"] = family, visit
        return rec

    def run_curl(self, family, visit, user_agent, timeout=20):
        r = subprocess.run(["ip", "netns", "exec", self.ns("client"), "curl", "-sS", "-g",
                            "-o", "/dev/null", "--max-time", str(timeout), "-A", user_agent,
                            "-w", "%{http_code} %{local_port}", self.server_url(family, visit)],
                           capture_output=True, text=True, timeout=timeout + 15)
        code, _, port = r.stdout.strip().partition(" ")
        return {"family": family, "visit": visit, "http_code": code,
                "client_port": int(port) if port.isdigit() else None,
                "started_at": None, "rc": r.returncode, "stderr": r.stderr.strip()}

    # ---------------------------------------------------------------- teardown
    def close(self, keep=False):
        if self.poller:
            self.poller.stop()
        for p, name in reversed(self.procs):
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGTERM if name != "orphanwatch" else signal.SIGKILL)
                    p.wait(timeout=5)
                except (subprocess.TimeoutExpired, ProcessLookupError):
                    p.kill()
                    try:
                        p.wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        pass
        if self.tn is not None:
            self.tsfwd_log()
        if os.path.exists(self.state):
            subprocess.run([os.path.join(HARNESS, "tailnet.sh"), "down"], env=self.env,
                           capture_output=True, timeout=120)
        if keep or os.environ.get("OW_LIVE_KEEP"):
            log(f"work directory kept: {self.work}")
        else:
            shutil.rmtree(self.work, ignore_errors=True)


def install_signal_exit():
    """SIGTERM/SIGHUP end the test through its finally blocks (cleanup), like Ctrl-C."""
    def handler(sig, frame):
        raise SystemExit(1)
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


def main(name, run, user="nobody", need=("curl",)):
    """A live test's whole life: the environment checked (else skipped), the capture set up
    for user (a name, or a function giving one after that check), run(live, checks),
    orphanwatch's stderr shown, everything torn down (kept on failure with
    OW_LIVE_KEEP_ON_FAIL=1); exits with the checks' status."""
    install_signal_exit()
    check_environment(need=need)
    c = Checks()
    live = Live(name, user=user() if callable(user) else user)
    t0 = time.time()
    try:
        run(live, c)
    except Exception:
        c.ok("the test ran to completion", False, traceback.format_exc())
    finally:
        if live.ow_err:
            for _, line in live.ow_err.snapshot():
                print(f"orphanwatch stderr: {line}")
        live.close(keep=c.failed > 0 and bool(os.environ.get("OW_LIVE_KEEP_ON_FAIL")))
    log(f"{name} took {time.time() - t0:.1f} s")
    sys.exit(c.finish())
