/* test_decode_ws_keep: what a WebSocket consumer says it reads of each message
 * (ws_callbacks.message_keep) and messages handed over from the input buffer. A binary
 * message kept to 0 bytes still has its total and its truncated flag; a text limit keeps a
 * prefix (unmasked, inflated) at any split of the input; permessage-deflate messages are still
 * inflated whole, so the next message of the context is right; the callback is asked once per
 * data message (not for control or continuation frames); and a stream gives the same events
 * with or without limits, but for the kept prefix. */
#include "decode/ws.h"
#include "tests/unit/test_ws_frame.h"
#include "tests/unit/testlib.h"
#include <stdlib.h>
#include <zlib.h>

static const uint8_t KEY[4] = {0x5c, 0x01, 0xa7, 0xe3};

/* One frame; masked with KEY when asked. Returns its size. */
static size_t frame(uint8_t *out, int opcode, bool fin, bool rsv1, bool masked,
                    const uint8_t *payload, size_t len)
{
    return ws_test_frame(out, opcode, fin, rsv1, masked ? KEY : NULL, payload, len);
}

/* ---- a consumer that records what it gets ---- */

#define MAX_MSGS 16

typedef struct got {
    size_t limit_text, limit_binary; /* what message_keep answers */
    int asked, asked_op[MAX_MSGS];   /* message_keep calls and their opcodes */
    int n, controls, errors;
    int op[MAX_MSGS];
    size_t kept[MAX_MSGS];
    uint64_t total[MAX_MSGS];
    bool truncated[MAX_MSGS];
    uint8_t data[MAX_MSGS][300];
    const uint8_t *where[MAX_MSGS]; /* the data pointer handed over */
} got;

static size_t keep(void *ctx, int opcode)
{
    got *g = ctx;
    if (g->asked < MAX_MSGS)
        g->asked_op[g->asked] = opcode;
    g->asked++;
    return opcode == WS_OP_BINARY ? g->limit_binary : g->limit_text;
}

static void on_message(void *ctx, int opcode, const uint8_t *data, size_t kept, uint64_t total,
                       bool compressed, bool truncated)
{
    got *g = ctx;
    if (g->n >= MAX_MSGS)
        return;
    g->op[g->n] = opcode;
    g->kept[g->n] = kept;
    g->total[g->n] = total;
    g->truncated[g->n] = truncated;
    g->where[g->n] = data;
    memcpy(g->data[g->n], data, kept < sizeof g->data[0] ? kept : sizeof g->data[0]);
    g->n++;
}

static void on_control(void *ctx, int opcode, const uint8_t *payload, size_t len)
{
    ((got *)ctx)->controls++;
}

static void on_error(void *ctx, const char *why)
{
    ((got *)ctx)->errors++;
}

static ws_parser *consumer(got *g, bool limited, bool from_client, bool deflate, size_t max)
{
    size_t lt = g->limit_text, lb = g->limit_binary;
    memset(g, 0, sizeof *g);
    g->limit_text = lt;
    g->limit_binary = lb;
    ws_callbacks cb = {.ctx = g,
                       .on_message = on_message,
                       .on_control = on_control,
                       .on_error = on_error,
                       .message_keep = limited ? keep : NULL};
    return ws_parser_new(&cb, from_client, deflate, false, max, NULL);
}

/* Feeds b in pieces of step bytes (0: whole). */
static void feed(ws_parser *p, const uint8_t *b, size_t n, size_t step)
{
    for (size_t i = 0; i < n;) {
        size_t k = step && step < n - i ? step : n - i;
        CHECK_EQ_INT(ws_parser_feed(p, b + i, k), k);
        i += k;
    }
}

/* ---- tests ---- */

/* text "abc", a 1000-byte binary buffer, a ping, text "def" split in three fragments */
static size_t mixed_stream(uint8_t *b, bool masked, uint8_t *bin)
{
    for (size_t i = 0; i < 1000; i++)
        bin[i] = (uint8_t)(i * 7);
    size_t n = frame(b, WS_OP_TEXT, true, false, masked, (const uint8_t *)"abc", 3);
    n += frame(b + n, WS_OP_BINARY, true, false, masked, bin, 1000);
    n += frame(b + n, WS_OP_PING, true, false, masked, (const uint8_t *)"1", 1);
    n += frame(b + n, WS_OP_TEXT, false, false, masked, (const uint8_t *)"d", 1);
    n += frame(b + n, WS_OP_CONT, false, false, masked, (const uint8_t *)"e", 1);
    n += frame(b + n, WS_OP_CONT, true, false, masked, (const uint8_t *)"f", 1);
    return n;
}

/* A binary message kept to 0 bytes: its size and flags as before; the texts whole. The
 * consumer is asked once per data message, with its opcode. */
