/* merge: several servers' databases into one. Each input is attached read-only and copied
 * with every id shifted past the ids already in the output (references shifted alike), so
 * ids stay unique and each capture keeps its source. Then the cross-server correlation the
 * correlator cannot do: a page load that is an orphan in one input while a websocket carrying
 * its session exists in another gets the verdict ws_elsewhere, evidence naming that server
 * and upgrade status, and its websockets counted. */
#include "db/db.h"
#include "db/dbfile.h"
#include "db/query.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MERGE_MAX_EVIDENCE_WS 8 /* websockets named in evidence per page load (all counted) */
#define MERGE_CONFIDENCE      0.9

enum shift_kind { SH_NONE, SH_CAPTURE, SH_CONN, SH_HTTP, SH_WS, SH_BOKEH, SH_PAGE, SH_COUNT };
/* Columns that refer to an interned text (db/schema.sql "*_ref"): mapped through the text. */
enum { REF_SESSION = SH_COUNT, REF_UA };

typedef struct shifted_column {
    const char *column;
    int kind; /* enum shift_kind, or REF_* */
} shifted_column;

/* Tables copied with their id columns shifted and their references to interned texts mapped
 * (sessions and user agents are merged by their text first). */
static const struct {
    const char *table;
    shifted_column cols[6];
} copied_tables[] = {
    {"captures", {{"id", SH_CAPTURE}}},
    {"connections", {{"id", SH_CONN}, {"capture_id", SH_CAPTURE}}},
    {"http_exchanges",
     {{"id", SH_HTTP}, {"connection_id", SH_CONN}, {"page_load_id", SH_PAGE}, {"ua_ref", REF_UA}}},
    {"websockets",
     {{"id", SH_WS},
      {"connection_id", SH_CONN},
      {"http_id", SH_HTTP},
      {"page_load_id", SH_PAGE},
      {"session_ref", REF_SESSION}}},
    {"bokeh_messages", {{"id", SH_BOKEH}, {"websocket_id", SH_WS}}},
    {"page_loads",
     {{"id", SH_PAGE},
      {"capture_id", SH_CAPTURE},
      {"http_id", SH_HTTP},
      {"connection_id", SH_CONN},
      {"session_ref", REF_SESSION},
      {"ua_ref", REF_UA}}},
    {"evidence", {{"page_load_id", SH_PAGE}, {"connection_id", SH_CONN}, {"http_id", SH_HTTP}}},
    {"packet_files", {{"capture_id", SH_CAPTURE}}},
    {"capture_files", {{"capture_id", SH_CAPTURE}}}, /* optional: older files lack it */
};

static const char *const shift_tables[SH_COUNT] = {
    NULL, "captures", "connections", "http_exchanges", "websockets", "bokeh_messages", "page_loads",
};

static const char sessions_merge_sql[] =
    "INSERT INTO main.sessions(session_id, first_ts, last_ts, page_loads, websockets, "
    "token_expiry, outcome) SELECT session_id, first_ts, last_ts, page_loads, websockets, "
    "token_expiry, outcome FROM src.sessions WHERE true ON CONFLICT(session_id) DO UPDATE SET "
    "first_ts = COALESCE(min(first_ts, excluded.first_ts), first_ts, excluded.first_ts), "
    "last_ts = COALESCE(max(last_ts, excluded.last_ts), last_ts, excluded.last_ts), "
    "page_loads = COALESCE(page_loads, 0) + COALESCE(excluded.page_loads, 0), "
    "websockets = COALESCE(websockets, 0) + COALESCE(excluded.websockets, 0), "
    "token_expiry = COALESCE(max(token_expiry, excluded.token_expiry), token_expiry, "
    "excluded.token_expiry), "
    "outcome = CASE WHEN outcome IS NULL OR outcome = 'websocket_only' THEN excluded.outcome "
    "ELSE outcome END";

static const char user_agents_merge_sql[] = "INSERT INTO main.user_agents(user_agent) SELECT "
                                            "user_agent FROM src.user_agents WHERE true ON "
                                            "CONFLICT DO NOTHING";

/* The output's id of the text an input row's column refers to. */
static const char *const ref_expr[] = {
    [REF_SESSION - SH_COUNT] = "(SELECT m.id FROM main.sessions m JOIN src.sessions s ON "
                               "s.session_id = m.session_id WHERE s.id = o.\"%w\")",
    [REF_UA - SH_COUNT] = "(SELECT m.id FROM main.user_agents m JOIN src.user_agents s ON "
                          "s.user_agent = m.user_agent WHERE s.id = o.\"%w\")",
};

