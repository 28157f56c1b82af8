/* test_ui_dashboard_text: the dashboard's pure pieces: sanitising untrusted text for the
 * terminal, sparklines, number/time formats, word wrap, the list's column layout by width,
 * the stage strip, and the filter language. */
#include "tests/unit/testlib.h"
#include "ui/dashboard_int.h"
#include <locale.h>
#include <stdlib.h>
#include <time.h>

static void test_fit_strips_controls(void)
{
    char out[256];
    /* OSC title, CSI colour, BEL, a C1 CSI (U+009B) and a bidi override never pass. */
    const char *hostile = "Mozilla \x1b]0;PWNED\x07\x1b[31mred\x1b[0m \xc2\x9b"
                          "31m\xe2\x80\xae"
                          "evil\x7f!";
    dash_text_fit(out, sizeof out, hostile, 200, true);
    CHECK(strchr(out, 0x1b) == NULL);
    CHECK(strchr(out, 0x07) == NULL);
    CHECK(strchr(out, 0x7f) == NULL);
    CHECK(strstr(out, "\xc2\x9b") == NULL);
    CHECK(strstr(out, "\xe2\x80\xae") == NULL);
    CHECK_EQ_STR(out, "Mozilla ]0;PWNED[31mred[0m 31mevil!");
    dash_text_fit(out, sizeof out, "a\tb\nc\rd", 20, false);
    CHECK_EQ_STR(out, "a b c d");
}

static void test_fit_utf8_and_width(void)
{
    char out[256];
    /* invalid UTF-8: a lone continuation, an overlong '/', a surrogate, a truncated lead */
    int w = dash_text_fit(out, sizeof out, "x\x80y\xc0\xafz\xed\xa0\x80q\xe2", 50, true);
    CHECK_EQ_STR(out, "x?y?z?q?");
    CHECK_EQ_INT(w, 8);
    /* cut to the width with an ellipsis */
    w = dash_text_fit(out, sizeof out, "abcdefghij", 5, true);
    CHECK_EQ_STR(out, "abcd\xe2\x80\xa6");
    CHECK_EQ_INT(w, 5);
    w = dash_text_fit(out, sizeof out, "abcdefghij", 5, false);
    CHECK_EQ_STR(out, "abcd~");
    w = dash_text_fit(out, sizeof out, "abcde", 5, true);
    CHECK_EQ_STR(out, "abcde");
    /* wide characters count two columns; ASCII mode shows one '?' per character */
    CHECK_EQ_INT(dash_text_width("\xe4\xb8\xad\xe6\x96\x87", true), 4);
    w = dash_text_fit(out, sizeof out, "\xe4\xb8\xad\xe6\x96\x87x", 4, true);
    CHECK_EQ_INT(w, 3); /* one wide char + ellipsis: a second would overflow */
    dash_text_fit(out, sizeof out, "caf\xc3\xa9", 10, false);
    CHECK_EQ_STR(out, "caf?");
    /* a tiny output buffer stays terminated */
    char tiny[4];
    dash_text_fit(tiny, sizeof tiny, "abcdef", 50, true);
    CHECK(strlen(tiny) < sizeof tiny);
    CHECK_EQ_INT(dash_text_fit(out, sizeof out, NULL, 10, true), 0);
    CHECK_EQ_INT(dash_text_fit(out, sizeof out, "abc", 0, true), 0);
}

static void test_sparkline(void)
{
    char out[128];
    long v[] = {0, 1, 4, 8};
    dash_sparkline(out, sizeof out, v, 4, true);
    CHECK_EQ_STR(out, " \xe2\x96\x81\xe2\x96\x84\xe2\x96\x88"); /* " ▁▄█" */
    dash_sparkline(out, sizeof out, v, 4, false);
    CHECK_EQ_STR(out, " _-#");
    long zero[] = {0, 0};
    dash_sparkline(out, sizeof out, zero, 2, true);
    CHECK_EQ_STR(out, "  ");
    long big[] = {1, 1000000};
    dash_sparkline(out, sizeof out, big, 2, false);
    CHECK_EQ_STR(out, "_#"); /* small but non-zero is still visible */
}