static void test_binary_kept_zero(void)
{
    static uint8_t b[2048], bin[1000];
    static const size_t steps[] = {0, 1, 2, 3, 7, 100};
    for (int masked = 0; masked < 2; masked++) {
        size_t n = mixed_stream(b, masked, bin);
        for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
            got g = {.limit_text = SIZE_MAX, .limit_binary = 0};
            ws_parser *p = consumer(&g, true, masked, false, 0);
            feed(p, b, n, steps[s]);
            CHECK_EQ_INT(g.errors, 0);
            CHECK_EQ_INT(g.controls, 1);
            CHECK_EQ_INT(g.n, 3);
            CHECK_EQ_INT(g.asked, 3);
            CHECK(g.asked_op[0] == WS_OP_TEXT && g.asked_op[1] == WS_OP_BINARY &&
                  g.asked_op[2] == WS_OP_TEXT);
            CHECK(g.kept[0] == 3 && g.total[0] == 3 && !memcmp(g.data[0], "abc", 3));
            CHECK(g.op[1] == WS_OP_BINARY && g.kept[1] == 0 && g.total[1] == 1000 &&
                  !g.truncated[1]);
            CHECK(g.kept[2] == 3 && g.total[2] == 3 && !memcmp(g.data[2], "def", 3));
            CHECK_EQ_INT(ws_parser_get_stats(p)->truncated_messages, 0);
            CHECK_EQ_INT(ws_parser_get_stats(p)->messages, 3);
            ws_parser_free(p);
        }
    }
}

/* A text limit keeps a prefix, unmasked, across fragments and splits; truncated still says
 * whether max_message was exceeded, not the limit. */
static void test_text_prefix(void)
{
    static uint8_t b[4096];
    uint8_t msg[200];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)('A' + i % 26);
    for (int masked = 0; masked < 2; masked++) {
        /* 200 bytes in fragments of 30, 70, 100 */
        size_t n = frame(b, WS_OP_TEXT, false, false, masked, msg, 30);
        n += frame(b + n, WS_OP_CONT, false, false, masked, msg + 30, 70);
        n += frame(b + n, WS_OP_CONT, true, false, masked, msg + 100, 100);
        static const size_t limits[] = {0, 1, 29, 30, 31, 99, 100, 150, 199, 200, 201};
        static const size_t maxes[] = {0, 150, 200, 1000};
        for (size_t l = 0; l < sizeof limits / sizeof limits[0]; l++)
            for (size_t m = 0; m < sizeof maxes / sizeof maxes[0]; m++)
                for (size_t step = 0; step < 6; step++) {
                    got g = {.limit_text = limits[l], .limit_binary = 0};
                    ws_parser *p = consumer(&g, true, masked, false, maxes[m]);
                    feed(p, b, n, step * 17);
                    size_t max = maxes[m] ? maxes[m] : WS_DEFAULT_MAX_MESSAGE;
                    size_t want = limits[l] < 200 ? limits[l] : 200;
                    want = want < max ? want : max;
                    CHECK_EQ_INT(g.n, 1);
                    CHECK_EQ_INT(g.kept[0], want);
                    CHECK_EQ_INT(g.total[0], 200);
                    CHECK(!memcmp(g.data[0], msg, want));
                    CHECK_EQ_INT(g.truncated[0], 200 > max);
                    ws_parser_free(p);
                }
    }
}

/* Raw deflate of s (Z_SYNC_FLUSH, the trailing 00 00 ff ff removed), context kept in zs. */
static size_t squeeze(z_stream *zs, const char *s, uint8_t *out, size_t cap)
{
    zs->next_in = (Bytef *)s;
    zs->avail_in = (uInt)strlen(s);
    zs->next_out = out;
    zs->avail_out = (uInt)cap;
    deflate(zs, Z_SYNC_FLUSH);
    return cap - zs->avail_out - 4;
}

/* Compressed messages with context takeover: a binary one kept to 0 bytes is still inflated
 * (its size is the inflated size), so the text after it, which refers back to it, comes out
 * right; a text limit keeps a prefix of the inflated text. */
