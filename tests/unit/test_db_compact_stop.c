/* test_db_compact_stop: what keeps packing (owdb_options.compact) safe on a server: it can be
 * stopped (compact_stop) before it starts, inside VACUUM INTO and inside the in-place VACUUM,
 * each time leaving the file as an unpacked run leaves it (same bytes, same rows, nothing
 * beside it); it is not tried without room for the copy (owdb_compact_fits; with root, on a
 * small tmpfs: left unpacked and said why); a packed copy a killed packing left behind is
 * removed when the file is opened again (or asked for a file no run opens again, while no
 * writer holds it), one that is not ours is left alone; and a packed
 * file holds exactly the rows of the unpacked one. */
#include "db/db.h"
#include "db/dbfile.h"
#include "tests/unit/test_db_churn.h"
#include "tests/unit/test_sql.h"
#include "tests/unit/testlib.h"
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGES 2000

static char tmpdir[64];

static void beside(char *out, size_t len, const char *path, const char *suffix)
{
    if (snprintf(out, len, "%s%s%s", path, OWDB_COMPACT_SUFFIX, suffix) >= (int)len)
        abort();
}

static ino_t write_churn(const char *path, const owdb_options *o)
{
    return write_churn_pages(path, o, PAGES);
}

/* FNV-1a over every value of every row of every table (rowid order), and the row count. */
static uint64_t rows_digest(const char *path, int64_t *rows)
{
    char err[512];
    uint64_t h = 1469598103934665603ull;
    *rows = 0;
    sqlite3 *r = owdb_open_readonly(path, err, sizeof err);
    sqlite3_stmt *tables = NULL, *st = NULL;
    if (!r ||
        sqlite3_prepare_v2(r, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1", -1,
                           &tables, NULL) != SQLITE_OK) {
        sqlite3_close(r);
        return 0;
    }
    while (sqlite3_step(tables) == SQLITE_ROW) {
        char *sql = sqlite3_mprintf("SELECT * FROM \"%w\"", sqlite3_column_text(tables, 0));
        if (sqlite3_prepare_v2(r, sql, -1, &st, NULL) == SQLITE_OK)
            while (sqlite3_step(st) == SQLITE_ROW && ++*rows)
                for (int c = 0; c < sqlite3_column_count(st); c++) {
                    const unsigned char *v = sqlite3_column_text(st, c);
                    for (int i = 0; v && i < sqlite3_column_bytes(st, c); i++)
                        h = (h ^ v[i]) * 1099511628211ull;
                    h = (h ^ (v ? 0xffu : 0xfeu)) * 1099511628211ull;
                }
        sqlite3_finalize(st);
        sqlite3_free(sql);
    }
    sqlite3_finalize(tables);
    sqlite3_close(r);
    return h;
}

static bool same_bytes(const char *a, const char *b)
{
    size_t la = 0, lb = 0;
    char *x = tl_read_file(a, &la), *y = tl_read_file(b, &lb);
    bool same = x && y && la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return same;
}

static const char *integrity(const char *path)
{
    static char out[600];
    char err[512];
    sqlite3 *r = owdb_open_readonly(path, err, sizeof err);
    snprintf(out, sizeof out, "%s", r ? text_of(r, "PRAGMA integrity_check") : err);
    sqlite3_close(r);
    return out;
}

/* The stop question: counts calls, and those made while the packed copy exists (inside VACUUM
 * INTO: it is created just before and removed or renamed just after); says stop from call
 * number stop_at of the chosen kind on. */
typedef struct stopper {
    const char *copy; /* path + OWDB_COMPACT_SUFFIX */
    bool only_inside; /* count only calls made while the copy exists */
    int stop_at, calls, inside;
} stopper;

static int stop_question(void *ctx)
{
    stopper *s = ctx;
    s->calls++;
    if (access(s->copy, F_OK) == 0)
        s->inside++;
    return (s->only_inside ? s->inside : s->calls) >= s->stop_at;
}

