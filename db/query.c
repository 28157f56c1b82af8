/* query: the canned queries (see query.h and docs/query.md). Each builds one SELECT whose
 * filtered part runs on an index (page_loads by started, client, outcome, verdict or app;
 * sessions by first_ts; connections by client) and whose LIMIT keeps the most recent rows.
 * clients, verdicts and stats read the rollup tables (db/schema.sql) when the filter is one
 * the rollup keys answer exactly, else they scan the filtered page loads. */
#include "db/query.h"
#include "capture/addr.h"
#include "correlate/outcome.h"
#include "db/query_build.h"
#include <stdio.h>
#include <string.h>

static const char *const kind_names[QUERY_COUNT] = {
    "orphans", "sessions", "pageloads", "clients", "verdicts", "stats", "timeline", "connections",
};

int query_kind_from_name(const char *name)
{
    for (int i = 0; name && i < QUERY_COUNT; i++)
        if (strcmp(name, kind_names[i]) == 0)
            return i;
    return -1;
}

const char *query_kind_name(query_kind k)
{
    return (unsigned)k < QUERY_COUNT ? kind_names[k] : "?";
}

int query_filter_check(query_filter *f, char *client_buf, size_t buflen, char *err, size_t errlen)
{
    ow_addr a;
    if (f->client) {
        if (!ow_addr_parse(f->client, &a)) {
            snprintf(err, errlen, "--client '%s' is not an IPv4 or IPv6 address", f->client);
            return -1;
        }
        f->client = ow_addr_str(&a, client_buf, buflen);
    }
    if (f->verdict && strcmp(f->verdict, "none") != 0 && ow_verdict_from_name(f->verdict) < 0) {
        snprintf(err, errlen,
                 "--verdict '%s' is not a verdict (see docs/query.md; 'none' "
                 "selects page loads without one)",
                 f->verdict);
        return -1;
    }
    if (f->outcome && strcmp(f->outcome, "websocket_only") != 0 &&
        ow_outcome_from_name(f->outcome) < 0) {
        snprintf(err, errlen,
                 "--outcome '%s' is not an outcome (pending, connected, ws_refused, "
                 "ws_no_doc, orphan, undecided)",
                 f->outcome);
        return -1;
    }
    if (f->limit < 0) {
        snprintf(err, errlen, "--limit must be 0 (no limit) or more");
        return -1;
    }
    return 0;
}

/* ---- page loads, orphans ---- */

/* "SELECT pl.*, session_id, user_agent FROM page_loads pl WHERE <filter> ORDER BY started
 * DESC LIMIT n": the rows with their interned texts (the outer query names them p). */
static void inner_page_loads(qbuild *q, const query_filter *f, const char *extra)
{
    qb_sql(q, "SELECT pl.*, " QUERY_PAGE_TEXTS("pl") " FROM page_loads pl WHERE 1%s", extra);
    qb_page_filter(q, f, "pl", true);
    if (f->limit > 0)
        qb_sql(q, " ORDER BY pl.started DESC, pl.id DESC");
    qb_limit(q, f);
}

int query_prepare_page_loads(sqlite3 *db, const char *columns, const query_filter *f,
                             sqlite3_stmt **out, char *err, size_t errlen)
{
    qbuild q;
    qb_init(&q, db);
    qb_sql(&q, "SELECT %s FROM (", columns);
    inner_page_loads(&q, f, "");
    qb_sql(&q, ") AS p ORDER BY p.started, p.id");
    return qb_prepare(&q, db, out, err, errlen);
}

static const char page_load_columns[] =
    "p.id, ow_time(p.started) AS started, p.client, p.client_port, p.server, p.server_port, "
    "p.app, p.path, p.status, p.outcome, p.verdict, round(p.confidence, 2) AS confidence, "
    "p.websockets, p.static_count, p.static_bytes, p.static_failed, round(p.ttfb, 3) AS ttfb, "
    "p.session_id, p.summary";

