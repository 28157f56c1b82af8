"""Generated traffic against its ground truth: bench/owgen writes hundreds of interleaved page
loads from many IPv4 and IPv6 clients with every failure cause (seeded, so the same file every
run; scripts at 1/64 size to keep it small); orphanwatch must find every page load with the generator's session id, client, outcome
and verdict, and no other."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import captures_outcomes  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
srcs = sorted(os.path.join(ROOT, "bench", f) for f in os.listdir(os.path.join(ROOT, "bench"))
              if f.startswith("owgen") and f.endswith(".c"))
failed = 0
with tempfile.TemporaryDirectory() as tmp:
    gen = os.path.join(tmp, "owgen")
    subprocess.run(["cc", "-O2", "-o", gen] + srcs + ["-lz"], check=True)
    for seed, extra in ((11, ["--clients", "60"]),
                        (12, ["--fail-share", "0.3", "--v6-share", "0.5", "--clients", "20"])):
        pcap = os.path.join(tmp, f"gen{seed}.pcap")
        truth = os.path.join(tmp, f"gen{seed}.json")
        subprocess.run([gen, "-o", pcap, "--truth", truth, "--page-loads", "400", "--small-static",
                        "--seed", str(seed)] + extra, check=True, capture_output=True)
        captures_outcomes.CHECK_VERDICT = True
        n, problems = captures_outcomes.check_capture(pcap, truth, tmp)
        print(f"seed {seed}: {n} page loads, {len(problems)} problems")
        for p in problems[:20]:
            print("   ", p)
        failed += bool(problems)
print(f"{2 - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
