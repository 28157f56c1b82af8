/* conn: one TCP connection's decoding. Drives the HTTP decoder on both directions, turns
 * each request/response into an exchange (what it was, how it ended), hands page bodies to
 * the token search, and after a 101 drives one WebSocket parser per direction and the Bokeh
 * message assembler. Rows for exchanges, websockets, Bokeh messages and the connection
 * itself leave through the record sink (conn_rows.c builds them; row_text.c cleans the
 * text they take from the wire). */
#include "correlate/internal.h"
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *classify_request(const exchange *x, bool upgrade)
{
    const char *path = x->target;
    size_t plen = strcspn(path, "?#");
    if (upgrade)
        return "websocket";
    if (plen >= 12 && strncmp(path + plen - 12, "/favicon.ico", 12) == 0)
        return "favicon";
    if (memmem(path, plen, "/static/", 8))
        return "static";
    if (plen >= 12 && strncmp(path + plen - 12, "/autoload.js", 12) == 0)
        return "autoload";
    return "other";
}

/* ---------------------------------------------------------------- exchanges */

static void exchange_free(exchange *x)
{
    if (!x)
        return;
    free(x->body);
    if (x->inflater)
        ow_inflater_free(x->inflater);
    free(x);
}

/* A new exchange: numbers, flags and short texts zeroed. The long request texts (method to
 * origin, about 2 KB that on_request writes anyway) are only made empty: they are read as
 * strings, never past their NUL. */
#define EXCHANGE_REQUEST_TEXTS(x)                                                                  \
    (sizeof(x)->method + sizeof(x)->target + sizeof(x)->host + sizeof(x)->user_agent +             \
     sizeof(x)->referer + sizeof(x)->origin)
_Static_assert(offsetof(exchange, subprotocol_session) - offsetof(exchange, method) ==
                   EXCHANGE_REQUEST_TEXTS((exchange *)0),
               "the request texts lie together, between the zeroed parts");

static exchange *exchange_new(void)
{
    exchange *x = malloc(sizeof *x);
    if (!x)
        return NULL;
    memset(x, 0, offsetof(exchange, method));
    memset(x->subprotocol_session, 0, sizeof *x - offsetof(exchange, subprotocol_session));
    x->method[0] = x->target[0] = x->host[0] = 0;
    x->user_agent[0] = x->referer[0] = x->origin[0] = 0;
    return x;
}

static void remember_finished(conn_state *cs, exchange *x)
{
    if (cs->n_recent == CONN_RECENT_EXCH) {
        exchange_free(cs->recent[0]);
        /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers is moved */
        memmove(cs->recent, cs->recent + 1, sizeof cs->recent[0] * (CONN_RECENT_EXCH - 1));
        cs->n_recent--;
    }
    cs->recent[cs->n_recent++] = x;
}

static void queue_push(conn_state *cs, exchange *x)
{
    cs->n_queued++;
    if (cs->queue_tail)
        cs->queue_tail->next = x;
    else
        cs->queue_head = x;
    cs->queue_tail = x;
}

static exchange *queue_pop(conn_state *cs)
{
    exchange *x = cs->queue_head;
    if (x) {
        cs->n_queued--;
        cs->queue_head = x->next;
        if (!cs->queue_head)
            cs->queue_tail = NULL;
        x->next = NULL;
    }
    return x;
}

static void body_append(correlator *c, exchange *x, const uint8_t *data, size_t len)
{
    size_t cap = c->opts.max_page_body;
    if (!x->body) {
        x->body_cap = cap < 65536 ? cap : 65536;
        x->body = malloc(x->body_cap);
        if (!x->body) {
            x->collect = false;
            return;
        }
    }
    while (x->body_len + len > x->body_cap && x->body_cap < cap) {
        size_t ncap = x->body_cap * 2 > cap ? cap : x->body_cap * 2;
        uint8_t *nb = realloc(x->body, ncap);
        if (!nb)
            break;
        x->body = nb;
        x->body_cap = ncap;
    }
    size_t room = x->body_cap - x->body_len;
    if (len > room) {
        c->stats.page_body_truncated++;
        len = room;
    }
    memcpy(x->body + x->body_len, data, len);
    x->body_len += len;
}

