/* dashboard_list: the page-load list, one line per page load (newest first by default). It
 * holds only the rows on screen: a position is the row at the top (the keyset anchor), and
 * moving re-queries "the next N rows from there" (see dashboard_data.c). While it sits at the
 * top it follows the newest rows of a live capture; scrolled down, it stays put.
 * Columns drop in priority order as the terminal narrows, so a line never wraps. */
#include "ui/dashboard_int.h"
#include <curses.h>
#include <stdio.h>
#include <string.h>

/* ---- columns ---- */

typedef struct col_spec {
    const char *title;
    int min, max;
    int priority; /* the lowest goes first when the width shrinks */
} col_spec;

static const col_spec cols[DC_COUNT] = {
    [DC_TIME] = {"TIME", 8, 8, 9},         [DC_CLIENT] = {"CLIENT", 15, 39, 7},
    [DC_APP] = {"APP", 10, 60, 5},         [DC_SID] = {"SESSION", 8, 8, 8},
    [DC_STAGES] = {"PSWD", 4, 4, 6},       [DC_OUTCOME] = {"OUTCOME", 10, 10, 10},
    [DC_VERDICT] = {"VERDICT", 12, 18, 4}, [DC_DUR] = {"DUR", 7, 7, 3},
    [DC_UA] = {"USER AGENT", 16, 120, 1},
};

/* Where spare width goes, in order: each step grows a column up to a width. */
static const struct {
    enum dash_col col;
    int upto;
} grow_steps[] = {
    {DC_VERDICT, 18}, {DC_APP, 24}, {DC_CLIENT, 39}, {DC_APP, 40}, {DC_UA, 120}, {DC_APP, 60},
};

static int layout_width(const bool *keep, const int *w)
{
    int total = 0, n = 0;
    for (int c = 0; c < DC_COUNT; c++)
        if (keep[c])
            total += w[c], n++;
    return total + (n > 0 ? n - 1 : 0); /* one space between columns */
}

void dash_list_layout(int total_width, dash_layout *out)
{
    bool keep[DC_COUNT];
    int w[DC_COUNT];
    for (int c = 0; c < DC_COUNT; c++)
        keep[c] = true, w[c] = cols[c].min;
    while (layout_width(keep, w) > total_width) {
        int drop = -1;
        for (int c = 0; c < DC_COUNT; c++)
            if (keep[c] && (drop < 0 || cols[c].priority < cols[drop].priority))
                drop = c;
        int kept = 0;
        for (int c = 0; c < DC_COUNT; c++)
            kept += keep[c];
        if (kept <= 1) { /* the last column shrinks to what there is */
            w[drop] = total_width > 1 ? total_width : 1;
            break;
        }
        keep[drop] = false;
    }
    int spare = total_width - layout_width(keep, w);
    for (size_t i = 0; i < sizeof grow_steps / sizeof grow_steps[0] && spare > 0; i++) {
        enum dash_col c = grow_steps[i].col;
        if (!keep[c] || w[c] >= grow_steps[i].upto)
            continue;
        int add = grow_steps[i].upto - w[c];
        if (add > spare)
            add = spare;
        w[c] += add, spare -= add;
    }
    out->n = 0;
    for (int c = 0; c < DC_COUNT; c++)
        if (keep[c]) {
            out->col[out->n] = (enum dash_col)c;
            out->width[out->n++] = w[c];
        }
}

void dash_row_stages(const dash_row *r, bool reached[4])
{
    reached[0] = r->status == 200;
    /* a cached page fetches no scripts: a websocket shows they ran */
    reached[1] = r->static_count > 0 || r->websockets > 0;
    reached[2] = r->websockets > 0;
    reached[3] = strcmp(r->outcome, "connected") == 0;
}

/* ---- query and position ---- */

int dash_list_height(const dashboard *d)
{
    int h = d->rows - dash_header_height(d) - 2;
    if (h < 1)
        h = 1;
    if (h > DASH_MAX_LIST_ROWS)
        h = DASH_MAX_LIST_ROWS;
    return h;
}

/* A page of rows; -1 on error, with the message in d->list.err; DASH_SUPERSEDED (only while
 * the refresh has the interrupt armed), err untouched. A success leaves err alone:
 * dash_list_reload clears it once its fetches all succeeded, so the second cannot hide the
 * first's failure. */
static int fetch(dashboard *d, const dash_row *anchor, bool backward, bool inclusive, dash_row *out,
                 int limit)
{
    return dash_data_list_page(d->db, &d->q, anchor, backward, inclusive, out, limit, d->list.err,
                               sizeof d->list.err);
}

/* The rows from the position into L->scratch (h + 1 of them tell whether there are more);
 * -1 when a fetch failed, DASH_SUPERSEDED when interrupted. L->rows is left alone: a
 * superseded reload keeps the rows on screen. */
