/* test_db_alive: telling a dead capture from a running one. While a writer (owdb_create) has
 * the file, owdb_writer_alive says alive from this process and from another one; after
 * owdb_close, or once the writing process got kill -9, it says not alive and a 'running' row
 * reads as 'killed' (owdb_end_reason, and ow_end_reason() in SQL) without the file changing.
 * The probe keeps this process's POSIX (SQLite) locks on the file; a writer starting while a
 * reader probes still gets the file; a writer re-opening the file marks the rows a dead writer
 * left 'running' as 'killed'. */
#include "db/db.h"
#include "db/query.h"
#include "tests/unit/test_sql.h"
#include "tests/unit/testlib.h"
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[64];

static void path_in(char *out, size_t len, const char *name)
{
    if (snprintf(out, len, "%s/%s", tmpdir, name) >= (int)len)
        abort();
}

/* Runs fn(path) in a child process and returns its result (-99 when the child failed). The
 * child reports through a pipe and ends with SIGKILL: it inherited our open writer and
 * connections, which it must not close (or valgrind would count as leaked at its exit). */
static int in_child(int (*fn)(const char *), const char *path)
{
    int p[2];
    signed char v = -99;
    if (pipe(p) != 0)
        return -99;
    pid_t pid = fork();
    if (pid == 0) {
        v = (signed char)fn(path);
        if (write(p[1], &v, 1) != 1)
            v = -99;
        raise(SIGKILL);
    }
    close(p[1]);
    if (pid < 0 || read(p[0], &v, 1) != 1)
        v = -99;
    close(p[0]);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    return v;
}

/* owdb_writer_alive(path) as another process sees it. */
static int alive_elsewhere(const char *path)
{
    return in_child(owdb_writer_alive, path);
}

/* 1 when this process (the parent) holds a POSIX lock on the file: F_GETLK over all of it. */
static int posix_lock_probe(const char *path)
{
    int fd = open(path, O_RDWR);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    return fd >= 0 && fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
}

static bool posix_locked_elsewhere(const char *path)
{
    return in_child(posix_lock_probe, path) == 1;
}

static sqlite3 *reader(const char *path)
{
    char err[512];
    sqlite3 *r = owdb_open_readonly(path, err, sizeof err);
    CHECK(r != NULL);
    if (r)
        CHECK_EQ_INT(query_register_functions(r, true), 0);
    return r;
}

static void test_open_then_closed(void)
{
    char path[128], err[512];
    path_in(path, sizeof path, "closed.db");
    CHECK_EQ_INT(owdb_writer_alive(path), -1); /* no file */
    ow_db *w = owdb_create(path, NULL, err, sizeof err);
    CHECK(w != NULL);
    if (!w)
        return;
    int64_t id = owdb_capture_id(w);
    CHECK_EQ_INT(owdb_writer_alive(path), 1);
    CHECK_EQ_INT(alive_elsewhere(path), 1);
    sqlite3 *r = reader(path);
    if (!r) {
        owdb_close(w);
        return;
    }
    CHECK_EQ_STR(owdb_end_reason(r, id, "running"), "running");
    CHECK_EQ_STR(owdb_end_reason(r, id, "eof"), "eof");
    CHECK_EQ_STR(text_of(r, "SELECT ow_end_reason(id, end_reason) FROM captures"), "running");
    owdb_close(w); /* no capture record: the row still says 'running' */
    CHECK_EQ_INT(owdb_writer_alive(path), 0);
    CHECK_EQ_INT(alive_elsewhere(path), 0);
    CHECK_EQ_STR(text_of(r, "SELECT end_reason FROM captures"), "running"); /* unchanged */
    CHECK_EQ_STR(owdb_end_reason(r, id, "running"), "killed");
    CHECK_EQ_STR(owdb_end_reason(r, id, "signal"), "signal");
    CHECK(owdb_end_reason(r, id, NULL) == NULL);
    CHECK_EQ_STR(text_of(r, "SELECT ow_end_reason(id, end_reason) FROM captures"), "killed");
    sqlite3_close(r);
}

