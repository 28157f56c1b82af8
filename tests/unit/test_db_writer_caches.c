/* test_db_writer_caches: what the writing thread remembers of the file stays true. A session id
 * or User-Agent whose row a rolled-back transaction took away gets its row again (the cache of
 * texts present is emptied on rollback); the limit of stored Bokeh messages per websocket holds
 * over many interleaved websockets, for re-emitted messages and for a websocket whose messages
 * an earlier writer of the file stored. */
#include "db/writer_priv.h"
#include "tests/unit/test_sql.h"
#include "tests/unit/testlib.h"
#include <stdlib.h>
#include <string.h>

static char tmpdir[64];

static ow_db *create_ok(const char *name, size_t max_bokeh, char *path, size_t len)
{
    char err[512] = "";
    owdb_options o = {.max_bokeh_msgs_per_ws = max_bokeh};
    snprintf(path, len, "%s/%s", tmpdir, name);
    ow_db *db = owdb_create(path, &o, err, sizeof err);
    if (!db)
        fprintf(stderr, "  owdb_create(%s): %s\n", path, err);
    CHECK(db != NULL);
    return db;
}

static void emit_ws(const ow_record_sink *s, int64_t id, const char *sid)
{
    ow_ws_rec r = {.id = id,
                   .conn_id = 1,
                   .session_id = sid,
                   .upgrade_ts = 1714550400.5,
                   .status = 101,
                   .close_code = {-1, -1}};
    s->ws(s->ctx, &r);
}

static void emit_http(const ow_record_sink *s, int64_t id, const char *ua, const char *target)
{
    ow_http_rec r = {.id = id,
                     .conn_id = 1,
                     .kind = "static",
                     .req_ts = 1714550400.5,
                     .method = "GET",
                     .target = target,
                     .user_agent = ua,
                     .content_length = -1,
                     .last_byte_acked = -1};
    s->http(s->ctx, &r);
}

static void emit_bokeh(const ow_record_sink *s, int64_t id, int64_t ws, uint64_t size)
{
    ow_bokeh_rec r = {
        .id = id, .ws_id = ws, .ts = 1714550401.0, .dir = 1, .msgtype = "PATCH-DOC", .size = size};
    s->bokeh(s->ctx, &r);
}

/* A transaction that wrote a session's and a User-Agent's rows fails (the disk is full for an
 * exchange's large target) and is rolled back: the next rows naming them make them again. */
static void test_rollback_forgets_texts(void)
{
    char path[128];
    ow_db *db = create_ok("rollback.db", 0, path, sizeof path);
    if (!db)
        return;
    const ow_record_sink *s = owdb_sink(db);
    CHECK_EQ_INT(owdb_commit(db), 0);
    /* the writing thread is idle: the file may not grow by a page from here */
    sqlite3 *c = db->file.db;
    char sql[96];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld",
             (long long)count(c, "PRAGMA page_count"));
    CHECK_EQ_INT(sqlite3_exec(c, sql, NULL, NULL, NULL), SQLITE_OK);
    char *big = malloc(200000);
    memset(big, 'x', 199999);
    big[0] = '/';
    big[199999] = 0;
    emit_ws(s, 1, "sessRolledBack");            /* its stub row, then its own row */
    emit_http(s, 1, "agent/rolled-back", "/a"); /* a stub row */
    emit_http(s, 2, "agent/rolled-back", big);  /* full: the transaction is rolled back */
    CHECK(owdb_commit(db) != 0);
    CHECK(owdb_get_stats(db)->rows_failed >= 3);
    CHECK(strstr(owdb_get_stats(db)->last_error, "full") != NULL);
    CHECK_EQ_INT(sqlite3_exec(c, "PRAGMA max_page_count = 1073741823", NULL, NULL, NULL),
                 SQLITE_OK);
    emit_ws(s, 2, "sessRolledBack");
    emit_http(s, 3, "agent/rolled-back", "/b");
    CHECK_EQ_INT(owdb_commit(db), 0);
    owdb_close(db);
    free(big);
    sqlite3 *r = NULL;
    CHECK(sqlite3_open(path, &r) == SQLITE_OK);
    CHECK_EQ_INT(count(r, "SELECT COUNT(*) FROM websockets"), 1);
    CHECK_EQ_STR(text_of(r, "SELECT s.session_id FROM websockets w JOIN sessions s ON "
                            "s.id = w.session_ref WHERE w.id = 2"),
                 "sessRolledBack");
    CHECK_EQ_STR(text_of(r, "SELECT u.user_agent FROM http_exchanges h JOIN user_agents u ON "
                            "u.id = h.ua_ref WHERE h.id = 3"),
                 "agent/rolled-back");
    sqlite3_close(r);
}