static void body_feed(correlator *c, exchange *x, const uint8_t *data, size_t len)
{
    if (!x->inflater) {
        body_append(c, x, data, len);
        return;
    }
    if (!x->body && (body_append(c, x, data, 0), !x->body))
        return;
    for (;;) { /* grow up to the cap while the inflater fills the buffer */
        size_t before = x->body_len;
        uint64_t dropped = 0;
        int rc =
            ow_inflater_feed(x->inflater, data, len, x->body, x->body_cap, &x->body_len, &dropped);
        if (rc < 0) {
            c->stats.inflate_errors++;
            ow_inflater_free(x->inflater);
            x->inflater = NULL;
            return;
        }
        if (!dropped)
            return;
        if (x->body_cap >= c->opts.max_page_body) {
            x->inflate_dropped += dropped;
            c->stats.page_body_truncated++;
            return;
        }
        /* output was cut at the current capacity: grow and inflate the rest next time */
        size_t ncap =
            x->body_cap * 2 > c->opts.max_page_body ? c->opts.max_page_body : x->body_cap * 2;
        uint8_t *nb = realloc(x->body, ncap);
        if (!nb)
            return;
        x->body = nb;
        x->body_cap = ncap;
        (void)before;
        x->inflate_dropped += dropped; /* what was cut before growing is lost: counted */
        c->stats.page_body_truncated++;
        return;
    }
}

/* ---------------------------------------------------------------- websockets */

/* A message type's slot: a slot's name equals the type when their lengths and bytes do. */
static int msgtype_slot(ws_state *ws, const char *type)
{
    size_t len = strlen(type);
    for (int i = 0; i < MSGTYPE_SLOTS; i++) {
        if (!ws->msgtype[i][0]) {
            copy_bounded(ws->msgtype[i], sizeof ws->msgtype[i], type, len);
            ws->msgtype_len[i] = (uint8_t)strlen(ws->msgtype[i]);
            return i;
        }
        if (ws->msgtype_len[i] == len && memcmp(ws->msgtype[i], type, len) == 0)
            return i;
    }
    return MSGTYPE_SLOTS - 1; /* last slot absorbs overflow */
}

/* Stored: the first message of each type in each direction, up to max_bokeh_stored per
 * websocket (the handshake, the first of each later kind, an ERROR however late); the rest
 * are counted in msgcount. */
static bool bokeh_store(correlator *c, ws_state *ws, int dir, int slot)
{
    uint16_t bit = (uint16_t)(1u << slot);
    if (ws->bokeh_stored >= c->opts.max_bokeh_stored || (ws->type_stored[dir] & bit))
        return false;
    ws->type_stored[dir] |= bit;
    ws->bokeh_stored++;
    return true;
}

static void on_bokeh_message(correlator *c, conn_state *cs, ws_state *ws, int dir,
                             const bokeh_msg *m)
{
    c->stats.bokeh_messages++;
    int slot = msgtype_slot(ws, m->msgtype);
    ws->msgcount[slot]++;
    if (!bokeh_store(c, ws, dir & 1, slot)) {
        c->stats.bokeh_not_stored++;
    } else if (c->out.bokeh) {
        ow_bokeh_rec r = {.id = ++c->next_bokeh_id,
                          .ws_id = ws->id,
                          .ts = cs->now,
                          .dir = dir,
                          .msgtype = m->msgtype,
                          .msgid = m->msgid,
                          .reqid = m->reqid,
                          .size = m->size,
                          .num_buffers = m->num_buffers};
        c->out.bokeh(c->out.ctx, &r);
    }
    bool changed = false;
    if (dir == OW_DIR_S2C && !ws->ack_ts && strcmp(m->msgtype, "ACK") == 0)
        ws->ack_ts = cs->now, changed = true;
    if (dir == OW_DIR_S2C && !ws->pull_doc_ts && strcmp(m->msgtype, "PULL-DOC-REPLY") == 0)
        ws->pull_doc_ts = cs->now, changed = true;
    if (dir == OW_DIR_C2S && strcmp(m->msgtype, "PATCH-DOC") == 0)
        changed = ws->client_patch_docs++ == 0;
    if (changed) {
        conn_mark(c, cs, CONN_DIRTY_WS);
        page_update_ws(c, ws, cs->flow);
    }
}

