/* test_ui_dashboard_step_error: a list query that fails part-way through its rows (sqlite3_step
 * returns an error; here SQLITE_INTERRUPT from a progress handler, in the dashboard a busy
 * database or an I/O error) is reported as an error with SQLite's message, which the list
 * shows in place of its rows, not returned as a short page that looks like the end of the data. */
#include "tests/unit/testlib.h"
#include "db/db.h"
#include "ui/dashboard_int.h"
#include <unistd.h>

enum { N_ROWS = 50 };

static char db_path[64];

static void make_db(void)
{
    sqlite3 *db;
    snprintf(db_path, sizeof db_path, "/tmp/ow_dash_step_test_%d.db", (int)getpid());
    unlink(db_path);
    CHECK(sqlite3_open(db_path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, ow_schema_sql, NULL, NULL, NULL) == SQLITE_OK);
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO captures (id, source, live, started, ended, end_reason) "
             "VALUES (1, 'eth9', 0, 1000, 2000, 'eof');"
             "WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < %d)"
             " INSERT INTO page_loads (id, capture_id, client, path, app, started, status, "
             "outcome) SELECT n, 1, '10.0.0.1', '/a', '/a', 1000 + n, 200, 'connected' FROM i",
             N_ROWS);
    CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
}

static long steps, stop_at;

/* Counts SQLite's progress callbacks; from the stop_at'th on (0: never) interrupts the query. */
static int progress(void *unused)
{
    (void)unused;
    steps++;
    return stop_at > 0 && steps >= stop_at;
}

/* The first page of the default list (newest first), interrupted at the stop'th progress
 * callback (0: never); steps is left at the number of callbacks it took. */
static int page(sqlite3 *db, long stop, int limit, char *err, size_t errlen)
{
    static dash_row rows[N_ROWS + 1];
    dash_query q = {0};
    steps = 0;
    stop_at = stop;
    sqlite3_progress_handler(db, 1, progress, NULL);
    int n = dash_data_list_page(db, &q, NULL, false, true, rows, limit, err, errlen);
    sqlite3_progress_handler(db, 0, NULL, NULL);
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

int main(void)
{
    make_db();
    char err[256];
    sqlite3 *db = dash_data_open(db_path, err, sizeof err);
    CHECK(db != NULL);
    if (db) {
        test_step_error(db);
        sqlite3_close(db);
    }
    unlink(db_path);
    TEST_MAIN_END("test_ui_dashboard_step_error");
}
