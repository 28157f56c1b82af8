/* cmd_query: `orphanwatch query DB QUERY [ARG] [options]`, the canned queries of db/query.h
 * printed in any output format of ui/format.h. Options may come before or after the
 * positional arguments. */
#include "db/db.h"
#include "db/query.h"
#include "ui/commands.h"
#include "ui/format.h"
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: orphanwatch query DB QUERY [ARG] [options]\n"
            "\n"
            "queries:\n"
            "  orphans             page loads whose websocket never came (outcome orphan)\n"
            "  pageloads           every page load\n"
            "  sessions            Bokeh sessions (from pages, websockets or both)\n"
            "  clients             per client address: page loads, orphans, orphan rate,\n"
            "                      dominant verdict\n"
            "  verdicts            page loads per verdict, then per verdict, client and the\n"
            "                      resource it points at (\"3 of 10 page loads from ... stalled on "
            "...\")\n"
            "  stats               capture rows (packets, drops, counters) and page loads by\n"
            "                      outcome and verdict\n"
            "  timeline SESSION    every event of one page load in time order; SESSION is a\n"
            "                      session id or a unique prefix of one\n"
            "  connections         TCP connections and their health; needs --client ADDR\n"
            "\n"
            "filters (page loads; sessions by first time seen; connections by first packet):\n"
            "  --since TIME        started at or after TIME\n"
            "  --until TIME        started before TIME\n"
            "      TIME is ISO 8601 (2024-05-01T12:00:00Z, 2024-05-01 14:00+02:00; without an\n"
            "      offset it is local time), @EPOCH, or relative: 90s, 10m, 2h, 1d, 1w before\n"
            "      the capture's last packet time (the newest capture's end), not before now\n"
            "  --client ADDR       one client address (IPv4 or IPv6)\n"
            "  --app APP           one Bokeh app, as stored: the page path without its query\n"
            "                      (e.g. /sliders)\n"
            "  --verdict NAME      one verdict, or 'none' for page loads without one\n"
            "  --outcome NAME      pending, connected, ws_refused, ws_no_doc, orphan, undecided\n"
            "                      (sessions also: websocket_only)\n"
            "  --limit N           the N most recent rows, printed in time order (default %d;\n"
            "                      0: all); verdicts, clients: the first N rows\n"
            "\n"
            "output:\n"
            "  -f, --format FMT    table (default), csv, json or jsonl\n"
            "  --utc               times in UTC (Z); default: local time with its offset\n"
            "  --width N           table line width (default: the terminal's, 80 when not a\n"
            "                      terminal; 0: never cut)\n"
            "  -h, --help          this help\n"
            "\n"
            "Columns and formats are described in docs/query.md.\n",
            QUERY_DEFAULT_LIMIT);
}

typedef struct query_args {
    const char *db, *kind, *arg;
    const char *since, *until;
    query_filter filter;
    format_opts out;
    bool utc;
} query_args;

enum {
    OPT_SINCE = 256,
    OPT_UNTIL,
    OPT_CLIENT,
    OPT_APP,
    OPT_VERDICT,
    OPT_OUTCOME,
    OPT_LIMIT,
    OPT_UTC,
    OPT_WIDTH
};

static bool parse_long(const char *s, long lo, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v == LONG_MAX)
        return false;
    *out = v;
    return true;
}

/* One option; 0, or 2 for a usage error (message printed). */
static int take_option(query_args *a, int c, const char *val)
{
    long n;
    switch (c) {
    case OPT_SINCE:
        a->since = val;
        return 0;
    case OPT_UNTIL:
        a->until = val;
        return 0;
    case OPT_CLIENT:
        a->filter.client = val;
        return 0;
    case OPT_APP:
        a->filter.app = val;
        return 0;
    case OPT_VERDICT:
        a->filter.verdict = val;
        return 0;
    case OPT_OUTCOME:
        a->filter.outcome = val;
        return 0;
    case OPT_UTC:
        a->utc = true;
        return 0;
    case OPT_LIMIT:
        if (parse_long(val, 0, &n)) {
            a->filter.limit = n;
            return 0;
        }
        fprintf(stderr, "orphanwatch query: --limit wants a number >= 0, not '%s'\n", val);
        return 2;
    case OPT_WIDTH:
        if (parse_long(val, 0, &n) && n <= INT_MAX) {
            a->out.width = n == 0 ? -1 : (int)n;
            return 0;
        }
        fprintf(stderr, "orphanwatch query: --width wants a number >= 0, not '%s'\n", val);
        return 2;
    case 'f':
        if (format_from_name(val, &a->out.format) == 0)
            return 0;
        fprintf(stderr, "orphanwatch query: unknown format '%s' (table, csv, json, jsonl)\n", val);
        return 2;
    default:
        fprintf(stderr, "Try 'orphanwatch query --help'.\n");
        return 2;
    }
}