static void test_formats(void)
{
    char out[64];
    dash_fmt_count(out, sizeof out, 1234567);
    CHECK_EQ_STR(out, "1,234,567");
    dash_fmt_count(out, sizeof out, 999);
    CHECK_EQ_STR(out, "999");
    dash_fmt_count(out, sizeof out, -1000);
    CHECK_EQ_STR(out, "-1,000");
    dash_fmt_dur(out, sizeof out, 0.0125);
    CHECK_EQ_STR(out, "13ms");
    dash_fmt_dur(out, sizeof out, 12.34);
    CHECK_EQ_STR(out, "12.3s");
    dash_fmt_dur(out, sizeof out, 245);
    CHECK_EQ_STR(out, "4m05s");
    dash_fmt_dur(out, sizeof out, -1);
    CHECK_EQ_STR(out, "-");
    dash_fmt_bytes(out, sizeof out, 13508);
    CHECK_EQ_STR(out, "13.2 KB");
    setenv("TZ", "UTC", 1);
    tzset();
    dash_fmt_clock(out, sizeof out, 1795636846.9, false);
    CHECK_EQ_STR(out, "20:00:46");
    dash_fmt_clock(out, sizeof out, 1795636846.9, true);
    CHECK_EQ_STR(out, "2026-11-25 20:00:46");
}

typedef struct lines {
    char v[16][128];
    int n;
} lines;

static void collect(void *p, const char *line)
{
    lines *l = p;
    if (l->n < 16)
        snprintf(l->v[l->n++], sizeof l->v[0], "%s", line);
}

static void test_wrap(void)
{
    lines l = {0};
    int n = dash_wrap("the quick brown fox jumps over the lazy dog", 10, true, collect, &l);
    CHECK_EQ_INT(n, 5);
    CHECK_EQ_STR(l.v[0], "the quick");
    CHECK_EQ_STR(l.v[1], "brown fox");
    CHECK_EQ_STR(l.v[4], "dog");
    for (int i = 0; i < l.n; i++)
        CHECK(dash_text_width(l.v[i], true) <= 10);
    memset(&l, 0, sizeof l);
    n = dash_wrap("abcdefghijklmnopqrstuvwxyz", 10, true, collect, &l);
    CHECK_EQ_INT(n, 3); /* a long word is cut */
    CHECK_EQ_STR(l.v[0], "abcdefghij");
    CHECK_EQ_STR(l.v[2], "uvwxyz");
    memset(&l, 0, sizeof l);
    dash_wrap("evil\x1b[2Jtext", 40, true, collect, &l);
    CHECK_EQ_STR(l.v[0], "evil[2Jtext");
    memset(&l, 0, sizeof l);
    CHECK_EQ_INT(dash_wrap("", 10, true, collect, &l), 1);
}

static bool has_col(const dash_layout *lay, enum dash_col c)
{
    for (int i = 0; i < lay->n; i++)
        if (lay->col[i] == c)
            return true;
    return false;
}

static int layout_total(const dash_layout *lay)
{
    int t = lay->n - 1;
    for (int i = 0; i < lay->n; i++)
        t += lay->width[i];
    return t;
}

static void test_layout(void)
{
    dash_layout lay;
    int widths[] = {20, 40, 60, 80, 100, 120, 200, 300};
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++) {
        dash_list_layout(widths[i], &lay);
        CHECK(layout_total(&lay) <= widths[i]);
        CHECK(has_col(&lay, DC_OUTCOME)); /* the most important column stays */
    }
    dash_list_layout(80, &lay);
    CHECK(has_col(&lay, DC_TIME) && has_col(&lay, DC_CLIENT) && has_col(&lay, DC_SID));
    CHECK(has_col(&lay, DC_STAGES) && has_col(&lay, DC_VERDICT) && has_col(&lay, DC_APP));
    CHECK(!has_col(&lay, DC_UA) && !has_col(&lay, DC_DUR));
    dash_list_layout(200, &lay);
    CHECK_EQ_INT(lay.n, DC_COUNT);
    CHECK_EQ_INT(layout_total(&lay), 200);
    dash_list_layout(40, &lay);
    CHECK(has_col(&lay, DC_TIME) && !has_col(&lay, DC_VERDICT));
}

static void test_stages(void)
{
    dash_row r = {.status = 200, .static_count = 5};
    bool s[4];
    snprintf(r.outcome, sizeof r.outcome, "orphan");
    dash_row_stages(&r, s);
    CHECK(s[0] && s[1] && !s[2] && !s[3]);
    r.static_count = 0, r.websockets = 1; /* scripts from the cache */
    snprintf(r.outcome, sizeof r.outcome, "connected");
    dash_row_stages(&r, s);
    CHECK(s[0] && s[1] && s[2] && s[3]);
    r.status = 404, r.websockets = 0;
    dash_row_stages(&r, s);
    CHECK(!s[0] && !s[1]);
}

