/* test_db_query: the query layer. Time parsing and ISO 8601 output (UTC and a local zone
 * with an offset), filter checks, "the most recent N in time order", the verdict sentences,
 * the session-prefix lookup (unique, ambiguous, unknown), the timeline, and EXPLAIN QUERY PLAN
 * of every filtered list: the page loads, sessions and connections are searched through an
 * index, never scanned. */
#include "db/db.h"
#include "db/query.h"
#include "tests/unit/testlib.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define T0 1714564800.0 /* 2024-05-01T12:00:00Z */

static int verbose;

static void exec_ok(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fprintf(stderr, "  sql failed: %s: %s\n", msg, sql);
    CHECK(msg == NULL);
    sqlite3_free(msg);
}

/* ---- time ---- */

static void expect_time(const char *s, double ref, double want)
{
    char err[256] = "";
    double t = -1;
    int rc = query_parse_time(s, ref, &t, err, sizeof err);
    if (rc != 0 || fabs(t - want) > 1e-6)
        fprintf(stderr, "  '%s' -> rc %d, %.6f (want %.6f) %s\n", s, rc, t, want, err);
    CHECK(rc == 0 && fabs(t - want) < 1e-6);
}

static void expect_bad_time(const char *s)
{
    char err[256] = "";
    double t;
    CHECK(query_parse_time(s, T0, &t, err, sizeof err) < 0);
    CHECK(strstr(err, "is not a time") != NULL);
}

static void test_time_parse(void)
{
    expect_time("10m", T0, T0 - 600);
    expect_time("1.5h", T0, T0 - 5400);
    expect_time("90s", T0, T0 - 90);
    expect_time("1d", T0, T0 - 86400);
    expect_time("2w", T0, T0 - 2 * 604800);
    expect_time("2024-05-01T12:00:00Z", 0, T0);
    expect_time("2024-05-01T14:00:00+02:00", 0, T0);
    expect_time("2024-05-01T07:30:00-0430", 0, T0);
    expect_time("2024-05-01 12:00Z", 0, T0);
    expect_time("2024-05-01T12:00:00.250Z", 0, T0 + 0.25);
    expect_time("2024-05-01T12:00:00,5+00", 0, T0 + 0.5);
    expect_time("@1714564800.5", 0, T0 + 0.5);
    expect_bad_time("yesterday");
    expect_bad_time("10x");
    expect_bad_time("2024-13-01");
    expect_bad_time("2024-05-01T25:00Z");
    expect_bad_time("2024-05-01T12:00:00+02:00junk");
    expect_bad_time("");
    /* no offset: local time */
    setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1);
    tzset();
    expect_time("2024-05-01T14:00:00", 0, T0);
    expect_time("2024-05-01", 0, T0 - 14 * 3600);
}

static void test_time_format(void)
{
    char buf[64];
    CHECK_EQ_STR(query_format_time(T0 + 0.25, true, buf, sizeof buf), "2024-05-01T12:00:00.250Z");
    CHECK_EQ_STR(query_format_time(T0 + 0.9996, true, buf, sizeof buf), "2024-05-01T12:00:01.000Z");
    setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1);
    tzset();
    CHECK_EQ_STR(query_format_time(T0, false, buf, sizeof buf), "2024-05-01T14:00:00.000+02:00");
    CHECK_EQ_STR(query_format_time(T0 - 120 * 86400, false, buf, sizeof buf),
                 "2024-01-02T13:00:00.000+01:00");
    setenv("TZ", "<-0330>3:30", 1);
    tzset();
    CHECK_EQ_STR(query_format_time(T0, false, buf, sizeof buf), "2024-05-01T08:30:00.000-03:30");
    setenv("TZ", "UTC0", 1);
    tzset();
}

