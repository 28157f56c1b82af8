/* dashboard_detail: the detail view of one page load (Enter on the list): its timeline with
 * times relative to the page request (the page request and response, every fetch of the page
 * with its connection's retransmissions and how it ended, the websocket upgrade, the Bokeh
 * messages and close codes), then the verdict with its confidence and meaning, the evidence
 * rows and the advice. Built once into a scrollable list of lines (dash_lines), rebuilt on a
 * resize or, for a live capture, every DASH_STATS_MIN_S. */
#include "ui/dashboard_int.h"
#include "correlate/outcome.h"
#include <curses.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- scrollable lines ---- */

void dash_lines_clear(dash_lines *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->v[i].text);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
    l->truncated = 0;
}

static void lines_push(dash_lines *l, enum dash_style st, bool bold, const char *text)
{
    if (l->n >= DASH_DETAIL_MAX_LINES) {
        l->truncated++;
        return;
    }
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 64;
        dash_line *v = realloc(l->v, sizeof *v * (size_t)cap);
        if (!v)
            return;
        l->v = v, l->cap = cap;
    }
    char *t = strdup(text);
    if (!t)
        return;
    l->v[l->n++] = (dash_line){st, bold, t};
}

void dash_lines_add(dash_lines *l, enum dash_style st, bool bold, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    lines_push(l, st, bold, buf);
}

typedef struct wrap_ctx {
    dash_lines *l;
    enum dash_style st;
    const char *prefix;
    int indent;
    bool first;
} wrap_ctx;

static void wrap_emit(void *p, const char *line)
{
    wrap_ctx *w = p;
    char buf[4200];
    snprintf(buf, sizeof buf, "%*s%s%s", w->first ? 0 : w->indent, "", w->first ? w->prefix : "",
             line);
    w->first = false;
    lines_push(w->l, w->st, false, buf);
}

void dash_lines_wrap(dash_lines *l, enum dash_style st, int indent, int width, bool utf8,
                     const char *prefix, const char *text)
{
    wrap_ctx w = {l, st, prefix, indent, true};
    int first_width = width - dash_text_width(prefix, utf8);
    int rest = width - indent;
    /* Same width for every line keeps it simple: the narrower of the two. */
    dash_wrap(text, first_width < rest ? first_width : rest, utf8, wrap_emit, &w);
}

bool dash_lines_key(dash_lines *l, int key, int visible)
{
    bool handled = true;
    int max = l->n - visible;
    if (max < 0)
        max = 0;
    switch (key) {
    case KEY_DOWN:
    case 'j':
        l->scroll++;
        break;
    case KEY_UP:
    case 'k':
        l->scroll--;
        break;
    case KEY_NPAGE:
    case ' ':
        l->scroll += visible > 2 ? visible - 1 : 1;
        break;
    case KEY_PPAGE:
    case 'b':
        l->scroll -= visible > 2 ? visible - 1 : 1;
        break;
    case KEY_HOME:
    case 'g':
        l->scroll = 0;
        break;
    case KEY_END:
    case 'G':
        l->scroll = max;
        break;
    default:
        handled = false;
        break;
    }
    if (l->scroll > max)
        l->scroll = max;
    if (l->scroll < 0)
        l->scroll = 0;
    return handled;
}

void dash_lines_draw(dashboard *d, const dash_lines *l, int top, int height)
{
    for (int i = 0; i < height && l->scroll + i < l->n; i++) {
        const dash_line *ln = &l->v[l->scroll + i];
        dash_put(d, top + i, 0, ln->text, d->cols,
                 dash_style_attr(d, ln->style) | (ln->bold ? A_BOLD : 0));
    }
}

/* ---- the page load ---- */

static const char *text_or(sqlite3_stmt *st, int i, const char *dflt)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? (const char *)s : dflt;
}

static bool is_null(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL;
}

typedef struct detail_ctx {
    sqlite3 *db;
    dash_lines *l;
    int width;
    bool utf8;
    double t0; /* page request time */
    const char *to_server, *to_client;
} detail_ctx;

