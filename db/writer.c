/* writer: the SQLite record sink. Every record becomes one row (INSERT OR REPLACE keyed by its
 * id, shifted past the rows an earlier capture left in the file), written through prepared
 * statements inside one open transaction that is committed every commit interval of wall-clock
 * time and at close. A failure (disk full, another writer, I/O error) rolls the transaction
 * back, is counted and remembered, and writing goes on with the next record. */
#include "db/db.h"
#include "db/batch_worker.h"
#include "db/dbfile.h"
#include "db/rowbuf.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef OW_VERSION
#define OW_VERSION "unknown"
#endif

enum stmt_id {
    ST_CAPTURE,
    ST_CONN,
    ST_HTTP,
    ST_WS,
    ST_BOKEH,
    ST_BOKEH_ROOM,
    ST_PAGE,
    ST_EVIDENCE_DEL,
    ST_EVIDENCE,
    ST_SESSION,
    ST_SESSION_STUB,
    ST_UA_STUB,
    ST_PACKET_FILE,
    ST_COUNT
};

/* Text stored once (db/schema.sql, "*_ref" columns): an insert writes the column as the id of
 * the text's row, found by the parameter the text is bound to; the writing thread makes sure
 * that row exists first (the stub statement). */
enum { INTERN_SESSION, INTERN_UA, INTERN_COUNT };
static const struct {
    const char *column, *param, *expr;
    enum stmt_id stub;
} interned[INTERN_COUNT] = {
    [INTERN_SESSION] = {"session_ref", ":session_id",
                        "(SELECT id FROM sessions WHERE session_id = :session_id)",
                        ST_SESSION_STUB},
    [INTERN_UA] = {"ua_ref", ":user_agent",
                   "(SELECT id FROM user_agents WHERE user_agent = :user_agent)", ST_UA_STUB},
};

/* id offsets: a record's id plus the largest id the table held when the file was opened */
typedef struct id_offsets {
    int64_t conn, http, ws, bokeh, page;
} id_offsets;

#define OWDB_MAGIC 0x6f776462u /* "owdb": marks a live writer behind a sink's ctx */

#define PARAM_CACHE 4096 /* a power of two; ~200 (statement, name) pairs are used */
typedef struct param_slot {
    int stmt;
    const char *name;
    int index;
} param_slot;

/* Rows are held (and re-emitted ones replaced) until the batch reaches this size or a commit
 * is due; then the batch goes to the writing thread while the next one fills. Live
 * (never_stall), while that thread is still busy (a checkpoint's fsync, a slow disk), the
 * packet thread keeps filling rather than wait, up to ROWBUF_MAX_BYTES: a stall there would
 * drop packets. A file read waits instead (less memory). */
#define ROWBUF_FLUSH_BYTES ((size_t)2 << 20)
#define ROWBUF_MAX_BYTES   ((size_t)8 << 20)

enum { BATCH_COMMIT = 1 }; /* the batch ends with a COMMIT */

/* A statement's parameter names, copied at prepare time: looked up without SQLite. */
typedef struct param_names {
    char **name; /* name[i] is parameter i + 1 */
    int n;
} param_names;

/* Two threads: the packet thread holds records as rows (rows[filling], param_cache, the
 * held_* fields, next_commit); the writing thread owns the SQLite connection while a batch is
 * out (in_txn .. stats). They meet only in batch_worker hand-overs, where the snapshot that
 * owdb_get_stats returns is refreshed. */
struct ow_db {
    uint32_t magic;
    owdb_file file;
    char *path;
    owdb_options opt;
    ow_record_sink sink;
    sqlite3_stmt *st[ST_COUNT];
    param_names params[ST_COUNT];
    int intern_param[ST_COUNT][INTERN_COUNT]; /* parameter index of each interned text, or 0 */
    int64_t capture_id;
    id_offsets off;
    /* packet thread */
    param_slot param_cache[PARAM_CACHE];
    rowbuf rows[2]; /* the batch being filled and the one being written */
    int filling;
    double next_commit;   /* monotonic seconds */
    uint64_t held_lost;   /* rows that could not be held */
    char held_error[200]; /* why, "" when never */
    owdb_stats snapshot;  /* stats as of the last hand-over */
    batch_worker worker;
    /* writing thread */
    bool in_txn;
    uint64_t pending_rows; /* rows in the open transaction */
    double last_commit;    /* monotonic seconds */
    double blocked_until;  /* after "locked by another writer": fail fast until then */
    int batch_result;      /* of the last batch: 0, or -1 when a row or the commit failed */
    owdb_stats stats;
};

/* Binds by parameter name (":column") into a held row; a name the statement lacks is
 * remembered as an error. */
typedef struct binder {
    ow_db *db;
    int stmt;
    rb_row *row;
    const char *bad;
} binder;

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The writer behind a callback's ctx. A ctx that is not one (a caller that replaced the
 * sink's ctx) is a programming error: said once on stderr, and the record is dropped. */
