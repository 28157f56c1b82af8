/* query_time: time in the query layer. ISO 8601 output (UTC or local with offset), parsing
 * of absolute and relative --since/--until values, the reference time relative values count
 * back from, and the SQL functions ow_time(), ow_path() and ow_end_reason(). */
#include "db/dbfile.h"
#include "db/query.h"
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

char *query_format_time(double t, bool utc, char *out, size_t outlen)
{
    long long ms = llround(t * 1000.0);
    long long sec = ms / 1000, frac = ms % 1000;
    if (frac < 0) {
        frac += 1000;
        sec--;
    }
    time_t tt = (time_t)sec;
    struct tm tm;
    if (!(utc ? gmtime_r(&tt, &tm) : localtime_r(&tt, &tm))) {
        snprintf(out, outlen, "%.3f", t);
        return out;
    }
    char base[32], zone[8] = "Z";
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!utc) {
        long off = tm.tm_gmtoff, a = labs(off);
        snprintf(zone, sizeof zone, "%c%02ld:%02ld", off < 0 ? '-' : '+', a / 3600 % 100,
                 a / 60 % 60);
    }
    snprintf(out, outlen, "%s.%03lld%s", base, frac, zone);
    return out;
}

static void sql_ow_time(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    bool utc = *(bool *)sqlite3_user_data(ctx);
    char buf[48];
    switch (sqlite3_value_type(argv[0])) {
    case SQLITE_INTEGER:
    case SQLITE_FLOAT:
        query_format_time(sqlite3_value_double(argv[0]), utc, buf, sizeof buf);
        sqlite3_result_text(ctx, buf, -1, SQLITE_TRANSIENT);
        break;
    case SQLITE_NULL:
        sqlite3_result_null(ctx);
        break;
    default:
        sqlite3_result_value(ctx, argv[0]);
    }
}

static void sql_ow_path(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    const char *t = (const char *)sqlite3_value_text(argv[0]);
    if (!t) {
        sqlite3_result_null(ctx);
        return;
    }
    sqlite3_result_text(ctx, t, (int)strcspn(t, "?#"), SQLITE_TRANSIENT);
}

/* ow_end_reason(capture id, end_reason): owdb_end_reason, for SQL. */
static void sql_ow_end_reason(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[1]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    const char *e = owdb_end_reason(sqlite3_context_db_handle(ctx), sqlite3_value_int64(argv[0]),
                                    (const char *)sqlite3_value_text(argv[1]));
    sqlite3_result_text(ctx, e ? e : "", -1, SQLITE_TRANSIENT);
}

int query_register_functions(sqlite3 *db, bool utc)
{
    static bool utc_true = true, utc_false = false;
    int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC;
    if (sqlite3_create_function(db, "ow_time", 1, flags, utc ? &utc_true : &utc_false, sql_ow_time,
                                NULL, NULL) != SQLITE_OK ||
        /* not deterministic: it asks whether the writer is alive now */
        sqlite3_create_function(db, "ow_end_reason", 2, SQLITE_UTF8, NULL, sql_ow_end_reason, NULL,
                                NULL) != SQLITE_OK)
        return -1;
    return sqlite3_create_function(db, "ow_path", 1, flags, NULL, sql_ow_path, NULL, NULL) ==
                   SQLITE_OK
               ? 0
               : -1;
}

double query_reference_time(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    double t = 0;
    const char *sql = "SELECT COALESCE((SELECT MAX(ended) FROM captures), "
                      "(SELECT MAX(started) FROM page_loads))";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        t = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return t > 0 ? t : (double)time(NULL);
}

/* "10m", "1.5h": seconds back from ref. Returns false when s is not of that form. */
static bool parse_relative(const char *s, double ref, double *out)
{
    char *end;
    if (!isdigit((unsigned char)s[0]))
        return false;
    double n = strtod(s, &end);
    static const char units[] = "smhdw";
    static const double secs[] = {1, 60, 3600, 86400, 604800};
    const char *u = *end ? strchr(units, *end) : NULL;
    if (!u || end[1] != 0 || !isfinite(n))
        return false;
    *out = ref - n * secs[u - units];
    return true;
}

