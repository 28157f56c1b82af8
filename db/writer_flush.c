/* writer_flush: the writing thread's half of the database writer. A batch of held rows is
 * stepped into SQLite through the prepared statements, inside one open transaction committed
 * when the batch asks for it. A failure (disk full, another writer, I/O error) rolls the
 * transaction back, is counted and remembered, and writing goes on with the next row. */
#include "db/writer_priv.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- failures and transactions ---- */

static void note_error(ow_db *db, const char *what, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(db->stats.last_error, sizeof db->stats.last_error, "%s: %s", what, msg);
}

static bool is_lock_error(int rc)
{
    return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
}

/* Errors after which the transaction cannot be trusted: roll it back. */
static bool is_fatal_to_txn(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_NOMEM:
    case SQLITE_CORRUPT:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_NOTADB:
        return true;
    default:
        return false;
    }
}

static void describe_rc(ow_db *db, const char *what, int rc)
{
    if (is_lock_error(rc))
        note_error(db, what, "the database is locked by another writer (gave up after %d ms): %s",
                   db->opt.busy_timeout_ms, sqlite3_errmsg(db->file.db));
    else if ((rc & 0xff) == SQLITE_FULL)
        note_error(db, what, "the disk is full: %s", sqlite3_errmsg(db->file.db));
    else
        note_error(db, what, "%s", sqlite3_errmsg(db->file.db));
}

/* ---- what the writing thread knows of the file ---- */

static void intern_cache_clear(ow_db *db)
{
    for (int k = 0; k < INTERN_COUNT; k++)
        for (size_t i = 0; i < INTERN_CACHE; i++) {
            free(db->intern_cache[k][i].text);
            db->intern_cache[k][i] = (intern_slot){NULL, 0};
        }
}

void owdb_flush_caches_free(ow_db *db)
{
    intern_cache_clear(db);
}

static intern_slot *intern_slot_of(ow_db *db, int kind, const char *text, uint32_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (uint32_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)text[i]) * 1099511628211ull;
    return &db->intern_cache[kind][(h ^ (h >> 32)) & (INTERN_CACHE - 1)];
}

/* The text's row is known to be in the file. */
static bool intern_known(ow_db *db, int kind, const char *text, uint32_t len)
{
    const intern_slot *s = intern_slot_of(db, kind, text, len);
    return s->text && s->len == len && memcmp(s->text, text, len) == 0;
}

/* Remembers that the text's row is in the file (best effort: memory is not required). */
static void intern_remember(ow_db *db, int kind, const char *text, uint32_t len)
{
    if (len > INTERN_CACHE_MAX_LEN)
        return;
    intern_slot *s = intern_slot_of(db, kind, text, len);
    char *copy = realloc(s->text, (size_t)len + 1);
    if (!copy) {
        free(s->text);
        *s = (intern_slot){NULL, 0};
        return;
    }
    memcpy(copy, text, len);
    copy[len] = 0;
    s->text = copy;
    s->len = len;
}

/* The open transaction is lost: its rows count as failed. */
static void drop_txn(ow_db *db)
{
    intern_cache_clear(db); /* the stubs it wrote are gone */
    if (!sqlite3_get_autocommit(db->file.db))
        sqlite3_exec(db->file.db, "ROLLBACK", NULL, NULL, NULL);
    db->stats.rows_failed += db->pending_rows;
    db->pending_rows = 0;
    for (int k = 0; k < STAGED_COUNT; k++) { /* the stages are rolled back with it */
        db->stats.rows_failed += db->staged_rows[k];
        db->staged_rows[k] = 0;
    }
    db->in_txn = false;
}

static bool begin_txn(ow_db *db)
{
    if (db->in_txn)
        return true;
    double now = owdb_mono_now();
    if (now < db->blocked_until)
        return false; /* last_error still says why */
    int rc = sqlite3_exec(db->file.db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        describe_rc(db, "begin", rc);
        if (is_lock_error(rc))
            db->blocked_until =
                owdb_mono_now() + db->opt.commit_interval_ms / 1000.0; /* after the busy wait */
        return false;
    }
    db->in_txn = true;
    db->pending_rows = 0;
    return true;
}

