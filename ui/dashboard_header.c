/* dashboard_header: the top lines of the dashboard: the source (interface or file), the
 * capture's time span, packets and kernel drops, page loads by outcome with the orphan rate,
 * and per-minute sparklines of page loads and orphans. It draws dash_stats, which
 * dashboard_data.c refreshes at most every DASH_STATS_MIN_S. */
#include "ui/dashboard_int.h"
#include "correlate/outcome.h"
#include <curses.h>
#include <stdio.h>
#include <string.h>

int dash_header_height(const dashboard *d)
{
    if (d->rows >= 20)
        return 4;
    return d->rows >= 12 ? 2 : 1;
}

/* Draws text at *x if it fits before the right edge; advances *x. */
static bool seg(dashboard *d, int y, int *x, const char *text, int attr)
{
    int w = dash_text_width(text, d->utf8);
    if (*x + w > d->cols)
        return false;
    *x += dash_put(d, y, *x, text, w, attr);
    return true;
}

/* "LIVE"/"file" and the source's name; returns the column after it. */
static int draw_source(dashboard *d)
{
    const dash_stats *st = &d->stats;
    int x = 0;
    char buf[600];
    bool live = d->live || strcmp(st->end_reason, "running") == 0;
    if (d->cols >= 100)
        seg(d, 0, &x, "orphanwatch ", A_BOLD);
    seg(d, 0, &x, live ? "LIVE " : "file ",
        live ? dash_style_attr(d, DS_ORPHAN) | (int)A_BOLD : dash_style_attr(d, DS_DIM));
    snprintf(buf, sizeof buf, "%s",
             d->title[0]     ? d->title
             : st->source[0] ? st->source
                             : d->db_path);
    int room = d->cols - 80 > 16 ? d->cols - 80 : 16; /* what the rest of the line leaves */
    char title[4 * 600];
    const char *base = strrchr(buf, '/');
    if (dash_text_width(buf, d->utf8) > room && base && base[1]) /* a long path: its file */
        memmove(buf, base + 1, strlen(base + 1) + 1);
    dash_text_fit(title, sizeof title, buf, room, d->utf8);
    seg(d, 0, &x, title, A_BOLD);
    return x;
}

static void draw_source_line(dashboard *d)
{
    const dash_stats *st = &d->stats;
    int x = draw_source(d);
    char buf[600], a[40], b[40], span[32];
    bool wide = d->cols >= 110;
    dash_fmt_clock(a, sizeof a, st->t0, wide);
    dash_fmt_clock(b, sizeof b, st->t1, false);
    dash_fmt_dur(span, sizeof span, st->t1 > 0 && st->t0 > 0 ? st->t1 - st->t0 : -1);
    snprintf(buf, sizeof buf, "  %s%s%s (%s)", a, d->utf8 ? "\u2192" : "-", b, span);
    seg(d, 0, &x, buf, A_NORMAL);
    dash_fmt_count(a, sizeof a, st->packets);
    snprintf(buf, sizeof buf, "  packets %s", a);
    seg(d, 0, &x, buf, A_NORMAL);
    dash_fmt_count(a, sizeof a, st->kernel_drops);
    snprintf(buf, sizeof buf, "  drops %s", a);
    seg(d, 0, &x, buf, st->kernel_drops > 0 ? dash_style_attr(d, DS_ORPHAN) | A_BOLD : A_NORMAL);
    if (d->stderr_lines > 0) { /* shown on stderr when the dashboard ends */
        dash_fmt_count(a, sizeof a, d->stderr_lines);
        snprintf(buf, sizeof buf, "  messages %s", a);
        seg(d, 0, &x, buf, dash_style_attr(d, DS_NODOC) | A_BOLD);
    }
    if (st->end_reason[0] && strcmp(st->end_reason, "eof") != 0 &&
        strcmp(st->end_reason, "running") != 0) {
        snprintf(buf, sizeof buf, "  ended: %s", st->end_reason);
        seg(d, 0, &x, buf, dash_style_attr(d, DS_NODOC));
    }
}

