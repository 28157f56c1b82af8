/* test_decode_inflate: the streaming inflater (decode/inflate.c): gzip, zlib, raw deflate
 * (format detection for the HTTP "deflate" coding), corrupt input, and the output cap that
 * makes a deflate bomb cost no memory. Compressed inputs are made here with zlib. */
#include "decode/inflate.h"
#include "tests/unit/testlib.h"
#include <stdlib.h>
#include <zlib.h>

/* Compresses in[0..n) with the given windowBits (31 gzip, 15 zlib, -15 raw) and flush. */
static size_t compress_with(int window_bits, int flush, const uint8_t *in, size_t n, uint8_t *out,
                            size_t cap)
{
    z_stream zs = {0};
    if (deflateInit2(&zs, 9, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return 0;
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    int rc = deflate(&zs, flush);
    size_t len = cap - zs.avail_out;
    deflateEnd(&zs);
    return rc == Z_STREAM_END || rc == Z_OK ? len : 0;
}

static void make_text(uint8_t *buf, size_t n)
{
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)("abcdefgh {}\":,0123456789"[(x >> 16) % 24]);
    }
}

/* Feeds comp in pieces of `step` bytes; returns the last result and fills out. */
static int feed_in_steps(ow_inflater *z, const uint8_t *comp, size_t n, size_t step, uint8_t *out,
                         size_t cap, size_t *out_len, uint64_t *dropped)
{
    int rc = 0;
    for (size_t off = 0; off < n && rc == 0; off += step) {
        size_t k = n - off < step ? n - off : step;
        rc = ow_inflater_feed(z, comp + off, k, out, cap, out_len, dropped);
    }
    return rc;
}

static void roundtrip(ow_inflate_mode mode, int window_bits, int flush, int want_end)
{
    enum { N = 50000 };
    static uint8_t plain[N], comp[N + 1024], out[N];
    make_text(plain, N);
    size_t clen = compress_with(window_bits, flush, plain, N, comp, sizeof comp);
    CHECK(clen > 0 && clen < N);
    size_t steps[] = {1, 7, 4096, clen};
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        ow_inflater *z = ow_inflater_new(mode);
        CHECK(z != NULL);
        size_t out_len = 0;
        uint64_t dropped = 0;
        int rc = feed_in_steps(z, comp, clen, steps[s], out, sizeof out, &out_len, &dropped);
        CHECK_EQ_INT(rc, want_end);
        CHECK_EQ_INT(out_len, N);
        CHECK_EQ_INT(dropped, 0);
        CHECK(memcmp(out, plain, N) == 0);
        /* After a reset the same inflater decodes the stream again. */
        ow_inflater_reset(z);
        out_len = 0;
        rc = ow_inflater_feed(z, comp, clen, out, sizeof out, &out_len, &dropped);
        CHECK_EQ_INT(rc, want_end);
        CHECK_EQ_INT(out_len, N);
        ow_inflater_free(z);
    }
}

static void test_formats(void)
{
    roundtrip(OW_INFLATE_GZIP, 31, Z_FINISH, 1);
    roundtrip(OW_INFLATE_ZLIB_OR_RAW, 15, Z_FINISH, 1);  /* Content-Encoding: deflate as zlib */
    roundtrip(OW_INFLATE_ZLIB_OR_RAW, -15, Z_FINISH, 1); /* ... and as raw deflate */
    roundtrip(OW_INFLATE_RAW, -15, Z_FINISH, 1);
    roundtrip(OW_INFLATE_RAW, -15, Z_SYNC_FLUSH, 0); /* permessage-deflate: no end of stream */
}

static void test_input_after_end_ignored(void)
{
    uint8_t plain[] = "hello hello hello", comp[128], out[64];
    size_t clen = compress_with(31, Z_FINISH, plain, sizeof plain, comp, sizeof comp);
    ow_inflater *z = ow_inflater_new(OW_INFLATE_GZIP);
    size_t out_len = 0;
    uint64_t dropped = 0;
    CHECK_EQ_INT(ow_inflater_feed(z, comp, clen, out, sizeof out, &out_len, &dropped), 1);
    CHECK_EQ_INT(
        ow_inflater_feed(z, (const uint8_t *)"junk", 4, out, sizeof out, &out_len, &dropped), 1);
    CHECK_EQ_INT(out_len, sizeof plain);
    ow_inflater_free(z);
}