static void rel(const detail_ctx *c, double ts, bool known, char *out, size_t outsz)
{
    if (!known || ts <= 0)
        snprintf(out, outsz, "%s", "");
    else
        snprintf(out, outsz, "%+.3fs", ts - c->t0);
}

/* A timeline line: the time column, then text wrapped under itself. */
static void timeline(detail_ctx *c, enum dash_style st, const char *t, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void timeline(detail_ctx *c, enum dash_style st, const char *t, const char *fmt, ...)
{
    char text[2048], prefix[32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    snprintf(prefix, sizeof prefix, "  %10s  ", t);
    dash_lines_wrap(c->l, st, 14, c->width, c->utf8, prefix, text);
}

static void connection_line(detail_ctx *c, int64_t conn_id)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT client_port, retrans_s2c, lost_retrans_s2c, longest_stall_s2c, "
                           "close, rto_s2c, max_seg_s2c, max_seg_lost_s2c FROM connections "
                           "WHERE id = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_int64(st, 1, conn_id);
    if (sqlite3_step(st) == SQLITE_ROW) {
        char stall[32], extra[96] = "";
        long long retrans = sqlite3_column_int64(st, 1), lost = sqlite3_column_int64(st, 2);
        dash_fmt_dur(stall, sizeof stall, is_null(st, 3) ? -1 : sqlite3_column_double(st, 3));
        if (!is_null(st, 7) && sqlite3_column_int64(st, 7) > 0)
            snprintf(extra, sizeof extra, "  lost segs up to %lld B",
                     (long long)sqlite3_column_int64(st, 7));
        timeline(c, retrans || lost ? DS_NODOC : DS_DIM, "",
                 "conn #%lld :%d  retrans %lld  lost retrans %lld  longest stall %s  RTOs %d  "
                 "closed %s%s",
                 (long long)conn_id, sqlite3_column_int(st, 0), retrans, lost, stall,
                 sqlite3_column_int(st, 5), text_or(st, 4, "?"), extra);
    }
    sqlite3_finalize(st);
}

static void page_rows(detail_ctx *c, sqlite3_stmt *pl)
{
    char when[40], b[32], ttfb[32], ttlb[32], t[16];
    dash_lines *l = c->l;
    dash_lines_add(l, DS_TITLE, true, "Page load #%lld   session %s",
                   (long long)sqlite3_column_int64(pl, 0), text_or(pl, 1, "-"));
    dash_lines_add(l, DS_NORMAL, false, "  %s:%d %s %s:%d   host %s", text_or(pl, 2, "?"),
                   sqlite3_column_int(pl, 3), c->to_server, text_or(pl, 4, "?"),
                   sqlite3_column_int(pl, 5), text_or(pl, 6, "-"));
    dash_lines_add(l, DS_NORMAL, false, "  path %s   app %s", text_or(pl, 7, "-"),
                   text_or(pl, 8, "-"));
    dash_lines_wrap(l, DS_DIM, 14, c->width, c->utf8, "  user agent ", text_or(pl, 9, "-"));
    dash_fmt_clock(when, sizeof when, c->t0, true);
    dash_lines_add(l, DS_NORMAL, false, "  started %s   statics %d (%d failed)   websockets %d",
                   when, sqlite3_column_int(pl, 16), sqlite3_column_int(pl, 18),
                   sqlite3_column_int(pl, 19));
    dash_lines_add(l, DS_NORMAL, false, "%s", "");
    dash_lines_add(l, DS_TITLE, true, "Timeline (seconds from the page request)");
    rel(c, c->t0, true, t, sizeof t);
    timeline(c, DS_NORMAL, t, "page request %s", text_or(pl, 7, "-"));
    dash_fmt_bytes(b, sizeof b, sqlite3_column_int64(pl, 12));
    dash_fmt_dur(ttfb, sizeof ttfb, is_null(pl, 13) ? -1 : sqlite3_column_double(pl, 13));
    dash_fmt_dur(ttlb, sizeof ttlb, is_null(pl, 14) ? -1 : sqlite3_column_double(pl, 14));
    rel(c, c->t0 + sqlite3_column_double(pl, 13), !is_null(pl, 13), t, sizeof t);
    if (is_null(pl, 11) || sqlite3_column_int(pl, 11) == 0)
        timeline(c, DS_ORPHAN, t, "no response");
    else
        timeline(c, sqlite3_column_int(pl, 11) == 200 ? DS_NORMAL : DS_ORPHAN, t,
                 "page response %d, %s, ttfb %s, ttlb %s", sqlite3_column_int(pl, 11), b, ttfb,
                 ttlb);
    if (!is_null(pl, 27))
        connection_line(c, sqlite3_column_int64(pl, 27));
}

static void fetch_rows(detail_ctx *c, int64_t page_id, int64_t page_http)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT kind, req_ts, method, target, status, resp_ts, resp_end_ts, "
                           "resp_body_bytes, complete, last_byte_acked, connection_id "
                           "FROM http_exchanges WHERE page_load_id = ?1 AND id IS NOT ?2 "
                           "AND kind IS NOT 'websocket' ORDER BY req_ts, id LIMIT ?3",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_int64(st, 1, page_id);
    sqlite3_bind_int64(st, 2, page_http);
    sqlite3_bind_int(st, 3, DASH_DETAIL_MAX_ITEMS + 1);
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (++n > DASH_DETAIL_MAX_ITEMS) {
            dash_lines_add(c->l, DS_DIM, false, "  ... more fetches not shown");
            break;
        }
        char t[16], b[32], dur[32];
        int status = sqlite3_column_int(st, 4);
        bool complete = sqlite3_column_int(st, 8) != 0;
        rel(c, sqlite3_column_double(st, 1), !is_null(st, 1), t, sizeof t);
        dash_fmt_bytes(b, sizeof b, sqlite3_column_int64(st, 7));
        dash_fmt_dur(dur, sizeof dur,
                     is_null(st, 6) ? -1
                                    : sqlite3_column_double(st, 6) - sqlite3_column_double(st, 1));
        const char *ended = status == 0 ? "no response" : complete ? "complete" : "CUT SHORT";
        bool bad = status == 0 || status >= 400 || !complete;
        timeline(c, bad ? DS_ORPHAN : DS_NORMAL, t, "%s %d  %s in %s  %s%s  %s %s",
                 text_or(st, 0, "fetch"), status, b, dur, ended,
                 !is_null(st, 9) && sqlite3_column_int(st, 9) == 0 ? " (last byte not acked)" : "",
                 text_or(st, 2, "GET"), text_or(st, 3, "?"));
        if (!is_null(st, 10))
            connection_line(c, sqlite3_column_int64(st, 10));
    }
    sqlite3_finalize(st);
}