static ow_db *writer_of(void *ctx)
{
    static bool warned;
    ow_db *db = ctx;
    if (db && db->magic == OWDB_MAGIC)
        return db;
    if (!warned)
        fprintf(stderr, "orphanwatch: internal error: a database sink callback was called with "
                        "a context that is not the writer's; its records are dropped\n");
    warned = true;
    return NULL;
}

/* Parameter index by name. The names are string literals, so a small per-writer cache keyed
 * by the pointer saves SQLite's by-name lookup (a strcmp per parameter) on every bind. */
static int param_index(const ow_db *db, int stmt, const char *name)
{
    const param_names *p = &db->params[stmt];
    for (int i = 0; i < p->n; i++)
        if (p->name[i] && strcmp(p->name[i], name) == 0)
            return i + 1;
    return 0;
}

static int param(binder *b, const char *name)
{
    param_slot *param_cache = b->db->param_cache;
    uint64_t key = ((uint64_t)(uintptr_t)name << 4) ^ (uint64_t)b->stmt;
    size_t h = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 52) & (PARAM_CACHE - 1);
    if (param_cache[h].name == name && param_cache[h].stmt == b->stmt)
        return param_cache[h].index;
    int i = param_index(b->db, b->stmt, name);
    if (i == 0 && !b->bad)
        b->bad = name;
    param_cache[h].stmt = b->stmt;
    param_cache[h].name = name;
    param_cache[h].index = i;
    return i;
}

static void b_int(binder *b, const char *name, int64_t v)
{
    rowbuf_int(&b->db->rows[b->db->filling], b->row, param(b, name), v);
}

static void b_uint(binder *b, const char *name, uint64_t v)
{
    b_int(b, name, v > INT64_MAX ? INT64_MAX : (int64_t)v);
}

static void b_real(binder *b, const char *name, double v)
{
    rowbuf_real(&b->db->rows[b->db->filling], b->row, param(b, name), v);
}

static void b_text(binder *b, const char *name, const char *s)
{
    rowbuf_text(&b->db->rows[b->db->filling], b->row, param(b, name), s);
}

static void b_null(binder *b, const char *name)
{
    rowbuf_null(&b->db->rows[b->db->filling], b->row, param(b, name));
}

/* Optional values: NULL unless present. */
static void b_int_if(binder *b, const char *name, int64_t v, bool present)
{
    if (present)
        b_int(b, name, v);
    else
        b_null(b, name);
}

static void b_real_if(binder *b, const char *name, double v, bool present)
{
    if (present)
        b_real(b, name, v);
    else
        b_null(b, name);
}

static void b_ref(binder *b, const char *name, int64_t rec_id, int64_t offset)
{
    b_int_if(b, name, rec_id + offset, rec_id > 0);
}

/* Starts the held row of statement id for the record key (0: a row never re-emitted). A row
 * already held under the same key is replaced. */
static binder bind_start(ow_db *db, enum stmt_id id, int64_t key, const char *key_text)
{
    binder b = {db, id, rowbuf_begin(&db->rows[db->filling], id, key, key_text), NULL};
    return b;
}

/* Starts a child row of b's row (written after it, replaced with it). */
static binder bind_child(binder *parent, enum stmt_id id)
{
    rowbuf *rb = &parent->db->rows[parent->db->filling];
    binder b = {parent->db, id, rowbuf_begin_child(rb, parent->row, id), NULL};
    return b;
}

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

/* The open transaction is lost: its rows count as failed. */
static void drop_txn(ow_db *db)
{
    if (!sqlite3_get_autocommit(db->file.db))
        sqlite3_exec(db->file.db, "ROLLBACK", NULL, NULL, NULL);
    db->stats.rows_failed += db->pending_rows;
    db->pending_rows = 0;
    db->in_txn = false;
}

