/* test_db_writer_staged: page loads and HTTP exchanges are staged (db/writer_priv.h
 * owdb_staged) and moved into the file at the end of each batch. Over batches that rewrite page
 * loads, name exchanges written in a later batch and rewrite evidence, the file holds what a
 * row-by-row writer would: each row's last version, page_loads.resource from its first evidence
 * tied to an exchange, rollups equal to their recomputation from page_loads; the stages are
 * empty after every batch, and the rows are counted as written once moved. A move that fails
 * rolls the batch's transaction back whole (no evidence left without its page load), counts
 * every row of it as failed, says why, and the next batch is written. */
#include "db/writer_priv.h"
#include "tests/unit/test_sql.h"
#include "tests/unit/testlib.h"
#include <stdlib.h>
#include <string.h>

static char tmpdir[64];

static ow_db *create_ok(const char *name)
{
    char path[128], err[512] = "";
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    ow_db *db = owdb_create(path, NULL, err, sizeof err);
    if (!db)
        fprintf(stderr, "  owdb_create(%s): %s\n", path, err);
    CHECK(db != NULL);
    return db;
}

static void emit_http(const ow_record_sink *s, int64_t id, int64_t page, const char *target)
{
    ow_http_rec r = {.id = id,
                     .conn_id = 1,
                     .kind = "static",
                     .req_ts = 1714550400.5 + (double)id,
                     .method = "GET",
                     .target = target,
                     .host = "100.64.0.1:5006",
                     .status = 200,
                     .content_length = -1,
                     .last_byte_acked = -1,
                     .page_load_id = page};
    s->http(s->ctx, &r);
}

/* Page load id, decided (orphan, with evidence naming exchange http_id) or still pending. */
static void emit_page(const ow_record_sink *s, int64_t id, bool decided, int64_t http_id)
{
    static ow_addr client, server;
    ow_addr_parse(id % 2 ? "100.64.0.2" : "fd7a:115c:a1e0::2", &client);
    ow_addr_parse("100.64.0.1", &server);
    ow_evidence ev[2] = {{1, 0, "no websocket"}, {1, http_id, "script stalled"}};
    ow_page_rec r = {.id = id,
                     .http_id = 1,
                     .conn_id = 1,
                     .session_id = "sessABC",
                     .client = &client,
                     .server = &server,
                     .client_port = 40001,
                     .server_port = 5006,
                     .path = "/sliders?visit=1",
                     .app = id % 3 ? "/sliders" : "/other",
                     .started = 1714550400.5 + 61.0 * (double)id,
                     .status = 200,
                     .ttfb = -1,
                     .ttlb = 0.2,
                     .outcome = decided ? OW_OUTCOME_ORPHAN : OW_OUTCOME_PENDING,
                     .verdict = decided ? OW_VERDICT_SCRIPT_STALLED : OW_VERDICT_NONE,
                     .confidence = decided ? 0.9 : 0,
                     .summary = decided ? "a script stalled" : NULL,
                     .evidence = decided ? ev : NULL,
                     .n_evidence = decided ? 2 : 0};
    s->page(s->ctx, &r);
}

static int64_t staged_left(ow_db *db)
{
    return count(db->file.db, "SELECT (SELECT COUNT(*) FROM temp.stage_page_loads) + "
                              "(SELECT COUNT(*) FROM temp.stage_http_exchanges)");
}

/* Rollups and resources that differ from their recomputation from page_loads and evidence. */
static int64_t inconsistent(sqlite3 *db)
{
    return count(db, "SELECT (SELECT COUNT(*) FROM (SELECT COALESCE(app, x''), outcome, "
                     "COALESCE(verdict, x''), COUNT(*) FROM page_loads GROUP BY 1, 2, 3 EXCEPT "
                     "SELECT app, outcome, verdict, n FROM rollup_outcomes)) + (SELECT COUNT(*) "
                     "FROM (SELECT app, outcome, verdict, n FROM rollup_outcomes EXCEPT SELECT "
                     "COALESCE(app, x''), outcome, COALESCE(verdict, x''), COUNT(*) FROM "
                     "page_loads GROUP BY 1, 2, 3)) + (SELECT COUNT(*) FROM (SELECT minute, n, "
                     "orphans FROM rollup_minutes EXCEPT SELECT CAST(started / 60 AS INTEGER), "
                     "COUNT(*), SUM(outcome = 'orphan') FROM page_loads GROUP BY 1)) + (SELECT "
                     "COUNT(*) FROM page_loads p WHERE resource IS NOT (SELECT resource FROM "
                     "evidence_resources WHERE page_load_id = p.id ORDER BY seq LIMIT 1))");
}

