/* test_ui_blind_spots: the lines ui/blind_spots.c makes from captures rows on a database made
 * from db/schema.sql: none for a clean capture; each problem's line with its numbers; the
 * most serious first; the snap length's gaps said once, not twice; counters summed over the
 * captures of a file, or one capture's alone; a row whose counters are not JSON, or absent,
 * read for its columns only (no line from a counter it lacks); a file with no captures row
 * gives no line and no error. */
#include "tests/unit/test_sql.h"
#include "tests/unit/testlib.h"
#include "ui/blind_spots.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { MAX_LINES = 16 };

typedef struct lines {
    int n;
    char text[MAX_LINES][BLIND_SPOT_LINE_MAX];
} lines;

static void collect(void *ctx, const char *line)
{
    lines *l = ctx;
    if (l->n < MAX_LINES)
        snprintf(l->text[l->n], sizeof l->text[0], "%s", line);
    l->n++;
}

static int spots(sqlite3 *db, sqlite3_int64 capture_id, lines *l)
{
    memset(l, 0, sizeof *l);
    return blind_spots_each(db, capture_id, collect, l);
}

static bool has(const lines *l, int i, const char *words)
{
    return i < l->n && i < MAX_LINES && strstr(l->text[i], words) != NULL;
}

static void add_capture_of(sqlite3 *db, int id, int live, long long packets, long long drops,
                           const char *ports, const char *counters)
{
    sqlite3_stmt *st = NULL;
    CHECK(sqlite3_prepare_v2(db,
                             "INSERT INTO captures (id, source, live, server_ports, packets, "
                             "kernel_drops, if_drops, counters) VALUES (?1, 'x', ?6, ?2, ?3, ?4, "
                             "0, ?5)",
                             -1, &st, NULL) == SQLITE_OK);
    sqlite3_bind_int(st, 6, live);
    sqlite3_bind_int(st, 1, id);
    sqlite3_bind_text(st, 2, ports, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, packets);
    sqlite3_bind_int64(st, 4, drops);
    sqlite3_bind_text(st, 5, counters, -1, SQLITE_STATIC);
    CHECK(sqlite3_step(st) == SQLITE_DONE);
    sqlite3_finalize(st);
}

/* A file read's capture row. */
static void add_capture(sqlite3 *db, int id, long long packets, long long drops, const char *ports,
                        const char *counters)
{
    add_capture_of(db, id, 0, packets, drops, ports, counters);
}

static void clear(sqlite3 *db)
{
    CHECK(sqlite3_exec(db, "DELETE FROM captures", NULL, NULL, NULL) == SQLITE_OK);
}

static void test_clean(sqlite3 *db)
{
    lines l;
    CHECK_EQ_INT(spots(db, 0, &l), 0); /* no captures row at all */
    add_capture(db, 1, 1000, 0, "5006", "{\"streams\":12,\"truncated\":0,\"gaps\":0}");
    CHECK_EQ_INT(spots(db, 0, &l), 0);
    CHECK_EQ_INT(spots(db, 1, &l), 0);
    clear(db);
}

static void test_each_line(sqlite3 *db)
{
    lines l;
    /* snap length: one line with both counts and the gaps in it; no separate gaps line */
    add_capture(db, 1, 900, 0, "5006",
                "{\"streams\":3,\"truncated\":400,\"gaps\":25,\"gap_bytes\":2500000}");
    CHECK_EQ_INT(spots(db, 0, &l), 1);
    CHECK(has(&l, 0, "400 of 900 packets were cut short"));
    CHECK(has(&l, 0, "2.5 MB") && has(&l, 0, "25 gaps"));
    clear(db);
    /* gaps alone */
    add_capture(db, 1, 900, 0, "5006", "{\"streams\":3,\"gaps\":4,\"gap_bytes\":5000}");
    CHECK_EQ_INT(spots(db, 0, &l), 1);
    CHECK(has(&l, 0, "4 gaps in TCP streams: 5000 B"));
    clear(db);
    /* kernel drops (a column) */
    add_capture(db, 1, 900, 17, "5006", "{\"streams\":3}");
    CHECK_EQ_INT(spots(db, 0, &l), 1);
    CHECK(has(&l, 0, "17 packets were dropped") && has(&l, 0, "-B"));
    clear(db);
    /* nothing on the server ports; and an empty capture */
    add_capture(db, 1, 300, 0, "8080,8081", "{\"streams\":0,\"not_server_port\":290}");
    CHECK_EQ_INT(spots(db, 0, &l), 1);
    CHECK(has(&l, 0, "None of the 300 packets") && has(&l, 0, "port 8080,8081") &&
          has(&l, 0, "290 TCP packets"));
    clear(db);
    add_capture(db, 1, 0, 0, "5006", "{}");
    CHECK_EQ_INT(spots(db, 0, &l), 1);
    CHECK(has(&l, 0, "No packet was read"));
    clear(db);
    /* live, nothing on the port: another port, or a proxy in front (tailscale serve) */
    add_capture_of(db, 1, 1, 0, 0, "5006", "{\"streams\":0}");
    CHECK_EQ_INT(spots(db, 0, &l), 1);
    CHECK(has(&l, 0, "No packet to or from port 5006 was captured") && has(&l, 0, "-p PORT") &&
          has(&l, 0, "tailscale serve") && has(&l, 0, "-i lo -p 5006"));
    add_capture(db, 2, 0, 0, "5006", "{}"); /* with a file read too: the plain line */
    CHECK_EQ_INT(spots(db, 0, &l), 1);
    CHECK(has(&l, 0, "No packet was read"));
    clear(db);
    add_capture(db, 1, 300, 0, "5006", NULL); /* packets, no counters (yet): nothing */
    CHECK_EQ_INT(spots(db, 0, &l), 0);
    clear(db);
    /* time going back: the count and the largest step */
    add_capture(db, 1, 10, 0, "5006",
                "{\"streams\":1,\"time_backwards\":12,\"max_backwards_ms\":15400}");
    CHECK_EQ_INT(spots(db, 0, &l), 1);
    CHECK(has(&l, 0, "12 packets came over a second earlier") && has(&l, 0, "up to 15.4 s") &&
          has(&l, 0, "reordercap"));
    clear(db);
    /* a file cut inside a packet: its own line, not the snap length's */
    add_capture(db, 1, 10, 0, "5006", "{\"streams\":1,\"files_cut\":2,\"truncated\":0}");
    CHECK_EQ_INT(spots(db, 0, &l), 1);
    CHECK(has(&l, 0, "2 capture files end inside a packet") && !has(&l, 0, "snap length"));
    clear(db);
    add_capture(db, 1, 10, 0, "5006", "{\"streams\":1,\"files_cut\":1}");
    CHECK_EQ_INT(spots(db, 0, &l), 1);
    CHECK(has(&l, 0, "A capture file ends inside a packet"));
    clear(db);
    /* decoding errors summed into one line, each kind named */
    add_capture(db, 1, 10, 0, "5006",
                "{\"streams\":1,\"http_errors\":1,\"ws_errors\":2,\"bokeh_errors\":3}");
    CHECK_EQ_INT(spots(db, 0, &l), 1);
    CHECK(has(&l, 0, "6 messages could not be decoded (1 HTTP, 2 WebSocket, 3 Bokeh)"));
    clear(db);
    /* encrypted connections: what to capture instead */
    add_capture(db, 1, 40, 0, "443", "{\"streams\":3,\"tls_connections\":3}");
    CHECK_EQ_INT(spots(db, 0, &l), 1);
    CHECK(has(&l, 0, "3 connections to port 443 were encrypted (TLS)") &&
          has(&l, 0, "tailscale serve") && has(&l, 0, "-i lo -p 5006"));
    clear(db);
    add_capture(db, 1, 40, 0, "5006", "{\"streams\":1,\"tls_connections\":1}");
    CHECK_EQ_INT(spots(db, 0, &l), 1);
    CHECK(has(&l, 0, "1 connection to port 5006 was encrypted"));
    clear(db);
}

