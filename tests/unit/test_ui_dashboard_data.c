/* test_ui_dashboard_data: the dashboard's queries on a real database file made from
 * db/schema.sql: keyset pages walked forward and backward give every matching row exactly
 * once, in the order of a plain ORDER BY, for every sort and with ties in the sort keys;
 * the header counts and sparklines; the detail's lines with untrusted text sanitised; every
 * sort's pages read in index order. */
#include "tests/unit/test_sql.h"
#include "tests/unit/testlib.h"
#include "db/db.h"
#include "ui/dashboard_int.h"
#include <locale.h>
#include <stdlib.h>
#include <unistd.h>

enum { N_ROWS = 300, PAGE = 7 };
/* page load i's sessions.id and user_agents.id */
#define SESS_REF(i) (2 * N_ROWS + 1 - (i))
#define UA_REF(i)   ((i) == 77 ? 5000 : 1000 + (i))

static char db_path[64];

static void make_db(void)
{
    sqlite3 *db = schema_db("dash_test", db_path, sizeof db_path);
    CHECK(db != NULL);
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    CHECK(sqlite3_exec(db,
                       "INSERT INTO captures (id, source, live, started, ended, end_reason, "
                       "packets, kernel_drops) VALUES (1, 'eth9', 1, 1000, 1000 + 3600, 'eof', "
                       "555, 3)",
                       NULL, NULL, NULL) == SQLITE_OK);
    /* session and User-Agent texts are rows of their own, referred to by id (numbered unlike
     * the page loads, so that a reader joining on the wrong id shows the wrong text) */
    sqlite3_stmt *st, *st_sess, *st_ua;
    CHECK(sqlite3_prepare_v2(db, "INSERT INTO sessions (id, session_id) VALUES (?1, ?2)", -1,
                             &st_sess, NULL) == SQLITE_OK);
    CHECK(sqlite3_prepare_v2(db,
                             "INSERT INTO user_agents (id, user_agent) VALUES (?1, ?2) "
                             "ON CONFLICT DO NOTHING",
                             -1, &st_ua, NULL) == SQLITE_OK);
    CHECK(sqlite3_prepare_v2(db,
                             "INSERT INTO page_loads (id, capture_id, session_ref, client, path, "
                             "app, ua_ref, started, status, static_count, websockets, "
                             "first_ws_ts, ttlb, outcome, verdict) VALUES (?1, 1, ?2, ?3, '/a', "
                             "'/a', ?4, ?5, 200, 3, ?6, ?7, ?8, ?9, ?10)",
                             -1, &st, NULL) == SQLITE_OK);
    srand(42);
    for (int i = 1; i <= N_ROWS; i++) {
        char sid[64], client[32], ua[64];
        bool orphan = i % 5 == 0;
        snprintf(sid, sizeof sid, "sid%05dxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", i);
        snprintf(client, sizeof client, "10.0.0.%d", rand() % 6);
        snprintf(ua, sizeof ua, i == 77 ? "needle\x1b[2J agent" : "agent %d", i);
        double started = 1000.0 + (i / 3) * 10.0; /* ties: three rows per time */
        int sess_ref = SESS_REF(i), ua_ref = UA_REF(i);
        sqlite3_reset(st_sess);
        sqlite3_bind_int(st_sess, 1, sess_ref);
        sqlite3_bind_text(st_sess, 2, sid, -1, SQLITE_TRANSIENT);
        CHECK(sqlite3_step(st_sess) == SQLITE_DONE);
        sqlite3_reset(st_ua);
        sqlite3_bind_int(st_ua, 1, ua_ref);
        sqlite3_bind_text(st_ua, 2, ua, -1, SQLITE_TRANSIENT);
        CHECK(sqlite3_step(st_ua) == SQLITE_DONE);
        sqlite3_reset(st);
        sqlite3_bind_int(st, 1, i);
        sqlite3_bind_int(st, 2, sess_ref);
        sqlite3_bind_text(st, 3, client, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 4, ua_ref);
        sqlite3_bind_double(st, 5, started);
        sqlite3_bind_int(st, 6, orphan ? 0 : 1);
        if (orphan)
            sqlite3_bind_null(st, 7);
        else
            sqlite3_bind_double(st, 7, started + (rand() % 4) * 0.5); /* duration ties */
        if (i % 7 == 0)
            sqlite3_bind_null(st, 8); /* no ttlb: an unknown duration */
        else
            sqlite3_bind_double(st, 8, 0.25);
        sqlite3_bind_text(st, 9, orphan ? "orphan" : "connected", -1, SQLITE_STATIC);
        if (orphan)
            sqlite3_bind_text(st, 10, i % 10 == 0 ? "pmtu_blackhole" : "unknown", -1,
                              SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 10);
        CHECK(sqlite3_step(st) == SQLITE_DONE);
    }
    sqlite3_finalize(st);
    sqlite3_finalize(st_sess);
    sqlite3_finalize(st_ua);
    CHECK(sqlite3_exec(db,
                       "INSERT INTO evidence (page_load_id, seq, text) VALUES (10, 0, "
                       "'segments of 1280 bytes never acked \x1b]0;x\x07'), (10, 1, 'second')",
                       NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_exec(db, "UPDATE page_loads SET advice = 'lower the MTU' WHERE id = 10", NULL, NULL,
                 NULL);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
}

/* All matching ids in order, from one unpaged query. */
static int reference(sqlite3 *db, const dash_query *q, int64_t *ids)
{
    static dash_row rows[N_ROWS + 1];
    char err[160];
    int n = dash_data_list_page(db, q, NULL, false, true, rows, N_ROWS + 1, err, sizeof err);
    for (int i = 0; i < n; i++)
        ids[i] = rows[i].id;
    return n;
}

static void check_paging(sqlite3 *db, const dash_query *q, const char *what)
{
    static int64_t want[N_ROWS + 1], got[N_ROWS + 1];
    dash_row page[PAGE];
    char err[160];
    int n = reference(db, q, want), m = 0, k;
    CHECK(n > 0);
    /* forward: each page starts after the last row of the one before */
    const dash_row *anchor = NULL;
    dash_row last;
    while ((k = dash_data_list_page(db, q, anchor, false, false, page, PAGE, err, sizeof err)) >
           0) {
        for (int i = 0; i < k && m <= N_ROWS; i++)
            got[m++] = page[i].id;
        last = page[k - 1];
        anchor = &last;
    }
    CHECK_EQ_INT(m, n);
    int same = m == n;
    for (int i = 0; same && i < n; i++)
        same = got[i] == want[i];
    if (!same)
        fprintf(stderr, "  forward paging differs: %s\n", what);
    CHECK(same);
    /* backward from the end: the same rows, each page in display order */
    m = 0;
    anchor = NULL;
    while ((k = dash_data_list_page(db, q, anchor, true, false, page, PAGE, err, sizeof err)) > 0) {
        for (int i = k - 1; i >= 0 && m <= N_ROWS; i--)
            got[m++] = page[i].id;
        last = page[0];
        anchor = &last;
    }
    CHECK_EQ_INT(m, n);
    same = m == n;
    for (int i = 0; same && i < n; i++)
        same = got[i] == want[n - 1 - i];
    if (!same)
        fprintf(stderr, "  backward paging differs: %s\n", what);
    CHECK(same);
    /* inclusive: a page from a row starts with that row */
    k = dash_data_list_page(db, q, &last, false, true, page, PAGE, err, sizeof err);
    CHECK(k > 0 && page[0].id == last.id);
    CHECK_EQ_INT(dash_data_count(db, q), n);
}

static void test_paging(sqlite3 *db)
{
    for (int s = 0; s < DASH_SORT_COUNT; s++) {
        dash_query q = {.sort = (enum dash_sort)s};
        check_paging(db, &q, dash_sort_name(q.sort));
        q.orphans_only = true;
        check_paging(db, &q, "orphans");
        q.orphans_only = false;
        snprintf(q.client, sizeof q.client, "10.0.0.3");
        check_paging(db, &q, "client");
        q.client[0] = '\0';
        snprintf(q.verdict, sizeof q.verdict, "none");
        check_paging(db, &q, "verdict none");
    }
    /* search: LIKE wildcards in the text are literal */
    dash_query q = {0};
    char err[160];
    dash_row rows[4];
    snprintf(q.search, sizeof q.search, "needle");
    CHECK_EQ_INT(dash_data_list_page(db, &q, NULL, false, true, rows, 4, err, sizeof err), 1);
    CHECK_EQ_INT(rows[0].id, 77);
    snprintf(q.search, sizeof q.search, "sid0001%%");
    CHECK_EQ_INT(dash_data_list_page(db, &q, NULL, false, true, rows, 4, err, sizeof err), 0);
    snprintf(q.search, sizeof q.search, "SID00123");
    CHECK_EQ_INT(dash_data_list_page(db, &q, NULL, false, true, rows, 4, err, sizeof err), 1);
    /* the row shows the texts its session_ref and ua_ref name */
    CHECK_EQ_INT(rows[0].id, 123);
    CHECK(strncmp(rows[0].sid, "sid00123x", 9) == 0);
    CHECK_EQ_STR(rows[0].ua, "agent 123");
    snprintf(q.search, sizeof q.search, "agent 45");
    CHECK_EQ_INT(dash_data_list_page(db, &q, NULL, false, true, rows, 4, err, sizeof err), 1);
    CHECK_EQ_INT(rows[0].id, 45);
    CHECK(strncmp(rows[0].sid, "sid00045x", 9) == 0);
    /* newest first by default */
    memset(&q, 0, sizeof q);
    CHECK_EQ_INT(dash_data_list_page(db, &q, NULL, false, true, rows, 2, err, sizeof err), 2);
    CHECK_EQ_INT(rows[0].id, N_ROWS);
    CHECK(rows[0].started >= rows[1].started);
}

static void test_stats(sqlite3 *db)
{
    dash_stats st = {0};
    dash_data_stats(db, &st, false);
    CHECK(st.valid);
    CHECK_EQ_STR(st.source, "eth9");
    CHECK_EQ_INT(st.packets, 555);
    CHECK_EQ_INT(st.kernel_drops, 3);
    CHECK_EQ_INT(st.total, N_ROWS);
    CHECK_EQ_INT(st.outcome[4], N_ROWS / 5); /* OW_OUTCOME_ORPHAN */
    long loads = 0, orphans = 0;
    for (int i = 0; i < DASH_SPARK_MAX; i++)
        loads += st.spark_loads[i], orphans += st.spark_orphans[i];
    CHECK_EQ_INT(loads, N_ROWS); /* the rows span 17 minutes: all inside the window */
    CHECK_EQ_INT(orphans, N_ROWS / 5);
    CHECK(st.spark_loads[DASH_SPARK_MAX - 1] > 0); /* the newest minute is the last cell */
}

static void test_detail(sqlite3 *db)
{
    dash_lines l = {0};
    dash_detail_build(db, 10, 60, true, &l);
    bool evidence = false, advice = false, verdict = false;
    for (int i = 0; i < l.n; i++) {
        CHECK(strchr(l.v[i].text, 0x1b) == NULL);
        evidence |= strstr(l.v[i].text, "1. segments of 1280 bytes never acked") != NULL;
        advice |= strstr(l.v[i].text, "lower the MTU") != NULL;
        verdict |= strstr(l.v[i].text, "orphan: pmtu_blackhole") != NULL;
    }
    CHECK(evidence && advice && verdict);
    dash_lines_clear(&l);
    dash_detail_build(db, 999999, 60, true, &l);
    CHECK(l.n == 1 && strstr(l.v[0].text, "not in the database") != NULL);
    dash_lines_clear(&l);
}

static void test_clients(sqlite3 *db)
{
    dash_client v[3];
    bool more = false;
    int n = dash_data_clients(db, v, 3, &more);
    CHECK_EQ_INT(n, 3);
    CHECK(more); /* six clients, three asked for */
    CHECK(v[0].orphans >= v[1].orphans && v[1].orphans >= v[2].orphans);
}

/* EXPLAIN QUERY PLAN of a list query, its details joined by " | ". */
static const char *list_plan(sqlite3 *db, const dash_query *q, const dash_row *anchor)
{
    static char out[2048];
    char sql[4096];
    out[0] = 0;
    CHECK(dash_list_sql(sql, sizeof sql, q, anchor, false, false) >= 0);
    char *x = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", sql);
    sqlite3_stmt *st = NULL;
    size_t len = 0;
    CHECK(sqlite3_prepare_v2(db, x, -1, &st, NULL) == SQLITE_OK);
    while (st && sqlite3_step(st) == SQLITE_ROW && len < sizeof out - 300)
        len += (size_t)snprintf(out + len, sizeof out - len, "%s | ",
                                (const char *)sqlite3_column_text(st, 3));
    sqlite3_finalize(st);
    sqlite3_free(x);
    return out;
}

/* Every sort reads its first page and the next ones in index order: no sort of every page
 * load (a million on a big capture) per key press. Duration's expression index is used only
 * while the dashboard's expression and the schema's stay the same. */
static void test_sort_plans(sqlite3 *db)
{
    static const char *const index_of[DASH_SORT_COUNT] = {[DASH_SORT_TIME] = "page_loads_started",
                                                          [DASH_SORT_CLIENT] = "page_loads_client",
                                                          [DASH_SORT_DURATION] =
                                                              "page_loads_duration"};
    dash_row a = {.id = 5, .started = 1000.0, .dur = 0.5};
    snprintf(a.client, sizeof a.client, "10.0.0.1");
    for (int s = 0; s < DASH_SORT_COUNT; s++) {
        dash_query q = {.sort = (enum dash_sort)s};
        for (int anchored = 0; anchored < 2; anchored++) {
            const char *plan = list_plan(db, &q, anchored ? &a : NULL);
            if (!strstr(plan, index_of[s]) || strstr(plan, "TEMP B-TREE"))
                fprintf(stderr, "  sort %s%s: %s\n", dash_sort_name(q.sort),
                        anchored ? " (next page)" : "", plan);
            CHECK(strstr(plan, index_of[s]) != NULL);
            CHECK(strstr(plan, "TEMP B-TREE") == NULL);
        }
    }
}

int main(void)
{
    setlocale(LC_CTYPE, "C.UTF-8");
    make_db();
    char err[256];
    sqlite3 *db = dash_data_open(db_path, err, sizeof err);
    CHECK(db != NULL);
    if (db) {
        test_paging(db);
        test_stats(db);
        test_detail(db);
        test_clients(db);
        test_sort_plans(db);
        sqlite3_close(db);
    }
    CHECK(dash_data_open("/nonexistent/x.db", err, sizeof err) == NULL);
    unlink(db_path);
    TEST_MAIN_END("test_ui_dashboard_data");
}