static void ws_on_message(void *ctx, int opcode, const uint8_t *data, size_t kept, uint64_t total,
                          bool compressed, bool truncated)
{
    conn_state *cs = ctx;
    ws_state *ws = cs->ws;
    int dir = ws->cur_dir;
    ws->messages[dir]++;
    cs->cor->stats.ws_messages++;
    cs->cor->stats.ws_truncated += truncated;
    bokeh_stream *bs = &ws->bokeh[dir];
    int rc = bokeh_stream_feed(bs, opcode == WS_OP_BINARY, data, kept, total, NULL);
    if (rc == 1)
        on_bokeh_message(cs->cor, cs, ws, dir, &bs->cur); /* the message completed */
    else if (rc < 0)
        cs->cor->stats.bokeh_errors++;
}

/* The parser keeps of each message only what the Bokeh assembler reads: nothing of a binary
 * buffer (its size is all that counts), a text whole. */
static size_t ws_message_keep(void *ctx, int opcode)
{
    conn_state *cs = ctx;
    ws_state *ws = cs->ws;
    return bokeh_stream_keep(&ws->bokeh[ws->cur_dir], opcode == WS_OP_BINARY);
}

static void ws_on_control(void *ctx, int opcode, const uint8_t *payload, size_t len)
{
    conn_state *cs = ctx;
    ws_state *ws = cs->ws;
    int dir = ws->cur_dir;
    if (opcode == WS_OP_PING)
        ws->pings++;
    else if (opcode == WS_OP_PONG)
        ws->pongs++;
    if (opcode != WS_OP_CLOSE || ws->close_code[dir] != -1)
        return;
    int code;
    const uint8_t *reason;
    size_t rlen;
    ws_parse_close(payload, len, &code, &reason, &rlen);
    ws->close_code[dir] = code;
    if (!ws->close_reason[0] && rlen)
        copy_bounded(ws->close_reason, sizeof ws->close_reason, (const char *)reason, rlen);
    if (!ws->close_ts)
        ws->close_ts = cs->now;
    conn_mark(cs->cor, cs, CONN_DIRTY_WS);
    page_update_ws(cs->cor, ws, cs->flow);
}

static void ws_on_error(void *ctx, const char *why)
{
    conn_state *cs = ctx;
    cs->ws->errors++;
    cs->cor->stats.ws_errors++;
}

static ws_state *ws_new(correlator *c, conn_state *cs)
{
    ws_state *ws = calloc(1, sizeof *ws);
    if (!ws)
        return NULL;
    ws->id = ++c->next_ws_id;
    ws->close_code[0] = ws->close_code[1] = -1;
    bokeh_stream_init(&ws->bokeh[0]);
    bokeh_stream_init(&ws->bokeh[1]);
    return ws;
}

static bool ws_open_parsers(correlator *c, conn_state *cs, ws_state *ws, bool deflate,
                            bool server_nct, bool client_nct)
{
    ws_callbacks cb = {.ctx = cs,
                       .on_message = ws_on_message,
                       .on_control = ws_on_control,
                       .on_error = ws_on_error,
                       .message_keep = ws_message_keep};
    size_t max = c->opts.max_ws_message;
    ws->parser[OW_DIR_C2S] = ws_parser_new(&cb, true, deflate, client_nct, max, &c->inflaters);
    ws->parser[OW_DIR_S2C] = ws_parser_new(&cb, false, deflate, server_nct, max, &c->inflaters);
    return ws->parser[0] && ws->parser[1];
}

/* A websocket attempt (101 or refused), described by the exchange that asked for it. */
static ws_state *ws_from_exchange(correlator *c, conn_state *cs, exchange *x)
{
    ws_state *ws = ws_new(c, cs);
    if (!ws)
        return NULL;
    c->stats.ws_upgrades++;
    ws->http_id = x->id;
    ws->upgrade_ts = x->req_ts;
    ws->status = x->status;
    ws->token_expiry = x->token_expiry;
    ws->subprotocol_ok = x->ws_subprotocol_ok;
    ws->deflate = x->ws_deflate;
    ws->last_ts = cs->now;
    memcpy(ws->session_id, x->subprotocol_session, sizeof ws->session_id);
    copy_bounded(ws->reason, sizeof ws->reason, x->reason, strlen(x->reason));
    copy_bounded(ws->origin, sizeof ws->origin, x->origin, strlen(x->origin));
    copy_bounded(ws->path, sizeof ws->path, x->target, strlen(x->target));
    return ws;
}

static void ws_free(ws_state *ws)
{
    if (!ws)
        return;
    for (int d = 0; d < 2; d++)
        if (ws->parser[d])
            ws_parser_free(ws->parser[d]);
    free(ws);
}