static int prepare_page_list(sqlite3 *db, const query_filter *f, bool orphans_only,
                             sqlite3_stmt **out, char *err, size_t errlen)
{
    qbuild q;
    qb_init(&q, db);
    qb_sql(&q, "SELECT %s FROM (", page_load_columns);
    inner_page_loads(&q, f, orphans_only ? " AND pl.outcome = 'orphan'" : "");
    qb_sql(&q, ") AS p ORDER BY p.started, p.id");
    return qb_prepare(&q, db, out, err, errlen);
}

/* ---- sessions ---- */

static int prepare_sessions(sqlite3 *db, const query_filter *f, sqlite3_stmt **out, char *err,
                            size_t errlen)
{
    qbuild q;
    qb_init(&q, db);
    qb_sql(&q, "SELECT s.session_id, ow_time(s.first_ts) AS first_seen, "
               "ow_time(s.last_ts) AS last_seen, s.page_loads, s.websockets, s.outcome, "
               "l.client, l.app, l.verdict, ow_time(s.token_expiry) AS token_expiry "
               "FROM (SELECT se.* FROM sessions se WHERE 1");
    if (f->has_since) {
        qb_sql(&q, " AND se.first_ts >= ");
        qb_real(&q, f->since);
    }
    if (f->has_until) {
        qb_sql(&q, " AND se.first_ts < ");
        qb_real(&q, f->until);
    }
    if (f->outcome) {
        qb_sql(&q, " AND se.outcome = ");
        qb_text(&q, f->outcome);
    }
    if (f->client || f->app || f->verdict) {
        query_filter pf = *f;
        pf.outcome = NULL;
        qb_sql(&q, " AND se.id IN (SELECT pl.session_ref FROM page_loads pl WHERE 1");
        qb_page_filter(&q, &pf, "pl", false);
        qb_sql(&q, ")");
    }
    if (f->limit > 0)
        qb_sql(&q, " ORDER BY se.first_ts DESC, se.session_id DESC");
    qb_limit(&q, f);
    qb_sql(&q, ") AS s LEFT JOIN page_loads l ON l.id = (SELECT id FROM page_loads "
               "WHERE session_ref = s.id ORDER BY started DESC LIMIT 1) "
               "ORDER BY s.first_ts, s.session_id");
    return qb_prepare(&q, db, out, err, errlen);
}

/* ---- clients ---- */

/* From the rollups (no filter but --client): the clients in order, then for the ones shown
 * their verdict counts. NULL keys are stored as x'' (see db/schema.sql). */
static int prepare_clients_rollup(sqlite3 *db, const query_filter *f, sqlite3_stmt **out, char *err,
                                  size_t errlen)
{
    qbuild q;
    qb_init(&q, db);
    qb_sql(&q, "SELECT c.client, c.n AS page_loads, c.orphans, "
               "round(1.0 * c.orphans / c.n, 3) AS orphan_rate, "
               "COALESCE((SELECT SUM(n) FROM rollup_verdicts v WHERE v.client = c.k), 0) "
               "AS with_verdict, (SELECT verdict FROM rollup_verdicts v WHERE v.client = c.k "
               "GROUP BY verdict ORDER BY SUM(n) DESC, verdict LIMIT 1) AS dominant_verdict, "
               "COALESCE((SELECT SUM(n) AS vn FROM rollup_verdicts v WHERE v.client = c.k "
               "GROUP BY verdict ORDER BY vn DESC LIMIT 1), 0) AS dominant_count, "
               "ow_time(c.first) AS first_seen, ow_time(c.last) AS last_seen "
               "FROM (SELECT client AS k, NULLIF(client, x'') AS client, n, orphans, first, last "
               "FROM rollup_clients WHERE 1");
    if (f->client) {
        qb_sql(&q, " AND client = ");
        qb_text(&q, f->client);
    }
    qb_sql(&q, " ORDER BY orphans DESC, n DESC, NULLIF(client, x'')");
    qb_limit(&q, f);
    qb_sql(&q, ") AS c ORDER BY c.orphans DESC, c.n DESC, c.client");
    return qb_prepare(&q, db, out, err, errlen);
}

