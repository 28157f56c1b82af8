"""The bundled sample (tests/data/sample.pcap, made by bench/make_sample.sh) against its ground
truth: every page load (IPv4 and IPv6) found with its session id, client, outcome and verdict.
Runs everywhere: it needs nothing outside the repository."""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import captures_outcomes  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
data = os.path.join(here, "..", "data")
captures_outcomes.CHECK_VERDICT = True
with tempfile.TemporaryDirectory() as tmp:
    n, problems = captures_outcomes.check_capture(os.path.join(data, "sample.pcap"),
                                                  os.path.join(data, "sample.json"), tmp)
for p in problems:
    print("   ", p)
print(f"sample: {n} page loads, {len(problems)} problems")
print(f"{0 if problems else 1} passed, {1 if problems else 0} failed")
sys.exit(1 if problems else 0)