static void draw_outcome_line(dashboard *d, int y)
{
    static const ow_outcome order[] = {OW_OUTCOME_CONNECTED,  OW_OUTCOME_ORPHAN,
                                       OW_OUTCOME_WS_REFUSED, OW_OUTCOME_WS_NO_DOC,
                                       OW_OUTCOME_UNDECIDED,  OW_OUTCOME_PENDING};
    enum { N = sizeof order / sizeof order[0] };
    const dash_stats *st = &d->stats;
    char seg_text[N][64], total[64], rate[48], n[32];
    int need = 0;
    long long orphans = st->outcome[OW_OUTCOME_ORPHAN];
    snprintf(rate, sizeof rate, "  orphan rate %.1f%%",
             st->total > 0 ? 100.0 * (double)orphans / (double)st->total : 0.0);
    for (int i = 0; i < N; i++) {
        dash_fmt_count(n, sizeof n, st->outcome[order[i]]);
        snprintf(seg_text[i], sizeof seg_text[i], "  %s %s", ow_outcome_name(order[i]), n);
        if (st->outcome[order[i]])
            need += (int)strlen(seg_text[i]);
    }
    dash_fmt_count(n, sizeof n, st->total);
    need += (int)strlen(rate) + (int)strlen(n) + 11;
    /* Narrow: "loads" for "page loads", and zero counts left out. */
    bool narrow = need > d->cols;
    snprintf(total, sizeof total, "%s %s", narrow ? "loads" : "page loads", n);
    int x = 0;
    seg(d, y, &x, total, A_BOLD);
    seg(d, y, &x, rate, orphans > 0 ? dash_style_attr(d, DS_ORPHAN) | (int)A_BOLD : (int)A_NORMAL);
    for (int i = 0; i < N; i++) {
        long long c = st->outcome[order[i]];
        if (c == 0 && narrow)
            continue;
        int attr =
            c ? dash_style_attr(d, dash_outcome_style(ow_outcome_name(order[i]))) : (int)A_DIM;
        if (!seg(d, y, &x, seg_text[i], attr))
            break;
    }
}

static void draw_spark(dashboard *d, int y, const char *label, const long *cells, int style)
{
    char buf[64], n[32];
    int x = 0;
    seg(d, y, &x, label, A_NORMAL);
    int width = d->cols - x - 16;
    if (width < 4)
        return;
    if (width > DASH_SPARK_MAX)
        width = DASH_SPARK_MAX;
    const long *v = cells + DASH_SPARK_MAX - width;
    long max = 0;
    for (int i = 0; i < width; i++)
        if (v[i] > max)
            max = v[i];
    char spark[4 * DASH_SPARK_MAX + 1];
    dash_sparkline(spark, sizeof spark, v, width, d->utf8);
    dash_put(d, y, x, spark, width, dash_style_attr(d, style));
    x += width;
    dash_fmt_count(n, sizeof n, max);
    snprintf(buf, sizeof buf, " max %s/min", n);
    seg(d, y, &x, buf, A_DIM);
}

void dash_header_draw(dashboard *d)
{
    int h = dash_header_height(d);
    if (d->stats.err[0]) { /* like the list's error: in place of numbers it could not read */
        int x = draw_source(d) + 2;
        dash_put(d, 0, x, d->stats.err, d->cols - x, dash_style_attr(d, DS_ORPHAN));
        return;
    }
    draw_source_line(d);
    if (h >= 2)
        draw_outcome_line(d, 1);
    if (h >= 4) {
        draw_spark(d, 2, "loads/min   ", d->stats.spark_loads, DS_CONNECTED);
        draw_spark(d, 3, "orphans/min ", d->stats.spark_orphans, DS_ORPHAN);
    }
}
