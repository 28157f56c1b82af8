/* dashboard_data: every query the dashboard runs against the capture database (read-only).
 * The list reads only what is on screen, with keyset pagination on the page_loads indexes
 * (started; client,started; outcome,started; verdict,started): a page is "the next N rows after
 * this row in the sort order", so Home, End and PgDn cost the same on a million rows. Header
 * counts, sparklines and the clients view read the rollup tables the schema's triggers keep
 * (db/schema.sql); the caller repeats them at most every DASH_STATS_MIN_S, or slower when they
 * are slow.
 * Rows without `started` or `client` (the correlator always sets both) sort last and are
 * reached with End rather than by paging. */
#include "ui/blind_spots.h"
#include "ui/dashboard_int.h"
#include "ui/format.h"
#include "correlate/outcome.h"
#include "db/db.h"
#include "db/query.h"
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

double dash_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

bool dash_timed_due(const dash_timed *t, double now, double min_interval)
{
    double interval = t->cost * DASH_SLOW_FACTOR;
    if (interval < min_interval)
        interval = min_interval;
    return t->last_run <= 0 || now - t->last_run >= interval;
}

sqlite3 *dash_data_open(const char *path, char *err, size_t errlen)
{
    sqlite3 *db = owdb_open_readonly(path, err, errlen);
    if (!db)
        return NULL;
    sqlite3_busy_timeout(db, 250); /* a writer's checkpoint: wait briefly, never hang the UI */
    if (query_register_functions(db, false) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

static void col_text(sqlite3_stmt *st, int i, char *out, size_t outsz)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    snprintf(out, outsz, "%s", s ? (const char *)s : "");
}

/* "query: <SQLite's message>", the one form of a query error: the list shows it in place of
 * its rows, the header in place of its numbers, the clients view in place of its clients. */
static void query_error(sqlite3 *db, char *err, size_t errlen)
{
    snprintf(err, errlen, "query: %s", sqlite3_errmsg(db));
}

/* A step that neither returned a row nor finished: a busy or unreadable database, an
 * interrupt. Ending a loop on it as on SQLITE_DONE would show the rows so far as complete. */
static bool step_failed(int rc)
{
    return rc != SQLITE_ROW && rc != SQLITE_DONE;
}

/* ---- interrupting the refresh's queries for typed keys ----
 * A search matching nothing scans every page load (0.6 s on a million): run to the end before
 * the keys typed meanwhile are read, it makes typing lag. While armed, SQLite calls back every
 * DASH_INTERRUPT_STEPS VM steps; a key pending on the input fd stops the statement
 * (SQLITE_INTERRUPT) and the query returns DASH_SUPERSEDED, to be rerun after the keys.
 * The context is file-wide, not on the connection: the dashboard has one connection, and
 * SQLite 3.40 keeps no data of the caller's on a connection to find it by from the queries. */
static struct {
    sqlite3 *db; /* armed on this connection; NULL: not armed */
    int fd;
    bool fired;
} intr;

static int input_pending(void *unused)
{
    (void)unused;
    struct pollfd p = {.fd = intr.fd, .events = POLLIN};
    /* a hung-up or closed input is not a key: interrupting for it would never end */
    if (poll(&p, 1, 0) != 1 || (p.revents & (POLLHUP | POLLERR | POLLNVAL)) ||
        !(p.revents & POLLIN))
        return 0;
    intr.fired = true;
    return 1;
}

void dash_data_interrupt_arm(sqlite3 *db, int fd)
{
    intr.db = db;
    intr.fd = fd;
    intr.fired = false;
    sqlite3_progress_handler(db, DASH_INTERRUPT_STEPS, input_pending, NULL);
}

bool dash_data_interrupt_disarm(sqlite3 *db)
{
    bool fired = intr.db == db && intr.fired;
    if (intr.db == db) {
        sqlite3_progress_handler(db, 0, NULL, NULL);
        intr.db = NULL;
        intr.fired = false;
    }
    return fired;
}

/* The step result rc is our interrupt, not an error (another progress handler, a busy or
 * unreadable database: those stay errors with their message). */
static bool superseded(sqlite3 *db, int rc)
{
    return rc == SQLITE_INTERRUPT && intr.db == db && intr.fired;
}

/* ---- header stats ----
 * A failed query leaves its message in st->err (the first of a refresh is kept): the numbers
 * it would have set still hold zeros or the previous refresh's, and must not pass for current. */

static sqlite3_stmt *stats_prepare(sqlite3 *db, dash_stats *st, const char *sql)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK)
        return s;
    if (!st->err[0])
        query_error(db, st->err, sizeof st->err);
    return NULL;
}

