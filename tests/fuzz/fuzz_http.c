/* fuzz_http: libFuzzer target for decode/http.h. The input is a script: a flags byte, a count
 * and that many control bytes (feed N bytes to a direction, a gap, an eof), then the payload.
 * The script runs twice through an http_conn with a caller that keeps and re-offers unconsumed
 * bytes: once feeding each segment whole, once cut into pieces chosen by the input. Both runs
 * must give the same events and leave the same bytes after every step (split invariance), the
 * caller's buffer must stay below HTTP_MAX_HEAD_BYTES, a connection found to be TLS must take
 * every byte offered, and the head parsers must be prefix-consistent. */
#include "decode/http.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FNV_PRIME 1099511628211ull
#define FNV_BASIS 1469598103934665603ull

typedef struct fz_rec {
    uint64_t hash;
    bool want;
} fz_rec;

static void mix(fz_rec *r, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        r->hash = (r->hash ^ ((v >> (8 * i)) & 0xff)) * FNV_PRIME;
}

static void mix_bytes(fz_rec *r, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        r->hash = (r->hash ^ b[i]) * FNV_PRIME;
    mix(r, n);
}

static bool fz_request(void *ctx, const http_head *h, const http_request_info *info)
{
    fz_rec *r = ctx;
    mix(r, 1);
    mix_bytes(r, h->method, h->method_len);
    mix_bytes(r, h->target, h->target_len);
    mix(r, h->num_headers);
    for (size_t i = 0; i < h->num_headers; i++) {
        mix_bytes(r, h->headers[i].name, h->headers[i].name_len);
        mix_bytes(r, h->headers[i].value, h->headers[i].value_len);
    }
    mix(r, info->index);
    mix(r, info->upgrade_websocket);
    mix_bytes(r, info->method, strlen(info->method));
    return r->want = !r->want; /* alternate: exercise both wanted and skipped bodies */
}

static bool fz_response(void *ctx, const http_head *h, const http_request_info *req)
{
    fz_rec *r = ctx;
    mix(r, 2);
    mix(r, (uint64_t)h->status);
    mix_bytes(r, h->reason, h->reason_len);
    mix(r, req ? req->index : 0xffffffffu);
    return r->want = !r->want;
}

static void fz_interim(void *ctx, const http_head *h)
{
    fz_rec *r = ctx;
    mix(r, 3);
    mix(r, (uint64_t)h->status);
}

static void fz_body(void *ctx, int dir, const uint8_t *data, size_t len)
{
    fz_rec *r = ctx;
    if (len == 0)
        abort();                     /* never called empty */
    for (size_t i = 0; i < len; i++) /* piece boundaries must not matter */
        r->hash = (r->hash ^ (uint64_t)(data[i] + 256 * (dir + 1))) * FNV_PRIME;
}

static void fz_end(void *ctx, int dir, uint64_t body_bytes, bool complete)
{
    fz_rec *r = ctx;
    mix(r, 5);
    mix(r, (uint64_t)dir);
    mix(r, body_bytes);
    mix(r, complete);
}

static void fz_upgrade(void *ctx, const http_request_info *req)
{
    fz_rec *r = ctx;
    mix(r, 6);
    mix(r, req ? req->index : 0xffffffffu);
}

static void fz_error(void *ctx, int dir, const char *why)
{
    fz_rec *r = ctx;
    mix(r, 7);
    mix(r, (uint64_t)dir);
    mix_bytes(r, why, strlen(why));
}

static void fz_tls(void *ctx, int dir)
{
    fz_rec *r = ctx;
    mix(r, 8);
    mix(r, (uint64_t)dir);
}

typedef struct fz_caller {
    http_conn conn;
    fz_rec rec;
    uint8_t *buf[2];
    size_t len[2];
} fz_caller;

static void caller_init(fz_caller *k, size_t cap)
{
    memset(k, 0, sizeof *k);
    k->rec.hash = FNV_BASIS;
    http_callbacks cb = {&k->rec, fz_request, fz_response, fz_interim, fz_body,
                         fz_end,  fz_upgrade, fz_error,    fz_tls};
    http_conn_init(&k->conn, &cb);
    k->buf[0] = malloc(cap + 1);
    k->buf[1] = malloc(cap + 1);
}

static void caller_fini(fz_caller *k)
{
    free(k->buf[0]);
    free(k->buf[1]);
}

static void caller_feed(fz_caller *k, int dir, const uint8_t *p, size_t n)
{
    if (n)
        memcpy(k->buf[dir] + k->len[dir], p, n);
    k->len[dir] += n;
    bool was_upgraded = k->conn.upgraded;
    /* handed over in an allocation of exactly the bytes held: ASan then catches a read of one
     * past them (in k->buf it would land in the spare capacity unseen) */
    uint8_t *exact = malloc(k->len[dir] ? k->len[dir] : 1);
    if (!exact)
        return;
    if (k->len[dir])
        memcpy(exact, k->buf[dir], k->len[dir]);
    size_t used = http_conn_feed(&k->conn, dir, exact, k->len[dir]);
    free(exact);
    if (used > k->len[dir] || (was_upgraded && used != 0) || (k->conn.tls && used != k->len[dir]))
        abort(); /* a TLS connection's bytes are all consumed */
    memmove(k->buf[dir], k->buf[dir] + used, k->len[dir] - used);
    k->len[dir] -= used;
    if (!k->conn.upgraded && k->len[dir] >= HTTP_MAX_HEAD_BYTES)
        abort(); /* the caller's buffer would grow without bound */
    if (k->conn.pend_count > HTTP_MAX_PENDING)
        abort();
}