static int load_rows(dashboard *d, int h)
{
    dash_list *L = &d->list;
    dash_row *v = L->scratch;
    int n = fetch(d, L->at_top ? NULL : &L->anchor, false, true, v, h + 1);
    if (n < 0 || L->at_top || n >= h)
        return n;
    /* near the end: fill the page from above, in front of the rows read so far */
    int want = h - n;
    memmove(v + want, v, sizeof(dash_row) * (size_t)n);
    int m = fetch(d, &L->anchor, true, false, v, want);
    if (m < 0)
        return m;
    memmove(v + m, v + want, sizeof(dash_row) * (size_t)n);
    if (m < want)
        L->at_top = true;
    return n + m;
}

/* Keeps the selected page load selected when it is still on screen. */
static void keep_selection(dash_list *L)
{
    int found = -1;
    for (int i = 0; L->sel_id && i < L->nrows; i++)
        if (L->rows[i].id == L->sel_id)
            found = i;
    if (found >= 0)
        L->sel = found;
    if (L->sel >= L->nrows)
        L->sel = L->nrows - 1;
    if (L->sel < 0)
        L->sel = 0;
    L->sel_id = L->nrows > 0 ? L->rows[L->sel].id : 0;
}

/* A query failed: its error (in L->err) is drawn in place of the rows until the next reload.
 * The position (at_top, anchor) and the selected page load (sel_id) are kept, so that the
 * next reload that succeeds comes back to them. */
static void rows_failed(dash_list *L)
{
    L->nrows = 0;
    L->more = false;
    L->sel = 0;
}

void dash_list_reload(dashboard *d)
{
    dash_list *L = &d->list;
    int h = dash_list_height(d);
    double t = dash_now();
    int n = load_rows(d, h);
    if (n == DASH_SUPERSEDED) { /* keys are pending: the refresh after them reloads */
        L->dirty = true;
        return;
    }
    if (n < 0) {
        rows_failed(L);
    } else {
        L->err[0] = '\0';
        memcpy(L->rows, L->scratch, sizeof(dash_row) * (size_t)n);
        L->more = n > h;
        L->nrows = n > h ? h : n;
        if (!L->at_top && L->nrows > 0)
            L->anchor = L->rows[0];
        keep_selection(L);
    }
    L->dirty = false;
    L->timed.last_run = dash_now();
    L->timed.cost = L->timed.last_run - t;
}

static void move_down(dash_list *L)
{
    if (L->sel < L->nrows - 1) {
        L->sel_id = L->rows[++L->sel].id;
    } else if (L->more && L->nrows > 1) {
        L->anchor = L->rows[1];
        L->at_top = false;
        L->sel_id = L->rows[L->nrows].id; /* the row just below the screen */
        L->dirty = true;
    }
}

/* The keys that query themselves (up past the top row, PgUp, End): when that query fails
 * they move nothing and ask for no reload, which would clear the error. Their queries are
 * never interrupted for pending keys: their own key is read already, and its move would be
 * lost. */
static void move_up(dashboard *d)
{
    dash_list *L = &d->list;
    if (L->sel > 0) {
        L->sel_id = L->rows[--L->sel].id;
    } else if (!L->at_top) {
        int m = fetch(d, &L->anchor, true, false, L->scratch, 1);
        if (m < 0) {
            rows_failed(L);
            return;
        }
        if (m == 1) {
            L->anchor = L->scratch[0];
            L->sel_id = L->scratch[0].id;
        } else {
            L->at_top = true;
        }
        L->dirty = true;
    }
}

static void page_down(dashboard *d)
{
    dash_list *L = &d->list;
    if (!L->more) {
        L->sel = L->nrows > 0 ? L->nrows - 1 : 0;
    } else {
        L->anchor = L->rows[L->nrows]; /* the first row of the next page */
        L->at_top = false;
    }
    L->sel_id = 0; /* keep the selected line, not the row */
    L->dirty = true;
}

static void page_up(dashboard *d)
{
    dash_list *L = &d->list;
    int h = dash_list_height(d);
    if (L->at_top) {
        L->sel = 0;
    } else {
        int m = fetch(d, &L->anchor, true, false, L->scratch, h);
        if (m < 0) {
            rows_failed(L);
            return;
        }
        if (m == h)
            L->anchor = L->scratch[0];
        else
            L->at_top = true;
    }
    L->sel_id = 0;
    L->dirty = true;
}

static void go_end(dashboard *d)
{
    dash_list *L = &d->list;
    int h = dash_list_height(d);
    int m = fetch(d, NULL, true, false, L->scratch, h);
    if (m < 0) {
        rows_failed(L);
        return;
    }
    L->at_top = m < h;
    if (m > 0) {
        L->anchor = L->scratch[0];
        L->sel_id = L->scratch[m - 1].id;
    }
    L->dirty = true;
}

