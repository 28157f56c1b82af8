/* test_decode_ws_simple: the parser's one-go ways for a whole data frame (FIN, no RSV
 * bits, text or binary, not empty, its payload in the input, between messages, no on_frame)
 * gives what the general way gives. Every stream is fed whole (the one-go way where it
 * applies), whole with an on_frame callback (never the one-go way), one byte at a time and in
 * random pieces (the general way), with the same gaps at the same places; the callbacks, their
 * arguments, the data delivered and the stats seen at each callback must all be equal. The
 * streams are made of frames just outside the one-go way's assumptions: empty, 125/126/127
 * bytes, a 16-bit or 64-bit length (also non-minimal, also with the top bit set), masked, RSV
 * bits, reserved opcodes, fragments with control frames between them, continuations without a
 * message, payloads cut by the end of the input, small max_message and keep limits. The same
 * for the client's masked frames (the one-go way that unmasks into the message buffer). */
#include "decode/ws.h"
#include "tests/unit/testlib.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define TRACE_MAX (1u << 20)

typedef struct trace {
    char *s;
    size_t len;
    size_t keep_text; /* what message_keep answers for a text */
    ws_parser *p;     /* for the stats seen at each callback */
    unsigned frames_seen;
} trace;

static void add(trace *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (t->len + 256 < TRACE_MAX)
        t->len += (size_t)vsnprintf(t->s + t->len, TRACE_MAX - t->len, fmt, ap);
    va_end(ap);
}

static void add_stats(trace *t)
{
    const ws_parser_stats *st = ws_parser_get_stats(t->p);
    add(t, " f%llu m%llu t%llu e%llu\n", (unsigned long long)st->frames,
        (unsigned long long)st->messages, (unsigned long long)st->truncated_messages,
        (unsigned long long)st->errors); /* (bytes: counted as each piece is fed) */
}

static uint64_t hash(const uint8_t *d, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ d[i]) * 1099511628211ull;
    return h;
}

static void on_frame(void *ctx, const ws_frame_info *f)
{
    ((trace *)ctx)->frames_seen++;
}

static size_t keep(void *ctx, int opcode)
{
    trace *t = ctx;
    add(t, "keep %d", opcode);
    add_stats(t);
    return opcode == WS_OP_BINARY ? 0 : t->keep_text;
}

static void on_message(void *ctx, int opcode, const uint8_t *data, size_t kept, uint64_t total,
                       bool compressed, bool truncated)
{
    trace *t = ctx;
    add(t, "msg %d kept %zu total %llu c%d t%d h%llx", opcode, kept, (unsigned long long)total,
        compressed, truncated, (unsigned long long)hash(data, kept));
    add_stats(t);
}

static void on_control(void *ctx, int opcode, const uint8_t *payload, size_t len)
{
    trace *t = ctx;
    add(t, "ctl %d len %zu h%llx", opcode, len, (unsigned long long)hash(payload, len));
    add_stats(t);
}

static void on_error(void *ctx, const char *why)
{
    trace *t = ctx;
    add(t, "err %s", why);
    add_stats(t);
}

/* ---- streams ---- */

/* One frame, its length written as asked: lenform 0 minimal, 1 16-bit, 2 64-bit, 3 64-bit
 * with the top bit set. */
static size_t put_frame(uint8_t *out, uint8_t b0, bool masked, int lenform, size_t len)
{
    size_t n = 0;
    out[n++] = b0;
    uint8_t m = masked ? 0x80 : 0;
    if (lenform == 0 && len < 126) {
        out[n++] = (uint8_t)(m | len);
    } else if (lenform <= 1 && len < 65536) {
        out[n++] = m | 126;
        out[n++] = (uint8_t)(len >> 8);
        out[n++] = (uint8_t)len;
    } else {
        out[n++] = m | 127;
        uint64_t v = len | (lenform == 3 ? 1ull << 63 : 0);
        for (int i = 7; i >= 0; i--)
            out[n++] = (uint8_t)(v >> (8 * i));
    }
    if (masked)
        for (int i = 0; i < 4; i++)
            out[n++] = (uint8_t)(0x11 * (i + 1));
    for (size_t i = 0; i < len; i++)
        out[n++] = (uint8_t)(tl_below(256) ^ (masked ? 0x11 * ((i & 3) + 1) : 0));
    return n;
}

