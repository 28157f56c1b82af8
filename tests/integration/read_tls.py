"""read_tls: HTTPS on the Bokeh port (a TLS proxy or `tailscale serve` in front of the server,
or `bokeh serve --ssl-certfile`), with real TLS made by Python's ssl module (OpenSSL).

A capture holds two page loads of the same Bokeh page: one in plain HTTP, one inside a TLS 1.3
connection (a real handshake and real records, with a certificate made by the openssl command).
`orphanwatch read -w DB` must:
  - see the plain page load, and nothing of the encrypted one (no page load, no HTTP request);
  - count the encrypted connection (tls_connections 1) and store it as kind 'tls';
  - report no decoding error for it (no http_errors, no websocket found in its bytes);
  - say what to do, both on stderr after the read and in the report: capture behind the TLS
    proxy (-i lo -p 5006).
Skipped (77) without the openssl command (apt-get install openssl)."""
import os
import shutil
import sqlite3
import ssl
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "harness"))
sys.path.insert(0, os.path.join(HERE, "..", "hostile"))
import craft  # noqa: E402
from owtest import check, finish, run, skip  # noqa: E402


def make_cert(tmp):
    key, crt = os.path.join(tmp, "key.pem"), os.path.join(tmp, "crt.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=bokeh.tailnet.example", "-keyout", key, "-out", crt],
                   check=True, capture_output=True)
    return key, crt


class TlsPair:
    """A TLS client and server talking through memory: every record either side sends is
    handed to emit(from_client, bytes), in the order it is sent."""

    def __init__(self, key, crt, emit):
        cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        cctx.check_hostname = False
        cctx.verify_mode = ssl.CERT_NONE
        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sctx.load_cert_chain(crt, key)
        self.cin, self.cout, self.sin, self.sout = (ssl.MemoryBIO() for _ in range(4))
        self.c = cctx.wrap_bio(self.cin, self.cout, server_side=False)
        self.s = sctx.wrap_bio(self.sin, self.sout, server_side=True)
        self.emit = emit

    def pump(self):
        """Moves what each side wrote to the other; True when anything moved."""
        moved = False
        for out, peer_in, from_client in ((self.cout, self.sin, True),
                                          (self.sout, self.cin, False)):
            data = out.read()
            if data:
                self.emit(from_client, data)
                peer_in.write(data)
                moved = True
        return moved

    def handshake(self):
        done = [False, False]
        for _ in range(20):
            for i, side in enumerate((self.c, self.s)):
                if not done[i]:
                    try:
                        side.do_handshake()
                        done[i] = True
                    except ssl.SSLWantReadError:
                        pass
            if not self.pump() and all(done):
                return
        raise RuntimeError("TLS handshake did not finish")

    def send(self, from_client, data):
        (self.c if from_client else self.s).write(data)
        self.pump()
        peer = self.s if from_client else self.c
        got = b""
        while len(got) < len(data):
            try:
                got += peer.read(65536)
            except ssl.SSLWantReadError:
                if not self.pump():
                    break
        return got


def page_exchange(tok, visit):
    req = craft.http_request("GET", f"/app?visit={visit}", [("User-Agent", "read_tls")])
    resp = craft.http_response(200, [("Content-Type", "text/html")], craft.bokeh_page(tok))
    return req, resp


def make_capture(path, key, crt):
    with craft.PcapWriter(path) as w:
        plain = craft.TcpConn(w, cport=41000).handshake()
        req, resp = page_exchange(craft.bokeh_token(craft.session_id(1), w.now + 300), 1)
        plain.c2s(req)
        plain.s2c(resp)
        plain.close()
        enc = craft.TcpConn(w, cport=41010).handshake()
        pair = TlsPair(key, crt, lambda from_client, b: enc.send(from_client, b))
        pair.handshake()
        req, resp = page_exchange(craft.bokeh_token(craft.session_id(2), w.now + 300), 2)
        check(pair.send(True, req) == req, "TLS: the server decrypted the request")
        check(pair.send(False, resp) == resp, "TLS: the client decrypted the page")
        enc.close()


def main():
    if not shutil.which("openssl"):
        skip("no openssl command to make a certificate (apt-get install openssl)")
    with tempfile.TemporaryDirectory() as tmp:
        key, crt = make_cert(tmp)
        pcap = os.path.join(tmp, "https.pcap")
        make_capture(pcap, key, crt)
        db = os.path.join(tmp, "https.db")
        r = run(["read", pcap, "-w", db], check=False)
        check(r.returncode == 0, "read: exit 0", r.stderr)
        check("1 connection to port 5006 was encrypted (TLS)" in r.stderr and
              "-i lo -p 5006" in r.stderr, "read: said on stderr, with what to capture instead",
              r.stderr)
        c = sqlite3.connect(db)
        pages = c.execute("SELECT count(*) FROM page_loads").fetchone()[0]
        check(pages == 1, "the plain page load is seen, the encrypted one is not", str(pages))
        kinds = dict(c.execute("SELECT client_port, kind FROM connections").fetchall())
        check(kinds.get(41000) == "http" and kinds.get(41010) == "tls",
              "connections: the plain one http, the encrypted one tls", str(kinds))
        counters = c.execute("SELECT json_extract(counters, '$.tls_connections'), "
                             "json_extract(counters, '$.http_errors'), "
                             "json_extract(counters, '$.http_requests'), "
                             "json_extract(counters, '$.ws_midstream') FROM captures").fetchone()
        check(counters == (1, 0, 1, 0),
              "counters: tls_connections 1, no HTTP error, only the plain request, no websocket",
              str(counters))
        c.close()
        rep = run(["report", db], check=False)
        check(rep.returncode == 0 and "encrypted (TLS)" in rep.stdout and
              "tailscale serve" in rep.stdout, "report: says so under what it could not see",
              rep.stdout[-2000:])
    finish()


if __name__ == "__main__":
    main()
