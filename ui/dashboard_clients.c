/* dashboard_clients: the clients view (c): one line per client address with its page loads,
 * orphans, orphan rate and dominant verdict, most orphans first (what `orphanwatch query
 * clients` shows). The aggregate reads the whole page_loads table, so it runs when the view
 * opens and, live, at most every DASH_STATS_MIN_S (slower when it is slow). Enter filters the
 * list by the selected client. */
#include "ui/dashboard_int.h"
#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dash_clients_free(dash_clients_view *c)
{
    free(c->v);
    c->v = NULL;
    c->n = 0;
}

static void clients_load(dashboard *d)
{
    dash_clients_view *c = &d->clients;
    if (!c->v && !(c->v = calloc(DASH_MAX_CLIENTS, sizeof *c->v)))
        return;
    double t = dash_now();
    int n = dash_data_clients(d->db, c->v, DASH_MAX_CLIENTS, &c->more);
    c->err[0] = '\0';
    if (n < 0) /* the list's form; drawn in place of the clients, as a short list looks whole */
        snprintf(c->err, sizeof c->err, "query: %s", sqlite3_errmsg(d->db));
    c->n = n < 0 ? 0 : n;
    c->timed.last_run = dash_now();
    c->timed.cost = c->timed.last_run - t;
    c->dirty = false;
    if (c->sel >= c->n)
        c->sel = c->n > 0 ? c->n - 1 : 0;
}

bool dash_clients_key(dashboard *d, int key, int visible)
{
    dash_clients_view *c = &d->clients;
    switch (key) {
    case KEY_DOWN:
    case 'j':
        c->sel++;
        break;
    case KEY_UP:
    case 'k':
        c->sel--;
        break;
    case KEY_NPAGE:
    case ' ':
        c->sel += visible;
        break;
    case KEY_PPAGE:
    case 'b':
        c->sel -= visible;
        break;
    case KEY_HOME:
    case 'g':
        c->sel = 0;
        break;
    case KEY_END:
    case 'G':
        c->sel = c->n - 1;
        break;
    case '\r':
    case '\n':
    case KEY_ENTER:
        if (c->sel < 0 || c->sel >= c->n)
            return false;
        snprintf(d->q.client, sizeof d->q.client, "%s", c->v[c->sel].client);
        d->view = DASH_VIEW_LIST;
        return true;
    default:
        return false;
    }
    if (c->sel >= c->n)
        c->sel = c->n - 1;
    if (c->sel < 0)
        c->sel = 0;
    return true;
}

void dash_clients_draw(dashboard *d, int top, int height)
{
    dash_clients_view *c = &d->clients;
    bool live = d->live || strcmp(d->stats.end_reason, "running") == 0;
    if (c->dirty || (live && dash_timed_due(&c->timed, dash_now(), DASH_STATS_MIN_S)))
        clients_load(d);
    int visible = height - 1 - (c->more ? 1 : 0);
    if (c->sel < c->top)
        c->top = c->sel;
    if (c->sel >= c->top + visible)
        c->top = c->sel - visible + 1;
    if (c->top < 0)
        c->top = 0;

    /* CLIENT takes what the other columns leave, from 15 to 59 columns; the numbers keep their
     * widths and DOMINANT VERDICT has the rest of the line (wv when CLIENT is within its range). */
    const int wl = 10, wo = 9, wr = 8, wv = 30;
    int wc = d->cols - (wl + wo + wr + wv + 4);
    if (wc < 15)
        wc = 15;
    if (wc > 39 + 20)
        wc = 39 + 20;
    int bar = dash_style_attr(d, DS_BAR);
    char hdr[256];
    snprintf(hdr, sizeof hdr, "%-*s %*s %*s %*s %s", wc, "CLIENT", wl, "PAGE LOADS", wo, "ORPHANS",
             wr, "RATE", "DOMINANT VERDICT");
    dash_fill(d, top, 0, d->cols, bar);
    dash_put(d, top, 0, hdr, d->cols, bar | A_BOLD);
    if (c->err[0]) {
        dash_put(d, top + 1, 0, c->err, d->cols, dash_style_attr(d, DS_ORPHAN));
        return;
    }
    if (c->n == 0) {
        dash_put(d, top + 1, 1, "no clients yet", d->cols - 1, dash_style_attr(d, DS_DIM));
        return;
    }
    for (int i = 0; i < visible && c->top + i < c->n; i++) {
        const dash_client *cl = &c->v[c->top + i];
        int y = top + 1 + i, base = c->top + i == c->sel ? A_REVERSE : A_NORMAL;
        char loads[32], orphans[32], line[160], verdict[96];
        double rate = cl->loads > 0 ? 100.0 * (double)cl->orphans / (double)cl->loads : 0.0;
        dash_fmt_count(loads, sizeof loads, cl->loads);
        dash_fmt_count(orphans, sizeof orphans, cl->orphans);
        if (base == A_REVERSE)
            dash_fill(d, y, 0, d->cols, base);
        dash_put(d, y, 0, cl->client, wc, base);
        snprintf(line, sizeof line, "%*s %*s %*.1f%%", wl, loads, wo, orphans, wr - 1, rate);
        dash_put(d, y, wc + 1, line, wl + wo + wr + 2,
                 base | (cl->orphans ? dash_style_attr(d, DS_ORPHAN) : 0));
        if (cl->verdict[0])
            snprintf(verdict, sizeof verdict, "%s (%lld)", cl->verdict, cl->verdict_n);
        else
            snprintf(verdict, sizeof verdict, "-");
        dash_put(d, y, wc + wl + wo + wr + 4, verdict, d->cols - (wc + wl + wo + wr + 4), base);
    }
    if (c->more) {
        char more[64];
        snprintf(more, sizeof more, " (only the first %d clients are listed)", DASH_MAX_CLIENTS);
        dash_put(d, top + height - 1, 0, more, d->cols, dash_style_attr(d, DS_DIM));
    }
}