static bool begin_txn(ow_db *db)
{
    if (db->in_txn)
        return true;
    double now = mono_now();
    if (now < db->blocked_until)
        return false; /* last_error still says why */
    int rc = sqlite3_exec(db->file.db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        describe_rc(db, "begin", rc);
        if (is_lock_error(rc))
            db->blocked_until =
                mono_now() + db->opt.commit_interval_ms / 1000.0; /* after the busy wait */
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
    db->last_commit = mono_now();
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
        db->blocked_until = mono_now() + db->opt.commit_interval_ms / 1000.0;
    return false;
}

/* ---- hand-over (packet thread) ---- */

/* The writer's stats as of now: the writing thread's (it is idle) plus the rows lost here. */
static void refresh_snapshot(ow_db *db)
{
    db->snapshot = db->stats;
    db->snapshot.rows_failed += db->held_lost;
    if (!db->snapshot.last_error[0] && db->held_error[0])
        snprintf(db->snapshot.last_error, sizeof db->snapshot.last_error, "%s", db->held_error);
}

/* Sends the filling batch to the writing thread (after the previous one is written) and
 * starts filling the other. */
static void hand_over(ow_db *db, int flags)
{
    batch_worker_wait(&db->worker);
    refresh_snapshot(db);
    rowbuf *batch = &db->rows[db->filling];
    db->filling ^= 1;
    batch_worker_submit(&db->worker, batch, flags);
}

int owdb_commit(ow_db *db)
{
    hand_over(db, BATCH_COMMIT);
    batch_worker_wait(&db->worker);
    refresh_snapshot(db);
    db->next_commit = mono_now() + db->opt.commit_interval_ms / 1000.0;
    return db->batch_result;
}

/* Ends a record's row: a row that could not be held (memory) or that names a parameter its
 * statement lacks is lost, and counted. */
static void hold_row(ow_db *db, binder *b, const char *what)
{
    if (b->bad) {
        snprintf(db->held_error, sizeof db->held_error,
                 "%s: internal: the statement has no parameter %s", what, b->bad);
        if (b->row)
            b->row->dead = true;
    }
    if (!b->row) {
        snprintf(db->held_error, sizeof db->held_error, "%s: out of memory holding the row", what);
        db->held_lost++;
    }
}

/* Starts a record: hands the held rows over first when they have grown past the bound. */
static void row_begin(ow_db *db)
{
    size_t held = rowbuf_bytes(&db->rows[db->filling]);
    if (held < ROWBUF_FLUSH_BYTES)
        return;
    if (!db->opt.never_stall || held >= ROWBUF_MAX_BYTES || !batch_worker_busy(&db->worker))
        hand_over(db, 0);
}

/* ---- records ---- */

static void on_capture(void *ctx, const ow_capture_rec *r)
{
    ow_db *db = writer_of(ctx);
    if (!db)
        return;
    row_begin(db);
    const capture_stats *s = r->stats;
    binder b = bind_start(db, ST_CAPTURE, db->capture_id, NULL);
    b_int(&b, ":id", db->capture_id);
    b_text(&b, ":source", r->source ? r->source : "");
    b_int(&b, ":live", r->live);
    b_text(&b, ":filter", r->filter);
    b_text(&b, ":server_ports", r->server_ports);
    b_real_if(&b, ":started", s ? s->first_ts : 0, s && s->first_ts > 0);
    b_real_if(&b, ":ended", s ? s->last_ts : 0, s && s->last_ts > 0);
    b_text(&b, ":end_reason", r->end_reason);
    b_int_if(&b, ":packets", s ? (int64_t)s->packets : 0, s != NULL);
    b_int_if(&b, ":bytes", s ? (int64_t)s->bytes : 0, s != NULL);
    b_int_if(&b, ":kernel_drops", s ? (int64_t)s->kernel_drops : 0, s != NULL);
    b_int_if(&b, ":if_drops", s ? (int64_t)s->if_drops : 0, s != NULL);
    b_text(&b, ":linktypes", r->linktypes);
    b_real(&b, ":grace", r->grace);
    b_int(&b, ":store_secrets", r->store_secrets);
    b_text(&b, ":counters", r->counters_json);
    b_text(&b, ":tool_version", OW_VERSION);
    hold_row(db, &b, "capture");
}

/* JSON array of the back-off gaps between timeouts (trailing unused slots dropped); NULL
 * when there is none. */
static const char *rto_series_json(const tcp_dir_health *h, char *out, size_t outlen)
{
    size_t n = h->rto_count < OW_RTO_SERIES_MAX ? h->rto_count : OW_RTO_SERIES_MAX;
    while (n > 0 && h->rto_series[n - 1] <= 0)
        n--;
    if (n == 0)
        return NULL;
    size_t len = (size_t)snprintf(out, outlen, "[");
    for (size_t i = 0; i < n && len < outlen; i++)
        len += (size_t)snprintf(out + len, outlen - len, "%s%.6g", i ? "," : "", h->rto_series[i]);
    if (len < outlen)
        snprintf(out + len, outlen - len, "]");
    return out;
}

static void bind_conn_endpoints(binder *b, const ow_flow *f)
{
    char a[OW_ADDR_STRLEN];
    b_text(b, ":client", ow_addr_str(&f->client, a, sizeof a));
    b_int(b, ":client_port", f->client_port);
    b_text(b, ":server", ow_addr_str(&f->server, a, sizeof a));
    b_int(b, ":server_port", f->server_port);
    b_int(b, ":family", f->client.family == 6 ? 6 : 4);
    b_real(b, ":first_ts", f->first_ts);
    b_real(b, ":last_ts", f->last_ts);
    b_int(b, ":syn_seen", f->syn_seen);
    b_uint(b, ":gaps_c2s", f->gaps[OW_DIR_C2S]);
    b_uint(b, ":gaps_s2c", f->gaps[OW_DIR_S2C]);
    b_uint(b, ":gap_bytes_c2s", f->gap_bytes[OW_DIR_C2S]);
    b_uint(b, ":gap_bytes_s2c", f->gap_bytes[OW_DIR_S2C]);
}

static void bind_conn_options(binder *b, const tcp_health *h)
{
    const tcp_dir_health *c = &h->dir[OW_DIR_C2S], *s = &h->dir[OW_DIR_S2C];
    b_uint(b, ":syn_count", h->syn_count);
    b_real_if(b, ":rtt", h->rtt, h->rtt > 0);
    b_real(b, ":max_idle", h->max_idle);
    b_int_if(b, ":mss_c", c->mss, c->mss > 0);
    b_int_if(b, ":mss_s", s->mss, s->mss > 0);
    b_int_if(b, ":wscale_c", c->wscale, c->wscale >= 0);
    b_int_if(b, ":wscale_s", s->wscale, s->wscale >= 0);
}

static void bind_conn_loss(binder *b, const tcp_health *h)
{
    const tcp_dir_health *c = &h->dir[OW_DIR_C2S], *s = &h->dir[OW_DIR_S2C];
    char rto[OW_RTO_SERIES_MAX * 16 + 4];
    b_uint(b, ":max_seg_c2s", c->max_seg);
    b_uint(b, ":max_seg_s2c", s->max_seg);
    b_uint(b, ":max_seg_acked_s2c", s->max_seg_acked);
    b_uint(b, ":max_seg_lost_s2c", s->max_seg_lost);
    b_uint(b, ":lost_retrans_s2c", s->lost_retrans);
    b_uint(b, ":retrans_c2s", c->retrans_segments);
    b_uint(b, ":retrans_s2c", s->retrans_segments);
    b_uint(b, ":retrans_bytes_c2s", c->retrans_bytes);
    b_uint(b, ":retrans_bytes_s2c", s->retrans_bytes);
    b_uint(b, ":rto_s2c", s->rto_count);
    b_text(b, ":rto_series_s2c", rto_series_json(s, rto, sizeof rto));
    b_real(b, ":longest_stall_s2c", s->longest_stall);
    b_real_if(b, ":stall_start_s2c", s->stall_start_ts, s->stall_start_ts > 0);
    b_int(b, ":recovered_smaller_s2c", s->recovered_smaller);
    b_uint(b, ":seg_after_recovery_s2c", s->seg_after_recovery);
}

static void bind_conn_window(binder *b, const tcp_health *h)
{
    const tcp_dir_health *c = &h->dir[OW_DIR_C2S], *s = &h->dir[OW_DIR_S2C];
    b_uint(b, ":dup_acks_c2s", c->dup_acks);
    b_uint(b, ":dup_acks_s2c", s->dup_acks);
    b_uint(b, ":sack_blocks", (uint64_t)c->sack_blocks + s->sack_blocks);
    b_uint(b, ":zero_windows_c2s", c->zero_windows);
    b_uint(b, ":zero_windows_s2c", s->zero_windows);
    b_uint(b, ":window_full_s2c", s->window_full);
    b_uint(b, ":max_in_flight_s2c", s->max_in_flight);
    b_uint(b, ":unacked_s2c", s->unacked_bytes);
    b_real_if(b, ":fin_c2s", c->fin_ts, c->fin);
    b_real_if(b, ":fin_s2c", s->fin_ts, s->fin);
    b_real_if(b, ":rst_c2s", c->rst_ts, c->rst);
    b_real_if(b, ":rst_s2c", s->rst_ts, s->rst);
}

static void on_conn(void *ctx, const ow_conn_rec *r)
{
    ow_db *db = writer_of(ctx);
    if (!db)
        return;
    if (!r->flow) {
        db->stats.rows_failed++;
        return;
    }
    row_begin(db);
    binder b = bind_start(db, ST_CONN, r->id + db->off.conn, NULL);
    b_int(&b, ":id", r->id + db->off.conn);
    b_int(&b, ":capture_id", db->capture_id);
    b_text(&b, ":close", r->close);
    b_text(&b, ":kind", r->kind);
    b_uint(&b, ":bytes_c2s", r->bytes[OW_DIR_C2S]);
    b_uint(&b, ":bytes_s2c", r->bytes[OW_DIR_S2C]);
    b_uint(&b, ":requests", r->requests);
    bind_conn_endpoints(&b, r->flow);
    bind_conn_options(&b, &r->flow->health);
    bind_conn_loss(&b, &r->flow->health);
    bind_conn_window(&b, &r->flow->health);
    hold_row(db, &b, "connection");
}

static void on_http(void *ctx, const ow_http_rec *r)
{
    ow_db *db = writer_of(ctx);
    if (!db)
        return;
    row_begin(db);
    binder b = bind_start(db, ST_HTTP, r->id + db->off.http, NULL);
    b_int(&b, ":id", r->id + db->off.http);
    b_ref(&b, ":connection_id", r->conn_id, db->off.conn);
    b_int(&b, ":seq", r->seq);
    b_text(&b, ":kind", r->kind);
    b_real(&b, ":req_ts", r->req_ts);
    b_text(&b, ":method", r->method);
    b_text(&b, ":target", r->target);
    b_text(&b, ":host", r->host);
    b_text(&b, ":user_agent", r->user_agent);
    b_text(&b, ":referer", r->referer);
    b_text(&b, ":origin", r->origin);
    b_uint(&b, ":req_body_bytes", r->req_body_bytes);
    b_real_if(&b, ":resp_ts", r->resp_ts, r->resp_ts > 0);
    b_real_if(&b, ":resp_end_ts", r->resp_end_ts, r->resp_end_ts > 0);
    b_int_if(&b, ":status", r->status, r->status > 0);
    b_text(&b, ":reason", r->reason);
    b_text(&b, ":content_type", r->content_type);
    b_int_if(&b, ":content_length", r->content_length, r->content_length >= 0);
    b_text(&b, ":content_encoding", r->content_encoding);
    b_uint(&b, ":resp_body_bytes", r->resp_body_bytes);
    b_int(&b, ":complete", r->complete);
    b_int_if(&b, ":last_byte_acked", r->last_byte_acked, r->last_byte_acked >= 0);
    b_ref(&b, ":page_load_id", r->page_load_id, db->off.page);
    hold_row(db, &b, "http exchange");
}

static void bind_ws_counts(binder *b, const ow_ws_rec *r)
{
    b_uint(b, ":frames_c2s", r->frames[OW_DIR_C2S]);
    b_uint(b, ":frames_s2c", r->frames[OW_DIR_S2C]);
    b_uint(b, ":bytes_c2s", r->bytes[OW_DIR_C2S]);
    b_uint(b, ":bytes_s2c", r->bytes[OW_DIR_S2C]);
    b_uint(b, ":messages_c2s", r->messages[OW_DIR_C2S]);
    b_uint(b, ":messages_s2c", r->messages[OW_DIR_S2C]);
    b_text(b, ":msg_counts", r->msg_counts_json);
    b_text(b, ":opcode_counts", r->opcode_counts_json);
    b_real_if(b, ":ack_ts", r->ack_ts, r->ack_ts > 0);
    b_real_if(b, ":pull_doc_ts", r->pull_doc_ts, r->pull_doc_ts > 0);
    b_uint(b, ":client_patch_docs", r->client_patch_docs);
    b_uint(b, ":pings", r->pings);
    b_uint(b, ":pongs", r->pongs);
}

static void on_ws(void *ctx, const ow_ws_rec *r)
{
    ow_db *db = writer_of(ctx);
    if (!db)
        return;
    row_begin(db);
    binder b = bind_start(db, ST_WS, r->id + db->off.ws, NULL);
    b_int(&b, ":id", r->id + db->off.ws);
    b_ref(&b, ":connection_id", r->conn_id, db->off.conn);
    b_ref(&b, ":http_id", r->http_id, db->off.http);
    b_ref(&b, ":page_load_id", r->page_load_id, db->off.page);
    b_text(&b, ":session_id", r->session_id);
    b_real(&b, ":upgrade_ts", r->upgrade_ts);
    b_int_if(&b, ":status", r->status, r->status > 0);
    b_text(&b, ":reason", r->reason);
    b_text(&b, ":origin", r->origin);
    b_text(&b, ":path", r->path);
    b_int(&b, ":subprotocol_ok", r->subprotocol_ok);
    b_int_if(&b, ":token_expiry", r->token_expiry, r->token_expiry > 0);
    b_int(&b, ":deflate", r->deflate);
    bind_ws_counts(&b, r);
    b_int_if(&b, ":close_code_c2s", r->close_code[OW_DIR_C2S], r->close_code[OW_DIR_C2S] >= 0);
    b_int_if(&b, ":close_code_s2c", r->close_code[OW_DIR_S2C], r->close_code[OW_DIR_S2C] >= 0);
    b_text(&b, ":close_reason", r->close_reason);
    b_real_if(&b, ":close_ts", r->close_ts, r->close_ts > 0);
    b_real_if(&b, ":end_ts", r->end_ts, r->end_ts > 0);
    b_int(&b, ":midstream", r->midstream);
    b_uint(&b, ":errors", r->errors);
    hold_row(db, &b, "websocket");
}

/* Room for one more stored message on this websocket (a re-emitted one always fits). */
static bool bokeh_has_room(ow_db *db, int64_t ws_id, int64_t msg_id)
{
    sqlite3_stmt *st = db->st[ST_BOKEH_ROOM];
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, ws_id);
    sqlite3_bind_int64(st, 2, msg_id);
    sqlite3_bind_int64(st, 3, (int64_t)db->opt.max_bokeh_msgs_per_ws);
    bool room = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0);
    sqlite3_reset(st);
    return room;
}

