/* fuzz_inflate: libFuzzer target for decode/inflate.h. Input: a flags byte (mode, output cap,
 * reset point), then compressed data fed in pieces of pseudo-random size. Checked: output never
 * passes the cap, the counts add up the same as a one-piece run (output, dropped, result), and
 * a failed or finished inflater stays so until reset. */
#include "decode/inflate.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CANARY 32

typedef struct result {
    int rc;
    size_t out_len;
    uint64_t dropped;
    uint32_t hash;
} result;

static result run(ow_inflate_mode mode, const uint8_t *d, size_t n, size_t cap, bool split)
{
    result r = {0, 0, 0, 2166136261u};
    uint8_t *out = malloc(cap + CANARY);
    ow_inflater *z = ow_inflater_new(mode);
    if (!out || !z)
        abort();
    memset(out + cap, 0x5a, CANARY);
    uint32_t rnd = 0x12345678u ^ (uint32_t)n;
    for (size_t i = 0; i < n && r.rc == 0;) {
        size_t piece = n - i;
        if (split) {
            rnd = rnd * 1103515245u + 12345u;
            size_t want = (rnd >> 16) % 97 + 1;
            piece = want < piece ? want : piece;
        }
        r.rc = ow_inflater_feed(z, d + i, piece, out, cap, &r.out_len, &r.dropped);
        if (r.out_len > cap)
            abort();
        i += piece;
    }
    for (size_t i = 0; i < CANARY; i++)
        if (out[cap + i] != 0x5a)
            abort();
    for (size_t i = 0; i < r.out_len; i++)
        r.hash = (r.hash ^ out[i]) * 16777619u;
    /* Failed or ended: it stays so; after a reset it runs again from the start. */
    if (r.rc != 0) {
        size_t l = 0;
        uint64_t dr = 0;
        if (ow_inflater_feed(z, d, n, out, cap, &l, &dr) != r.rc || l != 0)
            abort();
        ow_inflater_reset(z);
        if (ow_inflater_feed(z, d, n, NULL, 0, &l, &dr) < -1)
            abort();
    }
    ow_inflater_free(z);
    free(out);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const ow_inflate_mode modes[4] = {OW_INFLATE_GZIP, OW_INFLATE_ZLIB_OR_RAW,
                                             OW_INFLATE_RAW, OW_INFLATE_ZLIB_OR_RAW};
    static const size_t caps[4] = {0, 7, 4096, 1 << 20};
    ow_inflate_mode mode = modes[data[0] & 3];
    size_t cap = caps[(data[0] >> 2) & 3];
    result a = run(mode, data + 1, size - 1, cap, false);
    result b = run(mode, data + 1, size - 1, cap, true);
    /* Corrupt data may be noticed after different amounts of output; otherwise all agrees. */
    if (a.rc != b.rc)
        abort();
    if (a.rc >= 0 && (a.out_len != b.out_len || a.dropped != b.dropped || a.hash != b.hash))
        abort();
    return 0;
}
