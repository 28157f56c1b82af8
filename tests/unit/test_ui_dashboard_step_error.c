/* test_ui_dashboard_step_error: a dashboard query that fails part-way (sqlite3_step returns an
 * error; here SQLITE_INTERRUPT from a progress handler, in the dashboard a busy database or an
 * I/O error) is reported as an error with SQLite's message, which the view shows in place of
 * its rows or numbers, not taken for the end of the data (a short list, zero counts):
 *   list pages, and the list's reload and keys that run two queries or their own;
 *   every header stats query, and the header drawing its error;
 *   the clients view's query, and the view drawing its error. */
#include "tests/unit/test_screen.h"
#include "tests/unit/test_sql.h"
#include "tests/unit/testlib.h"
#include "db/db.h"
#include "ui/dashboard_int.h"
#include <curses.h>
#include <unistd.h>

enum { N_ROWS = 50, N_CLIENTS = 7 };

static char db_path[64];

/* N_ROWS page loads of N_CLIENTS clients and three outcomes, 30 s apart (several rows in each
 * rollup the header and the clients view read). The capture has no end time yet, so the
 * header also takes its span from the page loads. */
static void make_db(void)
{
    sqlite3 *db = schema_db("dash_step_test", db_path, sizeof db_path);
    CHECK(db != NULL);
    char sql[640];
    snprintf(sql, sizeof sql,
             "INSERT INTO captures (id, source, live, started, end_reason) "
             "VALUES (1, 'eth9', 0, 1000, 'eof');"
             "WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < %d)"
             " INSERT INTO page_loads (id, capture_id, client, path, app, started, status, "
             "outcome) SELECT n, 1, '10.0.0.' || (n %% %d), '/a', '/a', 1000 + 30 * n, 200, "
             "CASE n %% 3 WHEN 0 THEN 'connected' WHEN 1 THEN 'orphan' ELSE 'pending' END FROM i",
             N_ROWS, N_CLIENTS);
    CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
}

/* ---- interruption ---- */

static long steps, stop_at;
static const char *needle;

/* The statement running now: the newest busy one (a query run while another is between rows
 * comes first in SQLite's list). */
static sqlite3_stmt *running(sqlite3 *db)
{
    sqlite3_stmt *s = NULL;
    while ((s = sqlite3_next_stmt(db, s)) && !sqlite3_stmt_busy(s))
        ;
    return s;
}

/* Counts the progress callbacks of the statements whose SQL contains needle (NULL: all) and
 * interrupts the stop_at'th (0: none), once: the queries after it run, as after a busy moment. */
static int progress(void *db)
{
    sqlite3_stmt *s = running(db);
    if (needle && !(s && strstr(sqlite3_sql(s), needle)))
        return 0;
    return ++steps == stop_at;
}

static void interrupt_at(sqlite3 *db, const char *match, long stop)
{
    needle = match;
    stop_at = stop;
    steps = 0;
    sqlite3_progress_handler(db, 1, progress, db);
}

static void no_interrupt(sqlite3 *db)
{
    sqlite3_progress_handler(db, 0, NULL, NULL);
}

/* ---- list pages ---- */

/* The first page of the default list (newest first), interrupted at the stop'th progress
 * callback (0: never); steps is left at the number of callbacks it took. */
static int page(sqlite3 *db, long stop, int limit, char *err, size_t errlen)
{
    static dash_row rows[N_ROWS + 1];
    dash_query q = {0};
    interrupt_at(db, NULL, stop);
    int n = dash_data_list_page(db, &q, NULL, false, true, rows, limit, err, errlen);
    no_interrupt(db);
    return n;
}

