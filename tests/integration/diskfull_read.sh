#!/usr/bin/env bash
# diskfull_read: the database cannot take the rows. Needs root (mounts a tmpfs, runs as nobody).
#   1. a full disk during `read -w`: a 512 KB tmpfs and a capture that makes ~1.5 MB of rows
#      (tests/data/sample.pcap 20 times, shifted in time with editcap, joined with mergecap):
#      exit 1 with a message saying rows were not written, no crash, the file opens and
#      `PRAGMA integrity_check` says ok, the capture row (if written) says it did not end well;
#      and a disk already full when the run starts: a clear error, exit 1;
#   2. a read-only directory (mode 555, orphanwatch run as nobody): a clear error, exit 1;
#   3. a database of a newer schema (user_version 999): a clear error naming both versions,
#      from `read -w` and from `report`, and the file left as it was;
#   4. the database locked by another writer (a python sqlite3 connection holding BEGIN
#      EXCLUSIVE / BEGIN IMMEDIATE, before the run and in the middle of it): a clear error or a
#      wait then an error, never a corrupt file, the other writer's row intact.
set -u
bin="${ORPHANWATCH_BIN:-}"
src="${OW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
[ -n "$bin" ] && [ -x "$bin" ] || bin="$src/build/orphanwatch"
[ -x "$bin" ] || { echo "orphanwatch binary not found (set ORPHANWATCH_BIN)"; echo "0 passed, 1 failed"; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (mounts a tmpfs, runs orphanwatch as nobody)"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 missing"; exit 77; }

passed=0 failed=0 skipped=""
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
check() { # check DESCRIPTION COMMAND...: passes when the command succeeds
    local what=$1; shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}

tmp=$(mktemp -d /tmp/ow-diskfull-XXXXXX)
mnt="$tmp/mnt"
mkdir -p "$mnt"
cleanup() {
    mountpoint -q "$mnt" 2>/dev/null && umount "$mnt"
    chmod -R u+w "$tmp" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
chmod 755 "$tmp" # nobody must reach the files in it

sq() { # sq DB SQL: one query through python's sqlite3 (prints rows, | separated)
    python3 - "$1" "$2" <<'EOF'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], timeout=10)
for row in con.execute(sys.argv[2]):
    print("|".join("" if v is None else str(v) for v in row))
