/* test_db_triggers: the schema's triggers keep page_loads.resource and the rollup tables equal to
 * what they would be recomputed from scratch, after every write of a random sequence in awkward
 * orders: page loads inserted and INSERT OR REPLACEd (resource NULL, as the writer inserts
 * them), updated and deleted; evidence rewritten and updated; exchanges written before and after
 * the evidence naming them, of the same page, of another page or of none. The same holds in a
 * file that keeps the triggers an earlier orphanwatch made (CREATE ... IF NOT EXISTS). */
#include "tests/unit/test_sql.h"
#include "tests/unit/testlib.h"
#include <stdlib.h>
#include <string.h>

#define PAGES     6
#define EXCHANGES 12

static int exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fprintf(stderr, "  %s: %s\n", sql, msg ? msg : "?");
    sqlite3_free(msg);
    return rc;
}

/* Rows of the first query missing from the second plus the reverse. */
static int64_t differ(sqlite3 *db, const char *a, const char *b)
{
    char sql[2048];
    snprintf(sql, sizeof sql,
             "SELECT (SELECT COUNT(*) FROM (%s EXCEPT %s)) + (SELECT COUNT(*) FROM (%s EXCEPT %s))",
             a, b, b, a);
    return count(db, sql);
}

#define RES_OF(p)                                                                                  \
    "(SELECT resource FROM evidence_resources WHERE page_load_id = " p " ORDER BY seq LIMIT 1)"
#define PATH_RES "substr(path, 1, min(instr(path || '?', '?'), instr(path || '#', '#')) - 1)"

/* page_loads.resource and every rollup recomputed from the tables: 0 when all agree. */
static int64_t inconsistencies(sqlite3 *db)
{
    int64_t bad =
        count(db, "SELECT COUNT(*) FROM page_loads p WHERE resource IS NOT " RES_OF("p.id"));
    bad += differ(db, "SELECT app, outcome, verdict, n FROM rollup_outcomes",
                  "SELECT COALESCE(app, x''), outcome, COALESCE(verdict, x''), COUNT(*) FROM "
                  "page_loads GROUP BY 1, 2, 3");
    bad += differ(db, "SELECT client, n, orphans FROM rollup_clients",
                  "SELECT COALESCE(client, x''), COUNT(*), SUM(outcome = 'orphan') FROM "
                  "page_loads GROUP BY 1");
    bad += differ(db, "SELECT client, verdict, resource, n FROM rollup_verdicts",
                  "SELECT COALESCE(client, x''), verdict, COALESCE(resource, " PATH_RES
                  ", x''), COUNT(*) FROM page_loads WHERE verdict IS NOT NULL GROUP BY 1, 2, 3");
    bad += differ(db, "SELECT minute, n, orphans FROM rollup_minutes",
                  "SELECT CAST(started / 60 AS INTEGER), COUNT(*), SUM(outcome = 'orphan') FROM "
                  "page_loads WHERE started IS NOT NULL GROUP BY 1");
    return bad;
}

static const char *const targets[] = {"/app/static/a.js?v=1", "/app/static/b.css#x", "/app",
                                      "/other/c.js", "/ws?bokeh-session-id=1"};
static const char *const clients[] = {"100.64.0.2", "100.64.0.3", NULL};
static const char *const outcomes[] = {"orphan", "connected", "ws_refused"};
static const char *const verdicts[] = {"script_stalled", "unknown", NULL};

static void sql_text(char *out, size_t len, const char *s)
{
    if (s)
        snprintf(out, len, "'%s'", s);
    else
        snprintf(out, len, "NULL");
}

/* The page an exchange belongs to: with same_page, the only page whose evidence names it. */
static int exchange_page(int x, bool same_page)
{
    return same_page ? 1 + (x - 1) % PAGES : (int)tl_below(PAGES + 1); /* 0: none */
}

