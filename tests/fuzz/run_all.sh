#!/usr/bin/env bash
# Builds every libFuzzer target (clang, ASan+UBSan) and runs each for SECONDS (default 60)
# on its seed corpus (tests/fuzz/corpus/<name>/, copied so the repo is not written; capture and
# pipeline also get windows of tests/data/sample.pcap, cut by seeds_from_pcap.py).
# A crash fails the run and leaves the input in build-fuzz/crashes/.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-60}
CC=clang OW_BUILD_DIR=build-fuzz OW_CMAKE_ARGS="-DOW_FUZZ=ON -DCMAKE_C_COMPILER=clang" ./setup.sh
mkdir -p build-fuzz/crashes
status=0
for src in tests/fuzz/fuzz_*.c; do
  name=$(basename "$src" .c)
  corpus_name=${name#fuzz_}
  work=build-fuzz/corpus-run/$corpus_name
  mkdir -p "$work"
  if [[ -d tests/fuzz/corpus/$corpus_name ]]; then cp -r tests/fuzz/corpus/"$corpus_name"/. "$work"/; fi
  # the whole-file targets start from windows of the bundled sample's page loads (without
  # them a 60 s run stays in the file header: coverage 264 against 1,717 in 25 s)
  if [[ $corpus_name == capture || $corpus_name == pipeline ]]; then
    python3 tests/fuzz/seeds_from_pcap.py tests/data/sample.pcap "$work"
  fi
  echo "fuzz: $name for ${secs}s"
  if ! ASAN_OPTIONS=detect_leaks=1 ./build-fuzz/tests/"$name" -max_total_time="$secs" \
       -max_len=65536 -artifact_prefix=build-fuzz/crashes/"$name"- -print_final_stats=1 \
       "$work" 2>build-fuzz/"$name".log; then
    echo "fuzz: $name FAILED (see build-fuzz/$name.log and build-fuzz/crashes/)"; tail -40 build-fuzz/"$name".log
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" build-fuzz/"$name".log | tr '\n' ' '; echo
  fi
done
exit $status