static size_t ws_feed(conn_state *cs, int dir, const uint8_t *data, size_t len)
{
    ws_state *ws = cs->ws;
    if (!ws->parser[dir])
        return len; /* refused upgrade parsers never opened: nothing to decode */
    ws->cur_dir = dir;
    ws->last_ts = cs->now;
    return ws_parser_feed(ws->parser[dir], data, len);
}

/* ---------------------------------------------------------------- HTTP callbacks */

static void learn_subprotocol_session(correlator *c, exchange *x, const http_head *req)
{
    const http_header *sp = http_find_header(req, "Sec-WebSocket-Protocol");
    const char *tok, *id;
    size_t tok_len, id_len;
    bokeh_token_info info;
    if (sp && bokeh_parse_subprotocol(sp->value, sp->value_len, &tok, &tok_len) == 0) {
        if (bokeh_token_decode(tok, tok_len, &info) == 0) {
            memcpy(x->subprotocol_session, info.session_id, sizeof x->subprotocol_session);
            x->token_expiry = info.has_expiry ? info.expiry : 0;
            x->has_token = true;
        } else {
            c->stats.tokens_bad++;
        }
    } else if (bokeh_query_session_id(x->target, strlen(x->target), &id, &id_len) == 0) {
        copy_bounded(x->subprotocol_session, sizeof x->subprotocol_session, id, id_len);
    }
}

static bool on_request(void *ctx, const http_head *req, const http_request_info *info)
{
    conn_state *cs = ctx;
    correlator *c = cs->cor;
    c->stats.http_requests++;
    cs->requests++;
    cs->req_cur = NULL;
    if (cs->n_queued >= HTTP_MAX_PENDING) {
        /* as many unanswered requests as the decoder pairs: this one is only counted (the
         * decoder drops it from its ring too, so the pairing stays in step) */
        c->stats.http_pending_overflow++;
        return false;
    }
    exchange *x = exchange_new();
    if (!x)
        return false;
    x->id = ++c->next_http_id;
    x->seq = info->index;
    x->req_ts = cs->now;
    x->content_length = -1;
    x->res_index = -1;
    copy_bounded(x->method, sizeof x->method, req->method, req->method_len);
    copy_bounded(x->target, sizeof x->target, req->target, req->target_len);
    copy_header(x->host, sizeof x->host, req, "Host");
    copy_header(x->user_agent, sizeof x->user_agent, req, "User-Agent");
    copy_header(x->referer, sizeof x->referer, req, "Referer");
    if (!c->opts.store_secrets) { /* the Referer carries the page URL's query too */
        redact_query(x->target, sizeof x->target);
        redact_query(x->referer, sizeof x->referer);
    }
    copy_header(x->origin, sizeof x->origin, req, "Origin");
    const char *kind = classify_request(x, info->upgrade_websocket);
    copy_bounded(x->kind, sizeof x->kind, kind, strlen(kind));
    if (info->upgrade_websocket)
        learn_subprotocol_session(c, x, req);
    queue_push(cs, x);
    cs->req_cur = x;
    if (!strcmp(kind, "static") || !strcmp(kind, "favicon"))
        page_link_static(c, cs, x);
    return false;
}

static bool may_carry_tokens(const exchange *x)
{
    if (x->status != 200 || strcmp(x->method, "GET") != 0)
        return false;
    if (strcmp(x->kind, "other") && strcmp(x->kind, "autoload"))
        return false;
    return !x->content_type[0] || strcasestr(x->content_type, "html") ||
           strcasestr(x->content_type, "javascript");
}

static void response_encoding(exchange *x)
{
    if (!strcasecmp(x->content_encoding, "gzip") || !strcasecmp(x->content_encoding, "x-gzip"))
        x->inflater = ow_inflater_new(OW_INFLATE_GZIP);
    else if (!strcasecmp(x->content_encoding, "deflate"))
        x->inflater = ow_inflater_new(OW_INFLATE_ZLIB_OR_RAW);
}

static void learn_ws_response(exchange *x, const http_head *resp)
{
    const http_header *ext = http_find_header(resp, "Sec-WebSocket-Extensions");
    const http_header *sp = http_find_header(resp, "Sec-WebSocket-Protocol");
    if (ext)
        ws_parse_extensions(ext->value, ext->value_len, &x->ws_deflate, &x->ws_server_nct,
                            &x->ws_client_nct);
    x->ws_subprotocol_ok = sp && http_value_has_token(sp->value, sp->value_len, "bokeh");
}