EOF
}
integrity_ok() { [ "$(sq "$1" "PRAGMA integrity_check")" = ok ]; }
no_signal() { [ "$1" -lt 128 ]; }
one_line() { [ "$(grep -c . "$1")" -eq 1 ] && grep -q '^orphanwatch: ' "$1"; }
sanitizer_clean() { ! grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$1"; }

# ---- the input: many copies of the bundled sample, 1000 s apart
sample="$src/tests/data/sample.pcap"
big="$tmp/big.pcap"
if command -v editcap >/dev/null && command -v mergecap >/dev/null; then
    parts=()
    for i in $(seq 0 19); do
        editcap -t $((i * 1000)) "$sample" "$tmp/part$i.pcap" && parts+=("$tmp/part$i.pcap")
    done
    mergecap -a -w "$big" "${parts[@]}"
    rm -f "${parts[@]}"
else # without wireshark-common: many crafted page loads make as many rows
    python3 - "$src/tests/hostile" "$big" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import craft
with craft.PcapWriter(sys.argv[2]) as w:
    for i in range(1500):
        c = craft.TcpConn(w, cport=10000 + i * 2).handshake()
        tok = craft.bokeh_token(craft.session_id(i), w.now + 300)
        c.c2s(craft.http_request("GET", f"/app?visit={i}"))
        c.s2c(craft.http_response(200, [("Content-Type", "text/html")], craft.bokeh_page(tok)))
        c.close()
EOF
fi
chmod 644 "$big"

# ---- 1. a full disk during the run
if mount -t tmpfs -o size=512k,mode=1777 tmpfs "$mnt" 2>"$tmp/mount.err"; then
    db="$mnt/x.db"
    "$bin" read "$big" -w "$db" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    echo "   full disk: exit $rc: $(head -c 300 "$tmp/err")"
    check "full disk: exit status 1 (not a crash: $rc)" [ "$rc" -eq 1 ]
    check "full disk: the message says rows were not written" grep -qi 'rows could not be written\|not written' "$tmp/err"
    check "full disk: the message names the full disk" grep -qi 'full' "$tmp/err"
    check "full disk: no sanitizer report" sanitizer_clean "$tmp/err"
    check "full disk: no 'wrote' success line" bash -c "! grep -q 'wrote' '$tmp/err'"
    check "full disk: the database file is there" [ -f "$db" ]
    check "full disk: PRAGMA integrity_check says ok" integrity_ok "$db"
    row=$(sq "$db" "SELECT end_reason, json_extract(counters, '\$.db_rows_failed') FROM captures ORDER BY id DESC LIMIT 1" 2>&1)
    echo "   capture row: ${row:-none}"
    case "$row" in
    "") ok "full disk: no capture row was written (allowed)" ;;
    error\|*) check "full disk: the capture row says error and counts the lost rows" [ "${row#error|}" -gt 0 ] ;;
    running\|*) ok "full disk: the capture row never got past running (allowed: it could not be updated)" ;;
    *) bad "full disk: the capture row claims a clean end: $row" ;;
    esac
    check "full disk: report still reads it" bash -c "'$bin' report '$db' >/dev/null"
    umount "$mnt"

    # a disk already full when the run starts
    mount -t tmpfs -o size=64k,mode=1777 tmpfs "$mnt"
    dd if=/dev/zero of="$mnt/filler" bs=4k count=64 2>/dev/null
    "$bin" read "$sample" -w "$mnt/y.db" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    echo "   full from the start: exit $rc: $(head -c 300 "$tmp/err")"
    check "full from the start: exit status 1" [ "$rc" -eq 1 ]
    check "full from the start: one clear line" one_line "$tmp/err"
    check "full from the start: no sanitizer report" sanitizer_clean "$tmp/err"
    umount "$mnt"
else
    skipped="a tmpfs could not be mounted ($(head -c 200 "$tmp/mount.err"))"
    echo "note: full-disk part skipped: $skipped"
fi

# ---- 2. a read-only directory, orphanwatch running as nobody
ro="$tmp/ro"
mkdir -p "$ro" && chmod 555 "$ro"
as_nobody() {
    if command -v setpriv >/dev/null; then
        setpriv --reuid=nobody --regid="$(id -gn nobody 2>/dev/null || echo nogroup)" --clear-groups "$@"
    else
        runuser -u nobody -- "$@"
    fi
}
cp "$sample" "$tmp/sample.pcap" && chmod 644 "$tmp/sample.pcap"
as_nobody "$bin" read "$tmp/sample.pcap" -w "$ro/x.db" >"$tmp/out" 2>"$tmp/err"
rc=$?
echo "   read-only directory: exit $rc: $(cat "$tmp/err")"
check "read-only directory: exit status 1" [ "$rc" -eq 1 ]
check "read-only directory: one clear line naming the file" bash -c "grep -c . '$tmp/err' | grep -qx 1 && grep -q '$ro/x.db' '$tmp/err'"
check "read-only directory: no file created" [ ! -e "$ro/x.db" ]