/* sqlite3_step(s), a failure noted in st->err; s NULL (its prepare failed, noted): an error. */
static int stats_step(sqlite3 *db, dash_stats *st, sqlite3_stmt *s)
{
    if (!s)
        return SQLITE_ERROR;
    int rc = sqlite3_step(s);
    if (step_failed(rc) && !st->err[0])
        query_error(db, st->err, sizeof st->err);
    return rc;
}

static long long stats_int(sqlite3 *db, dash_stats *st, const char *sql)
{
    sqlite3_stmt *s = stats_prepare(db, st, sql);
    long long v = -1;
    if (stats_step(db, st, s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static void stats_totals(sqlite3 *db, dash_stats *st)
{
    sqlite3_stmt *s = stats_prepare(db, st,
                                    "SELECT COUNT(*), MIN(started), MAX(ended), SUM(packets), "
                                    "SUM(kernel_drops), SUM(if_drops) FROM captures");
    if (stats_step(db, st, s) == SQLITE_ROW) {
        st->captures = sqlite3_column_int(s, 0);
        st->t0 = sqlite3_column_double(s, 1);
        st->t1 = sqlite3_column_double(s, 2);
        st->packets = sqlite3_column_int64(s, 3);
        st->kernel_drops = sqlite3_column_int64(s, 4);
        st->if_drops = sqlite3_column_int64(s, 5);
    }
    sqlite3_finalize(s);
}

static void stats_latest(sqlite3 *db, dash_stats *st)
{
    sqlite3_stmt *s = stats_prepare(
        db, st, "SELECT source, live, end_reason, id FROM captures ORDER BY id DESC LIMIT 1");
    if (stats_step(db, st, s) == SQLITE_ROW) {
        const unsigned char *source = sqlite3_column_text(s, 0); /* several files: the first */
        format_capture_source(source ? (const char *)source : "", st->source, sizeof st->source);
        st->live = sqlite3_column_int(s, 1) != 0;
        col_text(s, 2, st->end_reason, sizeof st->end_reason);
        /* 'running' with its writer gone: 'killed' (header, and no longer treated as live) */
        const char *e = owdb_end_reason(db, sqlite3_column_int64(s, 3), st->end_reason);
        if (e != st->end_reason)
            snprintf(st->end_reason, sizeof st->end_reason, "%s", e);
    }
    sqlite3_finalize(s);
}

static void count_spot(void *ctx, const char *line)
{
    (void)ctx, (void)line;
}

static void stats_captures(sqlite3 *db, dash_stats *st)
{
    stats_totals(db, st);
    stats_latest(db, st);
    st->blind_spots = blind_spots_each(db, 0, count_spot, NULL);
    if (st->blind_spots < 0 && !st->err[0])
        query_error(db, st->err, sizeof st->err);
    if (st->t0 > 0 && st->t1 > 0)
        return;
    /* A capture still running may not have its times yet: the page loads give a span. */
    sqlite3_stmt *s = stats_prepare(db, st, "SELECT MIN(started), MAX(started) FROM page_loads");
    if (stats_step(db, st, s) == SQLITE_ROW) {
        if (st->t0 <= 0)
            st->t0 = sqlite3_column_double(s, 0);
        if (st->t1 <= 0)
            st->t1 = sqlite3_column_double(s, 1);
    }
    sqlite3_finalize(s);
}

static void stats_outcomes(sqlite3 *db, dash_stats *st)
{
    memset(st->outcome, 0, sizeof st->outcome);
    st->total = st->other = 0;
    sqlite3_stmt *s =
        stats_prepare(db, st, "SELECT outcome, SUM(n) FROM rollup_outcomes GROUP BY outcome");
    while (stats_step(db, st, s) == SQLITE_ROW) {
        long long n = sqlite3_column_int64(s, 1);
        int o = ow_outcome_from_name((const char *)sqlite3_column_text(s, 0));
        if (o >= 0 && o < (int)(sizeof st->outcome / sizeof st->outcome[0]))
            st->outcome[o] += n;
        else
            st->other += n;
        st->total += n;
    }
    sqlite3_finalize(s);
}

/* Per-minute counts for the minutes (spark_end - DASH_SPARK_MAX, spark_end], from
 * rollup_minutes. */
static void spark_fill(sqlite3 *db, dash_stats *st, const char *sql, double first_minute,
                       long *cells)
{
    memset(cells, 0, sizeof(long) * DASH_SPARK_MAX);
    sqlite3_stmt *s = stats_prepare(db, st, sql);
    if (!s)
        return;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)first_minute);
    while (stats_step(db, st, s) == SQLITE_ROW) {
        long long i = sqlite3_column_int64(s, 0) - (long long)first_minute;
        if (i >= 0 && i < DASH_SPARK_MAX)
            cells[i] = (long)sqlite3_column_int64(s, 1);
    }
    sqlite3_finalize(s);
}

static void stats_spark(sqlite3 *db, dash_stats *st, bool live)
{
    double end = (double)stats_int(db, st, "SELECT CAST(MAX(started) AS INTEGER) FROM page_loads");
    if (live || strcmp(st->end_reason, "running") == 0) { /* still capturing: up to now */
        double now = (double)time(NULL);
        if (now > end)
            end = now;
    }
    if (end <= 0) {
        memset(st->spark_loads, 0, sizeof st->spark_loads);
        memset(st->spark_orphans, 0, sizeof st->spark_orphans);
        st->spark_end = 0;
        return;
    }
    st->spark_end = floor(end / 60.0);
    double first = st->spark_end - (DASH_SPARK_MAX - 1);
    spark_fill(db, st, "SELECT minute, n FROM rollup_minutes WHERE minute >= ?1", first,
               st->spark_loads);
    spark_fill(db, st, "SELECT minute, orphans FROM rollup_minutes WHERE minute >= ?1", first,
               st->spark_orphans);
}

void dash_data_stats(sqlite3 *db, dash_stats *st, bool live)
{
    double t = dash_now();
    st->err[0] = '\0';
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL); /* one snapshot for all the numbers */
    stats_captures(db, st);
    stats_outcomes(db, st);
    stats_spark(db, st, live);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    st->valid = true;
    st->last_run = dash_now();
    st->cost = st->last_run - t;
}

