/* query: the canned questions asked of an orphanwatch database (orphans, sessions, page
 * loads, clients, verdicts, stats, the timeline of one page load, connections), each a
 * prepared read-only statement with the shared filters bound. Output formatting is ui/'s job;
 * every statement yields plain rows (times already ISO 8601 text through ow_time()). */
#ifndef OW_QUERY_H
#define OW_QUERY_H
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QUERY_DEFAULT_LIMIT  1000
#define QUERY_MAX_CANDIDATES 10 /* ambiguous session prefix: candidates listed */

/* SQL select-list terms giving the interned texts of a page_loads row named t (schema
 * "*_ref" columns): its session_id and user_agent. */
#define QUERY_PAGE_TEXTS(t)                                                                        \
    "(SELECT session_id FROM sessions WHERE id = " t ".session_ref) AS session_id, "               \
    "(SELECT user_agent FROM user_agents WHERE id = " t ".ua_ref) AS user_agent"

typedef struct query_filter {
    bool has_since, has_until;
    double since, until; /* epoch seconds: started >= since, started < until */
    const char *client;  /* client address (normalized by query_filter_check) */
    const char *app;     /* app name, e.g. "sliders" */
    const char *verdict; /* verdict name, or "none" for page loads without a verdict */
    const char *outcome; /* outcome name (sessions also take "websocket_only") */
    long limit;          /* 0: no limit; else the most recent `limit` rows, shown in time order */
} query_filter;

typedef enum query_kind {
    QUERY_ORPHANS,
    QUERY_SESSIONS,
    QUERY_PAGELOADS,
    QUERY_CLIENTS,
    QUERY_VERDICTS,
    QUERY_STATS,
    QUERY_TIMELINE,
    QUERY_CONNECTIONS,
    QUERY_COUNT
} query_kind;

/* "orphans", "sessions", ...; -1 for an unknown name. */
int query_kind_from_name(const char *name);
const char *query_kind_name(query_kind k);

/* Registers the SQL functions the queries use, for this connection:
 *   ow_time(epoch)  ISO 8601 text with milliseconds: UTC with Z, or local time with its
 *                   offset (+02:00); NULL stays NULL, text passes through.
 *   ow_path(target) the target without its query string.
 *   ow_end_reason(id, end_reason)  the capture's end reason as readers show it: 'killed'
 *                   for a 'running' row whose writer is gone (owdb_end_reason). */
int query_register_functions(sqlite3 *db, bool utc);
/* ISO 8601 form of an epoch time (as ow_time). Returns out. */
char *query_format_time(double t, bool utc, char *out, size_t outlen);

/* The time relative --since/--until count back from: the newest capture's last packet
 * (captures.ended), else the newest page load, else now. */
double query_reference_time(sqlite3 *db);
/* Parses an absolute ISO 8601 time (2024-05-01, 2024-05-01T12:00[:05[.250]] with Z, +02:00,
 * +0200 or no offset = local time; a space may replace T), @EPOCH, or a relative time N[.N]
 * followed by s, m, h, d or w, counted back from ref. 0, or -1 with a message in err. */
int query_parse_time(const char *s, double ref, double *out, char *err, size_t errlen);

/* Checks the filter's names (verdict, outcome) and rewrites the client address in its
 * canonical text form (IPv6 per RFC 5952) into client_buf. 0, or -1 with err. */
int query_filter_check(query_filter *f, char *client_buf, size_t buflen, char *err, size_t errlen);

/* Prepares query k (arg: the session id prefix for the timeline, else unused). The rows of
 * each query are documented in docs/query.md. 0, or -1 with err. */
int query_prepare(sqlite3 *db, query_kind k, const query_filter *f, const char *arg,
                  sqlite3_stmt **out, char *err, size_t errlen);
/* Prepares "SELECT columns FROM page_loads p WHERE <filter>" in time order (the most recent
 * f->limit rows when limited); columns may use the alias p. 0, or -1 with err. */
int query_prepare_page_loads(sqlite3 *db, const char *columns, const query_filter *f,
                             sqlite3_stmt **out, char *err, size_t errlen);

/* The page load whose session id starts with prefix (the latest one if the session has
 * several). An unknown or ambiguous prefix gives -1 and a message listing the candidates. */
int query_find_page_load(sqlite3 *db, const char *prefix, int64_t *page_id, char *err,
                         size_t errlen);

#endif