static void message_rows(detail_ctx *c, int64_t ws_id)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT ts, dir, msgtype, msgid, COALESCE(reqid, (SELECT r.msgid "
                           "FROM bokeh_messages r WHERE r.websocket_id = m.websocket_id AND "
                           "r.id = m.reply_to)), size, num_buffers FROM bokeh_messages m "
                           "WHERE websocket_id = ? ORDER BY ts, id LIMIT ?",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_int64(st, 1, ws_id);
    sqlite3_bind_int(st, 2, DASH_DETAIL_MAX_ITEMS);
    while (sqlite3_step(st) == SQLITE_ROW) {
        char t[16], b[32];
        rel(c, sqlite3_column_double(st, 0), !is_null(st, 0), t, sizeof t);
        dash_fmt_bytes(b, sizeof b, sqlite3_column_int64(st, 5));
        timeline(c, DS_NORMAL, t, "  %s %s  %s  id %s%s%s",
                 sqlite3_column_int(st, 1) ? c->to_client : c->to_server, text_or(st, 2, "?"), b,
                 text_or(st, 3, "-"), is_null(st, 4) ? "" : "  reply to ", text_or(st, 4, ""));
    }
    sqlite3_finalize(st);
}

static void websocket_rows(detail_ctx *c, int64_t page_id, const char *sid)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(
            c->db,
            "SELECT id, upgrade_ts, status, reason, path, subprotocol_ok, deflate, messages_c2s, "
            "messages_s2c, msg_counts, close_code_c2s, close_code_s2c, close_reason, close_ts, "
            "end_ts, midstream, errors, connection_id FROM websockets "
            "WHERE page_load_id = ?1 OR (page_load_id IS NULL AND session_ref = "
            "(SELECT id FROM sessions WHERE session_id = ?2)) "
            "ORDER BY upgrade_ts, id LIMIT ?3",
            -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_int64(st, 1, page_id);
    sqlite3_bind_text(st, 2, sid, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 3, DASH_DETAIL_MAX_ITEMS);
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        char t[16], from[32];
        int status = sqlite3_column_int(st, 2);
        double up = sqlite3_column_double(st, 1);
        n++;
        rel(c, up, !is_null(st, 1), t, sizeof t);
        dash_fmt_dur(from, sizeof from, is_null(st, 1) ? -1 : up - c->t0);
        timeline(c, status == 101 ? DS_CONNECTED : DS_REFUSED, t,
                 "websocket upgrade %s %s %d %s (%s after the page)%s%s%s", text_or(st, 4, "?"),
                 c->to_client, status, text_or(st, 3, ""), from,
                 sqlite3_column_int(st, 5) ? "  bokeh subprotocol" : "",
                 sqlite3_column_int(st, 6) ? "  deflate" : "",
                 sqlite3_column_int(st, 15) ? "  (picked up mid-stream)" : "");
        if (!is_null(st, 17))
            connection_line(c, sqlite3_column_int64(st, 17));
        message_rows(c, sqlite3_column_int64(st, 0));
        timeline(c, DS_DIM, "", "messages %d %s, %d %s  %s  errors %d", sqlite3_column_int(st, 7),
                 c->to_server, sqlite3_column_int(st, 8), c->to_client, text_or(st, 9, "{}"),
                 sqlite3_column_int(st, 16));
        if (!is_null(st, 10) || !is_null(st, 11)) {
            char code_c[16] = "-", code_s[16] = "-";
            if (!is_null(st, 10))
                snprintf(code_c, sizeof code_c, "%d", sqlite3_column_int(st, 10));
            if (!is_null(st, 11))
                snprintf(code_s, sizeof code_s, "%d", sqlite3_column_int(st, 11));
            rel(c, sqlite3_column_double(st, 13), !is_null(st, 13), t, sizeof t);
            timeline(c, DS_NORMAL, t, "close: client %s, server %s %s", code_c, code_s,
                     text_or(st, 12, ""));
        }
    }
    sqlite3_finalize(st);
    if (n == 0)
        timeline(c, DS_ORPHAN, "", "no websocket for this session");
}

