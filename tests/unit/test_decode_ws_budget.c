/* test_decode_ws_budget: the inflater budget shared by websocket parsers (decode/ws.h,
 * decode/inflate.h). With 2 slots, two parsers inflate; a third gets no inflater, allocates
 * nothing for its compressed message, which is delivered empty and truncated, reported through
 * on_error and counted; with context takeover that direction stays uninflated, without it a
 * later message inflates once a slot is free; freeing a parser gives its slot to a new one. */
#include "decode/ws.h"
#include "tests/unit/testlib.h"
#include <malloc.h>
#include <stdlib.h>
#include <zlib.h>

typedef struct rec {
    int messages, errors;
    char last_msg[256];
    size_t last_kept;
    bool last_compressed, last_truncated;
    char last_error[128];
} rec;

static void on_message(void *ctx, int opcode, const uint8_t *data, size_t kept, uint64_t total,
                       bool compressed, bool truncated)
{
    (void)opcode, (void)total;
    rec *r = ctx;
    r->messages++;
    r->last_kept = kept;
    r->last_compressed = compressed;
    r->last_truncated = truncated;
    size_t n = kept < sizeof r->last_msg - 1 ? kept : sizeof r->last_msg - 1;
    memcpy(r->last_msg, data, n);
    r->last_msg[n] = 0;
}

static void on_error(void *ctx, const char *why)
{
    rec *r = ctx;
    r->errors++;
    snprintf(r->last_error, sizeof r->last_error, "%s", why);
}

static ws_parser *parser(rec *r, bool nct, ow_inflate_budget *b)
{
    memset(r, 0, sizeof *r);
    ws_callbacks cb = {.ctx = r, .on_message = on_message, .on_error = on_error};
    return ws_parser_new(&cb, false, true, nct, 0, b);
}

/* One unmasked server frame (FIN, RSV1, text) carrying s compressed alone (raw deflate,
 * Z_SYNC_FLUSH, the 00 00 ff ff tail removed as RFC 7692 says). */
static size_t compressed_frame(uint8_t *out, size_t cap, const char *s)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    zs.next_in = (Bytef *)(uintptr_t)s;
    zs.avail_in = (uInt)strlen(s);
    zs.next_out = out + 2;
    zs.avail_out = (uInt)(cap - 2);
    deflate(&zs, Z_SYNC_FLUSH);
    size_t len = cap - 2 - zs.avail_out - 4;
    deflateEnd(&zs);
    CHECK(len < 126);
    out[0] = 0xc1;
    out[1] = (uint8_t)len;
    return 2 + len;
}

static void feed_message(ws_parser *p, const char *s)
{
    uint8_t b[256];
    size_t n = compressed_frame(b, sizeof b, s);
    CHECK_EQ_INT(ws_parser_feed(p, b, n), n);
}

/* Heap bytes in use (0 where the allocator does not say, e.g. under ASan or valgrind). */
static long long heap_in_use(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
    return (long long)mallinfo2().uordblks;
#else
    return 0;
#endif
}

static void check_inflated(const rec *r, const char *want)
{
    CHECK(r->last_compressed && !r->last_truncated);
    CHECK_EQ_STR(r->last_msg, want);
}

static void check_skipped(const rec *r, int errors)
{
    CHECK(r->last_compressed && r->last_truncated);
    CHECK_EQ_INT(r->last_kept, 0);
    CHECK_EQ_INT(r->errors, errors);
    CHECK(strstr(r->last_error, "inflater limit") != NULL);
}

