/* query_build: assembling a query's SQL text together with its bound values (internal to
 * db/). Values are appended as numbered parameters, so no user text is ever pasted into SQL. */
#ifndef OW_QUERY_BUILD_H
#define OW_QUERY_BUILD_H
#include "db/query.h"
#include <sqlite3.h>

#define QB_MAX_PARAMS 16

typedef struct qb_param {
    int type; /* SQLITE_TEXT, SQLITE_FLOAT, SQLITE_INTEGER */
    const char *s;
    double d;
    int64_t i;
} qb_param;

typedef struct qbuild {
    sqlite3_str *s;
    qb_param p[QB_MAX_PARAMS];
    int n;
} qbuild;

void qb_init(qbuild *q, sqlite3 *db);
/* Appends SQL text (sqlite3_str_appendf formats: %s, %Q, %w, %d, %lld). */
void qb_sql(qbuild *q, const char *fmt, ...);
void qb_text(qbuild *q, const char *s);
void qb_real(qbuild *q, double d);
void qb_int(qbuild *q, int64_t i);
/* " AND a.col ..." for every page-load filter that is set (a: alias of page_loads). */
void qb_page_filter(qbuild *q, const query_filter *f, const char *a, bool with_time);
/* " LIMIT n" when the filter is limited. */
void qb_limit(qbuild *q, const query_filter *f);
/* Prepares the text with its values bound; frees the builder. 0, or -1 with err. */
int qb_prepare(qbuild *q, sqlite3 *db, sqlite3_stmt **out, char *err, size_t errlen);

/* The timeline statement of one page load. */
int query_prepare_timeline(sqlite3 *db, int64_t page_id, sqlite3_stmt **out, char *err,
                           size_t errlen);

#endif
