/* writer: the SQLite record sink. Every record becomes one row (INSERT OR REPLACE keyed by its
 * id, or INSERT ... ON CONFLICT DO UPDATE for tables without triggers; the tables with
 * triggers through a stage, see owdb_staged; the id shifted past the
 * rows an earlier capture left in the file), written through prepared
 * statements inside one open transaction that is committed every commit interval of wall-clock
 * time and at close. Three parts: this file opens the file, prepares the statements and
 * closes; writer_rows.c holds each record as a row (packet thread); writer_flush.c writes the
 * held rows (writing thread). */
#include "db/writer_priv.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Text stored once (db/schema.sql, "*_ref" columns): an insert writes the column as the id of
 * the text's row, found by the parameter the text is bound to; the writing thread makes sure
 * that row exists first (the stub statement). */
const owdb_interned_text owdb_interned[INTERN_COUNT] = {
    [INTERN_SESSION] = {"session_ref", ":session_id",
                        "(SELECT id FROM sessions WHERE session_id = :session_id)",
                        ST_SESSION_STUB},
    [INTERN_UA] = {"ua_ref", ":user_agent",
                   "(SELECT id FROM user_agents WHERE user_agent = :user_agent)", ST_UA_STUB},
};

/* ---- setup ---- */

static int interned_column(const char *name)
{
    for (int k = 0; k < INTERN_COUNT; k++)
        if (strcmp(name, owdb_interned[k].column) == 0)
            return k;
    return -1;
}

/* How a table's rows are written (insert_sql). */
enum insert_kind {
    INSERT_REPLACE, /* INSERT OR REPLACE */
    INSERT_UPSERT,  /* INSERT ... ON CONFLICT(id) DO UPDATE */
    INSERT_STAGE    /* INSERT into the table's stage (owdb_staged) */
};

/* "INSERT OR REPLACE INTO t(c1, ...) VALUES(:c1, ...)" over every column of the table; an
 * interned column's value is its text's id. With upsert (a table keyed by "id" alone, without
 * triggers, whose NOT NULL columns have no default), the same row is written as "INSERT ...
 * ON CONFLICT(id) DO UPDATE SET" every other column: the same stored row, but SQLite needs no
 * statement journal for it (INSERT OR REPLACE deletes the old row's index entries and may then
 * abort on a NOT NULL column, so it copies every page it touches into one, for every row).
 * Staged, the row goes to temp."stage_t" (same columns, no constraints or triggers). */
static char *insert_sql(sqlite3 *db, const char *table, enum insert_kind kind)
{
    char sql[128];
    sqlite3_stmt *st = NULL;
    snprintf(sql, sizeof sql, "PRAGMA main.table_info(\"%s\")", table);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_str *cols = sqlite3_str_new(db), *vals = sqlite3_str_new(db),
                *set = sqlite3_str_new(db);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 1);
        int k = interned_column(name);
        sqlite3_str_appendf(cols, "%s\"%w\"", sqlite3_str_length(cols) ? ", " : "", name);
        if (strcmp(name, "id") != 0)
            sqlite3_str_appendf(set, "%s\"%w\" = excluded.\"%w\"",
                                sqlite3_str_length(set) ? ", " : "", name, name);
        if (k >= 0)
            sqlite3_str_appendf(vals, "%s%s", sqlite3_str_length(vals) ? ", " : "",
                                owdb_interned[k].expr);
        else
            sqlite3_str_appendf(vals, "%s:%s", sqlite3_str_length(vals) ? ", " : "", name);
    }
    sqlite3_finalize(st);
    char *c = sqlite3_str_finish(cols), *v = sqlite3_str_finish(vals), *u = sqlite3_str_finish(set);
    char *out = NULL;
    if (c && v && u && kind == INSERT_UPSERT)
        out = sqlite3_mprintf("INSERT INTO \"%w\"(%s) VALUES(%s) ON CONFLICT(id) DO UPDATE SET %s",
                              table, c, v, u);
    else if (c && v && kind == INSERT_STAGE)
        out = sqlite3_mprintf("INSERT INTO temp.\"stage_%w\"(%s) VALUES(%s)", table, c, v);
    else if (c && v)
        out = sqlite3_mprintf("INSERT OR REPLACE INTO \"%w\"(%s) VALUES(%s)", table, c, v);
    sqlite3_free(c);
    sqlite3_free(v);
    sqlite3_free(u);
    return out;
}

/* Keeps the statement's parameter names, so rows are bound by name without asking SQLite
 * (whose connection the writing thread may be using). */
