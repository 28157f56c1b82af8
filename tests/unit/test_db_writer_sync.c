/* test_db_writer_sync: which files the end of a run syncs (owdb_options.sync_packed_only).
 * fsync and fdatasync are interposed (this executable's definitions serve libsqlite3 too) and
 * each call noted by inode. With the option, a file the writer created is not synced from
 * owdb_commit_last to the end of owdb_close, and the packed file that replaces it is, with
 * every row in it; when packing is skipped, the file that stays is synced at close instead.
 * Without the option, or on a file the writer did not create (appending), the end syncs the
 * file as before. A reader holding a snapshot past the busy timeout keeps frames in the WAL:
 * the file is then neither packed nor replaced (the next opener would lay them over a packed
 * copy), and both the file and its WAL are synced. A reader merely connected is no obstacle:
 * the WAL is emptied and the file packed. */
#include "db/db.h"
#include "db/dbfile.h"
#include "tests/unit/test_db_churn.h"
#include "tests/unit/test_sql.h"
#include "tests/unit/testlib.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PAGES        200
#define MAX_NOTED    4096
#define LONG_SUMMARY "a longer summary, written when the page load is decided"

static ino_t noted[MAX_NOTED];
static int n_noted;

static void note(int fd)
{
    struct stat st;
    if (fstat(fd, &st) == 0 && n_noted < MAX_NOTED)
        noted[n_noted++] = st.st_ino;
}

int fsync(int fd)
{
    note(fd);
    return (int)syscall(SYS_fsync, fd);
}

int fdatasync(int fd)
{
    note(fd);
    return (int)syscall(SYS_fdatasync, fd);
}

/* Syncs of inode ino noted since index from. */
static int syncs_of(ino_t ino, int from)
{
    int n = 0;
    for (int i = from; i < n_noted; i++)
        n += noted[i] == ino;
    return n;
}

static char tmpdir[64];

static int stop_always(void *ctx)
{
    (void)ctx;
    return 1;
}

typedef struct run_result {
    ino_t created;    /* the file's inode when the writer opened it */
    int from;         /* the first sync noted from owdb_commit_last on */
    bool last_commit; /* owdb_commit_last succeeded */
} run_result;

/* Another process's read transaction, open from after the first commit to after the close. */
static sqlite3 *reader;

enum { NO_READER, READER_IDLE, READER_IN_SNAPSHOT };

/* Page loads written, committed, rewritten larger; the last rows by owdb_commit_last; closed.
 * A reader (READER_*) has the file open from the first commit to after the close. */