static void test_batches(void)
{
    ow_db *db = create_ok("batches.db");
    const ow_record_sink *s = owdb_sink(db);
    /* batch 1: pages 1-6 pending, exchanges 1-3 */
    for (int64_t p = 1; p <= 6; p++)
        emit_page(s, p, false, 0);
    for (int64_t h = 1; h <= 3; h++)
        emit_http(s, h, h, "/static/a.js?v=1");
    CHECK_EQ_INT(owdb_commit(db), 0);
    CHECK_EQ_INT(staged_left(db), 0);
    CHECK_EQ_INT(db->stats.rows_written, 9);
    /* batch 2: pages 1-3 decided naming exchanges 2, 3 (written) and 7 (not yet); page 2
     * twice in the batch; exchange 1 rewritten */
    emit_page(s, 1, true, 2);
    emit_page(s, 2, true, 3);
    emit_page(s, 3, true, 7);
    emit_page(s, 2, true, 3);
    emit_http(s, 1, 1, "/static/b.js");
    CHECK_EQ_INT(owdb_commit(db), 0);
    CHECK_EQ_INT(staged_left(db), 0);
    CHECK_EQ_STR(text_of(db->file.db, "SELECT resource FROM page_loads WHERE id = 3"), "NULL");
    /* batch 3: exchange 7 arrives; page 4 decided */
    emit_http(s, 7, 3, "/static/late.js#x");
    emit_page(s, 4, true, 1);
    CHECK_EQ_INT(owdb_commit(db), 0);
    CHECK_EQ_INT(staged_left(db), 0);
    sqlite3 *f = db->file.db;
    CHECK_EQ_INT(count(f, "SELECT COUNT(*) FROM page_loads"), 6);
    CHECK_EQ_INT(count(f, "SELECT COUNT(*) FROM http_exchanges"), 4);
    CHECK_EQ_INT(count(f, "SELECT COUNT(*) FROM page_loads WHERE outcome = 'orphan'"), 4);
    CHECK_EQ_STR(text_of(f, "SELECT resource FROM page_loads WHERE id = 1"), "/static/a.js");
    CHECK_EQ_STR(text_of(f, "SELECT resource FROM page_loads WHERE id = 3"), "/static/late.js");
    CHECK_EQ_STR(text_of(f, "SELECT resource FROM page_loads WHERE id = 4"), "/static/b.js");
    CHECK_EQ_STR(text_of(f, "SELECT target FROM http_exchanges WHERE id = 1"), "/static/b.js");
    CHECK_EQ_INT(count(f, "SELECT COUNT(*) FROM evidence"), 8);
    CHECK_EQ_INT(count(f, "SELECT SUM(n) FROM rollup_verdicts"), 4);
    CHECK_EQ_INT(inconsistent(f), 0);
    /* 9 + 5 rows (page 2 held once) + 6 evidence + 2 + 1 evidence... counted as written */
    CHECK_EQ_INT(db->stats.rows_failed, 0);
    CHECK_EQ_INT(db->stats.rows_written, 9 + 4 + 6 + 2 + 2);
    owdb_close(db);
}

static void test_failed_move(void)
{
    ow_db *db = create_ok("failed.db");
    const ow_record_sink *s = owdb_sink(db);
    for (int64_t p = 1; p <= 3; p++)
        emit_page(s, p, false, 0);
    emit_http(s, 1, 1, "/static/a.js");
    CHECK_EQ_INT(owdb_commit(db), 0);
    CHECK_EQ_INT(sqlite3_exec(db->file.db,
                              "CREATE TEMP TRIGGER refuse BEFORE INSERT ON main.page_loads WHEN "
                              "NEW.id = 5 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    /* the failing batch: pages 1 (decided, 2 evidence rows), 4 and 5, an exchange */
    emit_page(s, 1, true, 1);
    emit_page(s, 4, false, 0);
    emit_page(s, 5, false, 0);
    emit_http(s, 2, 4, "/static/c.js");
    CHECK_EQ_INT(owdb_commit(db), -1);
    CHECK_EQ_INT(db->stats.rows_failed, 6);
    CHECK(strstr(db->stats.last_error, "refused by the test") != NULL);
    CHECK_EQ_INT(staged_left(db), 0);
    sqlite3 *f = db->file.db;
    CHECK_EQ_INT(count(f, "SELECT COUNT(*) FROM page_loads"), 3);
    CHECK_EQ_INT(count(f, "SELECT COUNT(*) FROM page_loads WHERE outcome = 'pending'"), 3);
    CHECK_EQ_INT(count(f, "SELECT COUNT(*) FROM evidence"), 0);
    CHECK_EQ_INT(count(f, "SELECT COUNT(*) FROM http_exchanges"), 1);
    CHECK_EQ_INT(inconsistent(f), 0);
    /* the next batch is written */
    CHECK_EQ_INT(sqlite3_exec(f, "DROP TRIGGER temp.refuse", NULL, NULL, NULL), SQLITE_OK);
    emit_page(s, 1, true, 1);
    emit_page(s, 5, false, 0);
    CHECK_EQ_INT(owdb_commit(db), 0);
    CHECK_EQ_INT(count(f, "SELECT COUNT(*) FROM page_loads"), 4);
    CHECK_EQ_INT(count(f, "SELECT COUNT(*) FROM evidence"), 2);
    CHECK_EQ_STR(text_of(f, "SELECT resource FROM page_loads WHERE id = 1"), "/static/a.js");
    CHECK_EQ_INT(inconsistent(f), 0);
    CHECK_EQ_INT(db->stats.rows_failed, 6);
    owdb_close(db);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ow_test_db_staged.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_batches();
    test_failed_move();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "  could not remove %s\n", tmpdir);
    TEST_MAIN_END("test_db_writer_staged");
}
