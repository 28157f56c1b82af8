#!/usr/bin/env bash
# lint_static: the static analysis of tests/lint/run.sh (clang-tidy + cppcheck over capture/
# decode/ correlate/ db/ ui/) as a test: fails on any finding not known (see run.sh).
# Skipped (77) when clang-tidy or cppcheck is missing, and in a sanitizer build (the sources
# are the same: the plain build's run already analysed them).
set -u
src="${OW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
for t in "${CLANG_TIDY:-clang-tidy}" "${CPPCHECK:-cppcheck}"; do
    command -v "$t" >/dev/null || { echo "SKIP: $t is not installed"; exit 77; }
done
build="${OW_BUILD_DIR:-}"
if [ -n "$build" ] && grep -qE '^OW_(SANITIZE|FUZZ):BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
    echo "SKIP: sanitizer build: the same sources are analysed in the plain build"
    exit 77
fi
# reuse the test build's compile_commands.json when it has one, else run.sh configures its own
if [ -n "$build" ] && [ -f "$build/compile_commands.json" ]; then
    export OW_LINT_BUILD_DIR="$build"
fi
exec bash "$src/tests/lint/run.sh"