typedef struct script {
    uint8_t flags;
    const uint8_t *ops;
    size_t nops;
    const uint8_t *payload;
    size_t npayload;
} script;

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Feeds one segment, whole or in pieces. Either way the caller offers its buffer at least once
 * (an empty segment re-offers what it holds: the other direction may have changed what those
 * bytes are, e.g. into tunnel bytes). */
static void feed_segment(fz_caller *k, int dir, const uint8_t *p, size_t n, bool split,
                         uint64_t *rng, uint8_t flags)
{
    if (!split) {
        caller_feed(k, dir, p, n);
        return;
    }
    size_t off = 0;
    do {
        size_t piece = (flags & 0x10) ? 1 : (size_t)(rng_next(rng) % 17) + 1;
        if (piece > n - off)
            piece = n - off;
        caller_feed(k, dir, p + off, piece);
        off += piece;
    } while (off < n);
}

/* Runs the script; records the hash and leftovers after each step into trace. */
static size_t run_script(const script *s, bool split, uint64_t *trace, size_t trace_cap)
{
    fz_caller k;
    caller_init(&k, s->npayload);
    uint64_t rng = 0x9e3779b97f4a7c15ull ^ s->flags;
    size_t pos = 0, steps = 0;
    size_t scale = (size_t)1 << (2 * (s->flags & 3)); /* 1, 4, 16, 64 */
    for (size_t i = 0; i <= s->nops; i++) {
        uint8_t op = i < s->nops ? s->ops[i] : 0;
        int kind = op & 7;
        if (i == s->nops) { /* the rest of the payload: half each way */
            size_t rest = s->npayload - pos;
            feed_segment(&k, 0, s->payload + pos, rest / 2, split, &rng, s->flags);
            feed_segment(&k, 1, s->payload + pos + rest / 2, rest - rest / 2, split, &rng,
                         s->flags);
            pos = s->npayload;
        } else if (kind < 6) {
            size_t n = ((size_t)(op >> 3) + 1) * scale;
            if (n > s->npayload - pos)
                n = s->npayload - pos;
            feed_segment(&k, kind < 3 ? 0 : 1, s->payload + pos, n, split, &rng, s->flags);
            pos += n;
        } else if (kind == 6) {
            int dir = (op >> 3) & 1;
            uint64_t len = (op >> 4) == 15 ? (uint64_t)1 << 62 : (uint64_t)(op >> 4) * 7 + 1;
            k.len[dir] = 0; /* the caller drops what precedes a hole */
            http_conn_gap(&k.conn, dir, len);
        } else {
            int dir = (op >> 3) & 1;
            http_conn_eof(&k.conn, dir);
        }
        if (steps + 3 <= trace_cap) {
            trace[steps++] = k.rec.hash;
            trace[steps++] = k.len[0];
            trace[steps++] = k.len[1];
        }
    }
    http_conn_eof(&k.conn, 0);
    http_conn_eof(&k.conn, 1);
    if (steps + 4 <= trace_cap) {
        trace[steps++] = k.rec.hash;
        trace[steps++] = k.conn.requests;
        trace[steps++] = k.conn.responses;
        trace[steps++] = k.conn.errors;
    }
    caller_fini(&k);
    return steps;
}

/* Prefix consistency of the head parsers on the payload. */
static void check_parsers(const uint8_t *p, size_t n, uint64_t seed)
{
    const char *s = (const char *)p;
    for (int request = 0; request < 2; request++) {
        http_head whole, part;
        int rw = request ? http_parse_request_head(s, n, &whole)
                         : http_parse_response_head(s, n, &whole);
        if (rw > (int)n || rw == 0 || rw < HTTP_NEED_MORE)
            abort();
        for (int t = 0; t < 4 && n > 0; t++) {
            size_t k = (size_t)(rng_next(&seed) % n);
            int rp = request ? http_parse_request_head(s, k, &part)
                             : http_parse_response_head(s, k, &part);
            if (rp == HTTP_ERROR && rw != HTTP_ERROR)
                abort(); /* an error in a prefix is an error in the whole */
            if (rp > 0 && rp != rw)
                abort(); /* a complete head parses the same whatever follows */
            if (rw > 0 && (int)k < rw && rp != HTTP_NEED_MORE)
                abort();
        }
        if (rw > 0) {
            if (whole.num_headers > HTTP_MAX_HEADERS || whole.head_len != (size_t)rw)
                abort();
            for (size_t i = 0; i < whole.num_headers; i++) {
                const http_header *h = &whole.headers[i];
                if (h->name < s || h->name + h->name_len > s + rw || h->value < s ||
                    h->value + h->value_len > s + rw)
                    abort();
                http_value_has_token(h->value, h->value_len, "chunked");
            }
            http_find_header(&whole, "content-length");
        }
    }
}

#define TRACE_CAP 1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    script s = {data[0], data + 2, data[1], NULL, 0};
    if (s.nops > size - 2)
        s.nops = size - 2;
    s.payload = data + 2 + s.nops;
    s.npayload = size - 2 - s.nops;
    static uint64_t a[TRACE_CAP], b[TRACE_CAP];
    size_t na = run_script(&s, false, a, TRACE_CAP);
    size_t nb = run_script(&s, true, b, TRACE_CAP);
    if (na != nb || memcmp(a, b, na * sizeof *a) != 0)
        abort(); /* the split changed the events or what was consumed */
    check_parsers(s.payload, s.npayload, s.flags + 1);
    return 0;
}
