/* test_ui_dashboard_interrupt: typing interrupts a slow list reload. A pipe stands in for the
 * terminal: a byte in it is a key pending.
 *   list pages and the count, armed with a key pending, stop as DASH_SUPERSEDED with no error
 *   text; unarmed, with the pipe drained, or hung up (readable, but never a key), they finish;
 *   a superseded reload keeps the rows on screen and stays dirty;
 *   a key's own query (End) is never interrupted, even right after an interrupted refresh;
 *   after a superseded refresh with no key read, the next refresh runs to the end (no
 *   livelock), and a key read arms the interrupt again. */
#include "tests/unit/test_screen.h"
#include "tests/unit/test_sql.h"
#include "tests/unit/testlib.h"
#include "db/db.h"
#include "ui/dashboard_int.h"
#include <curses.h>
#include <unistd.h>

/* Enough rows that a search matching nothing takes many progress callbacks. */
enum { N_ROWS = 30000 };

#define NO_MATCH "zq7xw9"   /* in no page load */
#define NEEDLE   "needle"   /* only in the newest page load's path */
#define RARE     "10.0.49." /* one page load in 50: a page of them takes many callbacks */

static char db_path[64];

/* N_ROWS page loads, 10 s apart, of clients 10.0.0-49.0-6; the newest (id N_ROWS) alone has
 * NEEDLE in its path. */
static void make_db(void)
{
    sqlite3 *db = schema_db("dash_intr_test", db_path, sizeof db_path);
    CHECK(db != NULL);
    char sql[640];
    snprintf(sql, sizeof sql,
             "BEGIN;"
             "INSERT INTO captures (id, source, live, started, ended, end_reason) "
             "VALUES (1, 'eth9', 0, 1000, 1000 + 10 * %d, 'eof');"
             "WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < %d)"
             " INSERT INTO page_loads (id, capture_id, client, path, app, started, status, "
             "outcome) SELECT n, 1, '10.0.' || (n %% 50) || '.' || (n %% 7), "
             "CASE n WHEN %d THEN '/" NEEDLE "' ELSE '/a' END, '/a', 1000 + 10 * n, 200, "
             "'connected' FROM i;"
             "COMMIT",
             N_ROWS, N_ROWS, N_ROWS);
    CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
}

static int pipefd[2];

static void key_pending(void)
{
    CHECK(write(pipefd[1], "x", 1) == 1);
}

static void drain(void)
{
    char c;
    CHECK(read(pipefd[0], &c, 1) == 1);
}

/* The first page of a search, armed on the pipe or not. */
static int search_page(sqlite3 *db, const char *search, bool armed, char *err, size_t errlen)
{
    static dash_row rows[DASH_MAX_LIST_ROWS + 1];
    dash_query q = {0};
    snprintf(q.search, sizeof q.search, "%s", search);
    err[0] = '\0';
    if (armed)
        dash_data_interrupt_arm(db, pipefd[0]);
    int n = dash_data_list_page(db, &q, NULL, false, true, rows, 20, err, errlen);
    if (armed)
        dash_data_interrupt_disarm(db);
    return n;
}

static long long search_count(sqlite3 *db, const char *search, bool armed)
{
    dash_query q = {0};
    snprintf(q.search, sizeof q.search, "%s", search);
    if (armed)
        dash_data_interrupt_arm(db, pipefd[0]);
    long long n = dash_data_count(db, &q);
    if (armed)
        dash_data_interrupt_disarm(db);
    return n;
}

static void test_pages(sqlite3 *db)
{
    char err[160];
    key_pending();
    /* armed, a key pending: stopped, not an error */
    CHECK_EQ_INT(search_page(db, NO_MATCH, true, err, sizeof err), DASH_SUPERSEDED);
    CHECK_EQ_STR(err, "");
    CHECK(search_count(db, NO_MATCH, true) == DASH_SUPERSEDED);
    dash_data_interrupt_arm(db, pipefd[0]);
    CHECK(search_count(db, NO_MATCH, false) == DASH_SUPERSEDED);
    CHECK(dash_data_interrupt_disarm(db)); /* it fired */
    /* not armed: the key waits, the query finishes */
    CHECK_EQ_INT(search_page(db, NO_MATCH, false, err, sizeof err), 0);
    CHECK_EQ_STR(err, "");
    CHECK(search_count(db, NO_MATCH, false) == 0);
    /* armed, no key pending: finishes */
    drain();
    CHECK_EQ_INT(search_page(db, NO_MATCH, true, err, sizeof err), 0);
    CHECK_EQ_STR(err, "");
    CHECK(search_count(db, NO_MATCH, true) == 0);
    dash_data_interrupt_arm(db, pipefd[0]);
    CHECK(search_count(db, NO_MATCH, false) == 0);
    CHECK(!dash_data_interrupt_disarm(db)); /* it did not fire */
}

