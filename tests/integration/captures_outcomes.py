"""Every shared capture against its ground truth (issue 2): orphanwatch must find every page
load of the manifest, with the exact session id and client address, the expected outcome, and
no page load the manifest does not have. Needs ORPHANWATCH_CAPTURES (skips with 77 without)."""
import glob
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
from owtest import captures_or_skip, read_jsonl  # noqa: E402

CHECK_VERDICT = os.environ.get("OW_CHECK", "outcome") == "verdict"


def check_capture(pcap, manifest, tmp):
    truth = json.load(open(manifest))
    server = truth.get("server", {})
    ports = [i["port"] for i in server.get("instances", [])] or [server.get("port", 5006)]
    rows = read_jsonl(pcap, tmp, [a for port in ports for a in ("-p", str(port))])
    got = {r["session_id"]: r for r in rows}
    problems = []
    for pl in truth["page_loads"]:
        sid = pl["session_id"]
        r = got.pop(sid, None)
        if r is None:
            problems.append(f"visit {pl['visit']}: session {sid} not found")
            continue
        if r["client"] != pl["client"]:
            problems.append(f"visit {pl['visit']}: client {r['client']} != {pl['client']}")
        if r["outcome"] != pl["expected_outcome"]:
            problems.append(f"visit {pl['visit']}: outcome {r['outcome']} != {pl['expected_outcome']}")
        if CHECK_VERDICT and r["verdict"] != pl["expected_cause"]:
            problems.append(f"visit {pl['visit']}: verdict {r['verdict']} != {pl['expected_cause']}"
                            f" ({r.get('summary')})")
    for sid, r in got.items():
        problems.append(f"extra page load {sid} {r['path']} ({r['outcome']})")
    return len(truth["page_loads"]), problems


def main():
    cap_dir = captures_or_skip()
    failed = passed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for pcap in sorted(glob.glob(os.path.join(cap_dir, "*.pcap"))):
            manifest = pcap[:-5] + ".json"
            if not os.path.exists(manifest):
                continue
            n, problems = check_capture(pcap, manifest, tmp)
            name = os.path.basename(pcap)
            if problems:
                failed += 1
                print(f"FAIL {name}: {len(problems)} problem(s) in {n} page loads")
                for p in problems:
                    print("   ", p)
            else:
                passed += 1
                print(f"ok   {name}: {n} page loads match")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed or not passed else 0)


if __name__ == "__main__":
    main()
