#!/usr/bin/env python3
"""synth_db_linear: tests/harness/synth_db.py builds in time linear in its page loads.

The benchmark's 1,000,000-page-load database took an hour: synth_db.py built every index after
the rows, and the trigger http_exchanges_insert looks evidence up by http_id, so each exchange
inserted scanned the whole evidence table. The indexes triggers look rows up by are now built
first (synth_db.TRIGGER_LOOKUPS). This counts SQLite's virtual machine steps (a measure of the
work that does not depend on the machine's speed) per page load for a small and an eight times
larger build, in batches small enough that each batch's rows meet the earlier batches' evidence,
and fails when the larger one costs clearly more per page load: a trigger scanning a table again.
"""
import os
import sys
import tempfile

SRC = os.environ.get("OW_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
sys.path.insert(0, os.path.join(SRC, "tests", "harness"))
sys.dont_write_bytecode = True  # no __pycache__ left in the source tree
import synth_db  # noqa: E402

SMALL, LARGE = 1000, 8000
BATCH = 500          # page loads per executemany batch (the benchmark uses synth_db.CHUNK)
MAX_GROWTH = 1.5     # steps per page load, large over small; linear is ~1.0, the bug gave ~9


def steps_per_page_load(directory, page_loads):
    """SQLite VM steps (in thousands) per page load while synth_db's rows go in."""
    calls = [0]

    def tick():
        calls[0] += 1
        return 0

    synth_db.build(os.path.join(directory, "synth-%d.db" % page_loads), page_loads, seed=5,
                   progress=tick)
    return calls[0] / page_loads


def main():
    synth_db.CHUNK = BATCH
    with tempfile.TemporaryDirectory(prefix="ow_synth_linear_") as d:
        small = steps_per_page_load(d, SMALL)
        large = steps_per_page_load(d, LARGE)
    growth = large / small if small else float("inf")
    print("k steps per page load: %.3f at %d, %.3f at %d (x%.2f; at most x%.1f)"
          % (small, SMALL, large, LARGE, growth, MAX_GROWTH))
    if small <= 0 or growth > MAX_GROWTH:
        print("FAIL synth_db.py's work per page load grows with the database: a trigger "
              "scans a table (an index missing from synth_db.TRIGGER_LOOKUPS?)")
        return 1
    print("all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