/* A hung-up input is readable forever without a key: never an interruption. */
static void test_hangup(sqlite3 *db)
{
    int p[2], saved = pipefd[0];
    char err[160];
    CHECK(pipe(p) == 0);
    CHECK(write(p[1], "x", 1) == 1);
    close(p[1]);
    pipefd[0] = p[0];
    CHECK_EQ_INT(search_page(db, NO_MATCH, true, err, sizeof err), 0);
    CHECK_EQ_STR(err, "");
    pipefd[0] = saved;
    close(p[0]);
}

/* ---- the dashboard ---- */

static dashboard dash;

static void set_search(const char *s)
{
    snprintf(dash.q.search, sizeof dash.q.search, "%s", s);
    dash_query_changed(&dash);
}

/* The list of every row loaded (h rows, the newest first), then a search superseded after
 * it read some of its rows (RARE: a few in the rows read before the first callback): the
 * rows on screen stay, still to be reloaded, with no error. */
static void test_reload(sqlite3 *db)
{
    dash_list *L = &dash.list;
    int h = dash_list_height(&dash);
    set_search("");
    dash_list_reload(&dash);
    CHECK_EQ_INT(L->nrows, h);
    CHECK(L->rows[0].id == N_ROWS && !L->dirty);
    L->sel = 2;
    L->sel_id = L->rows[2].id;
    L->dirty = true; /* as a key leaves it: the selection is kept across the reload */
    snprintf(dash.q.search, sizeof dash.q.search, "%s", RARE);
    key_pending();
    dash_data_interrupt_arm(db, pipefd[0]);
    dash_list_reload(&dash);
    CHECK(dash_data_interrupt_disarm(db));
    CHECK_EQ_INT(L->nrows, h);
    for (int i = 0; i < h; i++)
        CHECK_EQ_INT((int)L->rows[i].id, N_ROWS - i);
    CHECK(L->sel == 2 && L->sel_id == N_ROWS - 2);
    CHECK(L->dirty);
    CHECK_EQ_STR(L->err, "");
    /* the reload after the keys finishes */
    drain();
    dash_list_reload(&dash);
    CHECK(L->nrows == h && L->rows[0].id == N_ROWS - 1 && !L->dirty && !L->err[0]);
}

/* Feeds key to the dashboard through curses' input queue, as typed. */
static void type_key(int key)
{
    ungetch(key);
    CHECK_EQ_INT(dashboard_handle_input(&dash), 0);
}

/* End runs its own query (only the newest row matches NEEDLE: it scans every row from the
 * oldest). A refresh interrupted just before must not leave it armed, and a key pending
 * must not stop it: its move would be lost. */
static void test_key_query(void)
{
    dash_list *L = &dash.list;
    set_search(NEEDLE);
    key_pending();
    dashboard_refresh(&dash, true); /* superseded */
    CHECK(L->dirty && dash.interrupt_held);
    L->dirty = false;
    L->sel_id = 0;
    L->at_top = false;
    type_key('G');
    CHECK_EQ_STR(L->err, "");
    CHECK(L->sel_id == N_ROWS); /* End moved to the newest row, the only match */
    CHECK(L->dirty && L->at_top);
    drain();
}

/* A refresh superseded with the input readable but no key read (a partial escape sequence)
 * must not be superseded again: the next refresh finishes the reload and the count. */
static void test_no_livelock(void)
{
    dash_list *L = &dash.list;
    set_search(NO_MATCH);
    dash.interrupt_held = false;
    L->total = -1;
    key_pending();
    dashboard_refresh(&dash, true);
    CHECK(L->dirty && L->total_dirty && L->total == -1);
    CHECK(dash.interrupt_held);
    dashboard_refresh(&dash, true); /* the byte still pending: no key came of it */
    CHECK(!L->dirty && L->nrows == 0 && !L->err[0]);
    CHECK(!L->total_dirty && L->total == 0);
    /* a key read: interruptible again */
    type_key('s'); /* the next sort: the list and the count to query again */
    CHECK(!dash.interrupt_held);
    dashboard_refresh(&dash, true);
    CHECK(L->dirty && L->total_dirty);
    drain();
    dashboard_refresh(&dash, true);
    CHECK(!L->dirty && !L->total_dirty && L->total == 0);
}

static void on_screen(void *db)
{
    nodelay(stdscr, TRUE);
    dash.db = db;
    dash.rows = LINES;
    dash.cols = COLS;
    dash.view = DASH_VIEW_LIST;
    dash.input_fd = pipefd[0];
    test_reload(db);
    test_key_query();
    test_no_livelock();
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
    CHECK(pipe(pipefd) == 0);
    if (db) {
        test_pages(db);
        test_hangup(db);
        with_screen(db);
        sqlite3_close(db);
    }
    close(pipefd[0]);
    close(pipefd[1]);
    unlink(db_path);
    TEST_MAIN_END("test_ui_dashboard_interrupt");
}
