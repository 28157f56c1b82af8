/* fuzz_ws: libFuzzer target for decode/ws.h. Input: a flags byte (direction, permessage-deflate,
 * no_context_takeover, message cap, gaps, an inflater budget of 0 slots instead of 1), a seed
 * byte for the splits and the keep limits, then the stream. The stream is parsed twice, whole
 * and cut into pseudo-random pieces (gaps at the same stream offsets in both runs), and once
 * more whole with the consumer keeping only a prefix of each message (message_keep: limits
 * per opcode from the seed byte). Checked: callback invariants (kept <= cap, kept <= total, a
 * message is truncated exactly when bytes are missing, control payloads <= 125, kept never over
 * the limit and all of it below), that the parser gives its inflater slot back (a budget of 0
 * skips every compressed message), that the limited run reports the same events as the whole
 * run but for the bytes past the limit, and, when the stream needed no resynchronisation, that
 * the whole and cut runs report identical events (split invariance). */
#include "decode/ws.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FNV_PRIME 1099511628211ull
#define FNV_BASIS 1469598103934665603ull

typedef struct fz {
    uint64_t hash;
    uint64_t cut_hash; /* events with each message cut to the limit: same with or without it */
    size_t max_message;
    uint64_t messages;
    bool gaps;
    bool limited;        /* message_keep answers limit_of */
    size_t limit_of[16]; /* by opcode */
} fz;

static void mix_into(uint64_t *h, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        *h = (*h ^ ((v >> (8 * i)) & 0xff)) * FNV_PRIME;
}

static void mix_bytes_into(uint64_t *h, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        *h = (*h ^ b[i]) * FNV_PRIME;
    mix_into(h, n);
}

static void mix(fz *r, uint64_t v)
{
    mix_into(&r->hash, v);
    mix_into(&r->cut_hash, v);
}

static void mix_bytes(fz *r, const uint8_t *b, size_t n)
{
    mix_bytes_into(&r->hash, b, n);
    mix_bytes_into(&r->cut_hash, b, n);
}

static size_t message_keep(void *ctx, int opcode)
{
    return ((fz *)ctx)->limit_of[opcode & 15];
}

static void on_frame(void *ctx, const ws_frame_info *f)
{
    fz *r = ctx;
    mix(r, 1);
    mix(r, (uint64_t)f->opcode | (uint64_t)f->fin << 8 | (uint64_t)f->rsv1 << 9 |
               (uint64_t)f->masked << 10);
    mix(r, f->len);
}

static void on_message(void *ctx, int opcode, const uint8_t *data, size_t kept, uint64_t total,
                       bool compressed, bool truncated)
{
    fz *r = ctx;
    size_t limit = r->limit_of[opcode & 15];
    size_t cap = r->limited && limit < r->max_message ? limit : r->max_message;
    size_t whole = total < cap ? (size_t)total : cap;
    if (!data || kept > cap || kept > total || (!truncated && kept != whole))
        abort();
    if (!r->gaps && total > kept && kept < cap)
        abort(); /* bytes dropped below the cap: only a gap may do that */
    r->messages++;
    mix(r, 2);
    mix(r, (uint64_t)opcode | (uint64_t)compressed << 8 | (uint64_t)truncated << 9);
    mix(r, total);
    mix_bytes_into(&r->hash, data, kept);
    mix_bytes_into(&r->cut_hash, data, kept < limit ? kept : limit);
}

static void on_control(void *ctx, int opcode, const uint8_t *payload, size_t len)
{
    fz *r = ctx;
    if (len > 125 || opcode < 8)
        abort();
    mix(r, 3);
    mix(r, (uint64_t)opcode);
    mix_bytes(r, payload, len);
    int code;
    const uint8_t *reason;
    size_t rlen;
    ws_parse_close(payload, len, &code, &reason, &rlen);
    if (code < 0 || code > 65535 || (len >= 2 && rlen != len - 2))
        abort();
}

static void on_error(void *ctx, const char *why)
{
    fz *r = ctx;
    mix(r, 4);
    mix_bytes(r, (const uint8_t *)why, strlen(why));
}

static uint32_t next_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

typedef struct run_cfg {
    bool from_client, deflate, nct, gaps;
    size_t max_message, max_inflaters;
    uint8_t seed;
    size_t limit_text, limit_binary;
} run_cfg;

