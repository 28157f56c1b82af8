/* cmd_export: `orphanwatch export DB --session ID -w OUT.pcap [--source FILE]...` writes the
 * packets of every connection of one page load (the page, its scripts, its websockets) to a
 * pcap that opens in Wireshark. The packets come from the --source files; else from the files
 * the capture kept (--keep-packets: the packet_files rows whose times overlap the
 * connections'); else from the capture files the database was made from (their paths are in
 * the captures row). Several files are merged in time (capture/files.h). */
#include "capture/export.h"
#include "db/db.h"
#include "db/query.h"
#include "ui/commands.h"
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXPORT_MAX_CONNS 256

typedef struct sources {
    char **path; /* owned, as each path */
    size_t n, cap;
    bool in_sequence; /* the capture's files, read one at a time (they do not overlap) */
    size_t listed;    /* the files there were to choose from (n: those chosen) */
} sources;

static void usage(FILE *out)
{
    fprintf(out, "usage: orphanwatch export DB --session ID -w OUT.pcap [--source FILE]...\n"
                 "Writes the packets of one page load's connections (page, scripts,\n"
                 "websockets) as a pcap. ID may be a unique prefix of the session id. The\n"
                 "packets are read from the files the capture kept (--keep-packets), else\n"
                 "from the capture files the database was made from; for a live capture\n"
                 "without kept packets, name pcaps of the same traffic with --source\n"
                 "(repeatable: several files are merged in time).\n");
}

static const char *col_text(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? (const char *)t : "";
}

/* Every connection of the page load: its own, its fetches', its session's websockets'. */
static size_t page_connections(sqlite3 *db, int64_t page_id, ow_conn_key *keys, size_t cap)
{
    sqlite3_stmt *s;
    const char *sql =
        "SELECT client, client_port, server, server_port, first_ts, last_ts FROM connections "
        "WHERE id IN (SELECT connection_id FROM page_loads WHERE id = ?1 "
        "UNION SELECT connection_id FROM http_exchanges WHERE page_load_id = ?1 "
        "UNION SELECT connection_id FROM websockets WHERE page_load_id = ?1 OR session_ref = "
        "(SELECT session_ref FROM page_loads WHERE id = ?1))";
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_int64(s, 1, page_id);
    size_t n = 0;
    while (n < cap && sqlite3_step(s) == SQLITE_ROW) {
        ow_conn_key *k = &keys[n];
        if (!ow_addr_parse(col_text(s, 0), &k->client) ||
            !ow_addr_parse(col_text(s, 2), &k->server))
            continue;
        k->client_port = (uint16_t)sqlite3_column_int(s, 1);
        k->server_port = (uint16_t)sqlite3_column_int(s, 3);
        k->first_ts = sqlite3_column_double(s, 4);
        k->last_ts = sqlite3_column_double(s, 5);
        n++;
    }
    sqlite3_finalize(s);
    return n;
}

/* The captures row's source of a read (one path per line), malloc'd; NULL for a live capture
 * (or out of memory). *in_sequence when its files never overlapped in time (files_open_max). */
static char *capture_source(sqlite3 *db, int64_t page_id, bool *in_sequence)
{
    sqlite3_stmt *s;
    char *source = NULL;
    if (sqlite3_prepare_v2(
            db,
            "SELECT c.source, c.live, json_extract(c.counters, '$.files_open_max') "
            "FROM captures c JOIN page_loads p ON p.capture_id = c.id WHERE p.id = ?",
            -1, &s, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_int64(s, 1, page_id);
    if (sqlite3_step(s) == SQLITE_ROW && !sqlite3_column_int(s, 1)) {
        source = strdup(col_text(s, 0));
        *in_sequence = sqlite3_column_int(s, 2) == 1;
    }
    sqlite3_finalize(s);
    return source;
}

static bool add_source(sources *s, const char *path)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        char **grown = realloc(s->path, cap * sizeof *grown);
        if (!grown)
            return false;
        s->path = grown;
        s->cap = cap;
    }
    if (!(s->path[s->n] = strdup(path)))
        return false;
    s->n++;
    return true;
}