static void random_write(sqlite3 *db, bool same_page)
{
    char sql[1024], client[32], verdict[32];
    int page = 1 + (int)tl_below(PAGES), x = 1 + (int)tl_below(EXCHANGES);
    sql_text(client, sizeof client, clients[tl_below(3)]);
    sql_text(verdict, sizeof verdict, verdicts[tl_below(3)]);
    switch (tl_below(8)) {
    case 0:
    case 1: /* the writer's page load: INSERT OR REPLACE, resource NULL */
        snprintf(sql, sizeof sql,
                 "INSERT OR REPLACE INTO page_loads(id, capture_id, client, path, app, started, "
                 "outcome, verdict) VALUES(%d, 1, %s, '/app?visit=%u', '/app', %u, '%s', %s)",
                 page, client, tl_below(3), 1714550400 + 50 * tl_below(4), outcomes[tl_below(3)],
                 verdict);
        break;
    case 2:
    case 3: { /* the writer's evidence: the page's rows deleted, new ones written */
        int n = (int)tl_below(4), len;
        len = snprintf(sql, sizeof sql, "DELETE FROM evidence WHERE page_load_id = %d;", page);
        for (int i = 0; i < n; i++) {
            int e = 1 + (int)tl_below(EXCHANGES);
            if (same_page)
                e = page + PAGES * (int)tl_below(2); /* an exchange of this page (or absent) */
            if (tl_below(3) == 0)
                len +=
                    snprintf(sql + len, sizeof sql - len,
                             "INSERT INTO evidence VALUES(%d, %d, NULL, NULL, 'fact');", page, i);
            else
                len += snprintf(sql + len, sizeof sql - len,
                                "INSERT INTO evidence VALUES(%d, %d, 1, %d, 'fact');", page, i, e);
        }
        break;
    }
    case 4:
    case 5: { /* an exchange, before or after the evidence naming it */
        int p = exchange_page(x, same_page);
        char pid[16];
        if (p)
            snprintf(pid, sizeof pid, "%d", p);
        else
            snprintf(pid, sizeof pid, "NULL");
        snprintf(sql, sizeof sql,
                 "INSERT OR REPLACE INTO http_exchanges(id, connection_id, seq, target, "
                 "page_load_id) VALUES(%d, 1, 0, '%s', %s)",
                 x, targets[tl_below(5)], pid);
        break;
    }
    case 6: /* an update (a merge relabels verdicts) */
        snprintf(sql, sizeof sql,
                 "UPDATE page_loads SET outcome = '%s', verdict = %s, client = %s WHERE id = %d",
                 outcomes[tl_below(3)], verdict, client, page);
        break;
    default:
        if (tl_below(3) == 0)
            snprintf(sql, sizeof sql, "DELETE FROM page_loads WHERE id = %d", page);
        else if (same_page)
            snprintf(sql, sizeof sql,
                     "UPDATE evidence SET http_id = NULL WHERE page_load_id = %d AND seq = 0",
                     page);
        else
            snprintf(sql, sizeof sql,
                     "UPDATE evidence SET http_id = %d WHERE page_load_id = %d AND seq = 0", x,
                     page);
    }
    CHECK_EQ_INT(exec(db, sql), SQLITE_OK);
}

static int64_t resources_seen, verdict_rows_seen; /* the runs reached the states checked */

/* Random writes, each followed by the check; returns the writes after which it failed. */
static int run_writes(sqlite3 *db, int n, bool same_page)
{
    int failed = 0;
    for (int i = 0; i < n; i++) {
        random_write(db, same_page);
        if (inconsistencies(db) != 0)
            failed++;
        resources_seen += count(db, "SELECT COUNT(*) FROM page_loads WHERE resource IS NOT NULL");
        verdict_rows_seen += count(db, "SELECT COUNT(*) FROM rollup_verdicts");
    }
    return failed;
}

static void test_any_order(void)
{
    char path[128];
    sqlite3 *db = schema_db("triggers", path, sizeof path);
    CHECK(db != NULL);
    if (!db)
        return;
    resources_seen = verdict_rows_seen = 0;
    CHECK_EQ_INT(run_writes(db, 3000, false), 0);
    CHECK(resources_seen > 1000 && verdict_rows_seen > 1000); /* not one empty state */
    CHECK_EQ_INT(count(db, "SELECT COUNT(*) FROM resource_refresh"), 0);
    CHECK_EQ_INT(count(db, "SELECT COUNT(*) FROM rollup_changes"), 0);
    sqlite3_close(db);
    unlink(path);
}