static void test_step_error(sqlite3 *db)
{
    char err[160] = "";
    /* the work to the first row and to the end of the rows */
    CHECK_EQ_INT(page(db, 0, 1, err, sizeof err), 1);
    long first = steps;
    CHECK_EQ_INT(page(db, 0, N_ROWS + 1, err, sizeof err), N_ROWS);
    long all = steps;
    CHECK(first < all);
    /* interrupted after some rows: an error, not a page of the rows read so far */
    CHECK_EQ_INT(page(db, (first + all) / 2, N_ROWS + 1, err, sizeof err), -1);
    CHECK_EQ_STR(err, "query: interrupted");
    /* interrupted before the first row: the same, not an empty list */
    err[0] = '\0';
    CHECK_EQ_INT(page(db, 1, N_ROWS + 1, err, sizeof err), -1);
    CHECK_EQ_STR(err, "query: interrupted");
    /* a page that ends at its limit stopped stepping on a row: not an error */
    CHECK_EQ_INT(page(db, 0, 10, err, sizeof err), 10);
}

/* ---- the list: reload and keys ---- */

static dashboard dash;

/* The SQL of a forward and a backward list page (newest first: DESC forward). */
#define FORWARD  "id DESC LIMIT"
#define BACKWARD "id ASC LIMIT"

/* The list positioned at the page load `from` rows below the newest and selecting it, as
 * PgDn or End leave it: not loaded yet. */
static void list_at(sqlite3 *db, int from)
{
    static dash_row rows[N_ROWS];
    char err[160];
    dash_query q = {0};
    memset(&dash.list, 0, sizeof dash.list);
    dash.db = db;
    CHECK_EQ_INT(dash_data_list_page(db, &q, NULL, false, true, rows, from + 1, err, sizeof err),
                 from + 1);
    dash.list.anchor = rows[from];
    dash.list.sel_id = rows[from].id;
}

/* Reloads with the stop'th callback of the query matching match interrupted. */
static void reload_interrupted(sqlite3 *db, const char *match, long stop)
{
    interrupt_at(db, match, stop);
    dash_list_reload(&dash);
    no_interrupt(db);
}

/* Near the end the reload runs two queries (the rows from the position, then rows from above
 * to fill the page): a failure of either is shown, and the position kept. */
static void test_reload(sqlite3 *db)
{
    dash_list *L = &dash.list;
    int h = dash_list_height(&dash);
    const char *which[] = {FORWARD, BACKWARD};
    for (int i = 0; i < 2; i++) {
        list_at(db, N_ROWS - h / 2); /* h / 2 rows from the end: the page is filled from above */
        int64_t anchor = L->anchor.id, sel = L->sel_id;
        reload_interrupted(db, which[i], 1);
        CHECK_EQ_STR(L->err, "query: interrupted"); /* FORWARD: cleared by the second query */
        CHECK_EQ_INT(L->nrows, 0);
        CHECK(!L->at_top); /* BACKWARD: a failed fill was taken for the top of the list */
        CHECK_EQ_INT(L->anchor.id, anchor);
        /* the next reload that succeeds comes back to the same page load */
        dash_list_reload(&dash);
        CHECK(!L->err[0] && L->nrows == h && L->rows[L->sel].id == sel);
    }
}

/* Up past the top row, PgUp and End run their own query: when it fails, the key moves nothing
 * and the error stays on screen through what the refresh does next. */
static void test_keys(sqlite3 *db)
{
    dash_list *L = &dash.list;
    const int keys[] = {'k', 'b', 'G'};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        list_at(db, 20);
        dash_list_reload(&dash);
        int64_t anchor = L->anchor.id;
        CHECK(!L->at_top && L->sel == 0);
        interrupt_at(db, BACKWARD, 1);
        dash_list_key(&dash, keys[i]);
        no_interrupt(db);
        if (L->dirty) /* as dashboard_refresh does */
            dash_list_reload(&dash);
        CHECK_EQ_STR(L->err, "query: interrupted");
        CHECK(!L->at_top);
        CHECK_EQ_INT(L->anchor.id, anchor);
    }
}

/* ---- header stats ---- */

