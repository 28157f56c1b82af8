"""Differential test against tshark (issue 2): for every shared capture, the number of HTTP
requests, HTTP responses and WebSocket frames by opcode that orphanwatch decodes equals what
tshark reports for the same file (server port decoded as HTTP, body desegmentation off so a
response cut short still counts its head, as orphanwatch does)."""
import collections
import glob
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
from owtest import captures_or_skip, read_db, skip  # noqa: E402

PORT = 5006


def tshark_counts(pcap, port=PORT):
    out = subprocess.run(
        ["tshark", "-r", pcap, "-n", "-d", f"tcp.port=={port},http",
         "-o", "http.desegment_body:FALSE", "-o", "tcp.check_checksum:FALSE",
         "-Y", "http or websocket", "-T", "fields",
         "-e", "http.request.method", "-e", "http.response.code", "-e", "websocket.opcode",
         "-E", "occurrence=a", "-E", "aggregator=,"],
        capture_output=True, text=True, check=True).stdout
    c = collections.Counter()
    for line in out.splitlines():
        methods, codes, opcodes = (line.split("\t") + ["", "", ""])[:3]
        c["requests"] += len([m for m in methods.split(",") if m])
        c["responses"] += len([x for x in codes.split(",") if x])
        for op in opcodes.split(","):
            if op:
                c[f"ws_opcode_{int(op, 0)}"] += 1
    return c


def orphanwatch_counts(db):
    con = sqlite3.connect(db)
    c = collections.Counter()
    c["requests"] = con.execute(
        "SELECT COUNT(*) FROM http_exchanges WHERE method IS NOT NULL AND method <> ''").fetchone()[0]
    c["responses"] = con.execute(
        "SELECT COUNT(*) FROM http_exchanges WHERE status > 0").fetchone()[0]
    for (counts,) in con.execute("SELECT opcode_counts FROM websockets WHERE opcode_counts IS NOT NULL"):
        for op, n in json.loads(counts).items():
            c[f"ws_opcode_{int(op)}"] += n
    con.close()
    return +c


def main():
    cap_dir = captures_or_skip()
    if not shutil.which("tshark"):
        skip("tshark is not installed (apt-get install tshark)")
    failed = passed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for pcap in sorted(glob.glob(os.path.join(cap_dir, "*.pcap"))):
            want = +tshark_counts(pcap)
            got = orphanwatch_counts(read_db(pcap, tmp))
            name = os.path.basename(pcap)
            if want == got:
                passed += 1
                print(f"ok   {name}: {dict(sorted(got.items()))}")
            else:
                failed += 1
                keys = sorted(set(want) | set(got))
                diff = {k: (got.get(k, 0), want.get(k, 0)) for k in keys if got.get(k, 0) != want.get(k, 0)}
                print(f"FAIL {name}: orphanwatch vs tshark {diff}")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