static void test_filter_check(void)
{
    char buf[64], err[256];
    query_filter f = {.client = "fd7a:115c:a1e0:0:0:0:0:2", .verdict = "none"};
    CHECK_EQ_INT(query_filter_check(&f, buf, sizeof buf, err, sizeof err), 0);
    CHECK_EQ_STR(f.client, "fd7a:115c:a1e0::2");
    query_filter bad_client = {.client = "100.64.0.300"};
    CHECK(query_filter_check(&bad_client, buf, sizeof buf, err, sizeof err) < 0);
    CHECK(strstr(err, "100.64.0.300") != NULL);
    query_filter bad_verdict = {.verdict = "blackhole"};
    CHECK(query_filter_check(&bad_verdict, buf, sizeof buf, err, sizeof err) < 0);
    query_filter bad_outcome = {.outcome = "lost"};
    CHECK(query_filter_check(&bad_outcome, buf, sizeof buf, err, sizeof err) < 0);
    query_filter ws_only = {.outcome = "websocket_only", .verdict = "ws_elsewhere"};
    CHECK_EQ_INT(query_filter_check(&ws_only, buf, sizeof buf, err, sizeof err), 0);
}

/* ---- a small database ---- */

static void add_page(sqlite3 *db, int id, const char *client, const char *sid, double t,
                     const char *outcome, const char *verdict)
{
    /* the page's session row first: page_loads refers to it by id */
    char *sql = sqlite3_mprintf(
        "INSERT INTO sessions(session_id, first_ts, outcome) VALUES(%Q, %.3f, %Q);"
        "INSERT INTO page_loads(id, capture_id, http_id, session_ref, client, client_port, "
        "server, server_port, path, app, started, status, outcome, verdict) VALUES(%d, 1, %d, "
        "(SELECT id FROM sessions WHERE session_id = %Q), %Q, 40000, '100.64.0.1', 5006, "
        "'/sliders?visit=%d', '/sliders', %.3f, 200, %Q, %Q);"
        "INSERT INTO http_exchanges(id, connection_id, seq, kind, req_ts, method, target, status, "
        "page_load_id) VALUES(%d, 1, 0, 'page', %.3f, 'GET', '/sliders?visit=%d', 200, %d)",
        sid, t, outcome, id, id, sid, client, id, t, outcome, verdict, id, t, id, id);
    exec_ok(db, sql);
    sqlite3_free(sql);
}

/* Client 100.64.0.2: 10 page loads, 3 stalled on bokeh-gl; client ::2: 2 healthy. */
static sqlite3 *make_db(void)
{
    sqlite3 *db = NULL;
    char sid[32];
    CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK);
    exec_ok(db, ow_schema_sql);
    exec_ok(db, "INSERT INTO captures(id, source, live, started, ended) "
                "VALUES(1, 'x.pcap', 0, 1714564800, 1714565800)");
    exec_ok(db, "INSERT INTO connections(id, capture_id, client, client_port, server, server_port, "
                "family, first_ts, retrans_s2c) VALUES(1, 1, '100.64.0.2', 40000, '100.64.0.1', "
                "5006, 4, 1714564800, 9)");
    for (int i = 1; i <= 10; i++) {
        snprintf(sid, sizeof sid, "%s%02d", i <= 2 ? "abc" : "s", i);
        add_page(db, i, "100.64.0.2", sid, T0 + i, i <= 3 ? "orphan" : "connected",
                 i <= 3 ? "script_stalled" : NULL);
    }
    add_page(db, 11, "fd7a:115c:a1e0::2", "v6one", T0 + 11, "connected", NULL);
    add_page(db, 12, "fd7a:115c:a1e0::2", "v6two", T0 + 12, "connected", NULL);
    for (int i = 1; i <= 3; i++) {
        char *sql = sqlite3_mprintf(
            "INSERT INTO http_exchanges(id, connection_id, seq, kind, req_ts, method, target, "
            "status, complete, page_load_id) VALUES(%d, 1, 1, 'static', %.3f, 'GET', "
            "'/static/js/bokeh-gl.min.js?v=ab', 200, 0, %d);"
            "INSERT INTO evidence(page_load_id, seq, connection_id, http_id, text) "
            "VALUES(%d, 0, 1, %d, 'bokeh-gl stalled');",
            100 + i, T0 + i + 0.1, i, i, 100 + i);
        exec_ok(db, sql);
        sqlite3_free(sql);
    }
    CHECK_EQ_INT(query_register_functions(db, true), 0);
    return db;
}