/* ---- list pages ---- */

enum { DASH_MAX_BINDS = 24 };
typedef struct sql_buf {
    char *s;
    size_t cap, len;
    bool overflow;
    struct {
        enum { B_TEXT, B_DOUBLE, B_INT } type;
        const char *text;
        double d;
        int64_t i;
    } bind[DASH_MAX_BINDS];
    int nbind;
    char pattern[2 * DASH_INPUT_MAX + 3]; /* the LIKE pattern of the search */
} sql_buf;

static void sql_add(sql_buf *b, const char *text)
{
    size_t l = strlen(text);
    if (b->len + l + 1 > b->cap) {
        b->overflow = true;
        return;
    }
    memcpy(b->s + b->len, text, l + 1);
    b->len += l;
}

static void bind_text(sql_buf *b, const char *t)
{
    if (b->nbind < DASH_MAX_BINDS)
        b->bind[b->nbind].type = B_TEXT, b->bind[b->nbind++].text = t;
    else
        b->overflow = true;
}

static void bind_double(sql_buf *b, double d)
{
    if (b->nbind < DASH_MAX_BINDS)
        b->bind[b->nbind].type = B_DOUBLE, b->bind[b->nbind++].d = d;
    else
        b->overflow = true;
}

static void bind_int(sql_buf *b, int64_t i)
{
    if (b->nbind < DASH_MAX_BINDS)
        b->bind[b->nbind].type = B_INT, b->bind[b->nbind++].i = i;
    else
        b->overflow = true;
}

/* A page load's duration: to its first websocket, else to the page's last byte; -1 unknown.
 * Indexed as written (db/schema.sql page_loads_duration): SQLite uses an expression index only
 * for the same expression, which test_ui_dashboard_data checks by query plan. */