static void test_budget_of_two(void)
{
    ow_inflate_budget b;
    ow_inflate_budget_init(&b, 2);
    rec ra, rb, rc, rd;
    ws_parser *a = parser(&ra, false, &b), *pb = parser(&rb, false, &b);
    ws_parser *c = parser(&rc, false, &b);
    CHECK_EQ_INT(b.live, 0); /* slots are taken at the first compressed message */
    feed_message(a, "{\"msgtype\":\"ACK\"}");
    feed_message(pb, "{\"msgtype\":\"PULL-DOC-REQ\"}");
    check_inflated(&ra, "{\"msgtype\":\"ACK\"}");
    check_inflated(&rb, "{\"msgtype\":\"PULL-DOC-REQ\"}");
    CHECK_EQ_INT(b.live, 2);

    /* The third: not inflated, nothing allocated, reported and counted. */
    uint8_t f[256];
    size_t n = compressed_frame(f, sizeof f, "{\"msgtype\":\"OK\"}");
    long long before = heap_in_use();
    CHECK_EQ_INT(ws_parser_feed(c, f, n), n);
    long long grown = heap_in_use() - before;
    CHECK(grown < 1024); /* no inflater (~7 KB + window), no message buffer (4 KB) */
    CHECK_EQ_INT(rc.messages, 1);
    check_skipped(&rc, 1);
    CHECK_EQ_INT(ws_parser_get_stats(c)->inflate_skipped, 1);
    CHECK_EQ_INT(ws_parser_get_stats(c)->inflate_errors, 0);
    CHECK_EQ_INT(b.skipped, 1);
    CHECK_EQ_INT(b.live, 2);

    /* A slot frees up: a new parser inflates; the refused one, with context takeover, stays
     * without an inflater (its later messages refer to the skipped one), each one counted. */
    ws_parser_free(a);
    CHECK_EQ_INT(b.live, 1);
    ws_parser *d = parser(&rd, false, &b);
    feed_message(c, "{\"msgtype\":\"OK\"}");
    check_skipped(&rc, 2);
    CHECK_EQ_INT(b.skipped, 2);
    feed_message(d, "{\"msgtype\":\"PATCH-DOC\"}");
    check_inflated(&rd, "{\"msgtype\":\"PATCH-DOC\"}");
    CHECK_EQ_INT(b.live, 2);
    /* The others go on inflating their streams. */
    feed_message(pb, "{\"msgtype\":\"ACK\"}");
    CHECK_EQ_INT(rb.errors, 0);
    ws_parser_free(pb);
    ws_parser_free(c); /* held no slot: gives none back */
    CHECK_EQ_INT(b.live, 1);
    ws_parser_free(d);
    CHECK_EQ_INT(b.live, 0);
}

/* Without context takeover every message stands alone: a refused direction asks again at its
 * next message and inflates once a slot is free. */
static void test_no_context_takeover_asks_again(void)
{
    ow_inflate_budget b;
    ow_inflate_budget_init(&b, 1);
    rec ra, rb;
    ws_parser *a = parser(&ra, true, &b), *pb = parser(&rb, true, &b);
    feed_message(a, "first");
    check_inflated(&ra, "first");
    feed_message(pb, "second");
    check_skipped(&rb, 1);
    ws_parser_free(a);
    feed_message(pb, "third");
    check_inflated(&rb, "third");
    CHECK_EQ_INT(rb.messages, 2);
    CHECK_EQ_INT(ws_parser_get_stats(pb)->inflate_skipped, 1);
    CHECK_EQ_INT(b.live, 1);
    ws_parser_free(pb);
    CHECK_EQ_INT(b.live, 0);
    CHECK_EQ_INT(b.skipped, 1);
}

/* NULL is unbounded; a budget of 0 refuses everything. */
static void test_null_and_zero(void)
{
    CHECK(ow_inflate_budget_take(NULL));
    ow_inflate_budget_give(NULL);
    ow_inflate_budget b;
    ow_inflate_budget_init(&b, 0);
    CHECK(!ow_inflate_budget_take(&b));
    ow_inflate_budget_give(&b); /* nothing taken: stays at 0 */
    CHECK_EQ_INT(b.live, 0);
    rec r;
    ws_parser *p = parser(&r, false, NULL);
    feed_message(p, "unbounded");
    check_inflated(&r, "unbounded");
    ws_parser_free(p);
}

int main(void)
{
    test_budget_of_two();
    test_no_context_takeover_asks_again();
    test_null_and_zero();
    TEST_MAIN_END("decode_ws_budget");
}
