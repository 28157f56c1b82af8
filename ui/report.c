/* report: the text report of a capture database (see report.h). Reads only through SQL. */
#include "ui/report.h"
#include "correlate/outcome.h"
#include "db/db.h"
#include "ui/blind_spots.h"
#include "ui/format.h"
#include <string.h>
#include <time.h>

static const char *col_text(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? (const char *)t : "";
}

static void fmt_time(double t, bool utc, char *buf, size_t cap)
{
    time_t sec = (time_t)t;
    struct tm tm;
    if (utc)
        gmtime_r(&sec, &tm);
    else
        localtime_r(&sec, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%03d%s", (int)((t - (double)sec) * 1000), utc ? "Z" : "");
    if (!utc) {
        n = strlen(buf);
        strftime(buf + n, cap - n, "%z", &tm);
    }
}

static sqlite3_stmt *prep(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
        fprintf(stderr, "orphanwatch: report query failed: %s\n", sqlite3_errmsg(db));
        return NULL;
    }
    return s;
}

/* ---------------------------------------------------------------- header */

static void print_captures(sqlite3 *db, FILE *out, const report_opts *o)
{
    sqlite3_stmt *s = prep(db, "SELECT source, live, started, ended, end_reason, packets, "
                               "kernel_drops, linktypes, grace, counters, server_ports, id "
                               "FROM captures ORDER BY id");
    if (!s)
        return;
    while (sqlite3_step(s) == SQLITE_ROW) {
        char a[48] = "-", b[48] = "-";
        if (sqlite3_column_type(s, 2) != SQLITE_NULL)
            fmt_time(sqlite3_column_double(s, 2), o->utc, a, sizeof a);
        if (sqlite3_column_type(s, 3) != SQLITE_NULL)
            fmt_time(sqlite3_column_double(s, 3), o->utc, b, sizeof b);
        char source[1024];
        format_capture_source(col_text(s, 0), source, sizeof source);
        fprintf(out, "capture  %s (%s, link %s, port %s)\n", source,
                sqlite3_column_int(s, 1) ? "live" : "file", col_text(s, 7), col_text(s, 10));
        fprintf(out, "         %s -> %s (%.1f s), ended: %s\n", a, b,
                sqlite3_column_double(s, 3) - sqlite3_column_double(s, 2),
                owdb_end_reason(db, sqlite3_column_int64(s, 11), col_text(s, 4)));
        fprintf(out, "         %lld packets, %lld kernel drops, grace %.0f s\n",
                sqlite3_column_int64(s, 5), sqlite3_column_int64(s, 6),
                sqlite3_column_double(s, 8));
        fprintf(out, "         counters %s\n", col_text(s, 9));
    }
    sqlite3_finalize(s);
}

static void print_totals(sqlite3 *db, FILE *out)
{
    sqlite3_stmt *s = prep(db, "SELECT (SELECT COUNT(*) FROM connections), "
                               "(SELECT COUNT(*) FROM http_exchanges), "
                               "(SELECT COUNT(*) FROM websockets), "
                               "(SELECT COUNT(*) FROM page_loads)");
    if (s && sqlite3_step(s) == SQLITE_ROW)
        fprintf(out,
                "\n%lld TCP connections, %lld HTTP exchanges, %lld websocket upgrades, "
                "%lld page loads\n",
                sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1), sqlite3_column_int64(s, 2),
                sqlite3_column_int64(s, 3));
    sqlite3_finalize(s);
    /* the counts from the rollup the triggers keep (db/schema.sql): no scan */
    s = prep(db, "SELECT outcome, SUM(n) FROM rollup_outcomes GROUP BY outcome "
                 "ORDER BY SUM(n) DESC, outcome");
    if (!s)
        return;
    fprintf(out, "outcomes:");
    while (sqlite3_step(s) == SQLITE_ROW)
        fprintf(out, "  %s %lld", col_text(s, 0), sqlite3_column_int64(s, 1));
    sqlite3_finalize(s);
    s = prep(db, "SELECT verdict, SUM(n) FROM rollup_outcomes WHERE verdict <> x'' "
                 "GROUP BY verdict ORDER BY SUM(n) DESC, verdict");
    if (!s)
        return;
    fprintf(out, "\nverdicts:");
    int n = 0;
    while (sqlite3_step(s) == SQLITE_ROW)
        fprintf(out, "  %s %lld", col_text(s, 0), sqlite3_column_int64(s, 1)), n++;
    fprintf(out, "%s\n", n ? "" : "  none");
    sqlite3_finalize(s);
}