static int shift_of(size_t t, const char *column)
{
    for (size_t i = 0; i < 6 && copied_tables[t].cols[i].column; i++)
        if (strcmp(copied_tables[t].cols[i].column, column) == 0)
            return copied_tables[t].cols[i].kind;
    return SH_NONE;
}

/* INSERT INTO main.T(cols) SELECT cols (shifted, mapped) FROM src.T AS o */
static char *copy_sql(sqlite3 *db, size_t t, const int64_t *off)
{
    char *pragma = sqlite3_mprintf("PRAGMA main.table_info(\"%w\")", copied_tables[t].table);
    sqlite3_stmt *st = NULL;
    int rc = pragma ? sqlite3_prepare_v2(db, pragma, -1, &st, NULL) : SQLITE_NOMEM;
    sqlite3_free(pragma);
    if (rc != SQLITE_OK)
        return NULL;
    sqlite3_str *cols = sqlite3_str_new(db), *exprs = sqlite3_str_new(db);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *c = (const char *)sqlite3_column_text(st, 1);
        const char *sep = sqlite3_str_length(cols) ? ", " : "";
        int k = shift_of(t, c);
        sqlite3_str_appendf(cols, "%s\"%w\"", sep, c);
        sqlite3_str_appendall(exprs, sep);
        if (k == SH_NONE)
            sqlite3_str_appendf(exprs, "o.\"%w\"", c);
        else if (k >= SH_COUNT)
            sqlite3_str_appendf(exprs, ref_expr[k - SH_COUNT], c);
        else
            sqlite3_str_appendf(exprs, "o.\"%w\" + %lld", c, (long long)off[k]);
    }
    sqlite3_finalize(st);
    char *c = sqlite3_str_finish(cols), *e = sqlite3_str_finish(exprs);
    char *sql = c && e
                    ? sqlite3_mprintf("INSERT INTO main.\"%w\"(%s) SELECT %s FROM src.\"%w\" AS o",
                                      copied_tables[t].table, c, e, copied_tables[t].table)
                    : NULL;
    sqlite3_free(c);
    sqlite3_free(e);
    return sql;
}

static void current_offsets(sqlite3 *db, int64_t *off)
{
    char sql[96];
    off[SH_NONE] = 0;
    for (int k = 1; k < SH_COUNT; k++) {
        snprintf(sql, sizeof sql, "SELECT MAX(id) FROM main.%s", shift_tables[k]);
        off[k] = owdb_query_int(db, sql, 0);
    }
}

/* The input has the table (one every reader can do without may be missing: schema.sql). */
static bool src_has_table(sqlite3 *db, const char *table)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM src.sqlite_schema WHERE type = 'table' AND name = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return true; /* the copy then says what is wrong */
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    bool has = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return has;
}