/* The unpacked twin every stopped packing must equal. */
static char loose[128];

/* A stopped packing left path exactly as the unpacked twin: not renamed, same bytes and rows,
 * nothing beside it. */
static void check_left_unpacked(const char *path, ino_t created, const char *what)
{
    char copy[200], journal[220];
    int64_t rows = 0, loose_rows = 0;
    beside(copy, sizeof copy, path, "");
    beside(journal, sizeof journal, path, "-journal");
    printf("%s\n", what);
    CHECK(created != 0 && inode_of(path) == created);
    CHECK(same_bytes(path, loose));
    CHECK(rows_digest(path, &rows) == rows_digest(loose, &loose_rows));
    CHECK(rows > PAGES && rows == loose_rows);
    CHECK_EQ_STR(integrity(path), "ok");
    CHECK(access(copy, F_OK) != 0 && access(journal, F_OK) != 0);
}

/* Stopped before it starts: the copy is never made. */
static void test_stop_before(void)
{
    char path[128], copy[200];
    path_in(path, sizeof path, tmpdir, "before.db");
    beside(copy, sizeof copy, path, "");
    stopper s = {.copy = copy, .stop_at = 1};
    owdb_options o = {.compact = true, .compact_stop = stop_question, .compact_stop_ctx = &s};
    ino_t created = write_churn(path, &o);
    CHECK(s.calls >= 1 && s.inside == 0);
    check_left_unpacked(path, created, "stopped before packing");
}

/* Stopped inside VACUUM INTO (the copy half written): the copy is removed, the file kept. */
static void test_stop_inside_vacuum_into(void)
{
    char path[128], copy[200];
    path_in(path, sizeof path, tmpdir, "inside.db");
    beside(copy, sizeof copy, path, "");
    stopper s = {.copy = copy, .only_inside = true, .stop_at = 3};
    owdb_options o = {.compact = true, .compact_stop = stop_question, .compact_stop_ctx = &s};
    ino_t created = write_churn(path, &o);
    CHECK(s.inside >= 3); /* asked again and again while VACUUM INTO was copying */
    check_left_unpacked(path, created, "stopped inside VACUUM INTO");
}

/* A foreign file in the copy's way makes it pack in place; stopped there, the VACUUM rolls
 * back: the file as it was, the foreign file untouched. */