enum { REPORT_WRAP = 96 }; /* prose lines are wrapped at this many characters */

/* One blind spot as a list item, its words wrapped under one another. */
static void print_blind_spot(void *ctx, const char *line)
{
    FILE *out = ctx;
    const char *lead = "  - ";
    while (*line) {
        size_t room = REPORT_WRAP - strlen(lead), n = strlen(line);
        if (n > room) { /* break at the last space that fits, else at the first after */
            n = room;
            while (n > 0 && line[n] != ' ')
                n--;
            if (n == 0)
                n = strcspn(line, " ");
        }
        fprintf(out, "%s%.*s\n", lead, (int)n, line);
        line += n;
        line += strspn(line, " ");
        lead = "    ";
    }
}

/* What the capture missed (ui/blind_spots.c), before anything that rests on it. */
static void print_blind_spots(sqlite3 *db, FILE *out)
{
    fprintf(out, "\nWHAT THE CAPTURE COULD NOT SEE\n");
    int n = blind_spots_each(db, 0, print_blind_spot, out);
    if (n == 0)
        fprintf(out, "  nothing: no packet dropped or cut short, no gap, no limit reached\n");
    else if (n < 0)
        fprintf(out, "  (the capture counters could not be read: %s)\n", sqlite3_errmsg(db));
}

/* ---------------------------------------------------------------- one page load */

static void print_timeline(sqlite3 *db, FILE *out, sqlite3_int64 page_id, double t0)
{
    sqlite3_stmt *s =
        prep(db, "SELECT h.req_ts, h.method, h.target, h.status, h.resp_body_bytes, h.complete, "
                 "h.resp_end_ts, c.client_port, c.retrans_s2c, c.longest_stall_s2c, c.close, "
                 "h.kind, h.content_length, h.last_byte_acked "
                 "FROM http_exchanges h JOIN connections c ON c.id = h.connection_id "
                 "WHERE h.page_load_id = ? ORDER BY h.req_ts, h.id");
    if (!s)
        return;
    sqlite3_bind_int64(s, 1, page_id);
    while (sqlite3_step(s) == SQLITE_ROW) {
        char bytes[32];
        format_bytes(sqlite3_column_double(s, 4), bytes, sizeof bytes);
        const char *target = col_text(s, 2);
        int tl = (int)strcspn(target, strcmp(col_text(s, 11), "page") ? "?" : "");
        fprintf(out, "    +%7.3f  %-4s %.*s", sqlite3_column_double(s, 0) - t0, col_text(s, 1),
                tl > 70 ? 70 : tl, target);
        if (sqlite3_column_int(s, 3) && sqlite3_column_int(s, 5)) {
            fprintf(out, "  -> %d, %s", sqlite3_column_int(s, 3), bytes);
        } else if (sqlite3_column_int(s, 3)) {
            char total[32] = "?";
            if (sqlite3_column_int64(s, 12) > 0)
                format_bytes(sqlite3_column_double(s, 12), total, sizeof total);
            fprintf(out, "  -> %d, %s of %s (cut short)", sqlite3_column_int(s, 3), bytes, total);
        } else
            fprintf(out, "  -> no response");
        if (sqlite3_column_type(s, 6) != SQLITE_NULL && sqlite3_column_double(s, 6) > 0)
            fprintf(out, " in %.3f s", sqlite3_column_double(s, 6) - sqlite3_column_double(s, 0));
        fprintf(out, "  [port %d", sqlite3_column_int(s, 7));
        if (sqlite3_column_int(s, 8))
            fprintf(out, ", %d retransmissions", sqlite3_column_int(s, 8));
        if (sqlite3_column_double(s, 9) >= 1.0)
            fprintf(out, ", stalled %.1f s", sqlite3_column_double(s, 9));
        fprintf(out, ", %s]\n", col_text(s, 10));
    }
    sqlite3_finalize(s);
    s = prep(db, "SELECT w.upgrade_ts, w.path, w.status, w.msg_counts, w.close_code_c2s, "
                 "w.close_code_s2c, w.end_ts, c.server, c.server_port, c.client_port "
                 "FROM websockets w JOIN connections c ON c.id = w.connection_id "
                 "WHERE w.session_ref = (SELECT session_ref FROM page_loads WHERE id = ?) "
                 "ORDER BY w.upgrade_ts");
    if (!s)
        return;
    sqlite3_bind_int64(s, 1, page_id);
    while (sqlite3_step(s) == SQLITE_ROW) {
        fprintf(out, "    +%7.3f  WS   %s -> %d  [%s port %d from %d]",
                sqlite3_column_double(s, 0) - t0, col_text(s, 1), sqlite3_column_int(s, 2),
                col_text(s, 7), sqlite3_column_int(s, 8), sqlite3_column_int(s, 9));
        if (sqlite3_column_int(s, 2) == 101)
            fprintf(out, " messages %s, close client %s server %s, lasted %.1f s", col_text(s, 3),
                    sqlite3_column_type(s, 4) == SQLITE_NULL ? "-" : col_text(s, 4),
                    sqlite3_column_type(s, 5) == SQLITE_NULL ? "-" : col_text(s, 5),
                    sqlite3_column_double(s, 6) - sqlite3_column_double(s, 0));
        fprintf(out, "\n");
    }
    sqlite3_finalize(s);
}

