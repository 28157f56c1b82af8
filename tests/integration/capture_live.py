"""capture_live: live capture end to end on this host (needs root): on `lo` (Ethernet link
type) and `any` (Linux cooked SLL2), over IPv4 and IPv6, a real TCP exchange on a free port
reaches the sink with its exact byte counts; privileges are dropped right after opening; the
interface list names lo. Skipped (77) when not root or the binary is missing."""
import os
import socket
import subprocess
import sys
import threading
import time

BIN = os.path.join(os.environ.get("OW_BUILD_DIR", ""), "tests", "test_capture_basic")
C2S, S2C = 1000, 50000


def skip(why):
    print(f"skipped: {why}")
    sys.exit(77)


def free_port(family):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
        return s.getsockname()[1]


def serve(sock):
    conn, _ = sock.accept()
    with conn:
        got = 0
        while got < C2S:
            d = conn.recv(65536)
            if not d:
                break
            got += len(d)
        conn.sendall(b"B" * S2C)
        conn.shutdown(socket.SHUT_WR)
        conn.recv(1)


def exchange(family, host, port):
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, port))
    srv.listen(1)
    t = threading.Thread(target=serve, args=(srv,))
    t.start()
    with socket.create_connection((host, port)) as c:
        c.sendall(b"A" * C2S)
        got = 0
        while got < S2C:
            d = c.recv(65536)
            if not d:
                break
            got += len(d)
    t.join()
    srv.close()


def run(iface, family, host):
    port = free_port(family)
    p = subprocess.Popen([BIN, "--live", iface, "3", str(port)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    first = p.stdout.readline()  # "uid N fd N": the capture is open
    if not first.startswith("uid"):
        out, err = p.communicate()
        return [f"{iface}: did not start: {first}{out}{err}"]
    time.sleep(0.3)
    exchange(family, host, port)
    out, err = p.communicate(timeout=30)
    problems = []
    uid = int(first.split()[1])
    if os.geteuid() == 0 and uid == 0:
        problems.append(f"{iface}: still root after opening")
    flows = [l.split() for l in out.splitlines() if l.startswith("flow ")]
    mine = [w for w in flows if w[4] == str(port)]
    if len(mine) != 1:
        problems.append(f"{iface} {host}: expected one connection on port {port}: {out}{err}")
    else:
        w = mine[0]
        if (int(w[6]), int(w[8])) != (C2S, S2C):
            problems.append(f"{iface} {host}: bytes {w[6]}/{w[8]} instead of {C2S}/{S2C}")
        if w[3] != host:
            problems.append(f"{iface}: server address {w[3]} instead of {host}")
        if w[16] != "fin":
            problems.append(f"{iface} {host}: closed by {w[16]}")
    print(f"{iface} {host}: {first.strip()} | {[l for l in out.splitlines() if l.startswith('live')]}"
          f" | {mine}")
    return problems


def main():
    if os.geteuid() != 0:
        skip("live capture needs root")
    if not os.access(BIN, os.X_OK):
        skip(f"{BIN} not built")
    listing = subprocess.run([BIN, "--interfaces"], capture_output=True, text=True).stdout
    problems = [] if any(l.startswith("lo ") for l in listing.splitlines()) else \
        ["the interface list does not name lo"]
    for iface in ("lo", "any"):
        problems += run(iface, socket.AF_INET, "127.0.0.1")
        if socket.has_ipv6:
            problems += run(iface, socket.AF_INET6, "::1")
    for p in problems:
        print("FAIL", p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
