/* dashboard_capture: the capture view (i): each capture in the database (source, link type,
 * ports, time span, packets, drops, how it ended), what the captures could not see
 * (ui/blind_spots.c, as the report says it) and the counters that are not zero. Rebuilt each
 * time it is opened and, live, with the header's counts; scrollable like the help. */
#include "ui/blind_spots.h"
#include "ui/dashboard_int.h"
#include "db/db.h"
#include <curses.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

typedef struct spot_lines {
    dash_lines *l;
    int width;
    bool utf8;
} spot_lines;

static void add_spot(void *ctx, const char *line)
{
    spot_lines *s = ctx;
    dash_lines_wrap(s->l, DS_NODOC, 4, s->width, s->utf8, "  - ", line);
}

static const char *text_of(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? (const char *)t : "";
}

static void add_captures(sqlite3 *db, dash_lines *l)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT id, source, live, linktypes, server_ports, started, ended, "
                           "end_reason, packets, kernel_drops, if_drops FROM captures ORDER BY id",
                           -1, &s, NULL) != SQLITE_OK) {
        dash_lines_add(l, DS_ORPHAN, false, "  query: %s", sqlite3_errmsg(db));
        return;
    }
    while (sqlite3_step(s) == SQLITE_ROW) {
        char a[40] = "-", b[40] = "-";
        time_t t0 = (time_t)sqlite3_column_double(s, 5), t1 = (time_t)sqlite3_column_double(s, 6);
        struct tm tm;
        if (t0 > 0 && gmtime_r(&t0, &tm))
            strftime(a, sizeof a, "%Y-%m-%d %H:%M:%SZ", &tm);
        if (t1 > 0 && gmtime_r(&t1, &tm))
            strftime(b, sizeof b, "%Y-%m-%d %H:%M:%SZ", &tm);
        const char *source = text_of(s, 1), *nl = strchr(source, '\n');
        dash_lines_add(l, DS_NORMAL, true, "  #%lld %.*s (%s, link %s, port %s)",
                       sqlite3_column_int64(s, 0), nl ? (int)(nl - source) : (int)strlen(source),
                       source, sqlite3_column_int(s, 2) ? "live" : "file", text_of(s, 3),
                       text_of(s, 4));
        for (const char *p = nl; p; p = strchr(p + 1, '\n')) { /* the other files read */
            const char *end = strchr(p + 1, '\n');
            dash_lines_add(l, DS_NORMAL, false, "     then %.*s",
                           end ? (int)(end - p - 1) : (int)strlen(p + 1), p + 1);
        }
        dash_lines_add(l, DS_NORMAL, false, "     %s -> %s, ended: %s", a, b,
                       owdb_end_reason(db, sqlite3_column_int64(s, 0), text_of(s, 7)));
        dash_lines_add(
            l, DS_NORMAL, false, "     %lld packets, %lld kernel drops, %lld interface drops",
            sqlite3_column_int64(s, 8), sqlite3_column_int64(s, 9), sqlite3_column_int64(s, 10));
    }
    sqlite3_finalize(s);
}

static void add_counter(void *ctx, const char *name, long long value)
{
    if (value != 0)
        dash_lines_add(ctx, DS_NORMAL, false, "  %-24s %lld", name, value);
}

void dash_capture_build(sqlite3 *db, dash_lines *l, int width, bool utf8)
{
    dash_lines_clear(l);
    dash_lines_add(l, DS_TITLE, true, "Captures");
    add_captures(db, l);
    dash_lines_add(l, DS_NORMAL, false, "%s", "");
    dash_lines_add(l, DS_TITLE, true, "What the capture could not see");
    spot_lines sl = {l, width, utf8};
    int n = blind_spots_each(db, 0, add_spot, &sl);
    if (n == 0)
        dash_lines_add(l, DS_CONNECTED, false,
                       "  nothing: no packet dropped or cut short, no gap, no limit reached");
    else if (n < 0)
        dash_lines_add(l, DS_ORPHAN, false, "  query: %s", sqlite3_errmsg(db));
    dash_lines_add(l, DS_NORMAL, false, "%s", "");
    dash_lines_add(l, DS_TITLE, true, "Counters (not zero, all captures)");
    blind_spots_counters(db, 0, add_counter, l);
}

void dash_capture_draw(dashboard *d, int top, int height)
{
    if (d->capture_built != d->stats.last_run || d->capture_width != d->cols) {
        int scroll = d->capture.scroll;
        dash_capture_build(d->db, &d->capture, d->cols, d->utf8);
        d->capture.scroll = scroll;
        d->capture_width = d->cols;
        d->capture_built = d->stats.last_run;
        dash_lines_key(&d->capture, 0, height - 1);
    }
    int bar = dash_style_attr(d, DS_BAR);
    dash_fill(d, top, 0, d->cols, bar);
    dash_put(d, top, 0, " Capture", d->cols, bar | A_BOLD);
    dash_lines_draw(d, &d->capture, top + 1, height - 1);
}