static void on_bokeh(void *ctx, const ow_bokeh_rec *r)
{
    ow_db *db = writer_of(ctx);
    if (!db)
        return;
    row_begin(db);
    int64_t ws_id = r->ws_id + db->off.ws, id = r->id + db->off.bokeh;
    binder b = bind_start(db, ST_BOKEH, id, NULL);
    b_int(&b, ":id", id);
    b_int(&b, ":websocket_id", ws_id);
    b_real(&b, ":ts", r->ts);
    b_int(&b, ":dir", r->dir);
    b_text(&b, ":msgtype", r->msgtype);
    b_text(&b, ":msgid", r->msgid && *r->msgid ? r->msgid : NULL); /* "": none in the header */
    b_text(&b, ":reqid", r->reqid && *r->reqid ? r->reqid : NULL);
    b_uint(&b, ":size", r->size);
    b_uint(&b, ":num_buffers", r->num_buffers);
    hold_row(db, &b, "bokeh message");
}

static void bind_page_who(binder *b, const ow_page_rec *r)
{
    char a[OW_ADDR_STRLEN];
    b_text(b, ":session_id", r->session_id);
    b_text(b, ":client", r->client ? ow_addr_str(r->client, a, sizeof a) : NULL);
    b_int(b, ":client_port", r->client_port);
    b_text(b, ":server", r->server ? ow_addr_str(r->server, a, sizeof a) : NULL);
    b_int(b, ":server_port", r->server_port);
    b_text(b, ":host", r->host);
    b_text(b, ":path", r->path);
    b_text(b, ":app", r->app);
    b_text(b, ":user_agent", r->user_agent);
}

