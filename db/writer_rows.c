/* writer_rows: the packet thread's half of the database writer. Each record from the
 * correlator becomes a held row: its values bound by column name (":column") into the batch
 * being filled (db/rowbuf.h), a re-emitted record replacing its earlier row. A batch that has
 * grown past its bound, or whose commit is due, goes to the writing thread (writer_flush.c)
 * while the next one fills. */
#include "db/writer_priv.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

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
int owdb_param_index(const ow_db *db, int stmt, const char *name)
{
    const param_names *p = &db->params[stmt];
    for (int i = 0; i < p->n; i++)
        if (p->name[i] && strcmp(p->name[i], name) == 0)
            return i + 1;
    return 0;
}

/* The binders below run for every column of every row: inlined into each record's function. */
#define BIND_INLINE static inline __attribute__((always_inline))

static int param_lookup(binder *b, const char *name)
{
    param_slot *param_cache = b->db->param_cache;
    uint64_t key = ((uint64_t)(uintptr_t)name << 4) ^ (uint64_t)b->stmt;
    size_t h = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 52) & (PARAM_CACHE - 1);
    if (param_cache[h].name == name && param_cache[h].stmt == b->stmt)
        return param_cache[h].index;
    int i = owdb_param_index(b->db, b->stmt, name);
    param_cache[h].stmt = b->stmt;
    param_cache[h].name = name;
    param_cache[h].index = i;
    return i;
}

/* The parameter index of name: where the statement's last row had its name at this position,
 * else looked up (and remembered there). */
BIND_INLINE int param(binder *b, const char *name)
{
    param_seq_slot *s = b->pos < PARAM_SEQ ? &b->db->param_seq[b->stmt][b->pos] : NULL;
    b->pos++;
    int i;
    if (s && s->name == name)
        i = s->index;
    else {
        i = param_lookup(b, name);
        if (s)
            *s = (param_seq_slot){name, i};
    }
    if (i == 0 && !b->bad)
        b->bad = name;
    return i;
}

BIND_INLINE void b_int(binder *b, const char *name, int64_t v)
{
    rowbuf_int(b->rb, b->row, param(b, name), v);
}

BIND_INLINE void b_uint(binder *b, const char *name, uint64_t v)
{
    b_int(b, name, v > INT64_MAX ? INT64_MAX : (int64_t)v);
}

BIND_INLINE void b_real(binder *b, const char *name, double v)
{
    rowbuf_real(b->rb, b->row, param(b, name), v);
}

BIND_INLINE void b_text(binder *b, const char *name, const char *s)
{
    rowbuf_text(b->rb, b->row, param(b, name), s);
}

/* An address as text, formatted once per address seen (ADDR_TEXT_CACHE); NULL binds NULL. */
static void b_addr(binder *b, const char *name, const ow_addr *a)
{
    if (!a) {
        rowbuf_null(b->rb, b->row, param(b, name));
        return;
    }
    uint32_t w;
    memcpy(&w, a->bytes, 4);
    uint32_t h = w * 0x9E3779B1u ^ a->family;
    if (a->family == 6)
        for (int i = 4; i < 16; i += 4) {
            uint32_t x;
            memcpy(&x, a->bytes + i, 4);
            h = (h ^ x) * 0x9E3779B1u;
        }
    addr_text_slot *s = &b->db->addr_texts[(h >> 24) & (ADDR_TEXT_CACHE - 1)];
    if (s->addr.family == 0 || !ow_addr_eq(&s->addr, a)) {
        ow_addr_str(a, s->text, sizeof s->text);
        s->addr = *a;
        s->len = (uint8_t)strlen(s->text);
        if (a->family == 0) /* never matched again (0 marks a free slot) */
            s->addr.family = 0;
    }
    rowbuf_text_len(b->rb, b->row, param(b, name), s->text, s->len);
}

BIND_INLINE void b_null(binder *b, const char *name)
{
    rowbuf_null(b->rb, b->row, param(b, name));
}

/* Optional values: NULL unless present. */
BIND_INLINE void b_int_if(binder *b, const char *name, int64_t v, bool present)
{
    if (present)
        b_int(b, name, v);
    else
        b_null(b, name);
}