/* 3000 websockets, five messages each, interleaved, a limit of three, one message of each
 * re-emitted after the limit was reached (it is replaced, not refused). */
static void test_bokeh_limit_interleaved(void)
{
    enum { WS = 3000, PER_WS = 5, LIMIT = 3 };
    char path[128];
    ow_db *db = create_ok("bokeh.db", LIMIT, path, sizeof path);
    if (!db)
        return;
    const ow_record_sink *s = owdb_sink(db);
    for (int m = 0; m < PER_WS; m++) {
        for (int w = 1; w <= WS; w++)
            emit_bokeh(s, (int64_t)m * WS + w, w, 10);
        if (m == 1)
            owdb_commit(db);
    }
    for (int w = 1; w <= WS; w++)
        emit_bokeh(s, w, w, 99); /* message 0 again */
    CHECK_EQ_INT(owdb_commit(db), 0);
    CHECK_EQ_INT(owdb_get_stats(db)->bokeh_skipped, WS * (PER_WS - LIMIT));
    owdb_close(db);
    sqlite3 *r = NULL;
    CHECK(sqlite3_open(path, &r) == SQLITE_OK);
    CHECK_EQ_INT(count(r, "SELECT COUNT(*) FROM (SELECT websocket_id FROM bokeh_messages "
                          "GROUP BY 1 HAVING COUNT(*) = 3)"),
                 WS);
    CHECK_EQ_INT(count(r, "SELECT COUNT(*) FROM bokeh_messages WHERE size = 99"), WS);
    CHECK_EQ_INT(count(r, "SELECT MAX(id) FROM bokeh_messages"), 3 * WS);
    sqlite3_close(r);
}

/* An earlier writer stored two messages of websocket 1 but not the websocket's row: the next
 * writer's websocket 1 is the same id, and only one more of its messages fits. */
static void test_bokeh_limit_counts_the_file(void)
{
    char path[128];
    ow_db *db = create_ok("bokeh_append.db", 3, path, sizeof path);
    if (!db)
        return;
    emit_bokeh(owdb_sink(db), 1, 1, 10);
    emit_bokeh(owdb_sink(db), 2, 1, 10);
    owdb_close(db);
    if (!(db = create_ok("bokeh_append.db", 3, path, sizeof path)))
        return;
    for (int i = 1; i <= 3; i++)
        emit_bokeh(owdb_sink(db), i, 1, 20);
    CHECK_EQ_INT(owdb_commit(db), 0);
    CHECK_EQ_INT(owdb_get_stats(db)->bokeh_skipped, 2);
    owdb_close(db);
    sqlite3 *r = NULL;
    CHECK(sqlite3_open(path, &r) == SQLITE_OK);
    CHECK_EQ_INT(count(r, "SELECT COUNT(*) FROM bokeh_messages WHERE websocket_id = 1"), 3);
    CHECK_EQ_INT(count(r, "SELECT COUNT(*) FROM bokeh_messages WHERE size = 20"), 1);
    sqlite3_close(r);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ow_test_db_caches.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_rollback_forgets_texts();
    test_bokeh_limit_interleaved();
    test_bokeh_limit_counts_the_file();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "  could not remove %s\n", tmpdir);
    TEST_MAIN_END("test_db_writer_caches");
}