static void bind_page_result(binder *b, const ow_page_rec *r)
{
    b_real(b, ":started", r->started);
    b_int_if(b, ":status", r->status, r->status > 0);
    b_uint(b, ":resp_bytes", r->resp_bytes);
    b_real_if(b, ":ttfb", r->ttfb, r->ttfb >= 0);
    b_real_if(b, ":ttlb", r->ttlb, r->ttlb >= 0);
    b_int_if(b, ":token_expiry", r->token_expiry, r->token_expiry > 0);
    b_uint(b, ":static_count", r->static_count);
    b_uint(b, ":static_bytes", r->static_bytes);
    b_uint(b, ":static_failed", r->static_failed);
    b_uint(b, ":websockets", r->websockets);
    b_real_if(b, ":first_ws_ts", r->first_ws_ts, r->first_ws_ts > 0);
    b_text(b, ":outcome", ow_outcome_name(r->outcome));
    b_text(b, ":verdict", ow_verdict_name(r->verdict));
    b_real_if(b, ":confidence", r->confidence, r->verdict != OW_VERDICT_NONE);
    b_text(b, ":summary", r->summary);
    b_text(b, ":advice", r->advice);
    b_real_if(b, ":decided_ts", r->decided_ts, r->decided_ts > 0);
}

/* The evidence rows, children of the page's row: the page's earlier ones are deleted when
 * they are written. */