/* Parses argv; returns -1 to go on, or the exit code (help, usage error). */
static int parse_args(query_args *a, int argc, char **argv)
{
    static const struct option opts[] = {{"since", required_argument, NULL, OPT_SINCE},
                                         {"until", required_argument, NULL, OPT_UNTIL},
                                         {"client", required_argument, NULL, OPT_CLIENT},
                                         {"app", required_argument, NULL, OPT_APP},
                                         {"verdict", required_argument, NULL, OPT_VERDICT},
                                         {"outcome", required_argument, NULL, OPT_OUTCOME},
                                         {"limit", required_argument, NULL, OPT_LIMIT},
                                         {"utc", no_argument, NULL, OPT_UTC},
                                         {"width", required_argument, NULL, OPT_WIDTH},
                                         {"format", required_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c, rc;
    optind = 0; /* full re-initialisation (glibc), whatever parsed argv before */
    while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 0;
        }
        if ((rc = take_option(a, c, optarg)) != 0)
            return rc;
    }
    int npos = argc - optind;
    if (npos < 2 || npos > 3) {
        usage(stderr);
        return 2;
    }
    a->db = argv[optind];
    a->kind = argv[optind + 1];
    a->arg = npos == 3 ? argv[optind + 2] : NULL;
    return -1;
}

/* Checks the query name, its argument and the filters; resolves the times. 0 or exit code. */
static int resolve(query_args *a, sqlite3 *db, char *client_buf, size_t buflen, query_kind *k)
{
    char err[512];
    int kind = query_kind_from_name(a->kind);
    if (kind < 0) {
        fprintf(stderr, "orphanwatch query: unknown query '%s' (try --help)\n", a->kind);
        return 2;
    }
    *k = (query_kind)kind;
    if ((kind == QUERY_TIMELINE) != (a->arg != NULL)) {
        fprintf(stderr, "orphanwatch query: %s\n",
                kind == QUERY_TIMELINE ? "timeline needs a session id (or a unique prefix)"
                                       : "this query takes no argument besides the options");
        return 2;
    }
    double ref = query_reference_time(db);
    if ((a->since && query_parse_time(a->since, ref, &a->filter.since, err, sizeof err) < 0) ||
        (a->until && query_parse_time(a->until, ref, &a->filter.until, err, sizeof err) < 0) ||
        query_filter_check(&a->filter, client_buf, buflen, err, sizeof err) < 0) {
        fprintf(stderr, "orphanwatch query: %s\n", err);
        return 2;
    }
    a->filter.has_since = a->since != NULL;
    a->filter.has_until = a->until != NULL;
    return 0;
}

static int run_query(query_args *a, sqlite3 *db)
{
    char client[64], err[2048];
    query_kind k;
    sqlite3_stmt *st = NULL;
    int rc = resolve(a, db, client, sizeof client, &k);
    if (rc != 0)
        return rc;
    if (query_register_functions(db, a->utc) < 0 ||
        query_prepare(db, k, &a->filter, a->arg, &st, err, sizeof err) < 0) {
        fprintf(stderr, "orphanwatch query: %s\n", err);
        return k == QUERY_CONNECTIONS && !a->filter.client ? 2 : 1;
    }
    a->out.limit = k == QUERY_TIMELINE || k == QUERY_STATS ? 0 : a->filter.limit;
    long n = format_stmt(st, stdout, &a->out, err, sizeof err);
    sqlite3_finalize(st);
    if (n < 0) {
        fprintf(stderr, "orphanwatch query: %s\n", err);
        return 1;
    }
    return 0;
}

int cmd_query(int argc, char **argv)
{
    query_args a = {0};
    char err[512];
    format_opts_init(&a.out, stdout);
    a.filter.limit = QUERY_DEFAULT_LIMIT;
    int rc = parse_args(&a, argc, argv);
    if (rc >= 0)
        return rc;
    sqlite3 *db = owdb_open_readonly(a.db, err, sizeof err);
    if (!db) {
        fprintf(stderr, "orphanwatch query: %s\n", err);
        return 1;
    }
    rc = run_query(&a, db);
    sqlite3_close(db);
    return rc;
}