/* The exchange written last names a page through its evidence only (its own page_load_id is
 * another page, or none): that page's resource follows. */
static void test_exchange_of_other_page(void)
{
    char path[128];
    sqlite3 *db = schema_db("triggers_other", path, sizeof path);
    CHECK(db != NULL);
    if (!db)
        return;
    CHECK_EQ_INT(exec(db, "INSERT INTO page_loads(id, capture_id, client, path, outcome, verdict) "
                          "VALUES(1, 1, 'c', '/app', 'orphan', 'script_stalled');"
                          "INSERT INTO page_loads(id, capture_id, client, path, outcome) "
                          "VALUES(2, 1, 'c', '/app', 'connected');"
                          "INSERT INTO evidence VALUES(1, 0, 1, 7, 'stalled');"
                          "INSERT INTO evidence VALUES(1, 1, 1, 8, 'stalled');"),
                 SQLITE_OK);
    CHECK_EQ_STR(text_of(db, "SELECT resource FROM page_loads WHERE id = 1"), "NULL");
    CHECK_EQ_INT(exec(db, "INSERT INTO http_exchanges(id, connection_id, seq, target) "
                          "VALUES(8, 1, 1, '/b.js?x')"),
                 SQLITE_OK);
    CHECK_EQ_STR(text_of(db, "SELECT resource FROM page_loads WHERE id = 1"), "/b.js");
    CHECK_EQ_INT(exec(db, "INSERT INTO http_exchanges(id, connection_id, seq, target, "
                          "page_load_id) VALUES(7, 1, 0, '/a.js#f', 2)"),
                 SQLITE_OK);
    CHECK_EQ_STR(text_of(db, "SELECT resource FROM page_loads WHERE id = 1"), "/a.js");
    CHECK_EQ_STR(text_of(db, "SELECT resource FROM rollup_verdicts"), "/a.js");
    CHECK_EQ_INT(inconsistencies(db), 0);
    sqlite3_close(db);
    unlink(path);
}

/* A file made by an earlier orphanwatch keeps its triggers (each exchange refreshes its own
 * page; every page load refreshes itself): still right, with the schema run over it again. */
static void test_earlier_triggers_kept(void)
{
    char path[128];
    sqlite3 *db = schema_db("triggers_old", path, sizeof path);
    CHECK(db != NULL);
    if (!db)
        return;
    CHECK_EQ_INT(exec(db, "DROP INDEX evidence_http; DROP TRIGGER http_exchanges_insert;"
                          "DROP TRIGGER page_loads_insert;"
                          "CREATE TRIGGER http_exchanges_insert AFTER INSERT ON http_exchanges "
                          "WHEN NEW.page_load_id IS NOT NULL BEGIN "
                          "INSERT INTO resource_refresh VALUES (NEW.page_load_id); END;"
                          "CREATE TRIGGER page_loads_insert AFTER INSERT ON page_loads BEGIN "
                          "INSERT INTO rollup_changes VALUES (1, NEW.app, NEW.client, NEW.outcome, "
                          "NEW.verdict, NEW.path, NEW.resource, NEW.started);"
                          "INSERT INTO resource_refresh VALUES (NEW.id); END;"),
                 SQLITE_OK);
    resources_seen = 0;
    CHECK_EQ_INT(run_writes(db, 1000, true), 0);
    CHECK(resources_seen > 300);
    CHECK_EQ_INT(exec(db, ow_schema_sql), SQLITE_OK); /* a writer opening it again */
    CHECK(strstr(text_of(db, "SELECT sql FROM sqlite_master WHERE name = "
                             "'http_exchanges_insert'"),
                 "NEW.page_load_id IS NOT NULL") != NULL);
    CHECK_EQ_INT(run_writes(db, 1000, true), 0);
    sqlite3_close(db);
    unlink(path);
}

int main(void)
{
    test_exchange_of_other_page();
    test_any_order();
    test_earlier_triggers_kept();
    TEST_MAIN_END("test_db_triggers");
}