# ---- 3. a database of a newer schema
db="$tmp/newer.db"
"$bin" read "$sample" -w "$db" -q 2>"$tmp/err" || bad "newer schema: could not write the first database: $(cat "$tmp/err")"
ours=$(sq "$db" "PRAGMA user_version")
sq "$db" "PRAGMA user_version = 999" >/dev/null
captures_before=$(sq "$db" "SELECT COUNT(*) FROM captures")
sum_before=$(md5sum <"$db")
"$bin" read "$sample" -w "$db" -q >"$tmp/out" 2>"$tmp/err"
rc=$?
echo "   newer schema, read -w: exit $rc: $(cat "$tmp/err")"
check "newer schema: read -w exits 1" [ "$rc" -eq 1 ]
check "newer schema: the message names 999 and this build's version $ours" bash -c "grep -q 999 '$tmp/err' && grep -qw '$ours' '$tmp/err' && grep -c . '$tmp/err' | grep -qx 1"
check "newer schema: the file is left as it was" [ "$(md5sum <"$db")" = "$sum_before" ]
check "newer schema: no capture row added" [ "$(sq "$db" "SELECT COUNT(*) FROM captures")" = "$captures_before" ]
"$bin" report "$db" >"$tmp/out" 2>"$tmp/err"
rc=$?
check "newer schema: report exits 1 naming both versions" bash -c "[ $rc -eq 1 ] && grep -q 999 '$tmp/err' && grep -qw '$ours' '$tmp/err'"

# ---- 4. the database locked by another writer
db="$tmp/locked.db"
"$bin" read "$sample" -w "$db" -q 2>/dev/null
python3 - "$bin" "$db" "$sample" "$src/tests/hostile" >"$tmp/lock.txt" 2>&1 <<'EOF'
import os, sqlite3, subprocess, sys, time, struct
bin, db, sample, hostile = sys.argv[1:5]
TIMEOUT = 120

def report(ok, what, detail=""):
    print(("ok   " if ok else "FAIL ") + what + (": " + detail if detail and not ok else ""))

def holder(mode, lock):
    con = sqlite3.connect(db, timeout=30, isolation_level=None)
    con.execute(f"PRAGMA journal_mode={mode}")
    con.execute(f"BEGIN {lock}")
    con.execute("INSERT INTO captures(source, live) VALUES('other writer', 0)")
    return con

def after(what, con):
    con.execute("COMMIT")
    con.close()
    chk = sqlite3.connect(db)
    integrity = chk.execute("PRAGMA integrity_check").fetchone()[0]
    others = chk.execute("SELECT COUNT(*) FROM captures WHERE source='other writer'").fetchone()[0]
    chk.close()
    report(integrity == "ok", f"{what}: integrity_check ok afterwards", integrity)
    report(others >= 1, f"{what}: the other writer's row is intact")

# held before the run starts
for mode, lock in (("delete", "EXCLUSIVE"), ("delete", "IMMEDIATE"), ("wal", "IMMEDIATE"), ("wal", "EXCLUSIVE")):
    what = f"locked before the run ({mode} journal, BEGIN {lock})"
    con = holder(mode, lock)
    t = time.time()
    try:
        p = subprocess.run([bin, "read", sample, "-w", db, "-q"], capture_output=True, text=True,
                           timeout=TIMEOUT)
        rc, err = p.returncode, p.stderr
    except subprocess.TimeoutExpired:
        rc, err = None, "timed out"
    waited = time.time() - t
    print(f"   {what}: exit {rc} after {waited:.1f} s: {err.strip()}")
    report(rc == 1, f"{what}: exit status 1", f"{rc}")
    lines = [l for l in err.splitlines() if l.strip()]
    report(len(lines) == 1 and "lock" in err.lower(), f"{what}: one clear line saying it is locked", repr(err))
    after(what, con)

# taken in the middle of a run: a crafted capture arrives on stdin in three phases: page
# loads; then packets to another port (no rows) spread over capture seconds, so orphanwatch
# commits and has no transaction open while another writer takes the lock; then more page
# loads, whose rows cannot be written while the lock is held
import threading
sys.path.insert(0, hostile)
import craft
what = "locked in the middle of the run"
mid = os.path.join(os.path.dirname(db), "mid.pcap")
w = craft.PcapWriter(mid)
marks = []

def page_loads(first, n):
    for i in range(first, first + n):
        c = craft.TcpConn(w, cport=20000 + i).handshake()
        tok = craft.bokeh_token(craft.session_id(i), w.now + 300)
        c.c2s(craft.http_request("GET", f"/app?visit={i}"))
        c.s2c(craft.http_response(200, [("Content-Type", "text/html")], craft.bokeh_page(tok)))
        c.close()