static void test_deflate_limits(void)
{
    static const char *const msgs[3] = {
        "{\"msgid\": \"p1\", \"msgtype\": \"PATCH-DOC\", \"num_buffers\": 1}",
        "PATCH-DOC PATCH-DOC num_buffers msgtype msgid binary-ish payload",
        "{\"msgid\": \"p2\", \"msgtype\": \"PATCH-DOC\", \"num_buffers\": 1} again",
    };
    static const int ops[3] = {WS_OP_TEXT, WS_OP_BINARY, WS_OP_TEXT};
    for (int masked = 0; masked < 2; masked++) {
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
        uint8_t b[2048];
        size_t n = 0;
        for (int i = 0; i < 3; i++) {
            uint8_t c[512];
            size_t cl = squeeze(&zs, msgs[i], c, sizeof c);
            n += frame(b + n, ops[i], true, true, masked, c, cl);
        }
        deflateEnd(&zs);
        for (size_t lt = 0; lt < 70; lt += 9)
            for (size_t step = 0; step < 4; step++) {
                got g = {.limit_text = lt, .limit_binary = 0};
                ws_parser *p = consumer(&g, true, masked, true, 0);
                feed(p, b, n, step * 5);
                CHECK_EQ_INT(g.errors, 0);
                CHECK_EQ_INT(g.n, 3);
                for (int i = 0; i < 3; i++) {
                    size_t len = strlen(msgs[i]);
                    size_t want = i == 1 ? 0 : lt < len ? lt : len;
                    CHECK_EQ_INT(g.total[i], len);
                    CHECK_EQ_INT(g.kept[i], want);
                    CHECK(!g.truncated[i]);
                    CHECK(!memcmp(g.data[i], msgs[i], want));
                }
                ws_parser_free(p);
            }
    }
}

/* A gap inside a binary message kept to 0 bytes: truncated, the gap counted in the total. */
static void test_gap_in_unkept_message(void)
{
    uint8_t b[600], bin[500] = {0};
    size_t n = frame(b, WS_OP_BINARY, true, false, false, bin, sizeof bin);
    got g = {.limit_text = SIZE_MAX, .limit_binary = 0};
    ws_parser *p = consumer(&g, true, false, false, 0);
    feed(p, b, 100, 0);
    ws_parser_gap(p, 50);
    feed(p, b + 150, n - 150, 0);
    CHECK_EQ_INT(g.n, 1);
    CHECK(g.kept[0] == 0 && g.total[0] == 500 && g.truncated[0]);
    ws_parser_free(p);
}

/* A gap of 0 bytes right after a header (nothing lost, but a gap all the same) marks the
 * message truncated and keeps nothing after it, as before: the payload that follows in one
 * buffer is not handed over as a whole message. */
static void test_empty_gap_after_header(void)
{
    uint8_t b[64];
    size_t n = frame(b, WS_OP_TEXT, true, false, false, (const uint8_t *)"hello", 5);
    for (int limited = 0; limited < 2; limited++) {
        got g = {.limit_text = SIZE_MAX, .limit_binary = 0};
        ws_parser *p = consumer(&g, limited, false, false, 0);
        feed(p, b, 2, 0); /* the header */
        ws_parser_gap(p, 0);
        feed(p, b + 2, n - 2, 0);
        CHECK_EQ_INT(g.n, 1);
        CHECK(g.kept[0] == 0 && g.total[0] == 5 && g.truncated[0]);
        ws_parser_free(p);
    }
}

/* A whole unmasked message in one input buffer is handed over from that buffer; split, it is
 * assembled; either way the same bytes. Lengths in 7, 16 and 64 bits. */
static void test_handed_from_input(void)
{
    static uint8_t b[70100], msg[70000];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 13 + 1);
    static const size_t lens[] = {1, 125, 126, 300, 65535, 65536, 70000};
    for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
        size_t n = frame(b, WS_OP_BINARY, true, false, false, msg, lens[l]);
        got g = {.limit_text = SIZE_MAX, .limit_binary = SIZE_MAX};
        ws_parser *p = consumer(&g, false, false, false, 0);
        feed(p, b, n, 0);
        CHECK_EQ_INT(g.n, 1);
        CHECK(g.where[0] == b + (n - lens[l])); /* in place */
        CHECK(g.kept[0] == lens[l] && g.total[0] == lens[l] && !g.truncated[0]);
        feed(p, b, n, n / 2 + 1);
        CHECK_EQ_INT(g.n, 2);
        CHECK(g.kept[1] == lens[l] &&
              !memcmp(g.data[1], msg, sizeof g.data[1] < lens[l] ? sizeof g.data[1] : lens[l]));
        ws_parser_free(p);
    }
    /* over max_message: the first max_message bytes, truncated */
    size_t n = frame(b, WS_OP_TEXT, true, false, false, msg, 300);
    got g = {.limit_text = 0, .limit_binary = 0};
    ws_parser *p = consumer(&g, false, false, false, 100);
    feed(p, b, n, 0);
    CHECK(g.n == 1 && g.kept[0] == 100 && g.total[0] == 300 && g.truncated[0]);
    CHECK(!memcmp(g.data[0], msg, 100));
    ws_parser_free(p);
}

/* A frame whose 64-bit length has the top bit set is still a protocol error, and a frame
 * that begins a message while one is in progress still ends that one, truncated. */