static void verdict_rows(detail_ctx *c, sqlite3_stmt *pl)
{
    dash_lines *l = c->l;
    const char *outcome = text_or(pl, 20, "?");
    const char *verdict = text_or(pl, 21, NULL);
    enum dash_style st = dash_outcome_style(outcome);
    dash_lines_add(l, DS_NORMAL, false, "%s", "");
    if (verdict)
        dash_lines_add(l, st, true, "Verdict  %s: %s (confidence %.0f%%)", outcome, verdict,
                       100.0 * sqlite3_column_double(pl, 22));
    else
        dash_lines_add(l, st, true, "Outcome  %s (no verdict)", outcome);
    int v = verdict ? ow_verdict_from_name(verdict) : -1;
    if (v > 0)
        dash_lines_wrap(l, DS_NORMAL, 11, c->width, c->utf8, "  meaning  ",
                        ow_verdict_meaning((ow_verdict)v));
    if (!is_null(pl, 23))
        dash_lines_wrap(l, DS_NORMAL, 11, c->width, c->utf8, "  summary  ", text_or(pl, 23, ""));
    if (!is_null(pl, 25)) {
        char when[16];
        dash_fmt_dur(when, sizeof when, sqlite3_column_double(pl, 25) - c->t0);
        dash_lines_add(l, DS_DIM, false, "  decided %s after the page request", when);
    }
}

