/* Decoder regression tests for hostile input (found by tests/integration/hostile_inputs.py):
 * a websocket frame declaring 2^62 bytes, cut by the end of the stream, is delivered as a
 * truncated message by ws_parser_eof (once); one declaring 2^63 is a protocol error; a
 * permessage-deflate bomb keeps at most max_message bytes and reports the full size. */
#include "decode/ws.h"
#include "tests/unit/testlib.h"
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static int messages, errors, truncated_msgs;
static uint64_t last_total;
static size_t last_kept;

static void on_message(void *ctx, int opcode, const uint8_t *data, size_t kept, uint64_t total,
                       bool compressed, bool truncated)
{
    (void)ctx, (void)opcode, (void)data, (void)compressed;
    messages++;
    truncated_msgs += truncated;
    last_total = total;
    last_kept = kept;
}

static void on_error(void *ctx, const char *why)
{
    (void)ctx, (void)why;
    errors++;
}

static const ws_callbacks cb = {.on_message = on_message, .on_error = on_error};

static void reset(void)
{
    messages = errors = truncated_msgs = 0;
    last_total = 0;
    last_kept = 0;
}

static size_t header64(uint8_t *b, uint8_t b0, uint64_t len)
{
    b[0] = b0;
    b[1] = 127;
    for (int i = 0; i < 8; i++)
        b[2 + i] = (uint8_t)(len >> (8 * (7 - i)));
    return 10;
}

static void test_huge_length_cut_by_eof(void)
{
    reset();
    ws_parser *p = ws_parser_new(&cb, false, false, false, 4096, NULL);
    uint8_t buf[10 + 1000];
    size_t n = header64(buf, 0x82, 1ull << 62);
    memset(buf + n, 'x', 1000);
    CHECK_EQ_INT(ws_parser_feed(p, buf, n + 1000), n + 1000);
    CHECK_EQ_INT(messages, 0);
    ws_parser_eof(p);
    CHECK_EQ_INT(messages, 1);
    CHECK_EQ_INT(truncated_msgs, 1);
    CHECK_EQ_INT(last_kept, 1000);
    CHECK_EQ_INT(ws_parser_get_stats(p)->truncated_messages, 1);
    ws_parser_eof(p); /* a direction ends once */
    CHECK_EQ_INT(messages, 1);
    ws_parser_free(p);

    reset(); /* nothing in progress: nothing delivered */
    p = ws_parser_new(&cb, false, false, false, 4096, NULL);
    const uint8_t whole[] = {0x81, 0x02, 'h', 'i'};
    ws_parser_feed(p, whole, sizeof whole);
    ws_parser_eof(p);
    CHECK_EQ_INT(messages, 1);
    CHECK_EQ_INT(truncated_msgs, 0);
    ws_parser_free(p);
    ws_parser_eof(NULL);
}

static void test_top_bit_length_is_error(void)
{
    reset();
    ws_parser *p = ws_parser_new(&cb, false, false, false, 4096, NULL);
    uint8_t buf[10 + 100];
    size_t n = header64(buf, 0x82, 1ull << 63);
    memset(buf + n, 'x', 100);
    ws_parser_feed(p, buf, n + 100);
    ws_parser_eof(p);
    CHECK(errors >= 1);
    CHECK_EQ_INT(messages, 0);
    ws_parser_free(p);
}

static void test_deflate_bomb_bounded(void)
{
    reset();
    size_t plain = 64u << 20; /* 64 MB of zeros */
    uint8_t *zero = calloc(1, 1 << 20);
    uint8_t *out = malloc(1 << 20);
    z_stream zs = {0};
    deflateInit2(&zs, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    size_t comp_cap = 1 << 20, comp_len = 0;
    uint8_t *comp = malloc(comp_cap);
    for (size_t done = 0; done < plain; done += 1 << 20) {
        zs.next_in = zero;
        zs.avail_in = 1 << 20;
        int flush = done + (1 << 20) >= plain ? Z_SYNC_FLUSH : Z_NO_FLUSH;
        do {
            zs.next_out = out;
            zs.avail_out = 1 << 20;
            deflate(&zs, flush);
            size_t got = (1 << 20) - zs.avail_out;
            memcpy(comp + comp_len, out, got); /* 64 MB of zeros deflate to ~64 KB */
            comp_len += got;
        } while (zs.avail_out == 0);
    }
    deflateEnd(&zs);
    CHECK(comp_len > 4 && comp_len < comp_cap);
    comp_len -= 4; /* RFC 7692: the 00 00 ff ff tail is not sent */
    uint8_t hdr[10];
    size_t hn = header64(hdr, 0xC1, comp_len); /* FIN, RSV1, text */
    ws_parser *p = ws_parser_new(&cb, false, true, false, 65536, NULL);
    ws_parser_feed(p, hdr, hn);
    ws_parser_feed(p, comp, comp_len);
    CHECK_EQ_INT(messages, 1);
    CHECK_EQ_INT(truncated_msgs, 1);
    CHECK_EQ_INT(last_kept, 65536);
    CHECK_EQ_INT(last_total, plain);
    ws_parser_free(p);
    free(zero);
    free(out);
    free(comp);
}

int main(void)
{
    test_huge_length_cut_by_eof();
    test_top_bit_length_is_error();
    test_deflate_bomb_bounded();
    TEST_MAIN_END("decode_hostile");
}
