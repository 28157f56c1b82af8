#!/usr/bin/env bash
# Every C file follows the repository's .clang-format (clang-format --dry-run --Werror).
cd "${OW_SOURCE_DIR:-$(dirname "$0")/../..}" || exit 1
command -v clang-format >/dev/null || { echo "SKIP: clang-format is not installed"; exit 77; }
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find capture decode correlate db ui tests bench -name '*.[ch]')
bad=0
for f in $files; do
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || { echo "not formatted: $f"; bad=$((bad + 1)); }
done
n=$(echo "$files" | wc -w)
echo "$((n - bad)) passed, $bad failed"
[ "$bad" -eq 0 ]