static size_t random_frame(uint8_t *out, bool from_client)
{
    static const size_t lens[] = {0, 1, 2, 5, 13, 125, 126, 127, 200, 300, 65535, 65536};
    size_t len = tl_below(4) ? lens[tl_below(6) + 1] : lens[tl_below(sizeof lens / sizeof lens[0])];
    int lenform = tl_below(8) == 0 ? (int)tl_below(4) : 0;
    bool masked = tl_below(12) == 0 ? !from_client : from_client;
    uint8_t b0;
    switch (tl_below(12)) {
    case 0:
        b0 = WS_OP_TEXT;
        break; /* fragment, no FIN */
    case 1:
        b0 = WS_OP_CONT;
        break;
    case 2:
        b0 = 0x80 | WS_OP_CONT;
        break;
    case 3:
        b0 = 0x80 | WS_OP_PING, len = len % 126;
        break;
    case 4:
        b0 = 0x80 | WS_OP_PONG, len = len % 126;
        break;
    case 5:
        b0 = 0x80 | 0x40 | WS_OP_TEXT;
        break; /* RSV1 without deflate */
    case 6:
        b0 = (uint8_t)(0x80 | (tl_below(2) ? 0x20 : 0x10) | WS_OP_BINARY);
        break;
    case 7:
        b0 = (uint8_t)(0x80 | (3 + tl_below(5)));
        break; /* reserved opcode */
    case 8:
        b0 = 0x80 | WS_OP_BINARY;
        break;
    default:
        b0 = 0x80 | WS_OP_TEXT;
        break;
    }
    return put_frame(out, b0, masked, lenform, len);
}

typedef struct piece {
    size_t at;    /* a gap before this offset of the stream */
    uint64_t gap; /* its length */
} piece;

/* Runs the stream through a new parser fed in pieces of at most step bytes (0: random
 * pieces, SIZE_MAX: whole), with the gaps, then eof. */
static void run(trace *t, const uint8_t *b, size_t n, const piece *gaps, size_t ngaps,
                bool from_client, bool with_on_frame, size_t step, size_t max_message,
                size_t keep_text)
{
    t->len = 0;
    t->s[0] = 0;
    t->keep_text = keep_text;
    t->frames_seen = 0;
    ws_callbacks cb = {.ctx = t,
                       .on_frame = with_on_frame ? on_frame : NULL,
                       .on_message = on_message,
                       .on_control = on_control,
                       .on_error = on_error,
                       .message_keep = keep};
    t->p = ws_parser_new(&cb, from_client, false, false, max_message, NULL);
    size_t off = 0;
    for (size_t g = 0; g <= ngaps; g++) {
        size_t end = g < ngaps ? gaps[g].at : n;
        while (off < end) {
            size_t k = step == 0 ? 1 + tl_below(700) : step;
            if (k > end - off)
                k = end - off;
            ws_parser_feed(t->p, b + off, k);
            off += k;
        }
        if (g < ngaps) {
            ws_parser_gap(t->p, gaps[g].gap);
            add(t, "gap %llu\n", (unsigned long long)gaps[g].gap);
        }
    }
    ws_parser_eof(t->p);
    const ws_parser_stats *st = ws_parser_get_stats(t->p);
    for (int i = 0; i < 16; i++)
        add(t, "op%d %llu\n", i, (unsigned long long)st->by_opcode[i]);
    add(t, "end bytes %llu gap %llu resync %llu ie %llu", (unsigned long long)st->bytes,
        (unsigned long long)st->gap_bytes, (unsigned long long)st->resync_bytes,
        (unsigned long long)st->inflate_errors);
    add_stats(t);
    ws_parser_free(t->p);
}

/* The same stream the same way twice, with the one-go way possible (a) and not (b, through
 * an on_frame callback), the pieces the same in both. */
static void compare_ways(const uint8_t *b, size_t n, const piece *gaps, size_t ngaps,
                         bool from_client, size_t max_message, size_t keep_text, trace *one_go,
                         trace *general)
{
    static const size_t steps[] = {SIZE_MAX, 1, 0, 0};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        uint64_t seed = tl_random_state();
        run(one_go, b, n, gaps, ngaps, from_client, false, steps[i], max_message, keep_text);
        tl_seed(seed);
        run(general, b, n, gaps, ngaps, from_client, true, steps[i], max_message, keep_text);
        CHECK(general->len == one_go->len && memcmp(general->s, one_go->s, one_go->len) == 0);
        if (getenv("OW_WS_SIMPLE_DUMP")) {
            FILE *f = fopen(getenv("OW_WS_SIMPLE_DUMP"), "a");
            fwrite(one_go->s, 1, one_go->len, f);
            fclose(f);
        }
    }
}

