#!/usr/bin/env bash
# lint_clang_warnings: every C file compiles without a warning under clang too, with the
# project's flags (-std=c11 -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE). The build uses
# gcc, but the fuzz build uses clang, whose -Wall catches more (twice a test's string split over
# two lines in an array, -Wstring-concatenation, showed only in CI's fuzz stage).
# Syntax only (-fsyntax-only): no objects, about 30 s. Skipped (77) without clang.
cd "${OW_SOURCE_DIR:-$(dirname "$0")/../..}" || exit 1
command -v clang >/dev/null || { echo "SKIP: clang is not installed (setup.sh installs it)"; exit 77; }
build="${OW_BUILD_DIR:-build}"
files=$(git ls-files '*.c' 2>/dev/null || find capture decode correlate db ui tests bench -name '*.c')
bad=0
for f in $files; do
  gnu=-D_GNU_SOURCE
  case "$f" in tests/harness/*) gnu= ;; esac # stand-alone helpers define their own
  out=$(clang -std=c11 $gnu '-DOW_VERSION="lint"' -Wall -Wextra -Wno-unused-parameter \
        -I. -I"$build" -fsyntax-only "$f" 2>&1)
  if [ -n "$out" ]; then
    echo "$out"
    echo "warnings in: $f"
    bad=$((bad + 1))
  fi
done
n=$(echo "$files" | wc -w)
echo "$((n - bad)) clean, $bad with warnings"
[ "$bad" -eq 0 ]