static int copy_param_names(ow_db *db, enum stmt_id id, char *err, size_t errlen)
{
    int n = sqlite3_bind_parameter_count(db->st[id]);
    param_names *p = &db->params[id];
    if (!(p->name = calloc(n > 0 ? (size_t)n : 1, sizeof *p->name))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    p->n = n;
    for (int i = 0; i < n; i++) {
        const char *name = sqlite3_bind_parameter_name(db->st[id], i + 1);
        if (name && !(p->name[i] = strdup(name))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    return 0;
}

static int prepare_insert(ow_db *db, enum stmt_id id, const char *table, enum insert_kind kind,
                          char *err, size_t errlen)
{
    char *sql = insert_sql(db->file.db, table, kind);
    int rc =
        sql ? sqlite3_prepare_v3(db->file.db, sql, -1, SQLITE_PREPARE_PERSISTENT, &db->st[id], NULL)
            : SQLITE_NOMEM;
    sqlite3_free(sql);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s: preparing the %s insert: %s", db->path, table,
                 sqlite3_errmsg(db->file.db));
        return -1;
    }
    for (int k = 0; k < INTERN_COUNT; k++)
        db->intern_param[id][k] = sqlite3_bind_parameter_index(db->st[id], owdb_interned[k].param);
    return copy_param_names(db, id, err, errlen);
}

/* A Bokeh message; a reply names the stored request it answers by id, not by its msgid. The
 * request is found by a scalar subquery (written twice: reply_to, and reqid kept only when
 * no request is stored), run only for a message with a reqid: an INSERT ... SELECT reading its
 * own table would make SQLite copy the result into a temporary table for every row. Written
 * again, a message's row is updated in place (ON CONFLICT: no statement journal, see
 * insert_sql). */
#define BOKEH_REQUEST                                                                              \
    "(SELECT id FROM bokeh_messages WHERE websocket_id = :websocket_id AND id < :id AND "          \
    "msgid = :reqid ORDER BY id DESC LIMIT 1)"
static const char bokeh_insert_sql[] =
    "INSERT INTO bokeh_messages(id, websocket_id, ts, dir, msgtype, msgid, reply_to, "
    "reqid, size, num_buffers) VALUES(:id, :websocket_id, :ts, :dir, :msgtype, "
    ":msgid, iif(:reqid IS NULL, NULL, " BOKEH_REQUEST "), iif(:reqid IS NULL OR " BOKEH_REQUEST
    " IS NULL, :reqid, NULL), :size, :num_buffers) "
    "ON CONFLICT(websocket_id, id) DO UPDATE SET ts = excluded.ts, dir = excluded.dir, "
    "msgtype = excluded.msgtype, msgid = excluded.msgid, reply_to = excluded.reply_to, "
    "reqid = excluded.reqid, size = excluded.size, num_buffers = excluded.num_buffers";

/* The session's row, updated in place so that it keeps its id. */
static const char session_upsert_sql[] =
    "INSERT INTO sessions(session_id, first_ts, last_ts, page_loads, websockets, token_expiry, "
    "outcome) VALUES(:session_id, :first_ts, :last_ts, :page_loads, :websockets, :token_expiry, "
    ":outcome) ON CONFLICT(session_id) DO UPDATE SET first_ts = excluded.first_ts, "
    "last_ts = excluded.last_ts, page_loads = excluded.page_loads, "
    "websockets = excluded.websockets, token_expiry = excluded.token_expiry, "
    "outcome = excluded.outcome";

static int prepare_sql(ow_db *db, enum stmt_id id, const char *sql, char *err, size_t errlen)
{
    if (sqlite3_prepare_v3(db->file.db, sql, -1, SQLITE_PREPARE_PERSISTENT, &db->st[id], NULL) ==
        SQLITE_OK)
        return copy_param_names(db, id, err, errlen);
    snprintf(err, errlen, "%s: %s", db->path, sqlite3_errmsg(db->file.db));
    return -1;
}

const staged_table owdb_staged[STAGED_COUNT] = {
    {ST_HTTP, ST_HTTP_MOVE, ST_HTTP_CLEAR, "http_exchanges"},
    {ST_PAGE, ST_PAGE_MOVE, ST_PAGE_CLEAR, "page_loads"}};

/* A staged table's stage (made empty, with the table's columns), the insert into it, and the
 * statements that move its rows into the file and empty it. */
static int prepare_staged(ow_db *db, const staged_table *t, char *err, size_t errlen)
{
    char *make = sqlite3_mprintf("DROP TABLE IF EXISTS temp.\"stage_%w\"; CREATE TEMP TABLE "
                                 "\"stage_%w\" AS SELECT * FROM main.\"%w\" WHERE 0",
                                 t->table, t->table, t->table);
    char *move = sqlite3_mprintf("INSERT OR REPLACE INTO main.\"%w\" SELECT * FROM "
                                 "temp.\"stage_%w\" ORDER BY rowid",
                                 t->table, t->table);
    char *clear = sqlite3_mprintf("DELETE FROM temp.\"stage_%w\"", t->table);
    int rc = make && move && clear ? 0 : -1;
    if (rc < 0)
        snprintf(err, errlen, "out of memory");
    else
        rc = owdb_exec(db->file.db, make, db->path, err, errlen) < 0 ||
                     prepare_insert(db, t->row, t->table, INSERT_STAGE, err, errlen) < 0 ||
                     prepare_sql(db, t->move, move, err, errlen) < 0 ||
                     prepare_sql(db, t->clear, clear, err, errlen) < 0
                 ? -1
                 : 0;
    sqlite3_free(make);
    sqlite3_free(move);
    sqlite3_free(clear);
    return rc;
}

static int prepare_all(ow_db *db, char *err, size_t errlen)
{
    static const struct {
        enum stmt_id id;
        const char *table;
        enum insert_kind kind;
    } inserts[] = {{ST_CAPTURE, "captures", INSERT_REPLACE},
                   {ST_CONN, "connections", INSERT_UPSERT},
                   {ST_WS, "websockets", INSERT_UPSERT},
                   {ST_EVIDENCE, "evidence", INSERT_REPLACE},
                   {ST_PACKET_FILE, "packet_files", INSERT_REPLACE},
                   {ST_CAPTURE_FILE, "capture_files", INSERT_REPLACE}};
    for (size_t i = 0; i < sizeof inserts / sizeof *inserts; i++)
        if (prepare_insert(db, inserts[i].id, inserts[i].table, inserts[i].kind, err, errlen) < 0)
            return -1;
    for (int k = 0; k < STAGED_COUNT; k++)
        if (prepare_staged(db, &owdb_staged[k], err, errlen) < 0)
            return -1;
    if (prepare_sql(db, ST_SESSION, session_upsert_sql, err, errlen) < 0 ||
        prepare_sql(db, ST_BOKEH, bokeh_insert_sql, err, errlen) < 0 ||
        prepare_sql(db, ST_SESSION_STUB,
                    "INSERT INTO sessions(session_id) VALUES(?1) ON CONFLICT DO NOTHING", err,
                    errlen) < 0 ||
        prepare_sql(db, ST_UA_STUB,
                    "INSERT INTO user_agents(user_agent) VALUES(?1) ON CONFLICT DO NOTHING", err,
                    errlen) < 0)
        return -1;
    if (prepare_sql(db, ST_EVIDENCE_DEL, "DELETE FROM evidence WHERE page_load_id = :page_load_id",
                    err, errlen) < 0 ||
        prepare_sql(db, ST_BOKEH_COUNT,
                    "SELECT COUNT(*) FROM (SELECT 1 FROM bokeh_messages WHERE websocket_id = ?1 "
                    "LIMIT ?2)",
                    err, errlen) < 0)
        return -1;
    return prepare_sql(
        db, ST_BOKEH_ROOM,
        "SELECT EXISTS(SELECT 1 FROM bokeh_messages WHERE websocket_id = ?1 AND id = ?2) OR "
        "(SELECT COUNT(*) FROM (SELECT 1 FROM bokeh_messages WHERE websocket_id = ?1 "
        "LIMIT ?3)) < ?3",
        err, errlen);
}

static int64_t max_id(sqlite3 *db, const char *table)
{
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT MAX(id) FROM %s", table);
    return owdb_query_int(db, sql, 0);
}

/* The new capture's row, committed at once so readers see the run from its start. Rows an
 * earlier writer left 'running' lost that writer (we hold the writer lock): they say 'killed'
 * from now on, as readers already showed them (owdb_end_reason). */
static int start_capture(ow_db *db, char *err, size_t errlen)
{
    sqlite3 *s = db->file.db;
    if (db->file.locked &&
        owdb_exec(s, "UPDATE captures SET end_reason = 'killed' WHERE end_reason = 'running'",
                  db->path, err, errlen) < 0)
        return -1;
    db->capture_id = max_id(s, "captures") + 1;
    db->off =
        (id_offsets){max_id(s, "connections"), max_id(s, "http_exchanges"), max_id(s, "websockets"),
                     max_id(s, "bokeh_messages"), max_id(s, "page_loads")};
    char *sql = sqlite3_mprintf("INSERT INTO captures(id, source, live, end_reason, tool_version) "
                                "VALUES(%lld, '', 0, 'running', %Q)",
                                (long long)db->capture_id, OW_VERSION);
    int rc = owdb_exec(s, sql, db->path, err, errlen);
    sqlite3_free(sql);
    return rc;
}

/* A packed copy a killed packing left beside the file goes (or, not ours, is named): it
 * would otherwise stay, as large as the file, and keep the next packing in place. */
static void remove_stale_compact(ow_db *db)
{
    char msg[4400];
    if (owdb_file_remove_stale_compact(&db->file, msg, sizeof msg) != 0)
        fprintf(stderr, "orphanwatch: %s\n", msg);
}

static void apply_defaults(owdb_options *o, const owdb_options *in)
{
    memset(o, 0, sizeof *o);
    if (in)
        *o = *in;
    if (o->commit_interval_ms <= 0)
        o->commit_interval_ms = OWDB_DEFAULT_COMMIT_INTERVAL_MS;
    if (o->max_bokeh_msgs_per_ws == 0)
        o->max_bokeh_msgs_per_ws = OWDB_DEFAULT_MAX_BOKEH_MSGS;
    if ((uint64_t)o->max_bokeh_msgs_per_ws > (uint64_t)INT64_MAX)
        o->max_bokeh_msgs_per_ws = (size_t)INT64_MAX;
    if (o->busy_timeout_ms <= 0)
        o->busy_timeout_ms = OWDB_DEFAULT_BUSY_TIMEOUT_MS;
}

ow_db *owdb_create(const char *path, const owdb_options *o, char *err, size_t errlen)
{
    ow_db *db = calloc(1, sizeof *db);
    if (!db || !(db->path = strdup(path ? path : ""))) {
        snprintf(err, errlen, "out of memory");
        free(db);
        return NULL;
    }
    apply_defaults(&db->opt, o);
    batch_worker_init(&db->worker, owdb_write_batch, db);
    if (owdb_file_open(path, 0, &db->opt, &db->file, err, errlen) < 0) {
        batch_worker_stop(&db->worker);
        free(db->path);
        free(db);
        return NULL;
    }
    remove_stale_compact(db);
    if (start_capture(db, err, errlen) < 0 || prepare_all(db, err, errlen) < 0) {
        owdb_close(db);
        return NULL;
    }
    owdb_init_sink(db);
    db->last_commit = owdb_mono_now();
    db->next_commit = db->last_commit + db->opt.commit_interval_ms / 1000.0;
    db->magic = OWDB_MAGIC;
    return db;
}

const ow_record_sink *owdb_sink(ow_db *db)
{
    return &db->sink;
}

int64_t owdb_capture_id(const ow_db *db)
{
    return db->capture_id;
}

const owdb_stats *owdb_get_stats(const ow_db *db)
{
    return &db->snapshot;
}

#define COMPACT_PROGRESS_OPS 1000 /* SQLite steps between two questions to compact_stop */
#define MB(bytes)            ((unsigned long long)(((bytes) + (1u << 20) - 1) >> 20))

/* owdb_options.compact_stop as SQLite's progress handler: nonzero interrupts the statement. */
static int compact_progress(void *ctx)
{
    const ow_db *db = ctx;
    return db->opt.compact_stop(db->opt.compact_stop_ctx);
}

static bool compact_stopped(const ow_db *db)
{
    return db->opt.compact_stop && db->opt.compact_stop(db->opt.compact_stop_ctx);
}

/* Room on the filesystem for the packed copy (else said on stderr); a long packing is
 * announced. */
static bool compact_has_room(ow_db *db)
{
    uint64_t size = 0, avail = 0;
    char err[300];
    if (owdb_file_space(&db->file, &size, &avail, err, sizeof err) < 0) {
        fprintf(stderr, "orphanwatch: left unpacked (%s); its data is complete\n", err);
        return false;
    }
    if (!owdb_compact_fits(size, avail)) {
        fprintf(stderr,
                "orphanwatch: %s: left unpacked: packing needs %llu MB free on its filesystem, "
                "%llu MB are; its data is complete\n",
                db->path, MB(size + OWDB_COMPACT_ROOM_MARGIN), MB(avail));
        return false;
    }
    if (size > OWDB_COMPACT_NOTICE_BYTES)
        fprintf(stderr, "orphanwatch: packing %s (%llu MB)%s\n", db->path, MB(size),
                db->opt.compact_stop ? "; Ctrl-C skips it" : "");
    return true;
}

/* Packs the file: VACUUM INTO a new file renamed over it (half the writes of an in-place
 * VACUUM, which journals the whole file), else VACUUM in place with its copy in a temporary
 * file (not memory: the file's size). Not without room for the copy; stopped (compact_stop)
 * between or inside both. Failing or stopped leaves the file as it was: said on stderr,
 * nothing lost. True when a new file, synced before the rename, replaced it. */
static bool compact(ow_db *db)
{
    char *msg = NULL, err[300];
    if (compact_stopped(db)) {
        fprintf(stderr, "orphanwatch: %s: packing skipped; its data is complete\n", db->path);
        return false;
    }
    if (!compact_has_room(db))
        return false;
    if (db->opt.compact_stop)
        sqlite3_progress_handler(db->file.db, COMPACT_PROGRESS_OPS, compact_progress, db);
    bool replaced = owdb_file_compact_into(&db->file, err, sizeof err) == 0;
    bool packed = replaced || (!compact_stopped(db) &&
                               sqlite3_exec(db->file.db, "PRAGMA temp_store=FILE; VACUUM", NULL,
                                            NULL, &msg) == SQLITE_OK);
    if (!packed && compact_stopped(db))
        fprintf(stderr, "orphanwatch: %s: packing stopped; its data is complete, unpacked\n",
                db->path);
    else if (!packed)
        fprintf(stderr, "orphanwatch: %s: not compacted (%s); its data is complete\n", db->path,
                msg ? msg : sqlite3_errmsg(db->file.db));
    sqlite3_progress_handler(db->file.db, 0, NULL, NULL);
    sqlite3_free(msg);
    return replaced;
}

/* Moves everything into the file and leaves WAL mode, for one self-contained file. True when
 * no WAL frame is left beside it: rollback mode now, or (another process has the file open,
 * which keeps it in WAL mode) the WAL checkpointed and emptied, which an opener ignores. False
 * while another process reads an older snapshot past the busy timeout: frames stay in the WAL,
 * and nothing may replace the file (the next opener would lay them over the packed copy). */
static bool leave_wal(sqlite3 *db)
{
    int frames = -1;
    bool emptied = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &frames, NULL) ==
                       SQLITE_OK &&
                   frames == 0;
    sqlite3_stmt *st = NULL;
    bool left = sqlite3_prepare_v2(db, "PRAGMA journal_mode=DELETE", -1, &st, NULL) == SQLITE_OK &&
                sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) &&
                strcmp((const char *)sqlite3_column_text(st, 0), "delete") == 0;
    sqlite3_finalize(st);
    return left || emptied;
}

