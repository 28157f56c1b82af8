/* test_db_churn: a database written the way that leaves it loose (part-empty pages), for the
 * packing tests: page loads written out of key order, then rewritten larger after a commit.
 * Also the small helpers those tests share. Header-only. */
#ifndef OW_TEST_DB_CHURN_H
#define OW_TEST_DB_CHURN_H
#include "db/db.h"
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static inline void path_in(char *out, size_t len, const char *dir, const char *name)
{
    if (snprintf(out, len, "%s/%s", dir, name) >= (int)len)
        abort();
}

static inline ino_t inode_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_ino : 0;
}

static inline void emit_page(const ow_record_sink *s, int64_t id, const char *summary)
{
    static ow_addr client, server;
    ow_addr_parse("100.64.0.2", &client);
    ow_addr_parse("100.64.0.1", &server);
    ow_page_rec r = {.id = id,
                     .http_id = 1,
                     .conn_id = 1,
                     .session_id = "sessABC",
                     .client = &client,
                     .server = &server,
                     .client_port = 40001,
                     .server_port = 5006,
                     .path = "/sliders",
                     .app = "/sliders",
                     .started = 1714550400.5 + (double)id,
                     .status = 200,
                     .ttfb = -1,
                     .ttlb = 0.2,
                     .outcome = OW_OUTCOME_ORPHAN,
                     .verdict = OW_VERDICT_CLIENT_GONE,
                     .confidence = 0.9,
                     .summary = summary};
    s->page(s->ctx, &r);
}

/* pages page loads written twice, the second time larger and after a commit, closed with
 * options o. Returns the inode the writer created, 0 on failure. */
static inline ino_t write_churn_pages(const char *path, const owdb_options *o, int64_t pages)
{
    char err[512] = "";
    ow_db *db = owdb_create(path, o, err, sizeof err);
    if (!db) {
        fprintf(stderr, "  owdb_create(%s): %s\n", path, err);
        return 0;
    }
    ino_t created = inode_of(path);
    const ow_record_sink *s = owdb_sink(db);
    for (int round = 0; round < 2; round++) {
        for (int64_t id = 1; id <= pages; id++)
            emit_page(s, (id * 7919) % pages + 1,
                      round ? "a longer summary, written when the page load is decided" : NULL);
        owdb_commit(db);
    }
    owdb_close(db);
    return created;
}

#endif
