/* query_build: SQL text plus numbered parameters, and the shared page-load filter (see
 * query_build.h). */
#include "db/query_build.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void qb_init(qbuild *q, sqlite3 *db)
{
    q->s = sqlite3_str_new(db);
    q->n = 0;
}

void qb_sql(qbuild *q, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_str_vappendf(q->s, fmt, ap);
    va_end(ap);
}

/* Reserves the next parameter; on overflow the statement is spoiled on purpose (an error). */
static qb_param *next_param(qbuild *q)
{
    if (q->n >= QB_MAX_PARAMS) {
        sqlite3_str_appendall(q->s, " <too many parameters> ");
        return NULL;
    }
    q->n++;
    sqlite3_str_appendf(q->s, "?%d", q->n);
    return &q->p[q->n - 1];
}

void qb_text(qbuild *q, const char *s)
{
    qb_param *p = next_param(q);
    if (p)
        *p = (qb_param){.type = SQLITE_TEXT, .s = s};
}

void qb_real(qbuild *q, double d)
{
    qb_param *p = next_param(q);
    if (p)
        *p = (qb_param){.type = SQLITE_FLOAT, .d = d};
}

void qb_int(qbuild *q, int64_t i)
{
    qb_param *p = next_param(q);
    if (p)
        *p = (qb_param){.type = SQLITE_INTEGER, .i = i};
}

void qb_page_filter(qbuild *q, const query_filter *f, const char *a, bool with_time)
{
    if (with_time && f->has_since) {
        qb_sql(q, " AND %s.started >= ", a);
        qb_real(q, f->since);
    }
    if (with_time && f->has_until) {
        qb_sql(q, " AND %s.started < ", a);
        qb_real(q, f->until);
    }
    if (f->client) {
        qb_sql(q, " AND %s.client = ", a);
        qb_text(q, f->client);
    }
    if (f->app) {
        qb_sql(q, " AND %s.app = ", a);
        qb_text(q, f->app);
    }
    if (f->verdict && strcmp(f->verdict, "none") == 0) {
        qb_sql(q, " AND %s.verdict IS NULL", a);
    } else if (f->verdict) {
        qb_sql(q, " AND %s.verdict = ", a);
        qb_text(q, f->verdict);
    }
    if (f->outcome) {
        qb_sql(q, " AND %s.outcome = ", a);
        qb_text(q, f->outcome);
    }
}

void qb_limit(qbuild *q, const query_filter *f)
{
    if (f->limit > 0) {
        qb_sql(q, " LIMIT ");
        qb_int(q, f->limit);
    }
}

static void bind_all(const qbuild *q, sqlite3_stmt *st)
{
    for (int i = 0; i < q->n; i++) {
        const qb_param *p = &q->p[i];
        if (p->type == SQLITE_TEXT)
            sqlite3_bind_text(st, i + 1, p->s, -1, SQLITE_TRANSIENT);
        else if (p->type == SQLITE_FLOAT)
            sqlite3_bind_double(st, i + 1, p->d);
        else
            sqlite3_bind_int64(st, i + 1, p->i);
    }
}

int qb_prepare(qbuild *q, sqlite3 *db, sqlite3_stmt **out, char *err, size_t errlen)
{
    *out = NULL;
    if (sqlite3_str_errcode(q->s) != SQLITE_OK) {
        sqlite3_free(sqlite3_str_finish(q->s));
        snprintf(err, errlen, "out of memory building a query");
        return -1;
    }
    char *sql = sqlite3_str_finish(q->s);
    int rc = sqlite3_prepare_v2(db, sql, -1, out, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "query failed: %s", sqlite3_errmsg(db));
        sqlite3_finalize(*out);
        *out = NULL;
    } else {
        bind_all(q, *out);
    }
    sqlite3_free(sql);
    return rc == SQLITE_OK ? 0 : -1;
}