/* One pass: page loads grouped by (client, verdict), ranked inside each client so the
 * dominant verdict is the first non-NULL group. */
static int prepare_clients(sqlite3 *db, const query_filter *f, sqlite3_stmt **out, char *err,
                           size_t errlen)
{
    if (!f->has_since && !f->has_until && !f->app && !f->verdict && !f->outcome)
        return prepare_clients_rollup(db, f, out, err, errlen);
    qbuild q;
    qb_init(&q, db);
    /* MATERIALIZED: the filter picks its index alone, not the one that orders the groups */
    qb_sql(&q, "WITH f AS MATERIALIZED (SELECT pl.client, pl.verdict, pl.outcome, pl.started "
               "FROM page_loads pl WHERE 1");
    qb_page_filter(&q, f, "pl", true);
    qb_sql(&q, "), cv AS (SELECT client, verdict, COUNT(*) AS n, SUM(outcome = 'orphan') AS "
               "orphans, MIN(started) AS first, MAX(started) AS last FROM f "
               "GROUP BY client, verdict), "
               "ranked AS (SELECT cv.*, ROW_NUMBER() OVER (PARTITION BY client "
               "ORDER BY verdict IS NULL, n DESC, verdict) AS rk FROM cv) "
               "SELECT client, SUM(n) AS page_loads, SUM(orphans) AS orphans, "
               "round(1.0 * SUM(orphans) / SUM(n), 3) AS orphan_rate, "
               "SUM(CASE WHEN verdict IS NOT NULL THEN n ELSE 0 END) AS with_verdict, "
               "MAX(CASE WHEN rk = 1 THEN verdict END) AS dominant_verdict, "
               "COALESCE(MAX(CASE WHEN rk = 1 AND verdict IS NOT NULL THEN n END), 0) "
               "AS dominant_count, ow_time(MIN(first)) AS first_seen, "
               "ow_time(MAX(last)) AS last_seen FROM ranked GROUP BY client "
               "ORDER BY orphans DESC, page_loads DESC, client");
    qb_limit(&q, f);
    return qb_prepare(&q, db, out, err, errlen);
}

/* ---- verdicts ---- */

/* How "N of M page loads from CLIENT ... RESOURCE" reads for each verdict. */
static const struct {
    const char *verdict, *verb;
} verdict_verbs[] = {
    {"pmtu_blackhole", "lost large segments (path-MTU black hole) on"},
    {"slow_pmtu_recovery", "recovered slowly from a path-MTU stall on"},
    {"script_stalled", "stalled on"},
    {"script_failed", "failed on"},
    {"ws_refused", "were refused the websocket at"},
    {"token_expired", "had an expired session token at"},
    {"render_failed", "pulled the document but never rendered after"},
    {"ws_never_attempted", "never opened a websocket after"},
    {"no_scripts_fetched", "fetched no scripts after"},
    {"ws_elsewhere", "opened their websocket on another server, after"},
    {"client_gone", "were abandoned by the client on"},
    {"unknown", "were orphaned with no visible cause after"},
};

static void verb_case(qbuild *q)
{
    qb_sql(q, "CASE r.verdict");
    for (size_t i = 0; i < sizeof verdict_verbs / sizeof *verdict_verbs; i++)
        qb_sql(q, " WHEN %Q THEN %Q", verdict_verbs[i].verdict, verdict_verbs[i].verb);
    qb_sql(q, " ELSE 'had verdict ' || r.verdict || ' on' END");
}

static void meaning_case(qbuild *q)
{
    qb_sql(q, "CASE v.verdict");
    for (int v = 1; v < OW_VERDICT_COUNT; v++)
        qb_sql(q, " WHEN %Q THEN %Q", ow_verdict_name(v), ow_verdict_meaning(v));
    qb_sql(q, " END");
}

/* The resource a verdict points at: the target of its first evidence row tied to an HTTP
 * exchange (page_loads.resource, kept by the schema's triggers), else the page's own path;
 * without the query string. */
static const char resource_expr[] = "COALESCE(pl.resource, ow_path(pl.path))";