/* Single frames at the edges of the one-go way, each alone and between simple frames. */
static void test_edges(trace *a, trace *b)
{
    static const struct {
        uint8_t b0;
        bool wrong_mask; /* masked from the server, unmasked from the client */
        int lenform;
        size_t len;
    } edges[] = {
        {0x81, false, 0, 0},   {0x82, false, 0, 0},     {0x81, false, 0, 125},
        {0x81, false, 0, 126}, {0x82, false, 0, 65535}, {0x82, false, 0, 65536},
        {0x81, false, 1, 5},   {0x81, false, 2, 5},     {0x81, false, 3, 5},
        {0x81, true, 0, 5},    {0xc1, false, 0, 5},     {0xa1, false, 0, 5},
        {0x91, false, 0, 5},   {0x01, false, 0, 5},     {0x80, false, 0, 5},
        {0x83, false, 0, 5},   {0x89, false, 0, 5},     {0x88, false, 0, 2},
    };
    uint8_t *buf = malloc(4 * 70000);
    for (size_t e = 0; e < 2 * sizeof edges / sizeof edges[0]; e++) {
        bool client = e % 2;
        size_t x = e / 2;
        for (int cut = 0; cut < 3; cut++) {
            size_t n = put_frame(buf, 0x81, client, 0, 7);
            size_t at = n;
            n += put_frame(buf + n, edges[x].b0, client != edges[x].wrong_mask, edges[x].lenform,
                           edges[x].len);
            size_t full = n;
            n += put_frame(buf + n, 0x82, client, 0, 9);
            if (cut == 1)
                n = full - 1; /* the edge frame's payload cut by the end */
            if (cut == 2)
                n = at + 1; /* its header cut */
            for (size_t max = 4; max <= 1u << 20; max <<= 16)
                for (size_t kt = 3; kt != 0; kt = kt == 3 ? SIZE_MAX : 0) {
                    compare_ways(buf, n, NULL, 0, client, max, kt, a, b);
                    piece g = {at, 3};
                    compare_ways(buf, n, &g, 1, client, max, kt, a, b);
                }
        }
    }
    free(buf);
}

static void test_random_streams(trace *a, trace *b)
{
    uint8_t *buf = malloc(64 * 70100);
    for (int round = 0; round < 400; round++) {
        bool from_client = round % 2;
        size_t n = 0, starts[64];
        int frames = 1 + (int)tl_below(40);
        for (int i = 0; i < frames; i++) {
            starts[i] = n;
            n += random_frame(buf + n, from_client);
        }
        piece gaps[3];
        size_t ngaps = 0;
        for (size_t g = 0, at = 0; g < tl_below(4) && at < n; g++) {
            /* at a frame start, inside a frame, or of zero bytes */
            at = tl_below(2) ? starts[tl_below((unsigned)frames)]
                             : at + tl_below((unsigned)(n - at));
            if (ngaps && at < gaps[ngaps - 1].at)
                break;
            gaps[ngaps++] = (piece){at, tl_below(3) ? tl_below(40) : 0};
        }
        size_t max = tl_below(4) ? WS_DEFAULT_MAX_MESSAGE : 1 + tl_below(300);
        size_t kt = tl_below(3) ? SIZE_MAX : tl_below(50);
        compare_ways(buf, n, gaps, ngaps, from_client, max, kt, a, b);
        if (round % 7 == 0) /* a stream picked up mid-way */
            compare_ways(buf + 1, n - 1, NULL, 0, from_client, max, kt, a, b);
    }
    free(buf);
}

int main(void)
{
    trace a = {.s = malloc(TRACE_MAX)}, b = {.s = malloc(TRACE_MAX)};
    test_edges(&a, &b);
    test_random_streams(&a, &b);
    free(a.s);
    free(b.s);
    TEST_MAIN_END("test_decode_ws_simple");
}
