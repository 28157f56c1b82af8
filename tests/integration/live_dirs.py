"""live_dirs: `sudo orphanwatch live` where the user it drops to cannot write (needs root).

live opens the capture as root, then runs as --user (here nobody) for good. Files it makes
later (the database's journal and packed copy, kept packet files) must be makeable by that
user. Checked before anything is captured:
  1. -w into a directory only root can write (0700, root's): exit 1 at once, one line naming
     the directory, the user and what to do; no file left there;
  2. --keep-packets naming an existing directory only root can write: the same;
  3. the same -w into a directory nobody owns: the capture runs (SIGINT after 2 s): exit 0,
     the database is nobody's, 0600, and, no packet having come to the port, the run ends by
     saying so and what to try (another port, or capture behind a proxy: -i lo -p 5006).
Skipped (77) when not root or without a user nobody."""
import os
import pwd
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
from owtest import binary, check, finish, skip  # noqa: E402

PORT = "5999"  # nothing listens there: no packet


def live(args, stop_after=None):
    cmd = [binary(), "live", "-i", "lo", "-p", PORT, "--no-ui", "--user", "nobody"] + args
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if stop_after is not None:
        time.sleep(stop_after)
        p.send_signal(signal.SIGINT)
    try:
        out, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        err += "\n(killed: still running after 30 s)"
    return p.returncode, err


def main():
    if os.geteuid() != 0:
        skip("live capture and dropping to another user need root (CI runs as root)")
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        skip("no user nobody")
    binary()
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        closed = os.path.join(tmp, "root-only")
        os.mkdir(closed, 0o700)
        rc, err = live(["-w", os.path.join(closed, "ow.db")])
        check(rc == 1, "-w in a root-only directory: exit 1", f"exit {rc}: {err}")
        check(closed in err and "nobody" in err and "--user" in err and
              err.count("orphanwatch:") == 1, "-w in a root-only directory: one line, naming "
              "the directory, the user and what to do", err)
        check(os.listdir(closed) == [], "-w in a root-only directory: nothing left there",
              str(os.listdir(closed)))

        open_dir = os.path.join(tmp, "nobodys")
        os.mkdir(open_dir, 0o700)
        os.chown(open_dir, nobody.pw_uid, nobody.pw_gid)
        rc, err = live(["-w", os.path.join(open_dir, "ow.db"), "--keep-packets", closed])
        check(rc == 1 and closed in err and "kept packets" in err,
              "--keep-packets in a root-only directory: exit 1, said", f"exit {rc}: {err}")
        check(os.listdir(open_dir) == [], "--keep-packets refused: no database made",
              str(os.listdir(open_dir)))

        db = os.path.join(open_dir, "ow.db")
        rc, err = live(["-w", db], stop_after=2.0)
        check(rc == 0, "-w in nobody's directory: runs, exit 0 after SIGINT", f"exit {rc}: {err}")
        st = os.stat(db) if os.path.exists(db) else None
        check(st is not None and (st.st_uid, st.st_mode & 0o777) == (nobody.pw_uid, 0o600),
              "the database is nobody's, 0600", str(st))
        check(f"No packet to or from port {PORT} was captured" in err and
              "-i lo -p 5006" in err, "no packet on the port: said, with what to try", err)
    finish()


if __name__ == "__main__":
    main()