static void test_stop_inside_vacuum_in_place(void)
{
    char path[128], copy[200];
    path_in(path, sizeof path, tmpdir, "inplace.db");
    beside(copy, sizeof copy, path, "");
    FILE *f = fopen(copy, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs("not ours to touch", f);
    fclose(f);
    stopper s = {.copy = copy, .stop_at = 40};
    owdb_options o = {.compact = true, .compact_stop = stop_question, .compact_stop_ctx = &s};
    ino_t created = write_churn(path, &o);
    CHECK(s.calls >= 40);
    size_t len = 0;
    char *kept = tl_read_file(copy, &len);
    CHECK(kept && strcmp(kept, "not ours to touch") == 0);
    free(kept);
    unlink(copy);
    check_left_unpacked(path, created, "stopped inside the in-place VACUUM");
}

/* Not stopped: packed (renamed over, fewer pages) with exactly the rows of the loose file. */
static void test_packed_same_rows(void)
{
    char path[128], copy[200], err[512];
    int64_t rows = 0, loose_rows = 0;
    path_in(path, sizeof path, tmpdir, "packed.db");
    beside(copy, sizeof copy, path, "");
    stopper s = {.copy = copy, .stop_at = 1 << 30};
    owdb_options o = {.compact = true, .compact_stop = stop_question, .compact_stop_ctx = &s};
    ino_t created = write_churn(path, &o);
    printf("packed, not stopped\n");
    CHECK(created != 0 && inode_of(path) != created);
    CHECK(s.inside > 0);
    CHECK(rows_digest(path, &rows) == rows_digest(loose, &loose_rows) && rows == loose_rows);
    sqlite3 *a = owdb_open_readonly(path, err, sizeof err), *b = owdb_open_readonly(loose, err, 1);
    CHECK(a && b && count(a, "PRAGMA page_count") < count(b, "PRAGMA page_count"));
    CHECK(a && count(a, "PRAGMA freelist_count") == 0);
    sqlite3_close(a);
    sqlite3_close(b);
}

static void make_file(const char *path, mode_t mode, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    CHECK(fd >= 0 && fchmod(fd, mode) == 0 && write(fd, data, len) == (ssize_t)len);
    if (fd >= 0)
        close(fd);
}

/* Re-opened after a packing was killed: its half-written copy and journal are removed (a
 * copy whose first page is not written yet, and one with SQLite's header); something else by
 * that name is left alone. */
static void test_stale_copy(void)
{
    char path[128], copy[200], journal[220], zeros[4096] = {0}, header[4096] = "SQLite format 3";
    owdb_options plain = {0};
    path_in(path, sizeof path, tmpdir, "stale.db");
    beside(copy, sizeof copy, path, "");
    beside(journal, sizeof journal, path, "-journal");
    CHECK(write_churn(path, &plain) != 0);
    const void *first[] = {zeros, header};
    for (int i = 0; i < 2; i++) {
        make_file(copy, 0600, first[i], sizeof zeros);
        make_file(journal, 0600, "\xd9\xd5\x05\xf9\x20\xa1\x63\xd7", 8);
        char err[512];
        ow_db *db = owdb_create(path, &plain, err, sizeof err);
        CHECK(db != NULL);
        owdb_close(db);
        CHECK(access(copy, F_OK) != 0 && access(journal, F_OK) != 0);
    }
    make_file(copy, 0644, "notes", 5);
    char err[512];
    ow_db *db = owdb_create(path, &plain, err, sizeof err);
    CHECK(db != NULL);
    owdb_close(db);
    CHECK(access(copy, F_OK) == 0);
    unlink(copy);
    /* a leftover beside a path written anew: removed, and the new file packed by rename */
    unlink(path);
    make_file(copy, 0600, header, 16);
    owdb_options packing = {.compact = true};
    ino_t created = write_churn(path, &packing);
    CHECK(created != 0 && inode_of(path) != created && access(copy, F_OK) != 0);
}

/* A leftover beside a database no run will open again (owdb_remove_stale_compact, as live
 * does for its earlier timestamped files): removed only while no writer holds the database,
 * only when ours, never without the database. */
static void test_stale_copy_unopened(void)
{
    char path[128], copy[200], err[512], header[16] = "SQLite format 3";
    owdb_options plain = {0};
    path_in(path, sizeof path, tmpdir, "earlier.db");
    beside(copy, sizeof copy, path, "");
    CHECK(write_churn(path, &plain) != 0);
    make_file(copy, 0600, header, sizeof header);
    int writer = open(path, O_RDONLY); /* the lock a writer holds (flock, see dbfile.c) */
    CHECK(writer >= 0 && flock(writer, LOCK_EX) == 0);
    CHECK_EQ_INT(owdb_remove_stale_compact(path, err, sizeof err), 0); /* in use: kept */
    CHECK(access(copy, F_OK) == 0);
    close(writer);
    CHECK_EQ_INT(owdb_remove_stale_compact(path, err, sizeof err), 1);
    CHECK(access(copy, F_OK) != 0 && strstr(err, "removed"));
    CHECK_EQ_INT(owdb_remove_stale_compact(path, err, sizeof err), 0); /* nothing there */
    make_file(copy, 0644, "notes", 5);
    CHECK_EQ_INT(owdb_remove_stale_compact(path, err, sizeof err), -1); /* not ours */
    CHECK(access(copy, F_OK) == 0 && strstr(err, "left alone"));
    unlink(copy);
    unlink(path);
    make_file(copy, 0600, header, sizeof header);
    CHECK_EQ_INT(owdb_remove_stale_compact(path, err, sizeof err), 0); /* no database */
    CHECK(access(copy, F_OK) == 0);
    unlink(copy);
}

static void test_fits(void)
{
    const uint64_t m = OWDB_COMPACT_ROOM_MARGIN;
    CHECK(owdb_compact_fits(0, m));
    CHECK(!owdb_compact_fits(0, m - 1));
    CHECK(owdb_compact_fits(1000, 1000 + m));
    CHECK(!owdb_compact_fits(1000, 999 + m));
    CHECK(!owdb_compact_fits(UINT64_MAX, UINT64_MAX));
    CHECK(owdb_compact_fits(UINT64_MAX - m, UINT64_MAX));
    CHECK(!owdb_compact_fits(5ull << 30, 1ull << 30));
}

/* Runs write_churn(path, o) with stderr in a file; returns what was said (malloc'd). */
static char *churn_said(const char *path, const owdb_options *o, ino_t *created)
{
    char log[160];
    path_in(log, sizeof log, tmpdir, "stderr.txt");
    fflush(stderr);
    int saved = dup(2), fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    close(fd);
    *created = write_churn(path, o);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    size_t len = 0;
    return tl_read_file(log, &len);
}

/* On a filesystem with less free room than the file plus the margin: left unpacked, said why
 * on stderr. With the margin to spare: packed. Root only (a tmpfs in a private mount
 * namespace, made before any thread exists). */
static bool tmpfs_ok;
static void test_no_room(void)
{
    char small[128], big[128], path[160];
    ino_t created = 0;
    if (!tmpfs_ok) {
        printf("note: not root or no mount namespace: the full-filesystem case is not tested\n");
        return;
    }
    path_in(small, sizeof small, tmpdir, "small");
    path_in(big, sizeof big, tmpdir, "big");
    path_in(path, sizeof path, small, "full.db");
    char *said = churn_said(path, &(owdb_options){.compact = true}, &created);
    printf("no room: %s", said ? said : "(nothing said)\n");
    CHECK(created != 0 && inode_of(path) == created);
    CHECK(said && strstr(said, "left unpacked") && strstr(said, "its data is complete"));
    CHECK(rows_digest(path, &(int64_t){0}) == rows_digest(loose, &(int64_t){0}));
    free(said);
    path_in(path, sizeof path, big, "roomy.db");
    said = churn_said(path, &(owdb_options){.compact = true}, &created);
    CHECK(created != 0 && inode_of(path) != created);
    CHECK(said && !strstr(said, "left unpacked"));
    free(said);
}

/* Two tmpfs: one smaller than the margin, one with room. Before any thread. */
static void mount_tmpfs(void)
{
    char small[128], big[128];
    path_in(small, sizeof small, tmpdir, "small");
    path_in(big, sizeof big, tmpdir, "big");
    if (geteuid() != 0 || mkdir(small, 0700) != 0 || mkdir(big, 0700) != 0 ||
        unshare(CLONE_NEWNS) != 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0)
        return;
    tmpfs_ok = mount("tmpfs", small, "tmpfs", 0, "size=12m,mode=0700") == 0 &&
               mount("tmpfs", big, "tmpfs", 0, "size=64m,mode=0700") == 0;
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ow_test_db_compact_stop.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    mount_tmpfs();
    test_fits();
    path_in(loose, sizeof loose, tmpdir, "loose.db");
    CHECK(write_churn(loose, &(owdb_options){0}) != 0);
    test_stop_before();
    test_stop_inside_vacuum_into();
    test_stop_inside_vacuum_in_place();
    test_packed_same_rows();
    test_stale_copy();
    test_stale_copy_unopened();
    test_no_room();
    TEST_MAIN_END("test_db_compact_stop");
}