static void print_evidence(sqlite3 *db, FILE *out, sqlite3_int64 page_id)
{
    sqlite3_stmt *s = prep(db, "SELECT text FROM evidence WHERE page_load_id = ? ORDER BY seq");
    if (!s)
        return;
    sqlite3_bind_int64(s, 1, page_id);
    int n = 0;
    while (sqlite3_step(s) == SQLITE_ROW)
        fprintf(out, "%s    - %s\n", n++ ? "" : "  evidence:\n", col_text(s, 0));
    sqlite3_finalize(s);
}

static const char failed_columns[] =
    "SELECT id, outcome, verdict, confidence, "
    "(SELECT session_id FROM sessions WHERE id = session_ref), client, client_port, server, "
    "server_port, path, (SELECT user_agent FROM user_agents WHERE id = ua_ref), started, "
    "status, ttfb, summary, advice, static_count, websockets FROM page_loads ";

/* The failed page loads in the report's order, one group after the other, each read through
 * the page_loads_outcome index (outcome, started): orphans, refused, no document, undecided,
 * pending, then connected ones with a verdict. */
static const char failed_others[] =
    "WHERE outcome NOT IN ('orphan', 'ws_refused', 'ws_no_doc', 'undecided', 'pending') AND "
    "(outcome <> 'connected' OR verdict IS NOT NULL) ORDER BY outcome <> 'connected', started";
static const char *const failed_groups[] = {
    "WHERE outcome = 'orphan' ORDER BY started",    "WHERE outcome = 'ws_refused' ORDER BY started",
    "WHERE outcome = 'ws_no_doc' ORDER BY started", "WHERE outcome = 'undecided' ORDER BY started",
    "WHERE outcome = 'pending' ORDER BY started",   failed_others,
};

static void print_one_failed(sqlite3 *db, FILE *out, const report_opts *o, sqlite3_stmt *s)
{
    char when[48];
    const char *client = col_text(s, 5), *server = col_text(s, 7);
    bool v6c = strchr(client, ':') != NULL, v6s = strchr(server, ':') != NULL;
    fmt_time(sqlite3_column_double(s, 11), o->utc, when, sizeof when);
    fprintf(out, "\n[%s] %s", col_text(s, 1),
            sqlite3_column_type(s, 2) == SQLITE_NULL ? "(no verdict yet)" : col_text(s, 2));
    if (sqlite3_column_type(s, 2) != SQLITE_NULL)
        fprintf(out, " (confidence %.2f)", sqlite3_column_double(s, 3));
    fprintf(out, "  session %s\n", col_text(s, 4));
    fprintf(out, "  %s%s%s:%d -> %s%s%s:%d  GET %s  at %s\n", v6c ? "[" : "", client,
            v6c ? "]" : "", sqlite3_column_int(s, 6), v6s ? "[" : "", server, v6s ? "]" : "",
            sqlite3_column_int(s, 8), col_text(s, 9), when);
    fprintf(out, "  User-Agent: %s\n", col_text(s, 10));
    if (*col_text(s, 14))
        fprintf(out, "  %s\n", col_text(s, 14));
    fprintf(out, "  timeline:\n");
    print_timeline(db, out, sqlite3_column_int64(s, 0), sqlite3_column_double(s, 11));
    print_evidence(db, out, sqlite3_column_int64(s, 0));
    if (*col_text(s, 15))
        fprintf(out, "  advice: %s\n", col_text(s, 15));
}