/* Runs a query; returns the rows' first columns joined by ',' (and the row count). */
static const char *run(sqlite3 *db, query_kind k, const query_filter *f, const char *arg, int col,
                       int *rows)
{
    static char out[2048];
    char err[1024] = "";
    sqlite3_stmt *st = NULL;
    out[0] = 0;
    *rows = -1;
    if (query_prepare(db, k, f, arg, &st, err, sizeof err) < 0) {
        snprintf(out, sizeof out, "ERROR %s", err);
        return out;
    }
    *rows = 0;
    size_t len = 0;
    while (sqlite3_step(st) == SQLITE_ROW && len < sizeof out - 200) {
        const unsigned char *t = sqlite3_column_text(st, col);
        len += (size_t)snprintf(out + len, sizeof out - len, "%s%s", *rows ? "," : "",
                                t ? (const char *)t : "NULL");
        (*rows)++;
    }
    sqlite3_finalize(st);
    return out;
}

static void test_lists(sqlite3 *db)
{
    int n;
    query_filter f = {.limit = 2};
    CHECK_EQ_STR(run(db, QUERY_PAGELOADS, &f, NULL, 0, &n), "11,12"); /* latest 2, in order */
    f = (query_filter){0};
    CHECK_EQ_STR(run(db, QUERY_ORPHANS, &f, NULL, 0, &n), "1,2,3");
    f = (query_filter){.client = "fd7a:115c:a1e0::2"};
    CHECK_EQ_STR(run(db, QUERY_PAGELOADS, &f, NULL, 2, &n), "fd7a:115c:a1e0::2,fd7a:115c:a1e0::2");
    f = (query_filter){.has_since = true, .since = T0 + 10, .has_until = true, .until = T0 + 12};
    CHECK_EQ_STR(run(db, QUERY_PAGELOADS, &f, NULL, 0, &n), "10,11");
    CHECK_EQ_STR(run(db, QUERY_PAGELOADS, &f, NULL, 1, &n),
                 "2024-05-01T12:00:10.000Z,2024-05-01T12:00:11.000Z");
    f = (query_filter){.verdict = "none", .outcome = "connected", .limit = 1};
    CHECK_EQ_STR(run(db, QUERY_PAGELOADS, &f, NULL, 0, &n), "12");
    f = (query_filter){.app = "/sliders", .verdict = "script_stalled"};
    CHECK_EQ_STR(run(db, QUERY_SESSIONS, &f, NULL, 0, &n), "abc01,abc02,s03");
    f = (query_filter){.client = "100.64.0.2"};
    CHECK_EQ_STR(run(db, QUERY_CONNECTIONS, &f, NULL, 0, &n), "1");
    f = (query_filter){0};
    CHECK(strncmp(run(db, QUERY_CONNECTIONS, &f, NULL, 0, &n), "ERROR", 5) == 0);
}

static void test_aggregates(sqlite3 *db)
{
    int n;
    query_filter f = {0};
    CHECK_EQ_STR(run(db, QUERY_CLIENTS, &f, NULL, 0, &n), "100.64.0.2,fd7a:115c:a1e0::2");
    CHECK_EQ_STR(run(db, QUERY_CLIENTS, &f, NULL, 3, &n), "0.3,0.0"); /* orphan rate */
    CHECK_EQ_STR(run(db, QUERY_CLIENTS, &f, NULL, 5, &n), "script_stalled,NULL");
    CHECK_EQ_STR(run(db, QUERY_VERDICTS, &f, NULL, 0, &n), "verdict,resource");
    CHECK_EQ_STR(run(db, QUERY_VERDICTS, &f, NULL, 3, &n), "NULL,/static/js/bokeh-gl.min.js");
    const char *last = run(db, QUERY_VERDICTS, &f, NULL, 7, &n);
    CHECK(strstr(last, "3 of 10 page loads from 100.64.0.2 stalled on /static/js/bokeh-gl.min.js"));
    run(db, QUERY_STATS, &f, NULL, 2, &n);
    f.outcome = "orphan";
    const char *values = run(db, QUERY_STATS, &f, NULL, 3, &n);
    CHECK(strstr(values, "x.pcap") != NULL);
    CHECK(strstr(values, ",3,") != NULL); /* page loads total in the filter */
}

