/* inflate: streaming zlib decompression for HTTP content codings (gzip; "deflate" as zlib
 * or raw, detected from the first two bytes) and for permessage-deflate (raw), with a hard
 * cap on output. Output that does not fit is inflated into a scratch buffer and counted, so
 * a deflate bomb costs time proportional to its size but never memory. The inflater budget
 * (a counter of live inflaters against a limit) is at the end. */
#include "decode/inflate.h"
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define INFLATE_SCRATCH 16384 /* bytes of discarded output produced per zlib call */
#define WINDOW_ZLIB     15
#define WINDOW_RAW      (-15)
#define WINDOW_GZIP     31
#define ZLIB_SLICE      0x40000000u /* zlib counts in uInt: buffers go in slices that fit */

struct ow_inflater {
    z_stream zs;
    ow_inflate_mode mode;
    bool ready;  /* inflateInit2 done */
    bool ended;  /* end of stream seen: later input is ignored */
    bool failed; /* corrupt data seen: every feed fails until reset */
    uint8_t head[2];
    size_t head_len; /* ZLIB_OR_RAW: first bytes held until the format is known */
};

static int init_zlib(ow_inflater *z, int window_bits)
{
    memset(&z->zs, 0, sizeof z->zs);
    if (inflateInit2(&z->zs, window_bits) != Z_OK)
        return -1;
    z->ready = true;
    return 0;
}

/* RFC 1950 header: CM 8, CINFO <= 7, and the check bits make CMF*256+FLG a multiple of 31. */
static bool looks_like_zlib_header(const uint8_t h[2])
{
    return (h[0] & 0x0f) == 8 && (h[0] >> 4) <= 7 && ((h[0] << 8) | h[1]) % 31 == 0;
}

ow_inflater *ow_inflater_new(ow_inflate_mode mode)
{
    ow_inflater *z = calloc(1, sizeof *z);
    if (!z)
        return NULL;
    z->mode = mode;
    int bits = mode == OW_INFLATE_GZIP ? WINDOW_GZIP : WINDOW_RAW;
    if (mode != OW_INFLATE_ZLIB_OR_RAW && init_zlib(z, bits) != 0) {
        free(z);
        return NULL;
    }
    return z;
}

void ow_inflater_free(ow_inflater *z)
{
    if (!z)
        return;
    if (z->ready)
        inflateEnd(&z->zs);
    free(z);
}

void ow_inflater_reset(ow_inflater *z)
{
    if (!z)
        return;
    if (z->mode == OW_INFLATE_ZLIB_OR_RAW) {
        if (z->ready)
            inflateEnd(&z->zs);
        z->ready = false;
    } else if (z->ready) {
        inflateReset(&z->zs);
    }
    z->ended = z->failed = false;
    z->head_len = 0;
}

static uInt slice(size_t n)
{
    return n > ZLIB_SLICE ? ZLIB_SLICE : (uInt)n;
}

/* Runs zlib over in[0..in_len) until the input is used up and no output is pending.
 * Returns 0 (more input welcome), 1 (end of stream) or -1 (corrupt data). */
static int run(ow_inflater *z, const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap,
               size_t *out_len, uint64_t *dropped)
{
    uint8_t scratch[INFLATE_SCRATCH];
    z->zs.next_in = (Bytef *)in;
    z->zs.avail_in = 0;
    for (;;) {
        if (z->zs.avail_in == 0 && in_len > 0) {
            z->zs.avail_in = slice(in_len);
            in_len -= z->zs.avail_in;
        }
        size_t room = out_cap > *out_len ? out_cap - *out_len : 0;
        bool to_scratch = room == 0;
        /* cppcheck-suppress legacyUninitvar ; scratch only receives output, it is never read */
        z->zs.next_out = to_scratch ? scratch : out + *out_len;
        z->zs.avail_out = to_scratch ? (uInt)sizeof scratch : slice(room);
        uInt out_before = z->zs.avail_out, in_before = z->zs.avail_in;
        int rc = inflate(&z->zs, Z_SYNC_FLUSH);
        size_t produced = out_before - z->zs.avail_out;
        if (to_scratch) {
            if (dropped)
                *dropped += produced;
        } else {
            *out_len += produced;
        }
        if (rc == Z_STREAM_END) {
            z->ended = true;
            return 1;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            z->failed = true; /* Z_DATA_ERROR, Z_NEED_DICT, Z_MEM_ERROR, Z_STREAM_ERROR */
            return -1;
        }
        bool input_done = z->zs.avail_in == 0 && in_len == 0;
        if (input_done && z->zs.avail_out > 0)
            return 0; /* everything consumed and nothing left pending in zlib */
        if (produced == 0 && in_before == z->zs.avail_in) {
            if (input_done)
                return 0;
            z->failed = true; /* stuck with input and room left: cannot happen on sane data */
            return -1;
        }
    }
}

/* ZLIB_OR_RAW: holds the first two bytes, then starts zlib in the format they show. */
static int detect_and_start(ow_inflater *z, const uint8_t **in, size_t *in_len)
{
    while (z->head_len < 2 && *in_len > 0) {
        z->head[z->head_len++] = **in;
        (*in)++;
        (*in_len)--;
    }
    if (z->head_len < 2)
        return 0;
    int bits = looks_like_zlib_header(z->head) ? WINDOW_ZLIB : WINDOW_RAW;
    return init_zlib(z, bits);
}

int ow_inflater_feed(ow_inflater *z, const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap,
                     size_t *out_len, uint64_t *dropped)
{
    if (!z || z->failed)
        return -1;
    if (z->ended)
        return 1;
    if (!out)
        out_cap = 0;
    if (!z->ready) {
        if (detect_and_start(z, &in, &in_len) != 0) {
            z->failed = true;
            return -1;
        }
        if (!z->ready)
            return 0;
        uint8_t head[2] = {z->head[0], z->head[1]};
        int rc = run(z, head, sizeof head, out, out_cap, out_len, dropped);
        if (rc != 0)
            return rc;
    }
    if (in_len == 0)
        return 0;
    return run(z, in, in_len, out, out_cap, out_len, dropped);
}

/* ---- budget ---- */

void ow_inflate_budget_init(ow_inflate_budget *b, size_t limit)
{
    *b = (ow_inflate_budget){.limit = limit};
}

bool ow_inflate_budget_take(ow_inflate_budget *b)
{
    if (!b)
        return true;
    if (b->live >= b->limit)
        return false;
    b->live++;
    return true;
}

void ow_inflate_budget_give(ow_inflate_budget *b)
{
    if (b && b->live > 0)
        b->live--;
}
