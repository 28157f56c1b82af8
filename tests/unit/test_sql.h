/* test_sql: small helpers the database unit tests share: a fresh file with the schema, the first
 * column of the first row of a query as an integer or as text, and a sleep in milliseconds.
 * Header-only (each test is one program). */
#ifndef OW_TEST_SQL_H
#define OW_TEST_SQL_H
#include "db/db.h"
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

/* A new database file /tmp/ow_TAG_PID.db (its path in path) holding the schema, open; NULL
 * when it cannot be made. */
static inline sqlite3 *schema_db(const char *tag, char *path, size_t cap)
{
    sqlite3 *db = NULL;
    snprintf(path, cap, "/tmp/ow_%s_%d.db", tag, (int)getpid());
    unlink(path);
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db, ow_schema_sql, NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

/* The first column of the first row as an integer; -1 without a row. */
static inline int64_t count(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* The text of the first column of the first row (static buffer): "(no row)", "NULL" or it. */
static inline const char *text_of(sqlite3 *db, const char *sql)
{
    static char buf[512];
    sqlite3_stmt *st = NULL;
    snprintf(buf, sizeof buf, "(no row)");
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        snprintf(buf, sizeof buf, "%s",
                 sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "NULL");
    sqlite3_finalize(st);
    return buf;
}

static inline void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

#endif