/* Page loads counted by the rollup whose (outcome, verdict) match where (no scan). */
static long long rollup_count(sqlite3 *db, const char *where)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT COALESCE(SUM(n), 0) FROM rollup_outcomes WHERE %s", where);
    sqlite3_stmt *s = prep(db, sql);
    long long n = s && sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    return n;
}

static void print_failed(sqlite3 *db, FILE *out, const report_opts *o)
{
    long long shown = 0;
    for (size_t g = 0; g < sizeof failed_groups / sizeof *failed_groups; g++) {
        if (o->max_failed && shown >= o->max_failed)
            break;
        char sql[512];
        snprintf(sql, sizeof sql, "%s%s LIMIT %lld", failed_columns, failed_groups[g],
                 o->max_failed ? (long long)o->max_failed - shown : -1LL);
        sqlite3_stmt *s = prep(db, sql);
        while (s && sqlite3_step(s) == SQLITE_ROW) {
            if (!shown++)
                fprintf(out, "\nPAGE LOADS THAT DID NOT END WELL (orphans first)\n");
            print_one_failed(db, out, o, s);
        }
        sqlite3_finalize(s);
    }
    long long total = rollup_count(db, "outcome <> 'connected' OR verdict <> x''");
    if (!shown && rollup_count(db, "1") == 0)
        fprintf(out, "\nNo Bokeh page load was seen.\n");
    else if (!shown)
        fprintf(out, "\nEvery page load connected and no verdict was raised.\n");
    else if (total > shown)
        fprintf(out, "\n... and %lld more (report --all, or `orphanwatch query DB orphans`)\n",
                total - shown);
}

/* ---------------------------------------------------------------- patterns */

/* Per client and per (client, verdict, resource), from the rollups (db/schema.sql). */
static void print_patterns(sqlite3 *db, FILE *out)
{
    sqlite3_stmt *s =
        prep(db, "SELECT NULLIF(c.client, x''), c.n, c.orphans, (SELECT v.verdict FROM "
                 "rollup_verdicts v WHERE v.client = c.client GROUP BY v.verdict "
                 "ORDER BY SUM(v.n) DESC, v.verdict LIMIT 1) FROM rollup_clients c "
                 "ORDER BY c.orphans DESC, c.n DESC, c.client LIMIT 20");
    if (!s)
        return;
    fprintf(out, "\nBY CLIENT\n");
    while (sqlite3_step(s) == SQLITE_ROW)
        fprintf(out, "  %-40s %4lld page loads, %4lld orphaned (%3.0f%%)%s%s\n", col_text(s, 0),
                sqlite3_column_int64(s, 1), sqlite3_column_int64(s, 2),
                100.0 * (double)sqlite3_column_int64(s, 2) /
                    (double)(sqlite3_column_int64(s, 1) ? sqlite3_column_int64(s, 1) : 1),
                sqlite3_column_type(s, 3) == SQLITE_NULL ? "" : ", mostly ", col_text(s, 3));
    sqlite3_finalize(s);
    /* which resource the failures stalled on, per client */
    s = prep(db, "SELECT NULLIF(v.client, x''), v.verdict, NULLIF(v.resource, x''), v.n, "
                 "c.n FROM rollup_verdicts v JOIN rollup_clients c ON c.client = v.client "
                 "WHERE v.verdict IN ('pmtu_blackhole','slow_pmtu_recovery','script_stalled',"
                 "'script_failed') ORDER BY v.n DESC, v.verdict, v.client, v.resource LIMIT 20");
    if (!s)
        return;
    int n = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        if (!n++)
            fprintf(out, "\nBY RESOURCE\n");
        fprintf(out, "  %lld of %lld page loads from %s: %s on %s\n", sqlite3_column_int64(s, 3),
                sqlite3_column_int64(s, 4), col_text(s, 0), col_text(s, 1), col_text(s, 2));
    }
    sqlite3_finalize(s);
}