static void hold_evidence(ow_db *db, binder *page, int64_t page_id, const ow_page_rec *r)
{
    for (size_t i = 0; i < r->n_evidence; i++) {
        const ow_evidence *e = &r->evidence[i];
        binder b = bind_child(page, ST_EVIDENCE);
        b_int(&b, ":page_load_id", page_id);
        b_int(&b, ":seq", (int64_t)i);
        b_ref(&b, ":connection_id", e->conn_id, db->off.conn);
        b_ref(&b, ":http_id", e->http_id, db->off.http);
        b_text(&b, ":text", e->text ? e->text : "");
        hold_row(db, &b, "evidence");
    }
}

static void on_page(void *ctx, const ow_page_rec *r)
{
    ow_db *db = writer_of(ctx);
    if (!db)
        return;
    row_begin(db);
    int64_t id = r->id + db->off.page;
    binder b = bind_start(db, ST_PAGE, id, NULL);
    b_int(&b, ":id", id);
    b_int(&b, ":capture_id", db->capture_id);
    b_ref(&b, ":http_id", r->http_id, db->off.http);
    b_ref(&b, ":connection_id", r->conn_id, db->off.conn);
    bind_page_who(&b, r);
    bind_page_result(&b, r);
    hold_row(db, &b, "page load");
    if (b.row)
        hold_evidence(db, &b, id, r);
}

static void on_session(void *ctx, const ow_session_rec *r)
{
    ow_db *db = writer_of(ctx);
    if (!db)
        return;
    if (!r->session_id) {
        db->stats.rows_failed++;
        return;
    }
    row_begin(db);
    binder b = bind_start(db, ST_SESSION, 0, r->session_id);
    b_text(&b, ":session_id", r->session_id);
    b_real(&b, ":first_ts", r->first_ts);
    b_real(&b, ":last_ts", r->last_ts);
    b_uint(&b, ":page_loads", r->page_loads);
    b_uint(&b, ":websockets", r->websockets);
    b_int_if(&b, ":token_expiry", r->token_expiry, r->token_expiry > 0);
    b_text(&b, ":outcome", r->outcome);
    hold_row(db, &b, "session");
}

static void on_packet_file(void *ctx, const ow_packet_file_rec *r)
{
    ow_db *db = writer_of(ctx);
    if (!db)
        return;
    if (!r->file) {
        db->stats.rows_failed++;
        return;
    }
    row_begin(db);
    binder b = bind_start(db, ST_PACKET_FILE, 0, NULL);
    b_int(&b, ":capture_id", db->capture_id);
    b_text(&b, ":file", r->file);
    b_real(&b, ":first_ts", r->first_ts);
    b_real(&b, ":last_ts", r->last_ts);
    b_uint(&b, ":packets", r->packets);
    b_int(&b, ":dropped", r->dropped);
    hold_row(db, &b, "packet file");
}