static void test_order(sqlite3 *db)
{
    lines l;
    add_capture(db, 1, 500, 9, "5006",
                "{\"streams\":5,\"bad_tcp\":2,\"streams_evicted\":3,\"truncated\":8,"
                "\"db_rows_failed\":1}");
    CHECK_EQ_INT(spots(db, 0, &l), 5);
    CHECK(has(&l, 0, "rows could not be written"));
    CHECK(has(&l, 1, "dropped"));
    CHECK(has(&l, 2, "cut short"));
    CHECK(has(&l, 3, "--max-streams"));
    CHECK(has(&l, 4, "malformed"));
    clear(db);
}

static void test_sum_and_filter(sqlite3 *db)
{
    lines l;
    add_capture(db, 1, 100, 0, "5006", "{\"streams\":1,\"truncated\":10}");
    add_capture(db, 2, 200, 0, "5006", "{\"streams\":1,\"truncated\":20}");
    add_capture(db, 3, 50, 0, "5006", "not json {");
    add_capture(db, 5, 10, 0, "5006",
                "{\"streams\":1,\"time_backwards\":1,\"max_backwards_ms\":2000}");
    add_capture(db, 6, 10, 0, "5006",
                "{\"streams\":1,\"time_backwards\":1,\"max_backwards_ms\":3000}");
    CHECK_EQ_INT(spots(db, 0, &l), 2);
    CHECK(has(&l, 0, "30 of 370 packets"));
    CHECK(has(&l, 1, "2 packets came") && has(&l, 1, "up to 3.0 s")); /* summed; the largest */
    CHECK_EQ_INT(spots(db, 2, &l), 1);
    CHECK(has(&l, 0, "20 of 200 packets"));
    /* the row that is not JSON: its columns count, its counters say nothing (no "None of
     * the packets" for a streams counter it does not have) */
    CHECK_EQ_INT(spots(db, 3, &l), 0);
    CHECK_EQ_INT(spots(db, 4, &l), 0); /* no such capture */
    clear(db);
}

static void test_unreadable(void)
{
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK); /* no schema: no captures table */
    lines l;
    CHECK_EQ_INT(spots(db, 0, &l), -1);
    CHECK_EQ_INT(l.n, 0);
    CHECK(strstr(sqlite3_errmsg(db), "no such table") != NULL); /* the caller can say why */
    sqlite3_close(db);
}

/* A file whose capture row cannot be read back (here: none at that path) says so on stderr,
 * never nothing (a full disk can refuse even a reader). */
static void test_warn_file_unreadable(void)
{
    char out[64];
    snprintf(out, sizeof out, "/tmp/ow_test_blind_spots_err_%d", (int)getpid());
    int saved = tl_stderr_to_file(out);
    blind_spots_warn_file("/nonexistent-dir/capture.db");
    char *text = tl_stderr_back(saved, out);
    CHECK(text && strstr(text, "the capture row of /nonexistent-dir/capture.db could not be read "
                               "back") != NULL);
    free(text);
}

int main(void)
{
    char path[64];
    sqlite3 *db = schema_db("blind_spots", path, sizeof path);
    CHECK(db != NULL);
    if (db) {
        test_clean(db);
        test_each_line(db);
        test_order(db);
        test_sum_and_filter(db);
        sqlite3_close(db);
    }
    test_unreadable();
    test_warn_file_unreadable();
    unlink(path);
    TEST_MAIN_END("test_ui_blind_spots");
}