/* The verdict and resource rows from the per-verdict counts v, the (client, verdict,
 * resource) counts r, the per-client totals ct and the total tot. */
static void verdicts_select(qbuild *q)
{
    qb_sql(q, "SELECT * FROM (SELECT 'verdict' AS level, v.verdict, NULL AS client, "
              "NULL AS resource, v.n AS page_loads, tot.n AS of_page_loads, "
              "round(1.0 * v.n / tot.n, 3) AS share, ");
    meaning_case(q);
    qb_sql(q, " AS description FROM v, tot UNION ALL SELECT 'resource', r.verdict, r.client, "
              "r.resource, r.n, ct.n, round(1.0 * r.n / ct.n, 3), "
              "printf('%%d of %%d page loads from %%s %%s %%s', r.n, ct.n, r.client, ");
    verb_case(q);
    qb_sql(q, ", r.resource) FROM r JOIN ct ON ct.client = r.client) "
              "ORDER BY level = 'resource', page_loads DESC, verdict, client, resource");
}

/* " AND client = ?" and " AND verdict = ?" for the filters that are set. */
static void rollup_keys(qbuild *q, const query_filter *f, bool client, bool verdict)
{
    if (client && f->client) {
        qb_sql(q, " AND client = ");
        qb_text(q, f->client);
    }
    if (verdict && f->verdict) {
        qb_sql(q, " AND verdict = ");
        qb_text(q, f->verdict);
    }
}

/* From the rollups (no filter but --client and --verdict NAME): per verdict and the total
 * from rollup_outcomes (with --client from rollup_verdicts), per client from rollup_clients
 * (with --verdict from rollup_verdicts), and only the first `limit` resource rows of
 * rollup_verdicts get their sentence. Resource rows of a NULL client are left out, as the
 * join on client always did. */
static int prepare_verdicts_rollup(sqlite3 *db, const query_filter *f, sqlite3_stmt **out,
                                   char *err, size_t errlen)
{
    const char *by = f->client ? "rollup_verdicts" : "rollup_outcomes";
    qbuild q;
    qb_init(&q, db);
    qb_sql(&q, "WITH r AS (SELECT verdict, client, NULLIF(resource, x'') AS resource, n "
               "FROM rollup_verdicts WHERE client <> x''");
    rollup_keys(&q, f, true, true);
    qb_sql(&q, " ORDER BY n DESC, verdict, client, NULLIF(resource, x'')");
    qb_limit(&q, f);
    if (f->verdict) {
        qb_sql(&q, "), ct AS (SELECT client, SUM(n) AS n FROM rollup_verdicts WHERE 1");
        rollup_keys(&q, f, true, true);
        qb_sql(&q, " GROUP BY client), tot AS (SELECT SUM(n) AS n FROM %s WHERE 1", by);
        rollup_keys(&q, f, true, true);
    } else {
        qb_sql(&q,
               "), ct AS (SELECT client, n FROM rollup_clients), "
               "tot AS (SELECT SUM(n) AS n FROM %s WHERE 1",
               f->client ? "rollup_clients" : "rollup_outcomes");
        rollup_keys(&q, f, true, false);
    }
    qb_sql(&q, "), v AS (SELECT verdict, SUM(n) AS n FROM %s WHERE verdict <> x''", by);
    rollup_keys(&q, f, true, true);
    qb_sql(&q, " GROUP BY verdict) ");
    verdicts_select(&q);
    qb_limit(&q, f);
    return qb_prepare(&q, db, out, err, errlen);
}

/* Per (verdict, client, resource) from one pass over the page loads with a verdict; per
 * verdict by adding those up; the per-client totals from the client index. */