static void print_healthy(sqlite3 *db, FILE *out, const report_opts *o)
{
    char sql[320];
    snprintf(sql, sizeof sql,
             "SELECT started, client, path, (SELECT session_id FROM sessions WHERE id = "
             "session_ref), static_count, first_ws_ts - started "
             "FROM page_loads WHERE outcome = 'connected' AND verdict IS NULL ORDER BY started "
             "LIMIT %lld",
             o->max_healthy ? (long long)o->max_healthy : -1LL);
    sqlite3_stmt *s = prep(db, sql);
    if (!s)
        return;
    long long n = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        if (!n++)
            fprintf(out, "\nCONNECTED\n");
        char when[48];
        fmt_time(sqlite3_column_double(s, 0), o->utc, when, sizeof when);
        fprintf(out, "  %s  %-24s %-32.32s session %.12s  %d scripts, websocket after %.2f s\n",
                when, col_text(s, 1), col_text(s, 2), col_text(s, 3), sqlite3_column_int(s, 4),
                sqlite3_column_double(s, 5));
    }
    sqlite3_finalize(s);
    long long total = rollup_count(db, "outcome = 'connected' AND verdict = x''");
    if (total > n)
        fprintf(out, "  ... and %lld more\n", total - n);
}

/* Websockets with no page load of this capture: picked up mid-stream, Python clients, or
 * pages served before the capture started. */
static void print_unlinked_websockets(sqlite3 *db, FILE *out, const report_opts *o)
{
    sqlite3_stmt *s =
        prep(db, "SELECT w.upgrade_ts, c.client, c.client_port, (SELECT session_id FROM sessions "
                 "WHERE id = w.session_ref), w.midstream, w.status, "
                 "w.msg_counts, w.frames_c2s + w.frames_s2c, w.end_ts - w.upgrade_ts "
                 "FROM websockets w JOIN connections c ON c.id = w.connection_id "
                 "WHERE w.page_load_id IS NULL ORDER BY w.upgrade_ts LIMIT 100");
    if (!s)
        return;
    int n = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        char when[48];
        if (!n++)
            fprintf(out, "\nWEBSOCKETS WITHOUT A PAGE LOAD IN THIS CAPTURE\n");
        fmt_time(sqlite3_column_double(s, 0), o->utc, when, sizeof when);
        fprintf(out, "  %s  %s:%d  %s  session %s, %lld frames, %.1f s, messages %s\n", when,
                col_text(s, 1), sqlite3_column_int(s, 2),
                sqlite3_column_int(s, 4) ? "picked up mid-stream (no upgrade seen)"
                                         : "upgrade seen",
                *col_text(s, 3) ? col_text(s, 3) : "unknown", sqlite3_column_int64(s, 7),
                sqlite3_column_double(s, 8), col_text(s, 6));
    }
    sqlite3_finalize(s);
}

int report_text(sqlite3 *db, FILE *out, const report_opts *o)
{
    fprintf(out, "orphanwatch report\n\n");
    print_captures(db, out, o);
    print_totals(db, out);
    print_blind_spots(db, out);
    print_failed(db, out, o);
    print_patterns(db, out);
    print_unlinked_websockets(db, out, o);
    print_healthy(db, out, o);
    return 0;
}

int report_file(const char *path, const char *format, bool all, FILE *out)
{
    char err[512];
    sqlite3 *db = owdb_open_readonly(path, err, sizeof err);
    if (!db) {
        fprintf(stderr, "orphanwatch: %s\n", err);
        return 1;
    }
    report_opts o = {.utc = true, .max_healthy = all ? 0 : 50, .max_failed = all ? 0 : 200};
    int rc = strcmp(format, "jsonl") == 0 ? report_jsonl(db, out, NULL) : report_text(db, out, &o);
    sqlite3_close(db);
    return rc ? 1 : 0;
}