/* Reads exactly n digits. */
static bool digits(const char **p, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (!isdigit((unsigned char)**p))
            return false;
        *v = *v * 10 + (**p - '0');
    }
    return true;
}

/* Z, +HH, +HH:MM, +HHMM (or -) into seconds east of UTC. */
static bool parse_offset(const char *p, long *off)
{
    int h = 0, m = 0;
    if (*p == 'Z' || *p == 'z')
        return *off = 0, p[1] == 0;
    if (*p != '+' && *p != '-')
        return false;
    int sign = *p++ == '-' ? -1 : 1;
    if (!digits(&p, 2, &h))
        return false;
    if (*p == ':')
        p++;
    if (*p && !digits(&p, 2, &m))
        return false;
    *off = sign * (h * 3600L + m * 60L);
    return *p == 0 && h < 24 && m < 60;
}

/* 10^-324 rounds to 0: fraction digits past this many add nothing to a double */
#define FRACTION_DIGITS_MAX 323

/* The fraction of a second written after the decimal separator at *pp (any number of digits,
 * none included), leaving *pp after the digits. Digit n is worth 10^-n: the loop counts digits
 * in an int and computes each unit from the count, no float is stepped (cert-flp30-c). */
static double parse_fraction(const char **pp)
{
    const char *p = *pp + 1;
    double frac = 0;
    for (int n = 1; isdigit((unsigned char)*p) && n <= FRACTION_DIGITS_MAX; n++, p++)
        frac += (*p - '0') * pow(10, -n);
    while (isdigit((unsigned char)*p))
        p++;
    *pp = p;
    return frac;
}

/* The clock part after T: HH:MM[:SS[.frac]], leaving p at the zone. */
static bool parse_clock(const char **pp, struct tm *tm, double *frac)
{
    const char *p = *pp;
    if (!digits(&p, 2, &tm->tm_hour) || *p++ != ':' || !digits(&p, 2, &tm->tm_min))
        return false;
    if (*p == ':') {
        p++;
        if (!digits(&p, 2, &tm->tm_sec))
            return false;
        if (*p == '.' || *p == ',')
            *frac = parse_fraction(&p);
    }
    *pp = p;
    return tm->tm_hour < 24 && tm->tm_min < 60 && tm->tm_sec < 61;
}

static bool parse_iso(const char *s, double *out)
{
    struct tm tm = {0};
    double frac = 0;
    long off = 0;
    const char *p = s;
    if (!digits(&p, 4, &tm.tm_year) || *p++ != '-' || !digits(&p, 2, &tm.tm_mon) || *p++ != '-' ||
        !digits(&p, 2, &tm.tm_mday))
        return false;
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31)
        return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    if ((*p == 'T' || *p == 't' || *p == ' ') && !(p++, parse_clock(&p, &tm, &frac)))
        return false;
    bool has_zone = *p != 0;
    if (has_zone && !parse_offset(p, &off))
        return false;
    time_t t;
    if (has_zone) {
        t = timegm(&tm) - off;
    } else {
        tm.tm_isdst = -1;
        t = mktime(&tm);
    }
    *out = (double)t + frac;
    return true;
}

int query_parse_time(const char *s, double ref, double *out, char *err, size_t errlen)
{
    char *end;
    if (s && s[0] == '@') {
        *out = strtod(s + 1, &end);
        if (end != s + 1 && *end == 0 && isfinite(*out))
            return 0;
    } else if (s && (parse_relative(s, ref, out) || parse_iso(s, out))) {
        return 0;
    }
    snprintf(err, errlen,
             "'%s' is not a time: use ISO 8601 (2024-05-01T12:00:00Z, 2024-05-01 14:00+02:00, "
             "local time without an offset), @EPOCH, or a relative time like 90s, 10m, 2h, 1d, 1w",
             s ? s : "");
    return -1;
}