#define DUR_EXPR "COALESCE(first_ws_ts - started, ttlb, -1.0)"

const char *dash_sort_name(enum dash_sort s)
{
    static const char *const names[DASH_SORT_COUNT] = {"time", "client", "duration"};
    return (unsigned)s < DASH_SORT_COUNT ? names[s] : "time";
}

/* The sort keys of each order, most significant first; desc: larger first. */
typedef struct sort_key {
    const char *expr;
    bool desc;
    enum { K_STARTED, K_CLIENT, K_DUR, K_ID } field;
} sort_key;

static int sort_keys(enum dash_sort s, sort_key *k)
{
    /* By client, each client's page loads oldest first: the index (client, started) then
     * gives the whole order, where newest first would sort all of a client's rows (tens of
     * thousands on a small team's big capture) for every page. */
    bool newest_first = s != DASH_SORT_CLIENT;
    int n = 0;
    if (s == DASH_SORT_CLIENT)
        k[n++] = (sort_key){"client", false, K_CLIENT};
    if (s == DASH_SORT_DURATION)
        k[n++] = (sort_key){DUR_EXPR, true, K_DUR};
    if (s != DASH_SORT_DURATION)
        k[n++] = (sort_key){"started", newest_first, K_STARTED};
    k[n++] = (sort_key){"id", newest_first, K_ID};
    return n;
}

static bool key_is_null(const dash_row *a, int field)
{
    return (field == K_STARTED && a->started_null) || (field == K_CLIENT && a->client_null);
}

static void bind_key(sql_buf *b, const dash_row *a, int field)
{
    switch (field) {
    case K_STARTED:
        bind_double(b, a->started);
        break;
    case K_CLIENT:
        bind_text(b, a->client);
        break;
    case K_DUR:
        bind_double(b, a->dur);
        break;
    default:
        bind_int(b, a->id);
        break;
    }
}

static void add_filters(sql_buf *b, const dash_query *q)
{
    sql_add(b, " WHERE 1");
    if (q->orphans_only)
        sql_add(b, " AND outcome = 'orphan'");
    if (q->outcome[0])
        sql_add(b, " AND outcome = ?"), bind_text(b, q->outcome);
    if (q->client[0])
        sql_add(b, " AND client = ?"), bind_text(b, q->client);
    if (q->app[0])
        sql_add(b, " AND app = ?"), bind_text(b, q->app);
    if (strcmp(q->verdict, "none") == 0)
        sql_add(b, " AND verdict IS NULL");
    else if (q->verdict[0])
        sql_add(b, " AND verdict = ?"), bind_text(b, q->verdict);
    if (q->search[0]) {
        size_t k = 0;
        b->pattern[k++] = '%';
        for (const char *s = q->search; *s && k + 3 < sizeof b->pattern; s++) {
            if (*s == '%' || *s == '_' || *s == '\\')
                b->pattern[k++] = '\\';
            b->pattern[k++] = *s;
        }
        b->pattern[k++] = '%';
        b->pattern[k] = '\0';
        sql_add(b, " AND (client LIKE ? ESCAPE '\\' OR path LIKE ? ESCAPE '\\' OR session_ref IN "
                   "(SELECT id FROM sessions WHERE session_id LIKE ? ESCAPE '\\') OR ua_ref IN "
                   "(SELECT id FROM user_agents WHERE user_agent LIKE ? ESCAPE '\\'))");
        for (int i = 0; i < 4; i++)
            bind_text(b, b->pattern);
    }
}

/* The keyset condition "after the anchor": k1 > a1 OR (k1 IS a1 AND (k2 > a2 OR ...)),
 * with the comparison flipped for descending keys and for backward pages. */
