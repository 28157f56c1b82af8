"""live_iface_gone: `orphanwatch live` on a TUN device that goes away under it (needs root).

tailscaled owns tailscale0: when it stops or restarts, the TUN device is deleted (and made
anew). This test makes a TUN device the same way (TUNSETIFF on /dev/net/tun, not persistent),
brings it up, starts `orphanwatch live -i DEV --no-ui -w DB --user nobody`, writes every
packet of the bundled sample into the device (each is captured as it arrives), waits until
its page loads are in the database, then closes the device's descriptor: the device
disappears under the capture, as tailscale0 does.

Asserts: orphanwatch exits 1 within 10 s; stderr names the interface, says it went away and
what to do (start again, or a supervisor), and "stopped (error)"; the database is complete:
integrity ok, end_reason 'error', every packet written counted (the ring's last block, which
the kernel hands over only after saying the device is gone, was lost in 2 of 4 runs before
orphanwatch waited for it), the sample's page loads there.
A device only taken down (not deleted) does not stop the capture. Skipped (77) when not root
or without /dev/net/tun."""
import fcntl
import os
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
import pcaptool  # noqa: E402
from live_lib import wait_until  # noqa: E402
from owtest import binary, check, finish, skip  # noqa: E402

SAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "sample.pcap")
TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000


def make_tun(name):
    """A TUN device that lives as long as the returned descriptor (as tailscaled's does)."""
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    subprocess.run(["ip", "link", "set", name, "up"], check=True)
    return fd


def rows(db, sql):
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()
    except sqlite3.Error:
        return None


def page_loads_of_sample(tmp):
    db = os.path.join(tmp, "file.db")
    subprocess.run([binary(), "read", SAMPLE, "-w", db, "-q"], check=True, timeout=60)
    return rows(db, "SELECT count(*) FROM page_loads")[0][0]


def main():
    if os.geteuid() != 0:
        skip("a TUN device and a live capture need root (CI runs as root)")
    if not os.path.exists("/dev/net/tun"):
        skip("no /dev/net/tun")
    packets = [pkt for _, pkt, _ in pcaptool.read_pcap(SAMPLE)]
    name = f"owgone{os.getpid() % 100000}"
    with tempfile.TemporaryDirectory() as tmp:
        expected = page_loads_of_sample(tmp)
        os.chmod(tmp, 0o777)  # live runs as nobody once the device is open
        db = os.path.join(tmp, "live.db")
        fd = make_tun(name)
        ow = subprocess.Popen([binary(), "live", "-i", name, "--no-ui", "-w", db, "--user",
                               "nobody"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            check(wait_until(lambda: rows(db, "SELECT count(*) FROM captures") == [(1,)], 15),
                  "live started: its capture row is in the database")
            time.sleep(0.5)
            subprocess.run(["ip", "link", "set", name, "down"], check=True)
            time.sleep(1.5)
            check(ow.poll() is None, "the device taken down (not deleted): still capturing")
            subprocess.run(["ip", "link", "set", name, "up"], check=True)
            for pkt in packets:
                os.write(fd, pkt)
            check(wait_until(lambda: rows(db, "SELECT count(*) FROM page_loads") ==
                           [(expected,)], 20),
                  f"the sample's {expected} page loads are in the database while live runs",
                  str(rows(db, "SELECT count(*) FROM page_loads")))
            gone = time.time()
            os.close(fd)  # the device goes away, as tailscale0 does when tailscaled stops
            fd = -1
            try:
                ow.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            took = time.time() - gone
            check(ow.poll() == 1, "the interface gone: exit 1", f"{ow.poll()} after {took:.1f} s")
        finally:
            if fd >= 0:
                os.close(fd)
            if ow.poll() is None:
                ow.kill()
            _, err = ow.communicate()
        err = err.decode(errors="replace")
        check(f"{name}: The interface disappeared" in err or f"{name}: The interface went down"
              in err, "stderr names the interface and says it went away", err)
        check("start it again once the interface is back" in err and "Restart=on-failure" in err,
              "stderr says what to do", err)
        check("stopped (error)" in err, "said: stopped (error)", err)
        check(rows(db, "PRAGMA integrity_check") == [("ok",)], "the database: integrity ok")
        check(rows(db, "SELECT end_reason FROM captures") == [("error",)],
              "the database: end_reason 'error'", str(rows(db, "SELECT end_reason FROM captures")))
        check(rows(db, "SELECT packets FROM captures") == [(len(packets),)],
              f"the database: all {len(packets)} packets written were counted",
              str(rows(db, "SELECT packets FROM captures")))
        check(rows(db, "SELECT count(*) FROM page_loads") == [(expected,)],
              f"the database: the {expected} page loads kept")
    finish()


if __name__ == "__main__":
    main()