static void on_tick(void *ctx, double now)
{
    ow_db *db = writer_of(ctx);
    if (!db)
        return;
    (void)now; /* capture time; commits follow wall-clock time */
    double t = mono_now();
    bool wait = db->opt.never_stall && batch_worker_busy(&db->worker); /* next tick */
    if (t >= db->next_commit && !wait) {
        hand_over(db, BATCH_COMMIT); /* written and committed while packets go on */
        db->next_commit = t + db->opt.commit_interval_ms / 1000.0;
    }
}

/* ---- writing the held rows ---- */

static const char *const stmt_what[ST_COUNT] = {
    [ST_CAPTURE] = "capture",        [ST_CONN] = "connection",
    [ST_HTTP] = "http exchange",     [ST_WS] = "websocket",
    [ST_BOKEH] = "bokeh message",    [ST_BOKEH_ROOM] = "bokeh message",
    [ST_PAGE] = "page load",         [ST_EVIDENCE_DEL] = "evidence",
    [ST_EVIDENCE] = "evidence",      [ST_SESSION] = "session",
    [ST_SESSION_STUB] = "session",   [ST_UA_STUB] = "user agent",
    [ST_PACKET_FILE] = "packet file"};

static void bind_row(const rowbuf *rb, sqlite3_stmt *st, const rb_row *r)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    for (size_t i = 0; i < r->n_values; i++) {
        const rb_value *v = &rb->values[r->first_value + i];
        if (v->type == RB_INT)
            sqlite3_bind_int64(st, v->param, v->v.i);
        else if (v->type == RB_REAL)
            sqlite3_bind_double(st, v->param, v->v.d);
        else if (v->type == RB_TEXT)
            sqlite3_bind_text(st, v->param, rowbuf_value_text(rb, v), (int)v->len, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, v->param);
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
            sqlite3_stmt *stub = db->st[interned[k].stub];
            sqlite3_reset(stub);
            sqlite3_bind_text(stub, 1, rowbuf_value_text(rb, v), (int)v->len, SQLITE_STATIC);
            bool ok = step_ok(db, stub, stmt_what[interned[k].stub]);
            sqlite3_clear_bindings(stub);
            if (!ok)
                return false;
        }
    }
    return true;
}

/* Writes one held row inside the open transaction (opened here when needed); counts it as
 * pending (committed later) or failed. */
static bool write_row(ow_db *db, const rowbuf *rb, const rb_row *r)
{
    if (r->dead || !begin_txn(db) || !write_interned(db, rb, r)) {
        db->stats.rows_failed++;
        return false;
    }
    sqlite3_stmt *st = db->st[r->stmt];
    bind_row(rb, st, r);
    bool ok = step_ok(db, st, stmt_what[r->stmt]);
    sqlite3_clear_bindings(st); /* the held text goes with the batch */
    if (ok)
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
    int p = param_index(db, r->stmt, name);
    for (size_t i = 0; i < r->n_values; i++) {
        const rb_value *v = &rb->values[r->first_value + i];
        if (v->param == p && v->type == RB_INT)
            return v->v.i;
    }
    return 0;
}

static bool bokeh_row_fits(ow_db *db, const rowbuf *rb, const rb_row *r)
{
    if (db->opt.max_bokeh_msgs_per_ws == SIZE_MAX ||
        bokeh_has_room(db, held_int(db, rb, r, ":websocket_id"), r->key))
        return true;
    db->stats.bokeh_skipped++;
    return false;
}

/* Writes every held row in the order first held (a replaced row keeps its place), then
 * forgets them. Returns how many rows were lost. */
static uint64_t flush_rows(ow_db *db, rowbuf *rb)
{
    uint64_t failed_before = db->stats.rows_failed;
    for (size_t i = 0; i < rb->n_rows; i++) {
        const rb_row *r = &rb->rows[i];
        if (r->stmt == ST_BOKEH && !bokeh_row_fits(db, rb, r))
            continue;
        if (write_row(db, rb, r) && r->stmt == ST_PAGE)
            write_evidence(db, rb, r);
        else if (r->stmt == ST_PAGE)
            db->stats.rows_failed += r->n_children;
    }
    if (rb->failed)
        note_error(db, "rows", "out of memory while holding rows; some were lost");
    rowbuf_clear(rb);
    return db->stats.rows_failed - failed_before;
}

/* The writing thread's work: one batch, then a commit when asked. */
static void write_batch(void *ctx, void *batch, int flags)
{
    ow_db *db = ctx;
    int rc = flush_rows(db, batch) ? -1 : 0;
    if ((flags & BATCH_COMMIT) && commit_txn(db) < 0)
        rc = -1;
    db->batch_result = rc;
}

/* ---- setup ---- */

static int interned_column(const char *name)
{
    for (int k = 0; k < INTERN_COUNT; k++)
        if (strcmp(name, interned[k].column) == 0)
            return k;
    return -1;
}