BIND_INLINE void b_real_if(binder *b, const char *name, double v, bool present)
{
    if (present)
        b_real(b, name, v);
    else
        b_null(b, name);
}

BIND_INLINE void b_ref(binder *b, const char *name, int64_t rec_id, int64_t offset)
{
    b_int_if(b, name, rec_id + offset, rec_id > 0);
}

/* Starts the held row of statement id for the record key (0: a row never re-emitted). A row
 * already held under the same key is replaced. */
static binder bind_start(ow_db *db, enum stmt_id id, int64_t key, const char *key_text)
{
    rowbuf *rb = &db->rows[db->filling];
    binder b = {db, rb, id, 0, rowbuf_begin(rb, id, key, key_text), NULL};
    return b;
}

/* Starts a child row of b's row (written after it, replaced with it). */
static binder bind_child(binder *parent, enum stmt_id id)
{
    binder b = {parent->db, parent->rb, id, 0, rowbuf_begin_child(parent->rb, parent->row, id),
                NULL};
    return b;
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

int owdb_commit_last(ow_db *db)
{
    if (db->opt.sync_packed_only && db->opt.compact && db->file.created && !db->unsynced) {
        batch_worker_wait(&db->worker); /* no batch out: the connection is this thread's */
        /* a WAL commit syncs nothing, its automatic checkpoint would; owdb_close checkpoints
         * without syncs (synchronous cannot change while the transaction is open) */
        sqlite3_wal_autocheckpoint(db->file.db, 0);
        db->unsynced = true;
    }
    return owdb_commit(db);
}

int owdb_commit(ow_db *db)
{
    hand_over(db, BATCH_COMMIT);
    batch_worker_wait(&db->worker);
    refresh_snapshot(db);
    db->next_commit = owdb_mono_now() + db->opt.commit_interval_ms / 1000.0;
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

/* A record that cannot become a row (a required field missing: a caller's bug) is lost and
 * counted here, on the packet thread (the writing thread owns db->stats). */
static void lose_record(ow_db *db, const char *what, const char *why)
{
    snprintf(db->held_error, sizeof db->held_error, "%s: internal: %s; the record is lost", what,
             why);
    db->held_lost++;
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
    b_addr(b, ":client", &f->client);
    b_int(b, ":client_port", f->client_port);
    b_addr(b, ":server", &f->server);
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
        lose_record(db, "connection", "no flow");
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
    b_text(b, ":session_id", r->session_id);
    b_addr(b, ":client", r->client);
    b_int(b, ":client_port", r->client_port);
    b_addr(b, ":server", r->server);
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
        lose_record(db, "session", "no session id");
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
        lose_record(db, "packet file", "no file name");
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

static void on_capture_file(void *ctx, const ow_capture_file_rec *r)
{
    ow_db *db = writer_of(ctx);
    if (!db)
        return;
    if (!r->file) {
        lose_record(db, "capture file", "no file name");
        return;
    }
    row_begin(db);
    binder b = bind_start(db, ST_CAPTURE_FILE, 0, NULL);
    b_int(&b, ":capture_id", db->capture_id);
    b_int(&b, ":seq", r->seq);
    b_text(&b, ":file", r->file);
    b_real_if(&b, ":first_ts", r->first_ts, r->packets > 0 && isfinite(r->first_ts));
    b_real_if(&b, ":last_ts", r->last_ts, r->packets > 0 && isfinite(r->last_ts));
    b_uint(&b, ":packets", r->packets);
    hold_row(db, &b, "capture file");
}

static void on_tick(void *ctx, double now)
{
    ow_db *db = writer_of(ctx);
    if (!db)
        return;
    (void)now; /* capture time; commits follow wall-clock time */
    double t = owdb_mono_now();
    bool wait = db->opt.never_stall && batch_worker_busy(&db->worker); /* next tick */
    if (t >= db->next_commit && !wait) {
        hand_over(db, BATCH_COMMIT); /* written and committed while packets go on */
        db->next_commit = t + db->opt.commit_interval_ms / 1000.0;
    }
}

/* The sink the correlator writes records to: each callback holds a row. */
void owdb_init_sink(ow_db *db)
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
                                .capture_file = on_capture_file,
                                .tick = on_tick};
}
