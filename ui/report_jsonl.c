/* report_jsonl: the stable machine-readable report, one JSON object per page load in time
 * order. Keys (a stable interface; documented in docs/query.md): id, capture_id, session_id,
 * client, client_port, server, server_port, host, path, app, user_agent, started (epoch
 * seconds), status, resp_bytes, ttfb, ttlb, static_count, static_bytes, static_failed,
 * websockets, first_ws, outcome, verdict (null when none), confidence, summary, advice and
 * evidence (an array of strings). Absent values are null. */
#include "ui/format.h"
#include <string.h>

static const char report_columns[] =
    "p.id, p.capture_id, p.session_id, p.client, p.client_port, p.server, p.server_port, "
    "p.host, p.path, p.app, p.user_agent, p.started, p.status, p.resp_bytes, p.ttfb, p.ttlb, "
    "p.static_count, p.static_bytes, p.static_failed, p.websockets, p.first_ws_ts AS first_ws, "
    "p.outcome, p.verdict, p.confidence, p.summary, p.advice";

static void evidence_array(FILE *out, sqlite3_stmt *ev, sqlite3_int64 page_id)
{
    sqlite3_reset(ev);
    sqlite3_bind_int64(ev, 1, page_id);
    fputc('[', out);
    for (int n = 0; sqlite3_step(ev) == SQLITE_ROW; n++) {
        fputs(n ? ", " : "", out);
        format_json_value(out, ev, 0);
    }
    fputc(']', out);
}

static void page_object(FILE *out, sqlite3_stmt *st, sqlite3_stmt *ev)
{
    int n = sqlite3_column_count(st);
    fputc('{', out);
    for (int i = 0; i < n; i++) {
        const char *name = sqlite3_column_name(st, i);
        fputs(i ? ", " : "", out);
        format_json_string(out, name, strlen(name));
        fputs(": ", out);
        format_json_value(out, st, i);
    }
    fputs(", \"evidence\": ", out);
    evidence_array(out, ev, sqlite3_column_int64(st, 0));
    fputs("}\n", out);
}

int report_jsonl(sqlite3 *db, FILE *out, const query_filter *f)
{
    static const query_filter all = {0};
    char err[512];
    sqlite3_stmt *st = NULL, *ev = NULL;
    if (query_prepare_page_loads(db, report_columns, f ? f : &all, &st, err, sizeof err) < 0) {
        fprintf(stderr, "orphanwatch: report: %s\n", err);
        return -1;
    }
    if (sqlite3_prepare_v2(db, "SELECT text FROM evidence WHERE page_load_id = ?1 ORDER BY seq", -1,
                           &ev, NULL) != SQLITE_OK) {
        fprintf(stderr, "orphanwatch: report: %s\n", sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return -1;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        page_object(out, st, ev);
    if (rc != SQLITE_DONE)
        fprintf(stderr, "orphanwatch: report: %s\n", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_finalize(ev);
    if (rc == SQLITE_DONE && (fflush(out) != 0 || ferror(out))) {
        fprintf(stderr, "orphanwatch: report: write error on the output\n");
        return -1;
    }
    return rc == SQLITE_DONE ? 0 : -1;
}
