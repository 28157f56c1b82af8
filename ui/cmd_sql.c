/* cmd_sql: `orphanwatch sql DB "SELECT ..."`, read-only SQL on a database. The file is opened
 * read-only with PRAGMA query_only, and a statement that would write is refused before it
 * runs. Rows print in the formats of ui/format.h; ow_time() and ow_path() are available. */
#include "db/db.h"
#include "db/query.h"
#include "ui/commands.h"
#include "ui/format.h"
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READ_ONLY_MSG "the database is opened read-only"

static void usage(FILE *out)
{
    fprintf(out, "usage: orphanwatch sql DB \"SELECT ...\" [options]\n"
                 "\n"
                 "Runs read-only SQL (several statements may be separated by ';'). The tables are\n"
                 "described in docs/schema.md. Extra SQL functions: ow_time(epoch) gives ISO 8601\n"
                 "text, ow_path(target) drops a query string.\n"
                 "\n"
                 "  -f, --format FMT    table (default), csv, json or jsonl\n"
                 "  --utc               ow_time() in UTC (Z); default: local time with its offset\n"
                 "  --width N           table line width (default: the terminal's; 0: never cut)\n"
                 "  -h, --help          this help\n");
}

typedef struct sql_args {
    const char *db, *sql;
    format_opts out;
    bool utc;
} sql_args;

enum { OPT_UTC = 256, OPT_WIDTH };

static int take_option(sql_args *a, int c, const char *val)
{
    char *end;
    long n;
    switch (c) {
    case OPT_UTC:
        a->utc = true;
        return 0;
    case OPT_WIDTH:
        n = strtol(val, &end, 10);
        if (*val && !*end && n >= 0 && n <= INT_MAX) {
            a->out.width = n == 0 ? -1 : (int)n;
            return 0;
        }
        fprintf(stderr, "orphanwatch sql: --width wants a number >= 0, not '%s'\n", val);
        return 2;
    case 'f':
        if (format_from_name(val, &a->out.format) == 0)
            return 0;
        fprintf(stderr, "orphanwatch sql: unknown format '%s' (table, csv, json, jsonl)\n", val);
        return 2;
    default:
        fprintf(stderr, "Try 'orphanwatch sql --help'.\n");
        return 2;
    }
}

static int parse_args(sql_args *a, int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                         {"utc", no_argument, NULL, OPT_UTC},
                                         {"width", required_argument, NULL, OPT_WIDTH},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c, rc;
    optind = 0;
    while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 0;
        }
        if ((rc = take_option(a, c, optarg)) != 0)
            return rc;
    }
    if (argc - optind != 2) {
        usage(stderr);
        return 2;
    }
    a->db = argv[optind];
    a->sql = argv[optind + 1];
    return -1;
}

/* Runs one prepared statement; 0 or 1. */
static int run_statement(sqlite3_stmt *st, const format_opts *out)
{
    char err[1024];
    if (!sqlite3_stmt_readonly(st)) {
        fprintf(stderr, "orphanwatch sql: " READ_ONLY_MSG ": this statement would change it: %s\n",
                sqlite3_sql(st));
        return 1;
    }
    if (sqlite3_column_count(st) == 0) { /* e.g. a PRAGMA that returns nothing */
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE || rc == SQLITE_ROW)
            return 0;
        fprintf(stderr, "orphanwatch sql: %s\n", sqlite3_errmsg(sqlite3_db_handle(st)));
        return 1;
    }
    if (format_stmt(st, stdout, out, err, sizeof err) >= 0)
        return 0;
    bool ro = (sqlite3_errcode(sqlite3_db_handle(st)) & 0xff) == SQLITE_READONLY;
    fprintf(stderr, "orphanwatch sql: %s%s\n", ro ? READ_ONLY_MSG ": " : "", err);
    return 1;
}

static int run_sql(sqlite3 *db, const char *sql, const format_opts *out)
{
    const char *tail = sql;
    int rc = 0;
    while (rc == 0 && tail && *tail) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, tail, -1, &st, &tail) != SQLITE_OK) {
            fprintf(stderr, "orphanwatch sql: %s\n", sqlite3_errmsg(db));
            return 1;
        }
        if (st) /* NULL for whitespace or a comment */
            rc = run_statement(st, out);
        sqlite3_finalize(st);
    }
    return rc;
}

int cmd_sql(int argc, char **argv)
{
    sql_args a = {0};
    char err[512];
    format_opts_init(&a.out, stdout);
    int rc = parse_args(&a, argc, argv);
    if (rc >= 0)
        return rc;
    sqlite3 *db = owdb_open_readonly(a.db, err, sizeof err);
    if (!db) {
        fprintf(stderr, "orphanwatch sql: %s\n", err);
        return 1;
    }
    if (query_register_functions(db, a.utc) < 0) {
        fprintf(stderr, "orphanwatch sql: %s\n", sqlite3_errmsg(db));
        sqlite3_close(db);
        return 1;
    }
    rc = run_sql(db, a.sql, &a.out);
    sqlite3_close(db);
    return rc;
}