static run_result write_run_held(const char *path, const owdb_options *o, int held)
{
    run_result res = {0};
    char err[512] = "";
    ow_db *db = owdb_create(path, o, err, sizeof err);
    if (!db) {
        fprintf(stderr, "  owdb_create(%s): %s\n", path, err);
        return res;
    }
    res.created = inode_of(path);
    const ow_record_sink *s = owdb_sink(db);
    for (int64_t id = 1; id <= PAGES; id++)
        emit_page(s, (id * 7919) % PAGES + 1, NULL);
    owdb_commit(db);
    if (held != NO_READER) {
        CHECK(sqlite3_open_v2(path, &reader, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
        if (held == READER_IN_SNAPSHOT)
            CHECK(sqlite3_exec(reader, "BEGIN", NULL, NULL, NULL) == SQLITE_OK);
        CHECK_EQ_INT(count(reader, "SELECT COUNT(*) FROM page_loads"), PAGES);
    }
    for (int64_t id = 1; id <= PAGES; id++)
        emit_page(s, (id * 7919) % PAGES + 1, LONG_SUMMARY);
    res.from = n_noted;
    res.last_commit = owdb_commit_last(db) == 0;
    owdb_close(db);
    return res;
}

static run_result write_run(const char *path, const owdb_options *o)
{
    return write_run_held(path, o, NO_READER);
}

/* Every row there, the file whole (and out of WAL mode unless in_wal). */
static void check_complete_in(const char *path, int64_t pages, const char *mode)
{
    char err[512];
    sqlite3 *r = owdb_open_readonly(path, err, sizeof err);
    CHECK(r != NULL);
    if (!r)
        return;
    CHECK_EQ_STR(text_of(r, "PRAGMA integrity_check"), "ok");
    CHECK_EQ_INT(count(r, "SELECT COUNT(*) FROM page_loads WHERE summary = '" LONG_SUMMARY "'"),
                 pages);
    CHECK_EQ_STR(text_of(r, "PRAGMA journal_mode"), mode);
    sqlite3_close(r);
}

static void check_complete(const char *path, int64_t pages)
{
    check_complete_in(path, pages, "delete");
}

/* Packed: the created file gets no sync at the end; the new file replacing it does. */
static void test_packed_copy_synced(void)
{
    char path[128];
    path_in(path, sizeof path, tmpdir, "packed.db");
    owdb_options o = {.compact = true, .sync_packed_only = true};
    run_result r = write_run(path, &o);
    CHECK(r.created != 0 && r.last_commit);
    ino_t now = inode_of(path);
    CHECK(now != 0 && now != r.created); /* replaced by the packed copy */
    CHECK_EQ_INT(syncs_of(r.created, r.from), 0);
    CHECK(syncs_of(now, r.from) >= 1);
    check_complete(path, PAGES);
}

/* Packing skipped (stopped): the file that stays is synced at close. */
static void test_unpacked_file_synced(void)
{
    char path[128];
    path_in(path, sizeof path, tmpdir, "unpacked.db");
    owdb_options o = {.compact = true, .sync_packed_only = true, .compact_stop = stop_always};
    run_result r = write_run(path, &o);
    CHECK(r.created != 0 && r.last_commit);
    CHECK(inode_of(path) == r.created); /* not replaced */
    CHECK(syncs_of(r.created, r.from) >= 1);
    check_complete(path, PAGES);
}

/* Without the option the end syncs the file (its checkpoint) before packing, as before. */
static void test_without_option(void)
{
    char path[128];
    path_in(path, sizeof path, tmpdir, "plain.db");
    owdb_options o = {.compact = true};
    run_result r = write_run(path, &o);
    CHECK(r.created != 0 && r.last_commit);
    CHECK(syncs_of(r.created, r.from) >= 1);
    CHECK(syncs_of(inode_of(path), r.from) >= 1);
    check_complete(path, PAGES);
}

/* A file the writer did not create (a second capture appended) keeps every sync: its earlier
 * captures are at stake. */
static void test_existing_file_synced(void)
{
    char path[128];
    path_in(path, sizeof path, tmpdir, "append.db");
    owdb_options first = {.compact = true, .sync_packed_only = true};
    CHECK(write_run(path, &first).last_commit);
    ino_t before = inode_of(path);
    run_result r = write_run(path, &first);
    CHECK(r.last_commit);
    CHECK(r.created == before && inode_of(path) == before); /* reopened, not packed */
    CHECK(syncs_of(before, r.from) >= 1);
    check_complete(path, 2 * PAGES); /* both captures */
}

/* A reader holds the file past the busy timeout: left in WAL mode, not replaced, file and WAL
 * synced; every row there once the reader has gone. */
static void test_reader_holds_it(void)
{
    char path[128], wal[160];
    path_in(path, sizeof path, tmpdir, "held.db");
    snprintf(wal, sizeof wal, "%s-wal", path);
    owdb_options o = {.compact = true, .sync_packed_only = true, .busy_timeout_ms = 50};
    run_result r = write_run_held(path, &o, READER_IN_SNAPSHOT);
    CHECK(r.created != 0 && r.last_commit);
    CHECK(inode_of(path) == r.created); /* not replaced under the reader's WAL */
    CHECK(inode_of(wal) != 0);
    CHECK(syncs_of(r.created, r.from) >= 1);
    CHECK(syncs_of(inode_of(wal), r.from) >= 1);
    sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(reader);
    reader = NULL;
    check_complete_in(path, PAGES, "wal");
}

/* A reader connected but in no transaction: the WAL is emptied and the file packed. */
static void test_idle_reader(void)
{
    char path[128];
    path_in(path, sizeof path, tmpdir, "idle.db");
    owdb_options o = {.compact = true, .sync_packed_only = true, .busy_timeout_ms = 50};
    run_result r = write_run_held(path, &o, READER_IDLE);
    CHECK(r.created != 0 && r.last_commit);
    ino_t now = inode_of(path);
    CHECK(now != 0 && now != r.created);
    CHECK(syncs_of(now, r.from) >= 1);
    sqlite3_close(reader);
    reader = NULL;
    check_complete(path, PAGES);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ow_test_sync_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_packed_copy_synced();
    test_unpacked_file_synced();
    test_without_option();
    test_existing_file_synced();
    test_reader_holds_it();
    test_idle_reader();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "  could not remove %s\n", tmpdir);
    TEST_MAIN_END("test_db_writer_sync");
}