static void test_filter_language(void)
{
    dash_query q = {0};
    char err[160];
    CHECK_EQ_INT(
        dash_query_parse_filter(&q, "verdict:pmtu_blackhole client=100.64.0.2", err, sizeof err),
        0);
    CHECK_EQ_STR(q.verdict, "pmtu_blackhole");
    CHECK_EQ_STR(q.client, "100.64.0.2");
    /* bare words: a verdict, an outcome, an address (IPv6 canonicalised), else an app */
    CHECK_EQ_INT(dash_query_parse_filter(&q,
                                         "orphan no_scripts_fetched FD7A:115C:A1E0:0::2 "
                                         "/sliders",
                                         err, sizeof err),
                 0);
    CHECK_EQ_STR(q.outcome, "orphan");
    CHECK_EQ_STR(q.verdict, "no_scripts_fetched");
    CHECK_EQ_STR(q.client, "fd7a:115c:a1e0::2");
    CHECK_EQ_STR(q.app, "/sliders");
    char desc[256];
    dash_query_describe(&q, true, desc, sizeof desc);
    CHECK_EQ_STR(desc, "client:fd7a:115c:a1e0::2 app:/sliders verdict:no_scripts_fetched "
                       "outcome:orphan");
    /* errors leave the query as it was */
    CHECK_EQ_INT(dash_query_parse_filter(&q, "verdict:nonsense", err, sizeof err), -1);
    CHECK(strstr(err, "nonsense") != NULL);
    CHECK_EQ_STR(q.verdict, "no_scripts_fetched");
    CHECK_EQ_INT(dash_query_parse_filter(&q, "colour=red", err, sizeof err), -1);
    CHECK_EQ_INT(dash_query_parse_filter(&q, "client:not-an-address", err, sizeof err), -1);
    /* empty clears; orphans-only and the search are not the filter's */
    q.orphans_only = true;
    snprintf(q.search, sizeof q.search, "abc");
    CHECK_EQ_INT(dash_query_parse_filter(&q, "", err, sizeof err), 0);
    CHECK(!q.client[0] && !q.app[0] && !q.verdict[0] && !q.outcome[0]);
    CHECK(q.orphans_only);
    dash_query_describe(&q, false, desc, sizeof desc);
    CHECK_EQ_STR(desc, "orphans /abc");
    CHECK_EQ_INT(dash_query_parse_filter(&q, "verdict:none", err, sizeof err), 0);
}

static void test_list_sql(void)
{
    char sql[4096];
    dash_query q = {0};
    dash_row a = {.id = 5, .started = 100.0};
    snprintf(a.client, sizeof a.client, "1.2.3.4");
    CHECK(dash_list_sql(sql, sizeof sql, &q, NULL, false, true) >= 0);
    CHECK(strstr(sql, "ORDER BY started DESC, id DESC LIMIT ?") != NULL);
    /* the keyset starts with a range on the indexed first key */
    CHECK(dash_list_sql(sql, sizeof sql, &q, &a, false, true) >= 0);
    CHECK(strstr(sql, "started <= ? AND") != NULL);
    CHECK(strstr(sql, "id <= ?") != NULL);
    CHECK(dash_list_sql(sql, sizeof sql, &q, &a, true, false) >= 0);
    CHECK(strstr(sql, "started >= ? AND") != NULL);
    CHECK(strstr(sql, "ORDER BY started ASC, id ASC") != NULL);
    q.sort = DASH_SORT_CLIENT;
    q.orphans_only = true;
    CHECK(dash_list_sql(sql, sizeof sql, &q, &a, false, false) >= 0);
    CHECK(strstr(sql, "outcome = 'orphan'") != NULL);
    CHECK(strstr(sql, "ORDER BY client ASC, started ASC, id ASC") != NULL);
    /* user text is always a bound parameter, never SQL */
    snprintf(q.search, sizeof q.search, "'; DROP TABLE page_loads; --");
    CHECK(dash_list_sql(sql, sizeof sql, &q, &a, false, false) >= 0);
    CHECK(strstr(sql, "DROP") == NULL);
}

int main(void)
{
    setlocale(LC_CTYPE, "C.UTF-8");
    test_fit_strips_controls();
    test_fit_utf8_and_width();
    test_sparkline();
    test_formats();
    test_wrap();
    test_layout();
    test_stages();
    test_filter_language();
    test_list_sql();
    TEST_MAIN_END("test_ui_dashboard_text");
}