static void evidence_rows(detail_ctx *c, int64_t page_id)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT seq, text FROM evidence WHERE page_load_id = ? ORDER BY seq "
                           "LIMIT ?",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_int64(st, 1, page_id);
    sqlite3_bind_int(st, 2, DASH_DETAIL_MAX_ITEMS);
    dash_lines_add(c->l, DS_NORMAL, false, "%s", "");
    dash_lines_add(c->l, DS_TITLE, true, "Evidence");
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        char prefix[16];
        snprintf(prefix, sizeof prefix, "  %2d. ", ++n);
        dash_lines_wrap(c->l, DS_NORMAL, 6, c->width, c->utf8, prefix, text_or(st, 1, ""));
    }
    sqlite3_finalize(st);
    if (n == 0)
        dash_lines_add(c->l, DS_DIM, false, "  (none recorded)");
}

void dash_detail_build(sqlite3 *db, int64_t id, int width, bool utf8, dash_lines *l)
{
    int scroll = l->scroll;
    dash_lines_clear(l);
    l->scroll = scroll;
    detail_ctx c = {db, l, width, utf8, 0, utf8 ? "\u2192" : "->", utf8 ? "\u2190" : "<-"};
    sqlite3_stmt *pl;
    if (sqlite3_prepare_v2(
            db,
            "SELECT id, (SELECT session_id FROM sessions WHERE id = p.session_ref), client, "
            "client_port, server, server_port, host, path, app, "
            "(SELECT user_agent FROM user_agents WHERE id = p.ua_ref), started, status, "
            "resp_bytes, ttfb, ttlb, token_expiry, static_count, "
            "static_bytes, static_failed, websockets, outcome, verdict, confidence, summary, "
            "advice, decided_ts, http_id, connection_id FROM page_loads p WHERE id = ?",
            -1, &pl, NULL) != SQLITE_OK) {
        dash_lines_add(l, DS_ORPHAN, false, "query failed: %s", sqlite3_errmsg(db));
        return;
    }
    sqlite3_bind_int64(pl, 1, id);
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    if (sqlite3_step(pl) != SQLITE_ROW) {
        dash_lines_add(l, DS_ORPHAN, false, "page load #%lld is not in the database",
                       (long long)id);
    } else {
        c.t0 = sqlite3_column_double(pl, 10);
        page_rows(&c, pl);
        fetch_rows(&c, id, is_null(pl, 26) ? -1 : sqlite3_column_int64(pl, 26));
        websocket_rows(&c, id, text_or(pl, 1, ""));
        verdict_rows(&c, pl);
        evidence_rows(&c, id);
        dash_lines_add(l, DS_NORMAL, false, "%s", "");
        dash_lines_add(l, DS_TITLE, true, "Advice");
        dash_lines_wrap(l, DS_NORMAL, 2, width, utf8, "  ", text_or(pl, 24, "(none)"));
    }
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_finalize(pl);
    if (l->truncated)
        dash_lines_add(l, DS_DIM, false, "(%d lines not shown)", l->truncated);
}

void dash_detail_open(dashboard *d, int64_t id)
{
    d->detail.id = id;
    d->detail.built_width = 0;
    d->detail.lines.scroll = 0;
    d->view = DASH_VIEW_DETAIL;
    d->redraw = true;
}

void dash_detail_draw(dashboard *d, int top, int height)
{
    dash_detail_view *v = &d->detail;
    if (v->built_width != d->cols) {
        double t = dash_now();
        dash_detail_build(d->db, v->id, d->cols, d->utf8, &v->lines);
        v->built_width = d->cols;
        v->timed.last_run = dash_now();
        v->timed.cost = v->timed.last_run - t;
        dash_lines_key(&v->lines, 0, height - 1); /* clamps the scroll */
    }
    char title[96];
    snprintf(title, sizeof title, " Page load #%lld   lines %d-%d of %d", (long long)v->id,
             v->lines.n ? v->lines.scroll + 1 : 0,
             v->lines.scroll + height - 1 < v->lines.n ? v->lines.scroll + height - 1 : v->lines.n,
             v->lines.n);
    int bar = dash_style_attr(d, DS_BAR);
    dash_fill(d, top, 0, d->cols, bar);
    dash_put(d, top, 0, title, d->cols, bar | A_BOLD);
    dash_lines_draw(d, &v->lines, top + 1, height - 1);
}