static void free_sources(sources *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->path[i]);
    free(s->path);
    *s = (sources){0};
}

/* Some connection's packets (widened by slack) fall in [first, last]. */
static bool overlaps(const ow_conn_key *k, size_t n, double first, double last, double slack)
{
    for (size_t i = 0; i < n; i++)
        if (last >= k[i].first_ts - slack && first <= k[i].last_ts + slack)
            return true;
    return false;
}

/* A statement over the rows of the page load's capture (sql names it as ?1), bound; NULL when
 * it cannot be prepared (a database without the table). */
static sqlite3_stmt *per_capture(sqlite3 *db, const char *sql, int64_t page_id)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_int64(st, 1, page_id);
    return st;
}

#define PAGE_CAPTURE "capture_id = (SELECT capture_id FROM page_loads WHERE id = ?1)"

/* The kept files (--keep-packets) of the page load's capture that hold packets of its
 * connections, oldest first; *dropped when some were deleted. Returns how many are still
 * there (0 also for a database without the table), -1 when out of memory. */
static int kept_sources(sqlite3 *db, int64_t page_id, const ow_conn_key *k, size_t n, sources *s,
                        bool *dropped)
{
    sqlite3_stmt *st = per_capture(db,
                                   "SELECT file, dropped, first_ts, last_ts FROM packet_files "
                                   "WHERE " PAGE_CAPTURE " ORDER BY first_ts",
                                   page_id);
    if (!st)
        return 0;
    int kept = 0;
    while (kept >= 0 && sqlite3_step(st) == SQLITE_ROW) {
        double first = sqlite3_column_double(st, 2), last = sqlite3_column_double(st, 3);
        if (sqlite3_column_int(st, 1))
            *dropped |= overlaps(k, n, first, last, 0);
        else if (!overlaps(k, n, first, last, OW_EXPORT_SLACK_S))
            continue;
        else if (add_source(s, col_text(st, 0)))
            kept++;
        else
            kept = -1;
    }
    sqlite3_finalize(st);
    return kept;
}

/* Of the capture's files (s, in reading order), only those whose times hold packets of the
 * connections, when the capture_files rows give every file's times (a read that ended; a
 * database from before that table has none: all are kept). */
static void narrow_to_spans(sqlite3 *db, int64_t page_id, const ow_conn_key *k, size_t n,
                            sources *s)
{
    sqlite3_stmt *st =
        per_capture(db,
                    "SELECT seq, first_ts, last_ts, packets FROM capture_files WHERE " PAGE_CAPTURE
                    " ORDER BY seq",
                    page_id);
    if (!st)
        return;
    bool *want = calloc(s->n ? s->n : 1, sizeof *want);
    size_t rows = 0, wanted = 0;
    while (want && sqlite3_step(st) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(st, 0);
        bool has = sqlite3_column_int64(st, 3) > 0 && sqlite3_column_type(st, 1) != SQLITE_NULL &&
                   sqlite3_column_type(st, 2) != SQLITE_NULL;
        if (seq < 0 || (uint64_t)seq >= s->n || (uint64_t)seq != rows++)
            break; /* not the files listed: leave them all */
        want[seq] = has && overlaps(k, n, sqlite3_column_double(st, 1),
                                    sqlite3_column_double(st, 2), OW_EXPORT_SLACK_S);
        wanted += want[seq];
    }
    sqlite3_finalize(st);
    if (want && rows == s->n && wanted > 0) {
        size_t kept = 0;
        for (size_t i = 0; i < s->n; i++) {
            if (want[i])
                s->path[kept++] = s->path[i];
            else
                free(s->path[i]);
        }
        s->n = kept;
    }
    free(want);
}

/* Where the packets come from: --source; else the kept files when they hold all of the page
 * load's; else the capture file (a read) when it is there. 0, or -1 with a message printed. */