static int prepare_verdicts(sqlite3 *db, const query_filter *f, sqlite3_stmt **out, char *err,
                            size_t errlen)
{
    if (!f->has_since && !f->has_until && !f->app && !f->outcome &&
        !(f->verdict && strcmp(f->verdict, "none") == 0))
        return prepare_verdicts_rollup(db, f, out, err, errlen);
    qbuild q;
    qb_init(&q, db);
    /* MATERIALIZED: each filter picks its index alone, not the one that orders the groups */
    qb_sql(&q, "WITH fc AS MATERIALIZED (SELECT pl.client FROM page_loads pl WHERE 1");
    qb_page_filter(&q, f, "pl", true);
    qb_sql(&q,
           "), ct AS (SELECT client, COUNT(*) AS n FROM fc GROUP BY client), "
           "tot AS (SELECT SUM(n) AS n FROM ct), "
           "fr AS MATERIALIZED (SELECT pl.verdict, pl.client, %s AS resource "
           "FROM page_loads pl WHERE pl.verdict IS NOT NULL",
           resource_expr);
    qb_page_filter(&q, f, "pl", true);
    qb_sql(&q, "), r AS (SELECT verdict, client, resource, COUNT(*) AS n FROM fr "
               "GROUP BY verdict, client, resource), "
               "v AS (SELECT verdict, SUM(n) AS n FROM r GROUP BY verdict) ");
    verdicts_select(&q);
    qb_limit(&q, f);
    return qb_prepare(&q, db, out, err, errlen);
}

/* ---- stats ---- */

static const struct {
    const char *name, *expr;
} capture_fields[] = {
    {"source", "source"},
    {"live", "live"},
    {"filter", "filter"},
    {"server_ports", "server_ports"},
    {"started", "ow_time(started)"},
    {"ended", "ow_time(ended)"},
    {"duration_s", "round(ended - started, 3)"},
    {"end_reason", "ow_end_reason(id, end_reason)"}, /* 'killed' when its writer is gone */
    {"packets", "packets"},
    {"bytes", "bytes"},
    {"kernel_drops", "kernel_drops"},
    {"if_drops", "if_drops"},
    {"linktypes", "linktypes"},
    {"grace_s", "grace"},
    {"store_secrets", "store_secrets"},
    {"tool_version", "tool_version"},
};

static void stats_captures(qbuild *q)
{
    for (size_t i = 0; i < sizeof capture_fields / sizeof *capture_fields; i++)
        qb_sql(q,
               "SELECT 0 AS o1, id AS capture_id, %d AS o2, 'capture' AS section, %Q AS name, "
               "%s AS value FROM captures UNION ALL ",
               (int)i, capture_fields[i].name, capture_fields[i].expr);
    qb_sql(q, "SELECT 0, c.id, 100 + j.id, 'counter', j.key, j.value FROM captures c, "
              "json_each(CASE WHEN json_valid(c.counters) THEN c.counters ELSE '{}' END) j "
              "UNION ALL ");
}

/* Page loads in the filter (the CTE f of outcome, verdict, n): total, by outcome, by verdict. */
static void stats_page_loads(qbuild *q)
{
    static const char *const groups[][2] = {{"outcome", "outcome"},
                                            {"verdict", "COALESCE(verdict, 'none')"}};
    qb_sql(q, "SELECT 1, NULL, 0, 'page_loads', 'total', COALESCE(SUM(n), 0) FROM f");
    for (int g = 0; g < 2; g++)
        qb_sql(q, " UNION ALL SELECT %d, NULL, -SUM(n), %Q, %s, SUM(n) FROM f GROUP BY %s", 2 + g,
               groups[g][0], groups[g][1], groups[g][1]);
}

/* The CTE f: without a time or client filter from rollup_outcomes, else from page_loads. */
static void stats_filter(qbuild *q, const query_filter *f)
{
    if (f->has_since || f->has_until || f->client) {
        /* MATERIALIZED: the filter picks its index alone, not the one that orders the groups */
        qb_sql(q, "WITH g AS MATERIALIZED (SELECT pl.outcome, pl.verdict FROM page_loads pl "
                  "WHERE 1");
        qb_page_filter(q, f, "pl", true);
        qb_sql(q, "), f AS (SELECT outcome, verdict, COUNT(*) AS n FROM g GROUP BY outcome, "
                  "verdict)");
        return;
    }
    qb_sql(q, "WITH f AS MATERIALIZED (SELECT outcome, NULLIF(verdict, x'') AS verdict, n "
              "FROM rollup_outcomes WHERE 1");
    if (f->app) {
        qb_sql(q, " AND app = ");
        qb_text(q, f->app);
    }
    if (f->verdict) {
        qb_sql(q, " AND verdict = ");
        if (strcmp(f->verdict, "none") == 0)
            qb_sql(q, "x''");
        else
            qb_text(q, f->verdict);
    }
    if (f->outcome) {
        qb_sql(q, " AND outcome = ");
        qb_text(q, f->outcome);
    }
    qb_sql(q, ")");
}