static bool on_response(void *ctx, const http_head *resp, const http_request_info *req)
{
    conn_state *cs = ctx;
    correlator *c = cs->cor;
    exchange *x = req ? queue_pop(cs) : NULL;
    c->stats.http_responses++;
    if (!x) { /* a response without its request: picked up mid-stream */
        c->stats.http_unpaired++;
        x = exchange_new();
        if (!x)
            return false;
        x->id = ++c->next_http_id;
        x->res_index = -1;
        x->req_ts = cs->now;
        snprintf(x->kind, sizeof x->kind, "other");
    }
    if (cs->req_cur == x)
        cs->req_cur = NULL;
    x->has_response = true;
    x->resp_ts = cs->now;
    x->status = resp->status;
    copy_bounded(x->reason, sizeof x->reason, resp->reason, resp->reason_len);
    copy_header(x->content_type, sizeof x->content_type, resp, "Content-Type");
    copy_header(x->content_encoding, sizeof x->content_encoding, resp, "Content-Encoding");
    uint64_t len; /* as framing reads it (a header value is not NUL-terminated: no strtoll) */
    x->content_length = http_content_length(resp, &len) == 1 ? (int64_t)len : -1;
    exchange_free(cs->resp_cur); /* a response that never ended (should not happen) */
    cs->resp_cur = x;
    if (!strcmp(x->kind, "websocket"))
        learn_ws_response(x, resp);
    if (resp->status == 101) {
        ws_state *ws = ws_from_exchange(c, cs, x);
        if (ws && ws_open_parsers(c, cs, ws, x->ws_deflate, x->ws_server_nct, x->ws_client_nct)) {
            cs->ws = ws;
            cs->any_ws = true;
            page_link_ws(c, cs, ws);
            x->page_load_id = ws->page_load_id;
            conn_emit_ws(c, cs, ws);
        } else {
            ws_free(ws);
        }
    }
    x->collect = may_carry_tokens(x);
    if (x->collect)
        response_encoding(x);
    return x->collect;
}

static void on_body(void *ctx, int dir, const uint8_t *data, size_t len)
{
    conn_state *cs = ctx;
    if (dir == HTTP_DIR_RESPONSE && cs->resp_cur && cs->resp_cur->collect)
        body_feed(cs->cor, cs->resp_cur, data, len);
}

static void refused_websocket(correlator *c, conn_state *cs, exchange *x)
{
    ws_state *ws = ws_from_exchange(c, cs, x);
    if (!ws)
        return;
    cs->any_ws = true;
    page_link_ws(c, cs, ws);
    x->page_load_id = ws->page_load_id;
    conn_emit_ws(c, cs, ws);
    ws_free(ws);
}

static void finish_response(correlator *c, conn_state *cs, exchange *x)
{
    if (x->collect && x->body_len)
        page_from_tokens(c, cs, x);
    if (!strcmp(x->kind, "websocket") && x->status != 101 && x->has_response)
        refused_websocket(c, cs, x);
    if (x->page_load_id)
        page_update_resource(c, cs, x);
    conn_emit_http(c, cs, x);
    free(x->body);
    x->body = NULL;
    if (x->inflater)
        ow_inflater_free(x->inflater);
    x->inflater = NULL;
    remember_finished(cs, x);
}

static void on_message_end(void *ctx, int dir, uint64_t body_bytes, bool complete)
{
    conn_state *cs = ctx;
    if (dir == HTTP_DIR_REQUEST) {
        if (cs->req_cur)
            cs->req_cur->req_body_bytes = body_bytes;
        cs->req_cur = NULL;
        return;
    }
    exchange *x = cs->resp_cur;
    if (!x)
        return;
    cs->resp_cur = NULL;
    x->resp_body_bytes = body_bytes;
    x->complete = complete;
    x->ended = true;
    x->resp_end_ts = cs->now;
    x->end_offset = cs->feed_end[OW_DIR_S2C];
    finish_response(cs->cor, cs, x);
}

static void on_error(void *ctx, int dir, const char *why)
{
    conn_state *cs = ctx;
    cs->cor->stats.http_errors++;
}

/* Encrypted: nothing of it can be read, and the row says so (kind tls). */
static void on_tls(void *ctx, int dir)
{
    conn_state *cs = ctx;
    cs->cor->stats.tls_connections++;
    conn_mark(cs->cor, cs, CONN_DIRTY_ROW);
}

