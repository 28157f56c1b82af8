#!/usr/bin/env python3
"""query_schema_doc: docs/schema.md is what db/schema_doc.py makes of db/schema.sql today,
it names every table and column SQLite finds in the schema, and a stale copy is caught."""
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

SRC = os.environ.get("OW_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
GEN = os.path.join(SRC, "db", "schema_doc.py")
SCHEMA = os.path.join(SRC, "db", "schema.sql")
DOC = os.path.join(SRC, "docs", "schema.md")
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def run_check(out):
    return subprocess.run([sys.executable, GEN, "--check", "--out", out], capture_output=True,
                          text=True)


def sections(doc):
    """table name -> its section's text"""
    parts = re.split(r"^## `(\w+)`$", doc, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def main():
    r = run_check(DOC)
    check(r.returncode == 0, "docs/schema.md is up to date (else: python3 db/schema_doc.py)\n" +
          r.stdout[-2000:])
    with open(DOC, encoding="utf-8") as f:
        doc = f.read()
    db = sqlite3.connect(":memory:")
    with open(SCHEMA, encoding="utf-8") as f:
        db.executescript(f.read())
    version = db.execute("PRAGMA user_version").fetchone()[0]
    check("(version %d)" % version in doc, "the doc names schema version %d" % version)
    secs = sections(doc)
    for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND "
                               "name NOT LIKE 'sqlite_%'"):
        check(table in secs, "table %s documented" % table)
        for col in db.execute("PRAGMA table_info(%s)" % table):
            check("| `%s` |" % col[1] in secs.get(table, ""), "column %s.%s documented" %
                  (table, col[1]))
    for (view,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'view'"):
        check("### `%s`" % view in doc, "view %s documented" % view)
    with tempfile.TemporaryDirectory() as tmp:
        stale = os.path.join(tmp, "schema.md")
        shutil.copy(DOC, stale)
        with open(stale, "a", encoding="utf-8") as f:
            f.write("edited by hand\n")
        check(run_check(stale).returncode == 1, "a stale copy is detected")
    if failures:
        print("%d failed" % len(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