static void add_keyset(sql_buf *b, const sort_key *k, int nk, const dash_row *a, bool backward,
                       bool inclusive)
{
    char tmp[160];
    sql_add(b, " AND ");
    /* A range on the first key lets SQLite seek in its index. */
    bool desc0 = k[0].desc != backward;
    if (!key_is_null(a, k[0].field)) {
        snprintf(tmp, sizeof tmp, "%s %s ? AND ", k[0].expr, desc0 ? "<=" : ">=");
        sql_add(b, tmp);
        bind_key(b, a, k[0].field);
    }
    for (int i = 0; i < nk; i++) {
        bool desc = k[i].desc != backward;
        bool last = i == nk - 1;
        if (key_is_null(a, k[i].field)) {
            /* NULL sorts first: nothing is before it; everything non-NULL is after it. */
            snprintf(tmp, sizeof tmp, "(%s%s OR (%s IS NULL AND ", desc ? "0" : k[i].expr,
                     desc ? "" : " IS NOT NULL", k[i].expr);
            sql_add(b, tmp);
            continue;
        }
        const char *op = desc ? (last && inclusive ? "<=" : "<") : (last && inclusive ? ">=" : ">");
        snprintf(tmp, sizeof tmp, "(%s %s ?", k[i].expr, op);
        sql_add(b, tmp);
        bind_key(b, a, k[i].field);
        if (!last) {
            snprintf(tmp, sizeof tmp, " OR (%s = ? AND ", k[i].expr);
            sql_add(b, tmp);
            bind_key(b, a, k[i].field);
        }
    }
    for (int i = 0; i < nk; i++)
        sql_add(b, i == nk - 1 ? ")" : "))");
}

static void build_list(sql_buf *b, const dash_query *q, const dash_row *anchor, bool backward,
                       bool inclusive)
{
    sort_key k[4];
    int nk = sort_keys(q->sort, k);
    char tmp[160];
    sql_add(b, "SELECT id, started, client, COALESCE(NULLIF(app, ''), path), ");
    sql_add(b, QUERY_PAGE_TEXTS("page_loads"));
    sql_add(b,
            ", outcome, verdict, status, static_count, websockets, " DUR_EXPR " FROM page_loads");
    add_filters(b, q);
    if (anchor)
        add_keyset(b, k, nk, anchor, backward, inclusive);
    sql_add(b, " ORDER BY ");
    for (int i = 0; i < nk; i++) {
        snprintf(tmp, sizeof tmp, "%s%s %s", i ? ", " : "", k[i].expr,
                 (k[i].desc != backward) ? "DESC" : "ASC");
        sql_add(b, tmp);
    }
    sql_add(b, " LIMIT ?");
}

int dash_list_sql(char *out, size_t outsz, const dash_query *q, const dash_row *anchor,
                  bool backward, bool inclusive)
{
    sql_buf b = {.s = out, .cap = outsz};
    out[0] = '\0';
    build_list(&b, q, anchor, backward, inclusive);
    return b.overflow ? -1 : b.nbind;
}

static sqlite3_stmt *prepare_bound(sqlite3 *db, const sql_buf *b, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, b->s, -1, &st, NULL) != SQLITE_OK) {
        query_error(db, err, errlen);
        return NULL;
    }
    for (int i = 0; i < b->nbind; i++) {
        if (b->bind[i].type == B_TEXT)
            sqlite3_bind_text(st, i + 1, b->bind[i].text, -1, SQLITE_TRANSIENT);
        else if (b->bind[i].type == B_DOUBLE)
            sqlite3_bind_double(st, i + 1, b->bind[i].d);
        else
            sqlite3_bind_int64(st, i + 1, b->bind[i].i);
    }
    return st;
}

static void read_row(sqlite3_stmt *st, dash_row *r)
{
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(st, 0);
    r->started_null = sqlite3_column_type(st, 1) == SQLITE_NULL;
    r->started = sqlite3_column_double(st, 1);
    r->client_null = sqlite3_column_type(st, 2) == SQLITE_NULL;
    col_text(st, 2, r->client, sizeof r->client);
    col_text(st, 3, r->app, sizeof r->app);
    col_text(st, 4, r->sid, sizeof r->sid);
    col_text(st, 5, r->ua, sizeof r->ua);
    col_text(st, 6, r->outcome, sizeof r->outcome);
    col_text(st, 7, r->verdict, sizeof r->verdict);
    r->status = sqlite3_column_int(st, 8);
    r->static_count = sqlite3_column_int(st, 9);
    r->websockets = sqlite3_column_int(st, 10);
    r->dur = sqlite3_column_double(st, 11);
}