/* Writing thread: commits the open transaction (if any). */
static int commit_txn(ow_db *db)
{
    if (!db->in_txn)
        return 0;
    int rc = sqlite3_exec(db->file.db, "COMMIT", NULL, NULL, NULL);
    db->last_commit = owdb_mono_now();
    if (rc == SQLITE_OK) {
        db->stats.rows_written += db->pending_rows;
        db->stats.commits++;
        db->pending_rows = 0;
        db->in_txn = false;
        return 0;
    }
    db->stats.commit_failures++;
    describe_rc(db, "commit", rc);
    if (is_lock_error(rc))
        db->blocked_until = db->last_commit + db->opt.commit_interval_ms / 1000.0;
    drop_txn(db);
    return -1;
}

/* Steps a bound statement inside the open transaction. A failure is remembered, and a
 * failure the transaction cannot survive rolls it back. */
static bool step_ok(ow_db *db, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW)
        return true;
    describe_rc(db, what, rc);
    if (is_fatal_to_txn(rc) || sqlite3_get_autocommit(db->file.db))
        drop_txn(db);
    if (is_lock_error(rc))
        db->blocked_until = owdb_mono_now() + db->opt.commit_interval_ms / 1000.0;
    return false;
}

/* ---- writing the held rows ---- */
/* The messages stored for the websocket, read from the file (at most the limit). */
static uint64_t bokeh_stored(ow_db *db, int64_t ws_id)
{
    sqlite3_stmt *st = db->st[ST_BOKEH_COUNT];
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, ws_id);
    sqlite3_bind_int64(st, 2, (int64_t)db->opt.max_bokeh_msgs_per_ws);
    uint64_t n = sqlite3_step(st) == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0)
                                                : (uint64_t)db->opt.max_bokeh_msgs_per_ws;
    sqlite3_reset(st);
    return n;
}

/* The websocket's slot in the cache of stored-message bounds, taken (and its bound read from
 * the file) when another websocket held it. A rolled-back message leaves the bound too high,
 * never too low, so the cache survives rollbacks. */
static bokeh_count_slot *bokeh_count_of(ow_db *db, int64_t ws_id)
{
    bokeh_count_slot *s = &db->bokeh_counts[((uint64_t)ws_id * 0x9E3779B97F4A7C15ull >> 40) &
                                            (BOKEH_COUNT_CACHE - 1)];
    if (s->ws_id != ws_id || ws_id == 0)
        *s = (bokeh_count_slot){ws_id, bokeh_stored(db, ws_id)};
    return s;
}

/* Room for one more stored message on this websocket (a re-emitted one always fits). */
static bool bokeh_has_room(ow_db *db, int64_t ws_id, int64_t msg_id)
{
    if (bokeh_count_of(db, ws_id)->stored_max < (uint64_t)db->opt.max_bokeh_msgs_per_ws)
        return true;
    sqlite3_stmt *st = db->st[ST_BOKEH_ROOM];
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, ws_id);
    sqlite3_bind_int64(st, 2, msg_id);
    sqlite3_bind_int64(st, 3, (int64_t)db->opt.max_bokeh_msgs_per_ws);
    bool room = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0);
    sqlite3_reset(st);
    return room;
}