/* A text of each query of dash_data_stats. */
static const char *const stats_queries[] = {
    "SUM(kernel_drops)",
    "ORDER BY id DESC LIMIT 1",
    "MIN(started), MAX(started)",
    "FROM rollup_outcomes",
    "CAST(MAX(started) AS INTEGER)",
    "minute, n FROM rollup_minutes",
    "minute, orphans FROM rollup_minutes",
};

/* Each stats query interrupted at each of its progress callbacks (before, between and after
 * its rows) leaves the error in st.err, kept through the queries after it. */
static void test_stats(sqlite3 *db)
{
    dash_stats st = {0};
    for (size_t q = 0; q < sizeof stats_queries / sizeof stats_queries[0]; q++) {
        interrupt_at(db, stats_queries[q], 0);
        dash_data_stats(db, &st, false);
        long all = steps, missed = 0;
        CHECK(all > 0); /* the query ran */
        for (long stop = 1; stop <= all; stop++) {
            interrupt_at(db, stats_queries[q], stop);
            dash_data_stats(db, &st, false);
            missed += strcmp(st.err, "query: interrupted") != 0;
        }
        no_interrupt(db);
        if (missed)
            fprintf(stderr, "  %s: %ld of %ld interruptions not reported\n", stats_queries[q],
                    missed, all);
        CHECK_EQ_INT(missed, 0);
    }
}

/* ---- clients ---- */

#define CLIENTS_QUERY "FROM rollup_clients"

/* Interrupted at any of its progress callbacks, the clients query fails (not a short list),
 * with SQLite's message left for the caller. */
static void test_clients(sqlite3 *db)
{
    dash_client v[N_CLIENTS];
    bool more;
    interrupt_at(db, CLIENTS_QUERY, 0);
    dash_data_clients(db, v, N_CLIENTS, &more);
    long all = steps, missed = 0;
    CHECK(all > 0);
    for (long stop = 1; stop <= all; stop++) {
        interrupt_at(db, CLIENTS_QUERY, stop);
        int n = dash_data_clients(db, v, N_CLIENTS, &more);
        missed += n != -1 || strcmp(sqlite3_errmsg(db), "interrupted") != 0;
    }
    no_interrupt(db);
    if (missed)
        fprintf(stderr, "  clients: %ld of %ld interruptions not reported\n", missed, all);
    CHECK_EQ_INT(missed, 0);
}

/* ---- the views drawing the errors (into curses' stdscr; the output goes to /dev/null) ---- */

static bool screen_has(int y, const char *text)
{
    char line[256];
    mvinnstr(y, 0, line, (int)sizeof line - 1);
    return strstr(line, text) != NULL;
}

static void test_drawing(sqlite3 *db)
{
    int top = dash_header_height(&dash);
    /* the header: its error in place of the numbers */
    interrupt_at(db, "FROM rollup_outcomes", 1);
    dash_data_stats(db, &dash.stats, false);
    no_interrupt(db);
    erase();
    dash_header_draw(&dash);
    CHECK(screen_has(0, "query: interrupted"));
    /* the clients view: its error in place of the clients */
    dash.clients.dirty = true;
    interrupt_at(db, CLIENTS_QUERY, 1);
    erase();
    dash_clients_draw(&dash, top, dash.rows - top - 1);
    no_interrupt(db);
    CHECK(screen_has(top + 1, "query: interrupted"));
    dash_clients_free(&dash.clients);
}

static void on_screen(void *db)
{
    dash.rows = LINES;
    dash.cols = COLS;
    test_drawing(db);
}

static void with_screen(sqlite3 *db)
{
    with_null_screen(on_screen, db);
}

int main(void)
{
    make_db();
    char err[256];
    sqlite3 *db = dash_data_open(db_path, err, sizeof err);
    CHECK(db != NULL);
    if (db) {
        dash.rows = 24;
        dash.cols = 80;
        test_step_error(db);
        test_reload(db);
        test_keys(db);
        test_stats(db);
        test_clients(db);
        with_screen(db);
        sqlite3_close(db);
    }
    unlink(db_path);
    TEST_MAIN_END("test_ui_dashboard_step_error");
}