/* ---------------------------------------------------------------- the flow sink */

void health_brief_from(health_brief *b, const conn_state *cs, int close_how)
{
    const ow_flow *f = cs->flow;
    const tcp_dir_health *s = &f->health.dir[OW_DIR_S2C], *cl = &f->health.dir[OW_DIR_C2S];
    *b = (health_brief){
        .max_seg = s->max_seg,
        .max_seg_acked = s->max_seg_acked,
        .max_seg_lost = s->max_seg_lost,
        .lost_retrans = s->lost_retrans,
        .retrans = (uint32_t)s->retrans_segments,
        .rto_count = s->rto_count,
        .seg_after_recovery = s->seg_after_recovery,
        .recovered_smaller = s->recovered_smaller,
        .longest_stall = s->longest_stall,
        .stall_start = s->stall_start_ts,
        .unacked = s->unacked_bytes,
        .acked_bytes = s->acked_bytes,
        .client_fin_ts = cl->fin ? cl->fin_ts : 0,
        .client_rst_ts = cl->rst ? cl->rst_ts : 0,
        .server_fin_ts = s->fin ? s->fin_ts : 0,
        .server_rst_ts = s->rst ? s->rst_ts : 0,
        .server_last_data_ts = cs->last_data_ts[OW_DIR_S2C],
        .close_how = close_how,
    };
}

conn_state *conn_find(correlator *c, int64_t conn_id)
{
    uint64_t id = (uint64_t)conn_id;
    return strmap_get(&c->conn_by_id, &id, sizeof id);
}

void conn_mark(correlator *c, conn_state *cs, unsigned what)
{
    if (!cs->dirty) {
        cs->dirty_prev = NULL;
        cs->dirty_next = c->dirty_head;
        if (c->dirty_head)
            c->dirty_head->dirty_prev = cs;
        c->dirty_head = cs;
    }
    cs->dirty |= what;
}

static void conn_unmark(correlator *c, conn_state *cs)
{
    if (!cs->dirty)
        return;
    if (cs->dirty_prev)
        cs->dirty_prev->dirty_next = cs->dirty_next;
    else
        c->dirty_head = cs->dirty_next;
    if (cs->dirty_next)
        cs->dirty_next->dirty_prev = cs->dirty_prev;
    cs->dirty = 0;
}

void conn_flush_marked(correlator *c)
{
    conn_state *cs;
    while ((cs = c->dirty_head) != NULL) {
        unsigned what = cs->dirty;
        conn_unmark(c, cs);
        if ((what & CONN_DIRTY_WS) && cs->ws)
            conn_emit_ws(c, cs, cs->ws);
        if (what & CONN_DIRTY_ROW)
            conn_emit_row(c, cs, "open");
    }
}

void conn_emit_progress(correlator *c, conn_state *cs)
{
    conn_mark(c, cs, CONN_DIRTY_ROW);
}

void conn_open(correlator *c, ow_flow *f, double ts)
{
    conn_state *cs = malloc(sizeof *cs);
    if (!cs)
        return;
    memset(cs, 0, CONN_STATE_ZEROED);
    cs->last_row.valid = false;
    cs->cor = c;
    cs->flow = f;
    cs->now = ts;
    http_callbacks cb = {.ctx = cs,
                         .on_request = on_request,
                         .on_response = on_response,
                         .on_body = on_body,
                         .on_message_end = on_message_end,
                         .on_error = on_error,
                         .on_tls = on_tls};
    http_conn_init(&cs->http, &cb);
    f->user = cs;
    strmap_put(&c->conn_by_id, &f->id, sizeof f->id, cs);
    c->stats.connections++;
    conn_emit_row(c, cs, "open");
}

static bool looks_like_http(const uint8_t *d, size_t len)
{
    static const char *const starts[] = {"GET ",    "POST ",    "HEAD ",  "PUT ",
                                         "DELETE ", "OPTIONS ", "PATCH ", "HTTP/1."};
    for (size_t i = 0; i < sizeof starts / sizeof *starts; i++) {
        size_t n = strlen(starts[i]);
        if (memcmp(d, starts[i], len < n ? len : n) == 0)
            return true;
    }
    return false;
}

/* A connection picked up mid-stream that carries websocket frames: decode from a frame
 * boundary on; the session stays unknown unless learned later. */