void owdb_close(ow_db *db)
{
    if (!db)
        return;
    if (db->file.db && db->magic == OWDB_MAGIC)
        owdb_commit(db);
    batch_worker_stop(&db->worker);
    if (db->file.db) {
        for (int i = 0; i < ST_COUNT; i++)
            sqlite3_finalize(db->st[i]);
        if (db->unsynced) /* no transaction open now: see sync_packed_only */
            sqlite3_exec(db->file.db, "PRAGMA synchronous=OFF", NULL, NULL, NULL);
        bool out_of_wal = leave_wal(db->file.db);
        bool pack = db->opt.compact && db->file.created && !db->stats.rows_failed;
        if (pack && !out_of_wal)
            fprintf(stderr,
                    "orphanwatch: %s: left unpacked: another process is reading it (its WAL "
                    "stays beside it); its data is complete\n",
                    db->path);
        bool replaced = pack && out_of_wal && compact(db);
        if (db->unsynced && !replaced && owdb_file_sync(&db->file) != 0) /* what stays */
            fprintf(stderr, "orphanwatch: %s: fsync: %s\n", db->path, strerror(errno));
    }
    for (int i = 0; i < 2; i++)
        rowbuf_free(&db->rows[i]);
    owdb_flush_caches_free(db);
    for (int i = 0; i < ST_COUNT; i++) {
        for (int k = 0; k < db->params[i].n; k++)
            free(db->params[i].name[k]);
        free(db->params[i].name);
    }
    owdb_file_close(&db->file);
    db->magic = 0;
    free(db->path);
    free(db);
}
