"""owtest: small helpers shared by the Python integration tests (counted checks, finding the
binary and the captures, running `orphanwatch read` into a database, reading jsonl)."""
import json
import os
import sqlite3
import subprocess
import sys

SKIP = 77
results = {"passed": 0, "failed": 0}


def check(cond, what, detail=""):
    """One assertion: "ok   WHAT" or "FAIL WHAT: DETAIL", counted for finish()."""
    if cond:
        results["passed"] += 1
        print(f"ok   {what}")
    else:
        results["failed"] += 1
        print(f"FAIL {what}{': ' + detail if detail else ''}")
    return cond


def finish():
    """Prints the counts and exits non-zero when any check failed."""
    print(f"{results['passed']} passed, {results['failed']} failed")
    sys.exit(1 if results["failed"] else 0)


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(SKIP)


def binary():
    b = os.environ.get("ORPHANWATCH_BIN")
    if not b or not os.path.exists(b):
        here = os.path.dirname(os.path.abspath(__file__))
        b = os.path.join(here, "..", "..", "build", "orphanwatch")
    if not os.path.exists(b):
        print("orphanwatch binary not found (set ORPHANWATCH_BIN)")
        sys.exit(1)
    return b


def captures_or_skip():
    d = os.environ.get("ORPHANWATCH_CAPTURES", "")
    if not d or not os.path.isdir(d):
        skip("ORPHANWATCH_CAPTURES is not set or missing: the shared captures are not here")
    return d


def run(args, check=True, **kw):
    p = subprocess.run([binary()] + args, capture_output=True, text=True, **kw)
    if check and p.returncode != 0:
        raise RuntimeError(f"orphanwatch {' '.join(args)} failed ({p.returncode}): {p.stderr}")
    return p


def read_db(pcap, tmp, extra=()):
    db = os.path.join(tmp, os.path.basename(pcap) + ".db")
    if os.path.exists(db):
        os.unlink(db)
    run(["read", pcap, "-w", db, "-q"] + list(extra))
    return db


def read_jsonl(pcap, tmp, extra=()):
    db = read_db(pcap, tmp, extra)
    out = run(["report", db, "--format", "jsonl"]).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def outcomes_now(db):
    """The page loads' outcomes as another reader of db sees them now (a database being
    written); the error's text when it cannot be read."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
            return [r[0] for r in c.execute("SELECT outcome FROM page_loads")]
    except sqlite3.Error as e:
        return [str(e)]