static void test_errors_unchanged(void)
{
    uint8_t b[64] = {0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1};
    got g = {.limit_text = SIZE_MAX, .limit_binary = 0};
    ws_parser *p = consumer(&g, true, false, false, 0);
    feed(p, b, 10, 0);
    CHECK_EQ_INT(g.errors, 1);
    CHECK_EQ_INT(ws_parser_get_stats(p)->frames, 0);
    ws_parser_free(p);
    size_t n = frame(b, WS_OP_TEXT, false, false, false, (const uint8_t *)"ab", 2);
    n += frame(b + n, WS_OP_BINARY, true, false, false, (const uint8_t *)"xyz", 3);
    p = consumer(&g, true, false, false, 0);
    feed(p, b, n, 0);
    CHECK_EQ_INT(g.errors, 1);
    CHECK_EQ_INT(g.n, 2);
    CHECK(g.kept[0] == 2 && g.truncated[0] && !memcmp(g.data[0], "ab", 2));
    CHECK(g.kept[1] == 0 && g.total[1] == 3 && !g.truncated[1]);
    ws_parser_free(p);
}

/* ---- the same stream with and without limits ---- */

typedef struct trace {
    char s[8192];
    size_t n;
    size_t limit; /* kept bytes recorded: at most this many (the limited run's) */
    bool limited;
} trace;

static void add(trace *t, const char *fmt, unsigned long long a, unsigned long long b)
{
    int k = snprintf(t->s + t->n, sizeof t->s - t->n, fmt, a, b);
    if (k > 0 && t->n + (size_t)k < sizeof t->s)
        t->n += (size_t)k;
}

static size_t trace_keep(void *ctx, int opcode)
{
    return ((trace *)ctx)->limit;
}

static void trace_message(void *ctx, int opcode, const uint8_t *data, size_t kept, uint64_t total,
                          bool compressed, bool truncated)
{
    trace *t = ctx;
    size_t k = kept < t->limit ? kept : t->limit;
    if (t->limited)
        CHECK(kept <= t->limit);
    add(t, "M%llu/%llu", (unsigned long long)opcode, total);
    add(t, "%c%llu:", truncated ? 't' : '-', k);
    for (size_t i = 0; i < k; i++)
        add(t, "%02llx%.0llu", data[i], 0);
    add(t, ";%.0llu%.0llu", 0, 0);
}

static void trace_error(void *ctx, const char *why)
{
    add(ctx, "E%.0llu%.0llu;", 0, 0);
}

static void run_trace(trace *t, const uint8_t *b, size_t n, bool from_client, size_t max)
{
    ws_callbacks cb = {.ctx = t,
                       .on_message = trace_message,
                       .on_error = trace_error,
                       .message_keep = t->limited ? trace_keep : NULL};
    ws_parser *p = ws_parser_new(&cb, from_client, false, false, max, NULL);
    for (size_t i = 0; i < n;) {
        size_t k = (i * 7 + 3) % 23 + 1;
        k = k < n - i ? k : n - i;
        ws_parser_feed(p, b + i, k);
        i += k;
        if (i == n / 2)
            ws_parser_gap(p, 3); /* lost bytes half way */
    }
    ws_parser_eof(p);
    ws_parser_free(p);
}

/* Pseudo-random frames (some invalid: resynchronisation), with a gap half way. */
static void test_same_events(void)
{
    static uint8_t b[4096];
    uint32_t x = 12345;
    for (int round = 0; round < 200; round++) {
        size_t n = 0;
        bool from_client = round & 1;
        while (n < 3000) {
            x = x * 1103515245u + 12345u;
            uint8_t payload[120];
            size_t len = (x >> 8) % sizeof payload;
            for (size_t i = 0; i < len; i++)
                payload[i] = (uint8_t)(x >> (i % 24));
            int op = (x >> 3) % 5 == 0 ? WS_OP_CONT : (x >> 5) & 1 ? WS_OP_BINARY : WS_OP_TEXT;
            bool fin = (x >> 7) % 3 != 0;
            if ((x >> 11) % 40 == 0)
                b[n++] = 0x70; /* junk: an invalid frame start */
            n += frame(b + n, op, fin, false, from_client, payload, len);
        }
        static const size_t limits[] = {0, 1, 5, 64};
        for (size_t l = 0; l < sizeof limits / sizeof limits[0]; l++) {
            static trace full, cut;
            full = (trace){.limit = limits[l], .limited = false};
            cut = (trace){.limit = limits[l], .limited = true};
            size_t max = round % 3 == 0 ? 50 : 0;
            run_trace(&full, b, n, from_client, max);
            run_trace(&cut, b, n, from_client, max);
            CHECK(full.n == cut.n && !memcmp(full.s, cut.s, full.n));
        }
    }
}

int main(void)
{
    test_binary_kept_zero();
    test_text_prefix();
    test_deflate_limits();
    test_gap_in_unkept_message();
    test_empty_gap_after_header();
    test_handed_from_input();
    test_errors_unchanged();
    test_same_events();
    TEST_MAIN_END("test_decode_ws_keep");
}