bool dash_list_key(dashboard *d, int key)
{
    dash_list *L = &d->list;
    switch (key) {
    case KEY_DOWN:
    case 'j':
        move_down(L);
        break;
    case KEY_UP:
    case 'k':
        move_up(d);
        break;
    case KEY_NPAGE:
    case ' ':
        page_down(d);
        break;
    case KEY_PPAGE:
    case 'b':
        page_up(d);
        break;
    case KEY_HOME:
    case 'g':
        L->at_top = true;
        L->sel = 0;
        L->sel_id = 0;
        L->dirty = true;
        break;
    case KEY_END:
    case 'G':
        go_end(d);
        break;
    default:
        return false;
    }
    return true;
}

void dash_list_click(dashboard *d, int row)
{
    dash_list *L = &d->list;
    if (row >= 0 && row < L->nrows) {
        L->sel = row;
        L->sel_id = L->rows[row].id;
    }
}

/* ---- drawing ---- */

static void draw_stages(dashboard *d, int y, int x, const dash_row *r, int base)
{
    static const char letters[] = "PSWD";
    bool reached[4];
    dash_row_stages(r, reached);
    for (int i = 0; i < 4; i++) {
        char cell[8];
        if (d->utf8)
            snprintf(cell, sizeof cell, "%s", reached[i] ? "\u25cf" : "\u25cb");
        else
            snprintf(cell, sizeof cell, "%c", reached[i] ? letters[i] : '.');
        int attr = base | (reached[i] ? (int)A_BOLD | dash_style_attr(d, DS_CONNECTED)
                                      : dash_style_attr(d, DS_DIM));
        dash_put(d, y, x + i, cell, 1, attr);
    }
}

static void cell_text(const dash_row *r, enum dash_col c, char *out, size_t outsz)
{
    switch (c) {
    case DC_TIME:
        dash_fmt_clock(out, outsz, r->started_null ? 0 : r->started, false);
        break;
    case DC_CLIENT:
        snprintf(out, outsz, "%s", r->client);
        break;
    case DC_APP:
        snprintf(out, outsz, "%s", r->app);
        break;
    case DC_SID:
        snprintf(out, outsz, "%.8s", r->sid);
        break;
    case DC_OUTCOME:
        snprintf(out, outsz, "%s", r->outcome);
        break;
    case DC_VERDICT:
        snprintf(out, outsz, "%s", r->verdict[0] ? r->verdict : "-");
        break;
    case DC_DUR:
        dash_fmt_dur(out, outsz, r->dur);
        break;
    case DC_UA:
        snprintf(out, outsz, "%s", r->ua);
        break;
    default:
        out[0] = '\0';
        break;
    }
}

static void draw_row(dashboard *d, int y, const dash_row *r, const dash_layout *lay, bool sel)
{
    int base = sel ? A_REVERSE : A_NORMAL;
    int ostyle = dash_style_attr(d, dash_outcome_style(r->outcome));
    if (sel)
        dash_fill(d, y, 0, d->cols, base);
    int x = 0;
    for (int i = 0; i < lay->n; i++) {
        enum dash_col c = lay->col[i];
        char text[4 * DASH_FIELD];
        if (c == DC_STAGES) {
            draw_stages(d, y, x, r, base);
        } else {
            cell_text(r, c, text, sizeof text);
            int attr = base;
            if (c == DC_OUTCOME || (c == DC_VERDICT && r->verdict[0]))
                attr |= ostyle | (c == DC_OUTCOME ? A_BOLD : 0);
            dash_put(d, y, x, text, lay->width[i], attr);
        }
        x += lay->width[i] + 1;
    }
}

void dash_list_draw(dashboard *d, int top, int height)
{
    dash_list *L = &d->list;
    dash_layout lay;
    dash_list_layout(d->cols, &lay);
    int bar = dash_style_attr(d, DS_BAR);
    dash_fill(d, top, 0, d->cols, bar);
    for (int i = 0, x = 0; i < lay.n; i++) {
        dash_put(d, top, x, cols[lay.col[i]].title, lay.width[i], bar | A_BOLD);
        x += lay.width[i] + 1;
    }
    if (L->err[0]) {
        dash_put(d, top + 1, 0, L->err, d->cols, dash_style_attr(d, DS_ORPHAN));
        return;
    }
    if (L->nrows == 0) {
        const char *empty = d->q.orphans_only || d->q.search[0] || d->q.client[0] || d->q.app[0] ||
                                    d->q.verdict[0] || d->q.outcome[0]
                                ? "no page loads match"
                                : "no page loads yet";
        dash_put(d, top + 1, 1, empty, d->cols - 1, dash_style_attr(d, DS_DIM));
        return;
    }
    for (int i = 0; i < L->nrows && i < height - 1; i++)
        draw_row(d, top + 1 + i, &L->rows[i], &lay, i == L->sel);
}
