#!/usr/bin/env bash
# tests/lint/run.sh: static analysis of orphanwatch's C sources (capture/ decode/ correlate/ db/
# ui/), for CI and by hand. Exits 0 when clean, 1 on any finding, 77 when a tool is missing.
#
#   clang-tidy  with tests/lint/clang-tidy.yaml (bugprone-*, cert-*, clang-analyzer-*; each
#               exclusion is explained there), over the compile_commands.json of a build
#               configured for it (OW_LINT_BUILD_DIR, else a temporary one: configure only);
#               findings in project headers count once. Known findings in folders this
#               check's owner may not edit are listed in tests/lint/tidy-known.txt (file, check
#               and the source line, reported to their owners): they are shown but do not fail;
#               any other finding, a new one in those files included, fails.
#   cppcheck    --enable=warning,performance,portability --inline-suppr, the project's include
#               path, tests/lint/cppcheck_defs.h (macros from system headers it does not read)
#               and tests/lint/cppcheck-suppressions.xml (false positives in other owners' files).
#
# False positives in decode/, correlate/ and ui/ are silenced inline where they happen:
#   /* NOLINT(check): why */  /* NOLINTNEXTLINE(check) */  /* cppcheck-suppress id ; why */
# Environment: CLANG_TIDY, CPPCHECK (tool names), OW_LINT_BUILD_DIR, OW_LINT_JOBS (default nproc).
set -u
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
tidy=${CLANG_TIDY:-clang-tidy}
cppcheck=${CPPCHECK:-cppcheck}
jobs=${OW_LINT_JOBS:-$(nproc 2>/dev/null || echo 2)}

for t in "$tidy" "$cppcheck" cmake python3; do
    command -v "$t" >/dev/null || { echo "SKIP: $t is not installed"; exit 77; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
build=${OW_LINT_BUILD_DIR:-$tmp/build}
if [ ! -f "$build/compile_commands.json" ]; then
    cmake -S "$src" -B "$build" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >"$tmp/cmake.log" 2>&1 ||
        { cat "$tmp/cmake.log"; echo "lint: cmake could not configure a build"; exit 1; }
fi

cd "$src" || exit 1
files=()
for d in capture decode correlate db ui; do
    for f in "$d"/*.c; do [ -f "$f" ] && files+=("$f"); done
done

# ---- clang-tidy: one process per file, $jobs at a time
start=$(date +%s)
printf '%s\n' "${files[@]}" |
    xargs -P "$jobs" -I{} sh -c '"$0" -p "$1" --config-file="$2" --quiet \
        --header-filter="^$3/(capture|decode|correlate|db|ui)/" "$4" >"$5/tidy.$(echo "$4" | tr / _).txt" 2>&1' \
        "$tidy" "$build" "$here/clang-tidy.yaml" "$src" {} "$tmp"
cat "$tmp"/tidy.*.txt >"$tmp/tidy.txt" 2>/dev/null
python3 - "$src" "$here/tidy-known.txt" "$tmp/tidy.txt" >"$tmp/tidy.report" <<'EOF'
import os, re, sys
src, known_file, out = sys.argv[1:4]
pat = re.compile(r"^(/[^:]+):(\d+):(\d+): (warning|error): (.*?) \[([\w.,-]+)\]$")
known = set()
for line in open(known_file, encoding="utf-8"):
    line = line.rstrip("\n")
    if line.strip() and not line.lstrip().startswith("#"):
        f, check, text = line.split("|", 2)
        known.add((f.strip(), check.strip(), " ".join(text.split())))
seen, new, old = set(), [], []
for line in open(out, encoding="utf-8", errors="replace"):
    m = pat.match(line.rstrip("\n"))
    if not m:
        continue
    path, ln, col, kind, msg, checks = m.groups()
    rel = os.path.relpath(path, src)
    key = (rel, ln, col, checks)
    if key in seen:
        continue
    seen.add(key)
    try:
        text = open(path, encoding="utf-8", errors="replace").read().splitlines()[int(ln) - 1]
    except (OSError, IndexError):
        text = ""
    entry = f"{rel}:{ln}:{col}: {kind}: {msg} [{checks}]"
    if any((rel, c, " ".join(text.split())) in known for c in checks.split(",")):
        old.append(entry)
    else:
        new.append(entry + "\n    " + text.strip())
for e in old:
    print("known " + e)
for e in new:
    print("NEW   " + e)
print(f"clang-tidy: {len(new)} findings, {len(old)} known (tests/lint/tidy-known.txt)")
sys.exit(1 if new else 0)
EOF
tidy_rc=$?
cat "$tmp/tidy.report"
echo "clang-tidy: ${#files[@]} files in $(( $(date +%s) - start )) s"

# ---- cppcheck
"$cppcheck" --enable=warning,performance,portability --error-exitcode=1 --inline-suppr \
    --suppress-xml="$here/cppcheck-suppressions.xml" --include="$here/cppcheck_defs.h" \
    -I "$src" --std=c11 -D_GNU_SOURCE -j "$jobs" --quiet \
    --template='{file}:{line}:{column}: {severity}: {message} [{id}]' \
    capture decode correlate db ui >"$tmp/cppcheck.txt" 2>&1
cpp_rc=$?
cat "$tmp/cppcheck.txt"
echo "cppcheck: $(grep -c ': \(error\|warning\|performance\|portability\|style\): ' "$tmp/cppcheck.txt") findings (exit $cpp_rc)"

passed=0 failed=0
[ "$tidy_rc" -eq 0 ] && passed=$((passed + 1)) || failed=$((failed + 1))
[ "$cpp_rc" -eq 0 ] && passed=$((passed + 1)) || failed=$((failed + 1))
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
