/* conn_rows: the rows a connection's decoding leaves through the record sink: one per HTTP
 * exchange, per websocket (its counts as JSON) and per connection (sent again only when what
 * a reader could see changed). */
#include "correlate/internal.h"
#include <stdio.h>
#include <string.h>

void conn_emit_http(correlator *c, conn_state *cs, const exchange *x)
{
    if (!c->out.http)
        return;
    int acked = -1;
    if (x->ended && x->has_response)
        acked = cs->flow->health.dir[OW_DIR_S2C].acked_bytes >= x->end_offset ? 1 : 0;
    page_load *p = x->page_load_id ? page_find(c, x->page_load_id) : NULL;
    /* a fetch made for a page repeats the page's Host and User-Agent and names it as
     * Referer: store those once, on the page (NULL here means "as the page") */
    bool linked = p != NULL;
    bool same_host = linked && !strcmp(x->host, p->host);
    bool same_ua = linked && !strcmp(x->user_agent, p->user_agent);
    bool same_referer = linked && x->referer[0] && strstr(x->referer, p->path) &&
                        !strcmp(strstr(x->referer, p->path), p->path);
    const char *sid = x->subprotocol_session[0]  ? x->subprotocol_session
                      : p && x->id == p->http_id ? p->session_id
                                                 : NULL; /* statics: via page_load_id */
    ow_http_rec r = {
        .id = x->id,
        .conn_id = (int64_t)cs->flow->id,
        .seq = x->seq,
        .kind = x->kind,
        .req_ts = x->req_ts,
        .method = x->method,
        .target = x->target,
        .host = same_host ? NULL : x->host,
        .user_agent = same_ua ? NULL : x->user_agent,
        .referer = same_referer ? NULL : x->referer,
        .origin = x->origin,
        .req_body_bytes = x->req_body_bytes,
        .resp_ts = x->resp_ts,
        .resp_end_ts = x->resp_end_ts,
        .status = x->status,
        .reason = x->reason,
        .content_type = x->content_type,
        .content_encoding = x->content_encoding,
        .content_length = x->content_length,
        .resp_body_bytes = x->resp_body_bytes,
        .complete = x->complete,
        .last_byte_acked = acked,
        .page_load_id = x->page_load_id,
        .session_id = sid,
    };
    c->out.http(c->out.ctx, &r);
}

/* A JSON text built by appending, cut at the buffer's capacity as snprintf would cut it (the
 * counts are formatted for every websocket row: snprintf per member was most of its cost). */
typedef struct json_out {
    char *buf;
    size_t cap, len; /* len < cap: always NUL-terminated */
} json_out;

static void json_put(json_out *o, const char *s, size_t n)
{
    size_t room = o->cap - 1 - o->len;
    if (n > room)
        n = room;
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = 0;
}

static void json_put_u64(json_out *o, uint64_t v)
{
    char digits[20];
    size_t n = sizeof digits;
    do
        digits[--n] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    json_put(o, digits + n, sizeof digits - n);
}

/* "name":count, with the separator before every member but the first */
static void json_put_member(json_out *o, bool first, const char *name, uint64_t count)
{
    if (!first)
        json_put(o, ",", 1);
    json_put(o, "\"", 1);
    json_put(o, name, strlen(name));
    json_put(o, "\":", 2);
    json_put_u64(o, count);
}

static void msg_counts_json(const ws_state *ws, char *buf, size_t cap)
{
    json_out o = {buf, cap, 0};
    buf[0] = 0;
    json_put(&o, "{", 1);
    for (int i = 0; i < MSGTYPE_SLOTS && ws->msgtype[i][0]; i++)
        json_put_member(&o, i == 0, ws->msgtype[i], ws->msgcount[i]);
    json_put(&o, "}", 1);
}