/* Gap positions come from the data only, so both runs put them at the same offsets. */
static bool gap_at(const run_cfg *c, const uint8_t *d, size_t i, uint64_t *len)
{
    if (!c->gaps || i == 0 || d[i - 1] != 0xee)
        return false;
    *len = d[i] == 0xee ? (1ull << 40) : d[i] % 64;
    return true;
}

static uint64_t run(const run_cfg *c, const uint8_t *d, size_t n, bool split, bool limited,
                    ws_parser_stats *st, uint64_t *cut_hash)
{
    fz r = {.hash = FNV_BASIS,
            .cut_hash = FNV_BASIS,
            .max_message = c->max_message ? c->max_message : WS_DEFAULT_MAX_MESSAGE,
            .gaps = c->gaps,
            .limited = limited};
    for (int op = 0; op < 16; op++)
        r.limit_of[op] = op == WS_OP_BINARY ? c->limit_binary : c->limit_text;
    ws_callbacks cb = {&r, on_frame, on_message, on_control, on_error, NULL};
    if (limited)
        cb.message_keep = message_keep;
    ow_inflate_budget budget;
    ow_inflate_budget_init(&budget, c->max_inflaters);
    ws_parser *p = ws_parser_new(&cb, c->from_client, c->deflate, c->nct, c->max_message, &budget);
    if (!p)
        return 0;
    uint32_t rnd = 0x9e3779b9u ^ c->seed ^ (uint32_t)n << 8;
    size_t i = 0;
    while (i < n) {
        size_t end = n;
        for (size_t k = i + 1; k < n; k++) { /* stop before the next gap */
            uint64_t g;
            if (gap_at(c, d, k, &g)) {
                end = k;
                break;
            }
        }
        while (i < end) {
            size_t piece = end - i;
            if (split) {
                uint32_t x = next_rand(&rnd);
                size_t want = (x & 3) == 0 ? 1 : (x >> 2) % 64 + 1;
                piece = want < piece ? want : piece;
            }
            if (ws_parser_feed(p, d + i, piece) != piece)
                abort();
            i += piece;
        }
        uint64_t g;
        if (i < n && gap_at(c, d, i, &g)) {
            ws_parser_gap(p, g);
            mix(&r, 5);
        }
    }
    *st = *ws_parser_get_stats(p);
    *cut_hash = r.cut_hash;
    if (st->bytes != n || st->messages != r.messages)
        abort();
    ws_parser_free(p);
    if (budget.live != 0 || budget.skipped != st->inflate_skipped ||
        (c->max_inflaters && st->inflate_skipped))
        abort(); /* the slot is back; only a spent budget skips */
    return r.hash;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    static const size_t caps[4] = {16, 1000, 65536, 0};
    static const size_t limits[4] = {0, 3, 100, SIZE_MAX};
    run_cfg c = {.from_client = data[0] & 1,
                 .deflate = data[0] & 2,
                 .nct = data[0] & 4,
                 .max_message = caps[(data[0] >> 3) & 3],
                 .gaps = data[0] & 0x20,
                 .max_inflaters = (data[0] & 0x40) ? 0 : 1,
                 .seed = data[1],
                 .limit_text = limits[(data[1] >> 4) & 3],
                 .limit_binary = limits[(data[1] >> 6) & 3]};
    const uint8_t *d = data + 2;
    size_t n = size - 2;
    if (ws_find_frame_start(d, n, c.from_client) > n)
        abort();
    ws_parser_stats whole, cut, limited;
    uint64_t cut1, cut2, cut3;
    uint64_t h1 = run(&c, d, n, false, false, &whole, &cut1);
    uint64_t h2 = run(&c, d, n, true, false, &cut, &cut2);
    run(&c, d, n, false, true, &limited, &cut3);
    if (cut1 != cut3 || memcmp(&whole, &limited, sizeof whole) != 0)
        abort(); /* a limit changes nothing but the bytes kept */
    bool clean = whole.resync_bytes == 0 && cut.resync_bytes == 0 && whole.errors == 0 &&
                 cut.errors == 0 && whole.inflate_errors == 0 && cut.inflate_errors == 0;
    if (clean && h1 != h2)
        abort();
    return 0;
}