const char *const owdb_stmt_what[ST_COUNT] = {
    [ST_CAPTURE] = "capture",           [ST_CONN] = "connection",
    [ST_HTTP] = "http exchange",        [ST_WS] = "websocket",
    [ST_BOKEH] = "bokeh message",       [ST_BOKEH_ROOM] = "bokeh message",
    [ST_BOKEH_COUNT] = "bokeh message", [ST_PAGE] = "page load",
    [ST_EVIDENCE_DEL] = "evidence",     [ST_EVIDENCE] = "evidence",
    [ST_SESSION] = "session",           [ST_SESSION_STUB] = "session",
    [ST_UA_STUB] = "user agent",        [ST_PACKET_FILE] = "packet file",
    [ST_CAPTURE_FILE] = "capture file", [ST_PAGE_MOVE] = "page load",
    [ST_PAGE_CLEAR] = "page load",      [ST_HTTP_MOVE] = "http exchange",
    [ST_HTTP_CLEAR] = "http exchange"};

/* Binds row r's values. Every parameter is NULL before (none was bound since the statement
 * was prepared, or write_row cleared them after its last step), so a NULL value needs no
 * call. */
static void bind_row(const rowbuf *rb, sqlite3_stmt *st, const rb_row *r)
{
    for (size_t i = 0; i < r->n_values; i++) {
        const rb_value *v = &rb->values[r->first_value + i];
        if (v->type == RB_INT)
            sqlite3_bind_int64(st, v->param, v->v.i);
        else if (v->type == RB_REAL)
            sqlite3_bind_double(st, v->param, v->v.d);
        else if (v->type == RB_TEXT)
            sqlite3_bind_text(st, v->param, rowbuf_value_text(rb, v), (int)v->len, SQLITE_STATIC);
    }
}

/* The rows of the texts row r refers to by id (sessions, user_agents), made when missing. */
static bool write_interned(ow_db *db, const rowbuf *rb, const rb_row *r)
{
    for (int k = 0; k < INTERN_COUNT; k++) {
        int p = db->intern_param[r->stmt][k];
        for (size_t i = 0; p && i < r->n_values; i++) {
            const rb_value *v = &rb->values[r->first_value + i];
            if (v->param != p || v->type != RB_TEXT)
                continue;
            const char *text = rowbuf_value_text(rb, v);
            if (intern_known(db, k, text, v->len))
                continue;
            sqlite3_stmt *stub = db->st[owdb_interned[k].stub];
            sqlite3_reset(stub);
            sqlite3_bind_text(stub, 1, text, (int)v->len, SQLITE_STATIC);
            bool ok = step_ok(db, stub, owdb_stmt_what[owdb_interned[k].stub]);
            sqlite3_clear_bindings(stub);
            if (!ok)
                return false;
            intern_remember(db, k, text, v->len);
        }
    }
    return true;
}

/* The row's counter of staged rows, or NULL when its statement writes to the file. */
static uint64_t *staged_count(ow_db *db, int stmt)
{
    for (int k = 0; k < STAGED_COUNT; k++)
        if (owdb_staged[k].row == (enum stmt_id)stmt)
            return &db->staged_rows[k];
    return NULL;
}

/* Writes one held row inside the open transaction (opened here when needed); counts it as
 * pending (committed later), staged (pending once moved) or failed. */
static bool write_row(ow_db *db, const rowbuf *rb, const rb_row *r)
{
    if (r->dead || !begin_txn(db) || !write_interned(db, rb, r)) {
        db->stats.rows_failed++;
        return false;
    }
    sqlite3_stmt *st = db->st[r->stmt];
    bind_row(rb, st, r);
    bool ok = step_ok(db, st, owdb_stmt_what[r->stmt]);
    sqlite3_clear_bindings(st); /* the held text goes with the batch */
    uint64_t *staged = ok ? staged_count(db, r->stmt) : NULL;
    if (staged)
        (*staged)++;
    else if (ok)
        db->pending_rows++;
    else
        db->stats.rows_failed++;
    return ok;
}