/* "INSERT OR REPLACE INTO t(c1, ...) VALUES(:c1, ...)" over every column of the table; an
 * interned column's value is its text's id. */
static char *insert_sql(sqlite3 *db, const char *table)
{
    char sql[128];
    sqlite3_stmt *st = NULL;
    snprintf(sql, sizeof sql, "PRAGMA main.table_info(\"%s\")", table);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_str *cols = sqlite3_str_new(db), *vals = sqlite3_str_new(db);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 1);
        int k = interned_column(name);
        sqlite3_str_appendf(cols, "%s\"%w\"", sqlite3_str_length(cols) ? ", " : "", name);
        if (k >= 0)
            sqlite3_str_appendf(vals, "%s%s", sqlite3_str_length(vals) ? ", " : "",
                                interned[k].expr);
        else
            sqlite3_str_appendf(vals, "%s:%s", sqlite3_str_length(vals) ? ", " : "", name);
    }
    sqlite3_finalize(st);
    char *c = sqlite3_str_finish(cols), *v = sqlite3_str_finish(vals);
    char *out = c && v
                    ? sqlite3_mprintf("INSERT OR REPLACE INTO \"%w\"(%s) VALUES(%s)", table, c, v)
                    : NULL;
    sqlite3_free(c);
    sqlite3_free(v);
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

static int prepare_insert(ow_db *db, enum stmt_id id, const char *table, char *err, size_t errlen)
{
    char *sql = insert_sql(db->file.db, table);
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
        db->intern_param[id][k] = sqlite3_bind_parameter_index(db->st[id], interned[k].param);
    return copy_param_names(db, id, err, errlen);
}

/* A Bokeh message; a reply names the stored request it answers by id, not by its msgid. The
 * request is found by a scalar subquery (written twice: reply_to, and reqid kept only when
 * no request is stored): an INSERT ... SELECT reading its own table would make SQLite copy
 * the result into a temporary table for every row. */
#define BOKEH_REQUEST                                                                              \
    "(SELECT id FROM bokeh_messages WHERE websocket_id = :websocket_id AND id < :id AND "          \
    "msgid = :reqid ORDER BY id DESC LIMIT 1)"
static const char bokeh_insert_sql[] =
    "INSERT OR REPLACE INTO bokeh_messages(id, websocket_id, ts, dir, msgtype, msgid, reply_to, "
    "reqid, size, num_buffers) VALUES(:id, :websocket_id, :ts, :dir, :msgtype, "
    ":msgid, " BOKEH_REQUEST ", iif(" BOKEH_REQUEST " IS NULL, :reqid, NULL), :size, :num_buffers)";

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

static int prepare_all(ow_db *db, char *err, size_t errlen)
{
    static const struct {
        enum stmt_id id;
        const char *table;
    } inserts[] = {{ST_CAPTURE, "captures"},        {ST_CONN, "connections"},
                   {ST_HTTP, "http_exchanges"},     {ST_WS, "websockets"},
                   {ST_PAGE, "page_loads"},         {ST_EVIDENCE, "evidence"},
                   {ST_PACKET_FILE, "packet_files"}};
    for (size_t i = 0; i < sizeof inserts / sizeof *inserts; i++)
        if (prepare_insert(db, inserts[i].id, inserts[i].table, err, errlen) < 0)
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

static void init_sink(ow_db *db)
{
    db->sink = (ow_record_sink){.ctx = db,
                                .capture = on_capture,
                                .conn = on_conn,
                                .http = on_http,
                                .ws = on_ws,
                                .bokeh = on_bokeh,
                                .page = on_page,
                                .session = on_session,
                                .packet_file = on_packet_file,
                                .tick = on_tick};
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
    batch_worker_init(&db->worker, write_batch, db);
    if (owdb_file_open(path, 0, &db->opt, &db->file, err, errlen) < 0) {
        batch_worker_stop(&db->worker);
        free(db->path);
        free(db);
        return NULL;
    }
    if (start_capture(db, err, errlen) < 0 || prepare_all(db, err, errlen) < 0) {
        owdb_close(db);
        return NULL;
    }
    init_sink(db);
    db->last_commit = mono_now();
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

/* VACUUM, its copy in a temporary file (not memory: the file's size). Failing (a full disk)
 * leaves the file as it was: said on stderr, nothing lost. */
static void compact(ow_db *db)
{
    char *msg = NULL;
    if (sqlite3_exec(db->file.db, "PRAGMA temp_store=FILE; VACUUM", NULL, NULL, &msg) != SQLITE_OK)
        fprintf(stderr, "orphanwatch: %s: not compacted (%s); its data is complete\n", db->path,
                msg ? msg : sqlite3_errmsg(db->file.db));
    sqlite3_free(msg);
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
        /* leave one self-contained file; harmless failures when a reader still has it open */
        sqlite3_exec(db->file.db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
        sqlite3_exec(db->file.db, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL);
        if (db->opt.compact && db->file.created && !db->stats.rows_failed)
            compact(db);
    }
    for (int i = 0; i < 2; i++)
        rowbuf_free(&db->rows[i]);
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