static void test_timeline(sqlite3 *db)
{
    int n;
    int64_t id = 0;
    char err[1024];
    query_filter f = {0};
    CHECK_EQ_INT(query_find_page_load(db, "s03", &id, err, sizeof err), 0);
    CHECK_EQ_INT(id, 3);
    CHECK(query_find_page_load(db, "abc", &id, err, sizeof err) < 0);
    CHECK(strstr(err, "ambiguous") && strstr(err, "abc01") && strstr(err, "abc02"));
    CHECK(query_find_page_load(db, "nope", &id, err, sizeof err) < 0);
    CHECK(strstr(err, "no page load") != NULL);
    CHECK(query_find_page_load(db, "", &id, err, sizeof err) < 0);
    CHECK_EQ_INT(query_find_page_load(db, "v6o", &id, err, sizeof err), 0);
    CHECK_EQ_INT(id, 11);
    const char *events = run(db, QUERY_TIMELINE, &f, "abc01", 2, &n);
    CHECK_EQ_STR(events, "page request,static fetch,outcome,evidence");
    const char *details = run(db, QUERY_TIMELINE, &f, "abc01", 3, &n);
    CHECK(strstr(details, "bokeh-gl.min.js") && strstr(details, "incomplete") &&
          strstr(details, "retransmissions s2c 9"));
    CHECK(strstr(run(db, QUERY_TIMELINE, &f, "abc", 0, &n), "ambiguous") != NULL);
}

/* ---- query plans ---- */

/* EXPLAIN QUERY PLAN details of a query, joined by " | ". */
static const char *plan_of(sqlite3 *db, query_kind k, const query_filter *f)
{
    static char out[4096];
    char err[1024];
    sqlite3_stmt *st = NULL, *eqp = NULL;
    out[0] = 0;
    if (query_prepare(db, k, f, NULL, &st, err, sizeof err) < 0)
        return "ERROR";
    char *sql = sqlite3_expanded_sql(st), *x = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", sql);
    size_t len = 0;
    if (sqlite3_prepare_v2(db, x, -1, &eqp, NULL) == SQLITE_OK)
        while (sqlite3_step(eqp) == SQLITE_ROW && len < sizeof out - 300)
            len += (size_t)snprintf(out + len, sizeof out - len, "%s | ",
                                    (const char *)sqlite3_column_text(eqp, 3));
    sqlite3_finalize(eqp);
    sqlite3_finalize(st);
    sqlite3_free(sql);
    sqlite3_free(x);
    if (verbose)
        printf("plan %s: %s\n", query_kind_name(k), out);
    return out;
}

/* A full scan of one of the big tables: "SCAN p" / "SCAN page_loads" (any alias given). */
static bool full_scan(const char *plan, const char *const *names)
{
    char needle[64];
    for (int i = 0; names[i]; i++) {
        snprintf(needle, sizeof needle, "SCAN %s | ", names[i]);
        if (strstr(plan, needle))
            return true;
        snprintf(needle, sizeof needle, "SCAN %s USING INDEX", names[i]);
        if (strstr(plan, needle)) /* an index walked end to end */
            return true;
        snprintf(needle, sizeof needle, "SCAN %s USING COVERING INDEX", names[i]);
        if (strstr(plan, needle))
            return true;
    }
    return false;
}