static int packet_sources(sqlite3 *db, int64_t page_id, const ow_conn_key *k, size_t n, sources *s)
{
    s->listed = s->n;
    if (s->n > 0) /* --source */
        return 0;
    bool dropped = false;
    int kept = kept_sources(db, page_id, k, n, s, &dropped);
    if (kept < 0)
        fprintf(stderr, "orphanwatch: out of memory listing the kept files\n");
    s->listed = s->n;
    if (kept < 0 || (kept > 0 && !dropped))
        return kept < 0 ? -1 : 0;
    free_sources(s);
    char *files = capture_source(db, page_id, &s->in_sequence); /* one path per line */
    bool readable = files != NULL;
    for (char *path = files ? strtok(files, "\n") : NULL; path; path = strtok(NULL, "\n")) {
        readable &= access(path, R_OK) == 0;
        if (!add_source(s, path)) {
            fprintf(stderr, "orphanwatch: out of memory listing the capture files\n");
            free(files);
            return -1;
        }
    }
    if (!files || (dropped && !readable)) {
        fprintf(stderr, dropped ? "orphanwatch: the kept packets of that page load were deleted "
                                  "(the oldest go first to stay within --keep-packets-size): "
                                  "name a pcap of the same traffic with --source FILE\n"
                                : "orphanwatch: that page load comes from a live capture: name "
                                  "a pcap of the same traffic with --source FILE\n");
        free(files);
        return -1;
    }
    if (dropped)
        fprintf(stderr, "orphanwatch: some of its kept packets were deleted: reading the capture "
                        "files\n");
    free(files);
    s->listed = s->n;
    narrow_to_spans(db, page_id, k, n, s);
    return 0;
}

int cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {{"session", required_argument, 0, 's'},
                                         {"write", required_argument, 0, 'w'},
                                         {"source", required_argument, 0, 'r'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *session = NULL, *out = NULL;
    sources srcs = {0}; /* --source, repeatable */
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "s:w:r:h", opts, NULL)) != -1) {
        if (opt == 's')
            session = optarg;
        else if (opt == 'w')
            out = optarg;
        else if (opt == 'r' && !add_source(&srcs, optarg)) {
            fprintf(stderr, "orphanwatch: out of memory\n");
            free_sources(&srcs);
            return 1;
        } else if (opt != 'r') {
            free_sources(&srcs);
            usage(opt == 'h' ? stdout : stderr);
            return opt == 'h' ? 0 : 2;
        }
    }
    if (optind != argc - 1 || !session || !out) {
        free_sources(&srcs);
        usage(stderr);
        return 2;
    }
    char err[1024];
    sqlite3 *db = owdb_open_readonly(argv[optind], err, sizeof err);
    if (!db) {
        fprintf(stderr, "orphanwatch: %s\n", err);
        free_sources(&srcs);
        return 1;
    }
    int64_t page_id;
    int rc = 1;
    static ow_conn_key keys[EXPORT_MAX_CONNS];
    size_t n = 0;
    if (query_find_page_load(db, session, &page_id, err, sizeof err) != 0) {
        fprintf(stderr, "orphanwatch: %s\n", err);
    } else if ((n = page_connections(db, page_id, keys, EXPORT_MAX_CONNS)) == 0) {
        fprintf(stderr, "orphanwatch: no connections recorded for that page load\n");
    } else if (packet_sources(db, page_id, keys, n, &srcs) == 0) {
        ow_export_files files = {(const char *const *)srcs.path, srcs.n, srcs.in_sequence, 0};
        long w = ow_export_packets(&files, keys, n, out, err, sizeof err);
        if (w < 0)
            fprintf(stderr, "orphanwatch: %s\n", err);
        else
            fprintf(stderr,
                    "orphanwatch: wrote %ld packets of %zu connections to %s (read %d of %zu "
                    "file%s)\n",
                    w, n, out, files.read, srcs.listed, srcs.listed == 1 ? "" : "s");
        rc = w < 0 ? 1 : 0;
    }
    free_sources(&srcs);
    sqlite3_close(db);
    return rc;
}