static void maybe_midstream_ws(correlator *c, conn_state *cs, int dir, const uint8_t *data,
                               size_t len)
{
    if (cs->ws || cs->requests || !cs->flow->midstream || len < 2 || looks_like_http(data, len) ||
        cs->http.tls || http_tls_sniff(data, len) != 0)
        return;
    if (ws_find_frame_start(data, len, dir == OW_DIR_C2S) >= len)
        return;
    ws_state *ws = ws_new(c, cs);
    if (!ws || !ws_open_parsers(c, cs, ws, false, false, false)) {
        ws_free(ws);
        return;
    }
    ws->midstream = true;
    ws->status = 101;
    ws_parser_gap(ws->parser[0], 0); /* "starting mid-stream": find a frame start first */
    ws_parser_gap(ws->parser[1], 0);
    ws->upgrade_ts = cs->now;
    cs->ws = ws;
    cs->any_ws = true;
    c->stats.ws_midstream++;
    conn_emit_ws(c, cs, ws);
}

size_t conn_data(correlator *c, ow_flow *f, int dir, const uint8_t *data, size_t len, double ts)
{
    conn_state *cs = f->user;
    if (!cs)
        return len;
    cs->now = ts;
    if (cs->offset[dir] + len > cs->feed_end[dir])
        cs->last_data_ts[dir] = ts;
    cs->feed_end[dir] = cs->offset[dir] + len;
    maybe_midstream_ws(c, cs, dir, data, len);
    size_t used = 0;
    if (!cs->ws) {
        used = http_conn_feed(&cs->http, dir, data, len);
    }
    if (cs->ws && used < len)
        used += ws_feed(cs, dir, data + used, len - used);
    cs->offset[dir] += used;
    return used;
}

void conn_gap(correlator *c, ow_flow *f, int dir, uint64_t len, double ts)
{
    conn_state *cs = f->user;
    if (!cs)
        return;
    cs->now = ts;
    c->stats.gaps++;
    if (cs->ws && cs->ws->parser[dir]) {
        cs->ws->cur_dir = dir; /* a message the gap ends is this direction's */
        ws_parser_gap(cs->ws->parser[dir], len);
    } else {
        http_conn_gap(&cs->http, dir, len);
    }
    cs->offset[dir] += len;
}

static const char *close_name(int how)
{
    switch (how) {
    case OW_CLOSE_FIN:
        return "fin";
    case OW_CLOSE_RST:
        return "rst";
    case OW_CLOSE_TIMEOUT:
        return "timeout";
    case OW_CLOSE_END:
        return "end";
    default:
        return "open";
    }
}

static void flush_unanswered(correlator *c, conn_state *cs)
{
    exchange *x;
    if (cs->resp_cur) { /* a response cut short that the decoder did not end */
        x = cs->resp_cur;
        cs->resp_cur = NULL;
        x->resp_end_ts = cs->now;
        finish_response(c, cs, x);
    }
    while ((x = queue_pop(cs)) != NULL) {
        if (x->page_load_id)
            page_update_resource(c, cs, x);
        conn_emit_http(c, cs, x);
        remember_finished(cs, x);
    }
}

void conn_close(correlator *c, ow_flow *f, int how, double ts)
{
    conn_state *cs = f->user;
    if (!cs)
        return;
    cs->now = ts;
    if (!cs->ws) {
        http_conn_eof(&cs->http, OW_DIR_C2S);
        http_conn_eof(&cs->http, OW_DIR_S2C);
    }
    flush_unanswered(c, cs);
    if (cs->ws) {
        for (int d = 0; d < 2; d++) { /* a message cut short by the end is still counted */
            cs->ws->cur_dir = d;
            ws_parser_eof(cs->ws->parser[d]);
        }
        cs->ws->last_ts = ts;
        page_update_ws(c, cs->ws, f);
        conn_emit_ws(c, cs, cs->ws);
        ws_free(cs->ws);
        cs->ws = NULL;
    }
    page_refresh_conn(c, cs, how);
    for (int i = 0; i < cs->n_recent; i++) { /* now the last-byte-acked answer is final */
        conn_emit_http(c, cs, cs->recent[i]);
        exchange_free(cs->recent[i]);
    }
    conn_emit_row(c, cs, close_name(how));
    conn_unmark(c, cs); /* the rows just emitted are its final ones */
    strmap_del(&c->conn_by_id, &f->id, sizeof f->id, cs);
    f->user = NULL;
    free(cs);
}