static int copy_tables(sqlite3 *db, const char *label, char *err, size_t errlen)
{
    int64_t off[SH_COUNT];
    current_offsets(db, off);
    if (owdb_exec(db, sessions_merge_sql, label, err, errlen) < 0 ||
        owdb_exec(db, user_agents_merge_sql, label, err, errlen) < 0)
        return -1;
    for (size_t t = 0; t < sizeof copied_tables / sizeof *copied_tables; t++) {
        if (!src_has_table(db, copied_tables[t].table))
            continue;
        char *sql = copy_sql(db, t, off);
        int rc = sql ? owdb_exec(db, sql, label, err, errlen) : -1;
        if (!sql)
            snprintf(err, errlen, "%s: cannot build the copy of %s", label, copied_tables[t].table);
        sqlite3_free(sql);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Remembers which input each capture came from (temp.merge_src). */
static int note_sources(sqlite3 *db, int input_no, int64_t first_capture, char *err, size_t errlen)
{
    char *sql = sqlite3_mprintf("INSERT INTO temp.merge_src SELECT id, %d FROM main.captures "
                                "WHERE id > %lld",
                                input_no, (long long)first_capture);
    int rc = owdb_exec(db, sql, "merge", err, errlen);
    sqlite3_free(sql);
    return rc;
}

static int attach_input(sqlite3 *db, const char *path, char *err, size_t errlen)
{
    char uri[4200];
    sqlite3_stmt *st = NULL;
    if (owdb_file_uri(path, "?mode=ro", uri, sizeof uri) < 0) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    int rc = sqlite3_prepare_v2(db, "ATTACH ?1 AS src", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, uri, -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    }
    if (rc != SQLITE_OK)
        snprintf(err, errlen, "%s: cannot open: %s", path, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : -1;
}

static int merge_input(sqlite3 *db, const char *path, int input_no, char *err, size_t errlen)
{
    if (attach_input(db, path, err, errlen) < 0)
        return -1;
    int64_t before = owdb_query_int(db, "SELECT MAX(id) FROM main.captures", 0);
    int rc = owdb_check_schema(db, "src", path, err, errlen);
    if (rc == 0)
        rc = owdb_exec(db, "BEGIN", path, err, errlen);
    if (rc == 0) {
        rc = copy_tables(db, path, err, errlen);
        if (rc == 0)
            rc = note_sources(db, input_no, before, err, errlen);
        if (rc == 0)
            rc = owdb_exec(db, "COMMIT", path, err, errlen);
        else
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    sqlite3_exec(db, "DETACH src", NULL, NULL, NULL);
    return rc;
}

/* ---- cross-server correlation ---- */

/* Orphan page loads and the websockets carrying their session in another input. */
static const char elsewhere_sql[] =
    "SELECT p.id, se.session_id, w.id, w.http_id, w.connection_id, c.server, c.server_port, "
    "w.status, w.upgrade_ts, cap.source FROM page_loads p "
    "JOIN temp.merge_src sp ON sp.capture_id = p.capture_id "
    "JOIN sessions se ON se.id = p.session_ref "
    "JOIN websockets w ON w.session_ref = p.session_ref "
    "JOIN connections c ON c.id = w.connection_id "
    "JOIN temp.merge_src sw ON sw.capture_id = c.capture_id "
    "LEFT JOIN captures cap ON cap.id = c.capture_id "
    "WHERE p.outcome = 'orphan' AND sw.input_no <> sp.input_no "
    "ORDER BY p.id, w.upgrade_ts, w.id";

static const char relabel_sql[] =
    "UPDATE page_loads SET verdict = 'ws_elsewhere', confidence = ?2, summary = ?3, advice = ?4, "
    "websockets = COALESCE(websockets, 0) + ?5, "
    "first_ws_ts = COALESCE(min(first_ws_ts, ?6), first_ws_ts, ?6) WHERE id = ?1";

static const char evidence_sql[] =
    "INSERT INTO evidence(page_load_id, seq, connection_id, http_id, text) VALUES(?1, "
    "(SELECT COALESCE(MAX(seq), -1) + 1 FROM evidence WHERE page_load_id = ?1), ?2, ?3, ?4)";

typedef struct relabel {
    sqlite3_stmt *update, *evidence;
    int64_t page_id;
    int n_ws;
    double first_ws;
    char server[80];
} relabel;

static int add_evidence(relabel *r, sqlite3_stmt *row)
{
    char when[48], text[512];
    const char *status = (const char *)sqlite3_column_text(row, 7);
    query_format_time(sqlite3_column_double(row, 8), true, when, sizeof when);
    snprintf(text, sizeof text,
             "websocket for session %s reached %s:%d at %s, upgrade status %s (connection %lld, "
             "capture %s of another server's database)",
             sqlite3_column_text(row, 1), sqlite3_column_text(row, 5), sqlite3_column_int(row, 6),
             when, status ? status : "none", (long long)sqlite3_column_int64(row, 4),
             sqlite3_column_text(row, 9) ? (const char *)sqlite3_column_text(row, 9) : "?");
    sqlite3_reset(r->evidence);
    sqlite3_bind_int64(r->evidence, 1, r->page_id);
    sqlite3_bind_value(r->evidence, 2, sqlite3_column_value(row, 4));
    sqlite3_bind_value(r->evidence, 3, sqlite3_column_value(row, 3));
    sqlite3_bind_text(r->evidence, 4, text, -1, SQLITE_TRANSIENT);
    return sqlite3_step(r->evidence) == SQLITE_DONE ? 0 : -1;
}

static int finish_page(relabel *r)
{
    char summary[256];
    if (r->page_id == 0)
        return 0;
    snprintf(summary, sizeof summary,
             "the websocket for this session went to %s, another server than the page's",
             r->server);
    sqlite3_reset(r->update);
    sqlite3_bind_int64(r->update, 1, r->page_id);
    sqlite3_bind_double(r->update, 2, MERGE_CONFIDENCE);
    sqlite3_bind_text(r->update, 3, summary, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(r->update, 4,
                      "the page and its websocket reached different servers: make the load "
                      "balancer keep each client on one Bokeh server (sticky sessions)",
                      -1, SQLITE_STATIC);
    sqlite3_bind_int(r->update, 5, r->n_ws);
    sqlite3_bind_double(r->update, 6, r->first_ws);
    return sqlite3_step(r->update) == SQLITE_DONE ? 0 : -1;
}

static int relabel_row(relabel *r, sqlite3_stmt *row, int64_t *count)
{
    int64_t page_id = sqlite3_column_int64(row, 0);
    if (page_id != r->page_id) {
        if (finish_page(r) < 0)
            return -1;
        r->page_id = page_id;
        r->n_ws = 0;
        r->first_ws = sqlite3_column_double(row, 8);
        snprintf(r->server, sizeof r->server, "%s:%d", sqlite3_column_text(row, 5),
                 sqlite3_column_int(row, 6));
        (*count)++;
    }
    if (r->n_ws++ < MERGE_MAX_EVIDENCE_WS)
        return add_evidence(r, row);
    return 0;
}

static int correlate_across(sqlite3 *db, int64_t *count, char *err, size_t errlen)
{
    relabel r = {0};
    sqlite3_stmt *rows = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db, elsewhere_sql, -1, &rows, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, relabel_sql, -1, &r.update, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, evidence_sql, -1, &r.evidence, NULL) == SQLITE_OK) {
        rc = 0;
        int step;
        while (rc == 0 && (step = sqlite3_step(rows)) == SQLITE_ROW)
            rc = relabel_row(&r, rows, count);
        if (rc == 0 && step != SQLITE_DONE)
            rc = -1;
        if (rc == 0)
            rc = finish_page(&r);
    }
    if (rc < 0)
        snprintf(err, errlen, "cross-server correlation: %s", sqlite3_errmsg(db));
    sqlite3_finalize(rows);
    sqlite3_finalize(r.update);
    sqlite3_finalize(r.evidence);
    return rc;
}

/* ---- driver ---- */

static int check_distinct(const char *out, const char *const *inputs, int n, char *err,
                          size_t errlen)
{
    struct stat a, b;
    for (int i = 0; i < n; i++) {
        if (stat(inputs[i], &a) != 0) {
            snprintf(err, errlen, "%s: %s", inputs[i], strerror(errno));
            return -1;
        }
        if (stat(out, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
            snprintf(err, errlen, "%s: the output cannot also be an input", inputs[i]);
            return -1;
        }
        for (int j = 0; j < i; j++)
            if (stat(inputs[j], &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
                snprintf(err, errlen, "%s: given twice (also as %s)", inputs[i], inputs[j]);
                return -1;
            }
    }
    return 0;
}

static void fill_result(sqlite3 *db, owdb_merge_result *res, int64_t relabelled)
{
    res->captures = owdb_query_int(db, "SELECT COUNT(*) FROM captures", 0);
    res->page_loads = owdb_query_int(db, "SELECT COUNT(*) FROM page_loads", 0);
    res->connections = owdb_query_int(db, "SELECT COUNT(*) FROM connections", 0);
    res->websockets = owdb_query_int(db, "SELECT COUNT(*) FROM websockets", 0);
    res->ws_elsewhere = relabelled;
}

static int merge_all(sqlite3 *db, const char *const *inputs, int n, int64_t *relabelled, char *err,
                     size_t errlen)
{
    if (owdb_exec(db,
                  "CREATE TEMP TABLE merge_src(capture_id INTEGER PRIMARY KEY, input_no "
                  "INTEGER NOT NULL)",
                  "merge", err, errlen) < 0)
        return -1;
    for (int i = 0; i < n; i++)
        if (merge_input(db, inputs[i], i, err, errlen) < 0)
            return -1;
    if (owdb_exec(db, "BEGIN", "merge", err, errlen) < 0)
        return -1;
    if (correlate_across(db, relabelled, err, errlen) < 0) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return owdb_exec(db, "COMMIT", "merge", err, errlen);
}

static void remove_output(const char *out)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    char name[4200];
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++)
        if (snprintf(name, sizeof name, "%s%s", out, suffixes[i]) < (int)sizeof name)
            unlink(name);
}

int owdb_merge(const char *out, const char *const *inputs, int n, owdb_merge_result *res, char *err,
               size_t errlen)
{
    owdb_file f;
    int64_t relabelled = 0;
    if (n < 1) {
        snprintf(err, errlen, "nothing to merge: give at least one input database");
        return -1;
    }
    if (check_distinct(out, inputs, n, err, errlen) < 0 ||
        owdb_file_open(out, OWDB_FILE_MUST_CREATE | OWDB_FILE_ATTACH_URI, NULL, &f, err, errlen) <
            0)
        return -1;
    int rc = merge_all(f.db, inputs, n, &relabelled, err, errlen);
    if (rc == 0 && res)
        fill_result(f.db, res, relabelled);
    if (rc == 0) {
        sqlite3_exec(f.db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
        sqlite3_exec(f.db, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL);
    }
    owdb_file_close(&f);
    if (rc < 0)
        remove_output(out); /* a half-merged output is worse than none */
    return rc;
}
