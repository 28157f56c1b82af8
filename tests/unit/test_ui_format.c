/* test_ui_format: the output formats. JSON string escaping (quotes, control characters,
 * invalid UTF-8 -> \ufffd), shortest exact numbers, RFC 4180 CSV quoting, whole statements in
 * every format, the table cut to a width with its mark, and the stable jsonl report. */
#include "db/db.h"
#include "tests/unit/testlib.h"
#include "ui/format.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Captured output of one writer call. */
typedef struct capture_buf {
    char *text;
    size_t len;
    FILE *f;
} capture_buf;

static FILE *cap_open(capture_buf *c)
{
    c->text = NULL;
    c->len = 0;
    c->f = open_memstream(&c->text, &c->len);
    return c->f;
}

static const char *cap_close(capture_buf *c)
{
    fclose(c->f);
    return c->text;
}

static void expect_json(const char *in, size_t len, const char *want)
{
    capture_buf c;
    format_json_string(cap_open(&c), in, len);
    CHECK_EQ_STR(cap_close(&c), want);
    free(c.text);
}

static void test_json_strings(void)
{
    expect_json("plain", 5, "\"plain\"");
    expect_json("a\"b\\c\n\t\r\b\f", 10, "\"a\\\"b\\\\c\\n\\t\\r\\b\\f\"");
    expect_json("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\x7f\"");
    expect_json("a\0b", 3, "\"a\\u0000b\"");
    expect_json("\xff", 1, "\"\\ufffd\"");
    expect_json("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");                       /* overlong '/' */
    expect_json("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"");            /* a UTF-16 surrogate */
    expect_json("\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* > U+10FFFF */
    expect_json("\xe2\x82", 2, "\"\\ufffd\\ufffd\"");                       /* cut short */
    expect_json("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9,
                "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
}

static void expect_number(double d, const char *want)
{
    capture_buf c;
    format_json_number(cap_open(&c), d);
    CHECK_EQ_STR(cap_close(&c), want);
    free(c.text);
}

static void expect_csv(const char *in, const char *want)
{
    capture_buf c;
    format_csv_field(cap_open(&c), in, strlen(in));
    CHECK_EQ_STR(cap_close(&c), want);
    free(c.text);
}

static void test_scalars(void)
{
    expect_number(0.1, "0.1");
    expect_number(1714564800.25, "1714564800.25");
    expect_number(-2, "-2");
    expect_number(1e300, "1e+300");
    expect_number(0.30000000000000004, "0.30000000000000004");
    expect_number(NAN, "null");
    expect_number(INFINITY, "null");
    expect_csv("plain", "plain");
    expect_csv("a,b", "\"a,b\"");
    expect_csv("say \"hi\"", "\"say \"\"hi\"\"\"");
    expect_csv("two\nlines", "\"two\nlines\"");
    expect_csv("", "");
}

static sqlite3_stmt *sample_stmt(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    CHECK(sqlite3_prepare_v2(db,
                             "SELECT 1 AS n, 'a,b' AS t, NULL AS z, 0.5 AS r UNION ALL "
                             "SELECT 22, 'q\"x', 'y', 2",
                             -1, &st, NULL) == SQLITE_OK);
    return st;
}

static const char *render(sqlite3 *db, out_format f, int width, bool ascii)
{
    static char out[4096];
    char err[256];
    capture_buf c;
    format_opts o = {.format = f, .width = width, .ascii = ascii};
    sqlite3_stmt *st = sample_stmt(db);
    long n = format_stmt(st, cap_open(&c), &o, err, sizeof err);
    snprintf(out, sizeof out, "%s", cap_close(&c));
    free(c.text);
    sqlite3_finalize(st);
    CHECK_EQ_INT(n, 2);
    return out;
}

static void test_statement_formats(sqlite3 *db)
{
    CHECK_EQ_STR(render(db, OUT_CSV, 0, false),
                 "n,t,z,r\r\n1,\"a,b\",,0.5\r\n22,\"q\"\"x\",y,2\r\n");
    CHECK_EQ_STR(render(db, OUT_JSONL, 0, false),
                 "{\"n\": 1, \"t\": \"a,b\", \"z\": null, \"r\": 0.5}\n"
                 "{\"n\": 22, \"t\": \"q\\\"x\", \"z\": \"y\", \"r\": 2}\n");
    CHECK_EQ_STR(render(db, OUT_JSON, 0, false),
                 "[\n{\"n\": 1, \"t\": \"a,b\", \"z\": null, \"r\": 0.5},\n"
                 "{\"n\": 22, \"t\": \"q\\\"x\", \"z\": \"y\", \"r\": 2}\n]\n");
    CHECK_EQ_STR(render(db, OUT_TABLE, 80, false), " n  t    z    r\n"
                                                   "--  ---  -  ---\n"
                                                   " 1  a,b     0.5\n"
                                                   "22  q\"x  y    2\n"
                                                   "(2 rows)\n");
    sqlite3_stmt *st = NULL;
    char err[256];
    capture_buf c;
    format_opts o = {.format = OUT_JSON};
    CHECK(sqlite3_prepare_v2(db, "SELECT 1 WHERE 0", -1, &st, NULL) == SQLITE_OK);
    CHECK_EQ_INT(format_stmt(st, cap_open(&c), &o, err, sizeof err), 0);
    CHECK_EQ_STR(cap_close(&c), "[]\n");
    free(c.text);
    sqlite3_finalize(st);
}

/* Code points in a line. */
static int line_width(const char *s, size_t n)
{
    int w = 0;
    for (size_t i = 0; i < n; i++)
        w += ((unsigned char)s[i] & 0xc0) != 0x80;
    return w;
}

static void check_table_cut(sqlite3 *db, int width, bool ascii)
{
    sqlite3_stmt *st = NULL;
    char err[256];
    capture_buf c;
    format_opts o = {.format = OUT_TABLE, .width = width, .ascii = ascii};
    CHECK(sqlite3_prepare_v2(db,
                             "SELECT 'fd7a:115c:a1e0::2' AS client, 12345 AS page_loads, "
                             "'the page was served but the client fetched nothing after it' "
                             "AS summary, 'line\none\ttab' AS raw",
                             -1, &st, NULL) == SQLITE_OK);
    CHECK_EQ_INT(format_stmt(st, cap_open(&c), &o, err, sizeof err), 1);
    const char *out = cap_close(&c);
    int widest = 0, lines = 0;
    for (const char *p = out; *p; lines++) {
        const char *nl = strchr(p, '\n');
        int w = line_width(p, (size_t)(nl - p));
        widest = w > widest ? w : widest;
        p = nl + 1;
    }
    CHECK(widest <= width);
    CHECK_EQ_INT(lines, 4); /* header, rule, one row, footer: the newline became a space */
    CHECK(strstr(out, ascii ? "~" : "\xe2\x80\xa6") != NULL);
    CHECK(strstr(out, "12345") != NULL); /* short columns are not cut */
    free(c.text);
    sqlite3_finalize(st);
}

/* ---- the jsonl report ---- */

static sqlite3 *report_db(void)
{
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, ow_schema_sql, NULL, NULL, NULL) == SQLITE_OK);
    CHECK(sqlite3_exec(
              db,
              /* texts by id (ids unlike the page loads': a join on the wrong id shows) */
              "INSERT INTO sessions(id, session_id) VALUES (70, 'later'), (30, 'first');"
              "INSERT INTO user_agents(id, user_agent) VALUES (5, 'curl'), (9, 'UA \"quoted\"');"
              "INSERT INTO page_loads(id, capture_id, session_ref, client, client_port, server, "
              "server_port, path, app, ua_ref, started, status, outcome, verdict, confidence, "
              "summary, ttfb, static_count, static_bytes, websockets) VALUES "
              "(7, 1, 70, '100.64.0.2', 40001, '100.64.0.1', 5006, '/app?x=1', 'app', 5, "
              "1714564801.5, 200, 'connected', NULL, NULL, NULL, 0.02, 5, 1000, 1), "
              "(3, 1, 30, 'fd7a:115c:a1e0::2', 40002, 'fd7a:115c:a1e0::1', 5006, '/app', "
              "'app', 9, 1714564800.25, 200, 'orphan', 'pmtu_blackhole', 0.9, "
              "CAST(X'6c6f73740a0bff' AS TEXT), NULL, 2, 10, 0);"
              "INSERT INTO evidence(page_load_id, seq, text) VALUES (3, 1, 'second'), "
              "(3, 0, 'first: 1228-byte segments retransmitted')",
              NULL, NULL, NULL) == SQLITE_OK);
    return db;
}

static void test_report_jsonl(void)
{
    sqlite3 *db = report_db();
    capture_buf c;
    CHECK_EQ_INT(report_jsonl(db, cap_open(&c), NULL), 0);
    const char *out = cap_close(&c);
    const char *second = strchr(out, '\n');
    CHECK(second != NULL && strchr(second + 1, '\n') == out + strlen(out) - 1); /* two lines */
    static const char head[] = "{\"id\": 3, \"capture_id\": 1, \"session_id\": \"first\", "
                               "\"client\": \"fd7a:115c:a1e0::2\", \"client_port\": 40002, ";
    CHECK(strncmp(out, head, strlen(head)) == 0);
    CHECK(strstr(out, "\"started\": 1714564800.25") != NULL);
    CHECK(strstr(out, "\"user_agent\": \"UA \\\"quoted\\\"\"") != NULL);
    CHECK(strstr(out, "\"summary\": \"lost\\n\\u000b\\ufffd\"") != NULL);
    CHECK(strstr(out, "\"ttfb\": null") != NULL);
    CHECK(strstr(out, "\"evidence\": [\"first: 1228-byte segments retransmitted\", \"second\"]"));
    CHECK(strstr(second, "\"verdict\": null") != NULL);
    CHECK(strstr(second, "\"evidence\": []}") != NULL);
    CHECK(strstr(second, "\"path\": \"/app?x=1\"") != NULL);
    CHECK(strstr(second, "\"session_id\": \"later\"") != NULL);
    CHECK(strstr(second, "\"user_agent\": \"curl\"") != NULL);
    free(c.text);
    query_filter f = {.client = "100.64.0.2"};
    CHECK_EQ_INT(report_jsonl(db, cap_open(&c), &f), 0);
    out = cap_close(&c);
    CHECK(strstr(out, "\"session_id\": \"later\"") && !strstr(out, "\"first\""));
    free(c.text);
    sqlite3_close(db);
}

int main(void)
{
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK);
    test_json_strings();
    test_scalars();
    test_statement_formats(db);
    check_table_cut(db, 40, false);
    check_table_cut(db, 50, true);
    test_report_jsonl();
    sqlite3_close(db);
    out_format f;
    CHECK(format_from_name("jsonl", &f) == 0 && f == OUT_JSONL);
    CHECK(format_from_name("xml", &f) < 0);
    TEST_MAIN_END("test_ui_format");
}