page_loads(0, 30)
marks.append(w.packets)
for i in range(20):  # one packet per capture second, to port 80: ticks, no rows
    w.tick(1.0)
    seg = craft.tcp_segment(craft.CLIENT4, craft.SERVER4, 30000, 80, i, 0, craft.TH_SYN)
    w.write(craft.ipv4_packet(craft.CLIENT4, craft.SERVER4, 6, seg))
marks.append(w.packets)
page_loads(100, 30)
w.close()
data = open(mid, "rb").read()
recs, off = [], 24
while off + 16 <= len(data):
    n = struct.unpack("<I", data[off + 8:off + 12])[0]
    recs.append(data[off:off + 16 + n])
    off += 16 + n
p = subprocess.Popen([bin, "read", "-", "-w", db, "-q", "--commit-interval", "100"],
                     stdin=subprocess.PIPE, stderr=subprocess.PIPE)
p.stdin.write(data[:24] + b"".join(recs[:marks[0]]))
p.stdin.flush()
held, box = threading.Event(), {}

def take_lock():
    con = sqlite3.connect(db, timeout=60, isolation_level=None, check_same_thread=False)
    con.execute("BEGIN IMMEDIATE")
    con.execute("INSERT INTO captures(source, live) VALUES('other writer', 0)")
    box["con"] = con
    held.set()

t = threading.Thread(target=take_lock)


def committed_rows():
    """orphanwatch's rows of this run that a reader sees (it has opened and committed)."""
    try:
        r = sqlite3.connect(db, timeout=5)
        n = r.execute("SELECT COUNT(*) FROM connections WHERE capture_id = "
                      "(SELECT MAX(id) FROM captures WHERE source = '-')").fetchone()[0]
        r.close()
        return n
    except sqlite3.Error:
        return 0


for r in recs[marks[0]:marks[1]]:  # orphanwatch commits at a tick and waits with no rows
    p.stdin.write(r)
    p.stdin.flush()
    time.sleep(0.2)
    if not t.is_alive() and not held.is_set() and committed_rows() > 0:
        t.start()
    if held.is_set():
        break
if t.is_alive() or held.is_set():
    t.join(timeout=TIMEOUT)
report(held.is_set(), f"{what}: the other writer got the lock half-way, after orphanwatch "
       "had committed rows")
GIVE_UP_S = 30
try:
    p.stdin.write(b"".join(recs[marks[1]:]))  # rows while the lock is held
    p.stdin.flush()
    p.stdin.close()
except BrokenPipeError:
    print("   orphanwatch stopped reading its input early")
t0 = time.time()
try:
    rc = p.wait(timeout=GIVE_UP_S)
except subprocess.TimeoutExpired:
    rc = None
report(rc is not None, f"{what}: orphanwatch gives up within {GIVE_UP_S} s while the lock is held",
       f"still waiting after {GIVE_UP_S} s: each row waits the whole busy timeout again (db/writer.c "
       "begin_txn sets blocked_until from the time taken before the wait, so it is already past)")
con = box.get("con")
if con is None:
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("BEGIN")
con.execute("COMMIT")  # release the lock: whatever still waits can finish
if rc is None:
    try:
        rc = p.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = None
err = p.stderr.read().decode(errors="replace")
print(f"   {what}: exit {rc} after {time.time() - t0:.1f} s: {err.strip()}")
report(rc == 1, f"{what}: exit status 1 (rows were lost)", f"{rc}")
report("could not be written" in err and "lock" in err.lower(), f"{what}: the message says rows were not written because of the lock", repr(err))
con.execute("BEGIN")
after(what, con)
EOF
cat "$tmp/lock.txt"
passed=$((passed + $(grep -c '^ok ' "$tmp/lock.txt")))
failed=$((failed + $(grep -c '^FAIL ' "$tmp/lock.txt")))
grep -q . "$tmp/lock.txt" || bad "the lock checks did not run"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] || exit 1
if [ -n "$skipped" ]; then
    echo "SKIP (partly): $skipped"
    exit 77
fi
exit 0