/* kill -9 of the writing process: its lock goes with it. */
static void test_sigkill(void)
{
    char path[128], err[512];
    int ready[2];
    path_in(path, sizeof path, "killed.db");
    CHECK(pipe(ready) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        ow_db *w = owdb_create(path, NULL, err, sizeof err);
        char c = w ? 'y' : 'n';
        if (write(ready[1], &c, 1) == 1 && w)
            for (;;)
                pause();
        raise(SIGKILL);
    }
    char c = 0;
    CHECK(read(ready[0], &c, 1) == 1 && c == 'y');
    close(ready[0]);
    close(ready[1]);
    CHECK_EQ_INT(owdb_writer_alive(path), 1);
    sqlite3 *r = reader(path);
    if (r)
        CHECK_EQ_STR(text_of(r, "SELECT ow_end_reason(id, end_reason) FROM captures"), "running");
    CHECK_EQ_INT(alive_elsewhere(path), 1);
    int status = 0;
    kill(pid, SIGKILL);
    CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status));
    if (!r) {
        CHECK_EQ_INT(owdb_writer_alive(path), 0);
        return;
    }
    /* a reader inside a read transaction holds a POSIX lock: the probe must not drop it
     * (closing a descriptor of the file would) */
    CHECK(sqlite3_exec(r, "BEGIN; SELECT COUNT(*) FROM captures", NULL, NULL, NULL) == SQLITE_OK);
    CHECK(posix_locked_elsewhere(path));
    CHECK_EQ_INT(owdb_writer_alive(path), 0);
    CHECK(posix_locked_elsewhere(path));
    sqlite3_exec(r, "COMMIT", NULL, NULL, NULL);
    CHECK_EQ_STR(text_of(r, "SELECT end_reason FROM captures"), "running");
    CHECK_EQ_STR(owdb_end_reason(r, 1, "running"), "killed");
    CHECK_EQ_STR(text_of(r, "SELECT ow_end_reason(id, end_reason) FROM captures"), "killed");
    sqlite3_close(r);
}

/* A reader's probe (a shared flock for an instant) does not refuse a writer starting. */
static void test_probe_does_not_refuse_writer(void)
{
    char path[128], err[512];
    int ready[2];
    path_in(path, sizeof path, "probed.db");
    owdb_close(owdb_create(path, NULL, err, sizeof err));
    CHECK(pipe(ready) == 0);
    pid_t pid = fork();
    if (pid == 0) { /* a probe that lasts 30 ms */
        int fd = open(path, O_RDONLY);
        char c = fd >= 0 && flock(fd, LOCK_SH | LOCK_NB) == 0 ? 'y' : 'n';
        if (write(ready[1], &c, 1) == 1)
            sleep_ms(30);
        raise(SIGKILL); /* no exit-time leak check of what it inherited (valgrind) */
    }
    char c = 0;
    CHECK(read(ready[0], &c, 1) == 1 && c == 'y');
    close(ready[0]);
    close(ready[1]);
    ow_db *w = owdb_create(path, NULL, err, sizeof err);
    CHECK(w != NULL);
    if (!w)
        fprintf(stderr, "  %s\n", err);
    owdb_close(w);
    waitpid(pid, NULL, 0);
}

/* A writer re-opening the file marks a dead writer's 'running' row 'killed'; while it runs,
 * an older 'running' row reads as 'killed' even though a writer is alive. */
static void test_reopen(void)
{
    char path[128], err[512];
    path_in(path, sizeof path, "reopen.db");
    owdb_close(owdb_create(path, NULL, err, sizeof err)); /* capture 1 left 'running' */
    ow_db *w = owdb_create(path, NULL, err, sizeof err);
    CHECK(w != NULL);
    if (!w)
        return;
    CHECK_EQ_INT(owdb_capture_id(w), 2);
    sqlite3 *r = reader(path);
    if (r) {
        CHECK_EQ_STR(text_of(r, "SELECT group_concat(end_reason) FROM captures ORDER BY id"),
                     "killed,running");
        CHECK_EQ_STR(owdb_end_reason(r, 1, "running"), "killed"); /* older row */
        CHECK_EQ_STR(owdb_end_reason(r, 2, "running"), "running");
        sqlite3_close(r);
    }
    owdb_close(w);
}

/* No file behind the connection (in memory): cannot tell, the row's word stands. */
static void test_in_memory(void)
{
    sqlite3 *m = NULL;
    CHECK(sqlite3_open(":memory:", &m) == SQLITE_OK);
    CHECK_EQ_STR(owdb_end_reason(m, 1, "running"), "running");
    sqlite3_close(m);
    CHECK_EQ_INT(owdb_writer_alive(""), -1);
    CHECK_EQ_INT(owdb_writer_alive(NULL), -1);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ow_test_db_alive.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_open_then_closed();
    test_sigkill();
    test_probe_does_not_refuse_writer();
    test_reopen();
    test_in_memory();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    TEST_MAIN_END("test_db_alive");
}