/* the base tables under their aliases inside the queries (p, s, c, f: derived rows) */
static const char *const big_tables[] = {"pl", "page_loads",  "se", "sessions",
                                         "co", "connections", NULL};

static void expect_indexed(sqlite3 *db, query_kind k, const query_filter *f, const char *index)
{
    const char *const *big = big_tables;
    const char *plan = plan_of(db, k, f);
    bool ok = !full_scan(plan, big) && strstr(plan, index) != NULL;
    if (!ok)
        fprintf(stderr, "  %s: plan without %s or with a full scan: %s\n", query_kind_name(k),
                index, plan);
    CHECK(ok);
}

static void test_plans(sqlite3 *db)
{
    query_filter by_client = {.client = "100.64.0.2", .limit = 100};
    query_filter by_since = {.has_since = true, .since = T0, .limit = 100};
    query_filter by_verdict = {.verdict = "script_stalled", .limit = 100};
    query_filter by_outcome = {.outcome = "connected", .limit = 100};
    query_filter by_app = {.app = "/sliders", .limit = 100};
    query_filter none = {.limit = 100};
    expect_indexed(db, QUERY_PAGELOADS, &by_client, "page_loads_client");
    expect_indexed(db, QUERY_PAGELOADS, &by_since, "page_loads_started");
    expect_indexed(db, QUERY_PAGELOADS, &by_verdict, "page_loads_verdict");
    expect_indexed(db, QUERY_PAGELOADS, &by_outcome, "page_loads_outcome");
    expect_indexed(db, QUERY_PAGELOADS, &by_app, "page_loads_app");
    expect_indexed(db, QUERY_ORPHANS, &none, "page_loads_outcome");
    expect_indexed(db, QUERY_ORPHANS, &by_client, "page_loads_client");
    expect_indexed(db, QUERY_SESSIONS, &by_since, "sessions_first");
    expect_indexed(db, QUERY_SESSIONS, &by_client, "page_loads_client");
    expect_indexed(db, QUERY_CONNECTIONS, &by_client, "conn_client");
    expect_indexed(db, QUERY_CLIENTS, &by_since, "page_loads_started");
    expect_indexed(db, QUERY_CLIENTS, &by_app, "page_loads_app");
    expect_indexed(db, QUERY_VERDICTS, &by_since, "page_loads_started");
    expect_indexed(db, QUERY_VERDICTS, &by_outcome, "page_loads_outcome");
    expect_indexed(db, QUERY_STATS, &by_since, "page_loads_started");
    expect_indexed(db, QUERY_STATS, &by_client, "page_loads_client");
    /* without a time filter (stats: nor a client), the rollups answer */
    expect_indexed(db, QUERY_CLIENTS, &none, "SCAN rollup_clients");
    expect_indexed(db, QUERY_CLIENTS, &by_client, "SEARCH rollup_clients USING PRIMARY KEY");
    expect_indexed(db, QUERY_VERDICTS, &none, "SCAN rollup_verdicts");
    expect_indexed(db, QUERY_VERDICTS, &by_client, "SEARCH rollup_verdicts USING PRIMARY KEY");
    expect_indexed(db, QUERY_VERDICTS, &by_verdict, "rollup_verdicts");
    expect_indexed(db, QUERY_STATS, &none, "SCAN rollup_outcomes");
    expect_indexed(db, QUERY_STATS, &by_outcome, "rollup_outcomes");
    query_filter everything = {0}; /* unfiltered and unlimited: the detector must see the scan */
    CHECK(full_scan(plan_of(db, QUERY_PAGELOADS, &everything), big_tables));
}

int main(void)
{
    verbose = getenv("OW_TEST_VERBOSE") != NULL;
    test_time_parse();
    test_time_format();
    test_filter_check();
    sqlite3 *db = make_db();
    test_lists(db);
    test_aggregates(db);
    test_timeline(db);
    test_plans(db);
    sqlite3_close(db);
    TEST_MAIN_END("test_db_query");
}