static int prepare_stats(sqlite3 *db, const query_filter *f, sqlite3_stmt **out, char *err,
                         size_t errlen)
{
    qbuild q;
    qb_init(&q, db);
    stats_filter(&q, f);
    qb_sql(&q, " SELECT capture_id, section, name, value FROM (");
    stats_captures(&q);
    stats_page_loads(&q);
    qb_sql(&q, ") ORDER BY o1, capture_id, o2, name");
    return qb_prepare(&q, db, out, err, errlen);
}

/* ---- connections ---- */

static int prepare_connections(sqlite3 *db, const query_filter *f, sqlite3_stmt **out, char *err,
                               size_t errlen)
{
    if (!f->client || f->app || f->verdict || f->outcome) {
        snprintf(err, errlen,
                 "connections takes --client ADDR (required), --since, --until "
                 "and --limit only");
        return -1;
    }
    qbuild q;
    qb_init(&q, db);
    qb_sql(&q,
           "SELECT c.id, ow_time(c.first_ts) AS first_seen, ow_time(c.last_ts) AS last_seen, "
           "c.client, c.client_port, c.server, c.server_port, c.kind, c.close, c.requests, "
           "c.bytes_c2s, c.bytes_s2c, round(c.rtt, 4) AS rtt, c.syn_count, c.retrans_s2c, "
           "c.rto_s2c, c.rto_series_s2c, round(c.longest_stall_s2c, 3) AS longest_stall_s2c, "
           "c.max_seg_s2c, c.max_seg_acked_s2c, c.max_seg_lost_s2c, c.recovered_smaller_s2c, "
           "c.gaps_c2s + c.gaps_s2c AS gaps, c.capture_id FROM (SELECT co.* FROM connections co "
           "WHERE co.client = ");
    qb_text(&q, f->client);
    if (f->has_since) {
        qb_sql(&q, " AND co.first_ts >= ");
        qb_real(&q, f->since);
    }
    if (f->has_until) {
        qb_sql(&q, " AND co.first_ts < ");
        qb_real(&q, f->until);
    }
    qb_sql(&q, " ORDER BY co.first_ts DESC, co.id DESC");
    qb_limit(&q, f);
    qb_sql(&q, ") AS c ORDER BY c.first_ts, c.id");
    return qb_prepare(&q, db, out, err, errlen);
}

int query_prepare(sqlite3 *db, query_kind k, const query_filter *f, const char *arg,
                  sqlite3_stmt **out, char *err, size_t errlen)
{
    int64_t page_id = 0;
    *out = NULL;
    switch (k) {
    case QUERY_ORPHANS:
    case QUERY_PAGELOADS:
        return prepare_page_list(db, f, k == QUERY_ORPHANS, out, err, errlen);
    case QUERY_SESSIONS:
        return prepare_sessions(db, f, out, err, errlen);
    case QUERY_CLIENTS:
        return prepare_clients(db, f, out, err, errlen);
    case QUERY_VERDICTS:
        return prepare_verdicts(db, f, out, err, errlen);
    case QUERY_STATS:
        return prepare_stats(db, f, out, err, errlen);
    case QUERY_CONNECTIONS:
        return prepare_connections(db, f, out, err, errlen);
    case QUERY_TIMELINE:
        if (query_find_page_load(db, arg, &page_id, err, errlen) < 0)
            return -1;
        return query_prepare_timeline(db, page_id, out, err, errlen);
    default:
        snprintf(err, errlen, "unknown query");
        return -1;
    }
}