static void opcode_counts_json(const ws_state *ws, char *buf, size_t cap)
{
    static const char *const op_names[16] = {"0", "1", "2",  "3",  "4",  "5",  "6",  "7",
                                             "8", "9", "10", "11", "12", "13", "14", "15"};
    uint64_t by_op[16] = {0};
    for (int d = 0; d < 2; d++) {
        if (!ws->parser[d])
            continue;
        const uint64_t *n = ws_parser_get_stats(ws->parser[d])->by_opcode;
        for (int op = 0; op < 16; op++)
            by_op[op] += n[op];
    }
    json_out o = {buf, cap, 0};
    buf[0] = 0;
    json_put(&o, "{", 1);
    for (int op = 0, first = 1; op < 16; op++)
        if (by_op[op]) {
            json_put_member(&o, first, op_names[op], by_op[op]);
            first = 0;
        }
    json_put(&o, "}", 1);
}

void conn_emit_ws(correlator *c, conn_state *cs, ws_state *ws)
{
    if (!c->out.ws)
        return;
    char counts[640], opcodes[256];
    msg_counts_json(ws, counts, sizeof counts);
    opcode_counts_json(ws, opcodes, sizeof opcodes);
    ow_ws_rec r = {
        .id = ws->id,
        .conn_id = (int64_t)cs->flow->id,
        .http_id = ws->http_id,
        .page_load_id = ws->page_load_id,
        .session_id = ws->session_id[0] ? ws->session_id : NULL,
        .upgrade_ts = ws->upgrade_ts,
        .status = ws->status,
        .reason = ws->reason,
        .origin = ws->origin,
        .path = ws->path,
        .subprotocol_ok = ws->subprotocol_ok,
        .token_expiry = ws->token_expiry,
        .deflate = ws->deflate,
        .msg_counts_json = counts,
        .opcode_counts_json = opcodes,
        .ack_ts = ws->ack_ts,
        .pull_doc_ts = ws->pull_doc_ts,
        .client_patch_docs = ws->client_patch_docs,
        .pings = ws->pings,
        .pongs = ws->pongs,
        .close_code = {ws->close_code[0], ws->close_code[1]},
        .close_reason = ws->close_reason,
        .close_ts = ws->close_ts,
        .end_ts = ws->last_ts,
        .midstream = ws->midstream,
        .errors = ws->errors,
    };
    for (int d = 0; d < 2; d++) {
        if (ws->parser[d]) {
            const ws_parser_stats *st = ws_parser_get_stats(ws->parser[d]);
            r.frames[d] = st->frames;
            r.bytes[d] = st->bytes;
        }
        r.messages[d] = ws->messages[d];
    }
    c->out.ws(c->out.ctx, &r);
}

static bool same_name(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static bool conn_row_unchanged(const conn_row_snapshot *s, const ow_conn_rec *r)
{
    if (!s->valid || s->requests != r->requests || s->bytes[0] != r->bytes[0] ||
        s->bytes[1] != r->bytes[1] || !same_name(s->close, r->close) ||
        !same_name(s->kind, r->kind))
        return false;
    /* Byte for byte, padding too: padding that differs only makes an identical row go out
     * again, never a changed one stay in.
     * NOLINTNEXTLINE(bugprone-suspicious-memory-comparison,cert-exp42-c,cert-flp37-c) */
    return memcmp(&s->flow, r->flow, sizeof s->flow) == 0;
}

static void conn_row_remember(conn_row_snapshot *s, const ow_conn_rec *r)
{
    s->valid = true;
    s->close = r->close;
    s->kind = r->kind;
    s->bytes[0] = r->bytes[0];
    s->bytes[1] = r->bytes[1];
    s->requests = r->requests;
    memcpy(&s->flow, r->flow, sizeof s->flow);
}

void conn_emit_row(correlator *c, conn_state *cs, const char *close)
{
    if (!c->out.conn)
        return;
    ow_conn_rec r = {
        .id = (int64_t)cs->flow->id,
        .flow = cs->flow,
        .close = close,
        .kind = cs->any_ws     ? "websocket"
                : cs->requests ? "http"
                : cs->http.tls ? "tls"
                               : "other",
        .bytes = {cs->offset[0], cs->offset[1]},
        .requests = cs->requests,
    };
    if (conn_row_unchanged(&cs->last_row, &r))
        return; /* the same row again: nothing a reader could see */
    conn_row_remember(&cs->last_row, &r);
    c->out.conn(c->out.ctx, &r);
}