static void test_corrupt(void)
{
    uint8_t out[256];
    size_t out_len = 0;
    uint64_t dropped = 0;
    /* Not gzip at all. */
    ow_inflater *z = ow_inflater_new(OW_INFLATE_GZIP);
    CHECK_EQ_INT(ow_inflater_feed(z, (const uint8_t *)"this is not gzip", 16, out, sizeof out,
                                  &out_len, &dropped),
                 -1);
    /* It stays failed until reset. */
    CHECK_EQ_INT(ow_inflater_feed(z, (const uint8_t *)"x", 1, out, sizeof out, &out_len, &dropped),
                 -1);
    ow_inflater_free(z);

    /* A gzip stream with a damaged CRC fails at its end. */
    uint8_t plain[200], comp[400];
    make_text(plain, sizeof plain);
    size_t clen = compress_with(31, Z_FINISH, plain, sizeof plain, comp, sizeof comp);
    comp[clen - 6] ^= 0x55;
    z = ow_inflater_new(OW_INFLATE_GZIP);
    out_len = 0;
    CHECK_EQ_INT(ow_inflater_feed(z, comp, clen, out, sizeof out, &out_len, &dropped), -1);
    ow_inflater_reset(z);
    comp[clen - 6] ^= 0x55;
    out_len = 0;
    CHECK_EQ_INT(ow_inflater_feed(z, comp, clen, out, sizeof out, &out_len, &dropped), 1);
    CHECK_EQ_INT(out_len, sizeof plain);
    ow_inflater_free(z);

    /* Raw deflate with an invalid block type (BTYPE 11). */
    z = ow_inflater_new(OW_INFLATE_RAW);
    uint8_t bad[] = {0x07, 0x00, 0x00};
    CHECK_EQ_INT(ow_inflater_feed(z, bad, sizeof bad, out, sizeof out, &out_len, &dropped), -1);
    ow_inflater_free(z);

    /* A zlib header asking for a preset dictionary: not decodable here. */
    z = ow_inflater_new(OW_INFLATE_ZLIB_OR_RAW);
    uint8_t dict[] = {0x78, 0xbb, 0x00, 0x00, 0x00, 0x01, 0x03, 0x00};
    CHECK_EQ_INT(ow_inflater_feed(z, dict, sizeof dict, out, sizeof out, &out_len, &dropped), -1);
    ow_inflater_free(z);
}

/* 120 MB of zeros compressed in steps (about 117 KB: deflate cannot beat ~1032:1) */
static uint8_t *make_bomb(int window_bits, uint64_t plain_size, size_t *len)
{
    static uint8_t zeros[1 << 20];
    size_t cap = (size_t)(plain_size / 1000) + 65536;
    uint8_t *comp = malloc(cap);
    z_stream zs = {0};
    deflateInit2(&zs, 9, Z_DEFLATED, window_bits, 9, Z_DEFAULT_STRATEGY);
    zs.next_out = comp;
    zs.avail_out = (uInt)cap;
    for (uint64_t done = 0; done < plain_size; done += sizeof zeros) {
        zs.next_in = zeros;
        zs.avail_in = sizeof zeros;
        deflate(&zs, done + sizeof zeros >= plain_size ? Z_FINISH : Z_NO_FLUSH);
    }
    *len = cap - zs.avail_out;
    deflateEnd(&zs);
    return comp;
}

static void test_bomb_cap(void)
{
    const uint64_t plain_size = 120ull << 20;
    size_t clen;
    uint8_t *comp = make_bomb(31, plain_size, &clen);
    CHECK(clen < 200000);
    enum { CAP = 65536, CANARY = 64 };
    uint8_t *out = malloc(CAP + CANARY);
    memset(out + CAP, 0xA5, CANARY);
    ow_inflater *z = ow_inflater_new(OW_INFLATE_GZIP);
    size_t out_len = 0;
    uint64_t dropped = 0;
    int rc = feed_in_steps(z, comp, clen, 1000, out, CAP, &out_len, &dropped);
    CHECK_EQ_INT(rc, 1);
    CHECK_EQ_INT(out_len, CAP);
    CHECK_EQ_INT(dropped, plain_size - CAP);
    bool canary_ok = true;
    for (size_t i = 0; i < CANARY; i++)
        canary_ok = canary_ok && out[CAP + i] == 0xA5;
    CHECK(canary_ok);
    /* With no output buffer at all everything is counted as dropped. */
    ow_inflater_reset(z);
    out_len = 0;
    dropped = 0;
    CHECK_EQ_INT(ow_inflater_feed(z, comp, clen, NULL, 0, &out_len, &dropped), 1);
    CHECK_EQ_INT(out_len, 0);
    CHECK_EQ_INT(dropped, plain_size);
    ow_inflater_free(z);
    free(out);
    free(comp);
}

static void test_out_len_already_full(void)
{
    uint8_t plain[] = "abcabcabcabc", comp[64], out[8] = {0};
    size_t clen = compress_with(15, Z_FINISH, plain, sizeof plain, comp, sizeof comp);
    ow_inflater *z = ow_inflater_new(OW_INFLATE_ZLIB_OR_RAW);
    size_t out_len = 8; /* caller says the buffer is full */
    uint64_t dropped = 0;
    CHECK_EQ_INT(ow_inflater_feed(z, comp, clen, out, sizeof out, &out_len, &dropped), 1);
    CHECK_EQ_INT(out_len, 8);
    CHECK_EQ_INT(dropped, sizeof plain);
    ow_inflater_free(z);
}

int main(void)
{
    test_formats();
    test_input_after_end_ignored();
    test_corrupt();
    test_bomb_cap();
    test_out_len_already_full();
    TEST_MAIN_END("test_decode_inflate");
}