/* Up to limit rows of st; -1 with the message in err when a step fails (a busy or unreadable
 * database), which must not end the rows like the last one did: the list would look complete.
 * DASH_SUPERSEDED, err untouched, when the armed interrupt stopped it. */
static int read_rows(sqlite3 *db, sqlite3_stmt *st, dash_row *out, int limit, char *err,
                     size_t errlen)
{
    int n = 0, rc = SQLITE_DONE;
    while (n < limit && (rc = sqlite3_step(st)) == SQLITE_ROW)
        read_row(st, &out[n++]);
    if (superseded(db, rc))
        return DASH_SUPERSEDED;
    if (step_failed(rc)) {
        query_error(db, err, errlen);
        return -1;
    }
    return n;
}

int dash_data_list_page(sqlite3 *db, const dash_query *q, const dash_row *anchor, bool backward,
                        bool inclusive, dash_row *out, int limit, char *err, size_t errlen)
{
    char sqltext[4096];
    sql_buf b = {.s = sqltext, .cap = sizeof sqltext};
    sqltext[0] = '\0';
    build_list(&b, q, anchor, backward, inclusive);
    bind_int(&b, limit);
    if (b.overflow) {
        snprintf(err, errlen, "query too long");
        return -1;
    }
    sqlite3_stmt *st = prepare_bound(db, &b, err, errlen);
    if (!st)
        return -1;
    int n = read_rows(db, st, out, limit, err, errlen);
    sqlite3_finalize(st);
    if (backward && n > 0) /* rows came in reverse order: put them back in display order */
        for (int i = 0; i < n / 2; i++) {
            dash_row t = out[i];
            out[i] = out[n - 1 - i];
            out[n - 1 - i] = t;
        }
    return n;
}

long long dash_data_count(sqlite3 *db, const dash_query *q)
{
    char sqltext[2048], err[64];
    sql_buf b = {.s = sqltext, .cap = sizeof sqltext};
    sqltext[0] = '\0';
    sql_add(&b, "SELECT COUNT(*) FROM page_loads");
    add_filters(&b, q);
    if (b.overflow)
        return -1;
    sqlite3_stmt *st = prepare_bound(db, &b, err, sizeof err);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    long long n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    if (superseded(db, rc))
        n = DASH_SUPERSEDED;
    sqlite3_finalize(st);
    return n;
}

/* ---- clients ---- */

static void read_client(sqlite3_stmt *st, dash_client *c)
{
    col_text(st, 0, c->client, sizeof c->client);
    c->loads = sqlite3_column_int64(st, 1);
    c->orphans = sqlite3_column_int64(st, 2);
    col_text(st, 3, c->verdict, sizeof c->verdict); /* NULL: no page load had a verdict */
    c->verdict_n = c->verdict[0] ? sqlite3_column_int64(st, 4) : 0;
}

/* The rows of `orphanwatch query clients` from the rollups: the clients in order
 * (rollup_clients), then for the ones shown their most frequent verdict (rollup_verdicts).
 * NULL keys are stored as x'' (see db/schema.sql). */
int dash_data_clients(sqlite3 *db, dash_client *v, int cap, bool *more)
{
    static const char sql[] =
        "SELECT client, n, orphans, (SELECT verdict FROM rollup_verdicts r WHERE r.client = c.k"
        "   GROUP BY verdict ORDER BY SUM(n) DESC, verdict LIMIT 1),"
        " (SELECT SUM(n) AS vn FROM rollup_verdicts r WHERE r.client = c.k GROUP BY verdict"
        "   ORDER BY vn DESC LIMIT 1)"
        " FROM (SELECT client AS k, NULLIF(client, x'') AS client, n, orphans FROM rollup_clients"
        "   ORDER BY orphans DESC, n DESC, NULLIF(client, x'') LIMIT ?) AS c"
        " ORDER BY orphans DESC, n DESC, client";
    sqlite3_stmt *st;
    int n = 0, rc;
    *more = false;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int(st, 1, cap + 1);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n >= cap) {
            *more = true;
            break;
        }
        read_client(st, &v[n++]);
    }
    /* the failed step's message stays with db through the finalize, for the caller */
    sqlite3_finalize(st);
    return step_failed(rc) ? -1 : n;
}