/* A page's evidence: its earlier rows deleted, the held ones written. */
static void write_evidence(ow_db *db, const rowbuf *rb, const rb_row *page)
{
    sqlite3_stmt *del = db->st[ST_EVIDENCE_DEL];
    sqlite3_reset(del);
    sqlite3_bind_int64(del, 1, page->key);
    if (!begin_txn(db) || !step_ok(db, del, "evidence")) {
        db->stats.rows_failed += page->n_children;
        return;
    }
    for (size_t i = 0; i < page->n_children; i++)
        write_row(db, rb, &rb->children[page->first_child + i]);
}

/* A held integer of row r by parameter name (0 when absent). */
static int64_t held_int(const ow_db *db, const rowbuf *rb, const rb_row *r, const char *name)
{
    int p = owdb_param_index(db, r->stmt, name);
    for (size_t i = 0; i < r->n_values; i++) {
        const rb_value *v = &rb->values[r->first_value + i];
        if (v->param == p && v->type == RB_INT)
            return v->v.i;
    }
    return 0;
}

/* Room for the Bokeh message row r; *ws_id is its websocket. */
static bool bokeh_row_fits(ow_db *db, const rowbuf *rb, const rb_row *r, int64_t *ws_id)
{
    if (db->opt.max_bokeh_msgs_per_ws == SIZE_MAX)
        return true;
    *ws_id = held_int(db, rb, r, ":websocket_id");
    if (bokeh_has_room(db, *ws_id, r->key))
        return true;
    db->stats.bokeh_skipped++;
    return false;
}

/* A Bokeh message row: written when it fits, and then counted in its websocket's bound. */
static void write_bokeh(ow_db *db, const rowbuf *rb, const rb_row *r)
{
    int64_t ws_id = 0;
    if (!bokeh_row_fits(db, rb, r, &ws_id) || !write_row(db, rb, r) ||
        db->opt.max_bokeh_msgs_per_ws == SIZE_MAX)
        return;
    bokeh_count_slot *s = bokeh_count_of(db, ws_id);
    if (s->stored_max < UINT64_MAX)
        s->stored_max++;
}

/* Moves the staged rows into the file (owdb_staged) and empties the stages; the rows are then
 * pending. A failure rolls the transaction back: the batch's evidence is written already, and
 * a stage moved in part would leave it without its page load. */
static void move_staged(ow_db *db)
{
    for (int k = 0; k < STAGED_COUNT && db->in_txn; k++) {
        if (db->staged_rows[k] == 0)
            continue;
        const staged_table *t = &owdb_staged[k];
        if (!step_ok(db, db->st[t->move], owdb_stmt_what[t->move]) ||
            !step_ok(db, db->st[t->clear], owdb_stmt_what[t->clear])) {
            if (db->in_txn)
                drop_txn(db); /* counts the staged rows as failed */
            return;
        }
        db->pending_rows += db->staged_rows[k];
        db->staged_rows[k] = 0;
    }
}

/* Writes every held row in the order first held (a replaced row keeps its place), then
 * forgets them. Returns how many rows were lost. */
static uint64_t flush_rows(ow_db *db, rowbuf *rb)
{
    uint64_t failed_before = db->stats.rows_failed;
    for (size_t i = 0; i < rb->n_rows; i++) {
        const rb_row *r = &rb->rows[i];
        if (r->stmt == ST_BOKEH)
            write_bokeh(db, rb, r);
        else if (write_row(db, rb, r) && r->stmt == ST_PAGE)
            write_evidence(db, rb, r);
        else if (r->stmt == ST_PAGE)
            db->stats.rows_failed += r->n_children;
    }
    move_staged(db);
    if (rb->failed)
        note_error(db, "rows", "out of memory while holding rows; some were lost");
    rowbuf_clear(rb);
    return db->stats.rows_failed - failed_before;
}

/* The writing thread's work: one batch, then a commit when asked. */
void owdb_write_batch(void *ctx, void *batch, int flags)
{
    ow_db *db = ctx;
    int rc = flush_rows(db, batch) ? -1 : 0;
    if ((flags & BATCH_COMMIT) && commit_txn(db) < 0)
        rc = -1;
    db->batch_result = rc;
}
