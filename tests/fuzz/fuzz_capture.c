/* fuzz_capture: libFuzzer target for capture/. The first input byte picks a file shape; the
 * rest is written behind a fixed file header to a memfd, and the whole capture path runs over
 * it (link layer, IPv4/IPv6 and fragments, TCP health, libnids with gap filling and
 * mid-stream pick-up) into a sink that checks what it is given.
 *   shape 0-4: pcap, link type RAW / Ethernet / SLL / SLL2 / NULL, body = pcap records
 *   shape 5:   pcapng with a RAW and an Ethernet interface (own reader), body = blocks
 *   shape 6:   pcapng, one RAW interface (libpcap), body = blocks
 *   shape 7:   shape 0's file compressed with gzip (read through zlib: capture/compressed.c)
 *   shape 8:   the body behind a gzip member header: a deflate stream as it comes
 *   shape 9:   shape 5's file compressed with gzip (a stream: the own reader, filters compiled
 *              as link types come; capture/stream.c)
 *   shape 10:  shape 5's file read from a pipe (its first bytes given back to the own reader)
 *   shape 11:  shape 0's file read from a pipe (its first bytes given back to libpcap)
 *   shape 12:  shape 7's gzip file read from a pipe (decompressed as a stream) */
#include "capture/capture.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

typedef struct fuzz_sink_state {
    uint64_t opened, closed, bytes;
    uint8_t sum;
} fuzz_sink_state;

static void on_open(void *ctx, ow_flow *f, double ts)
{
    (void)ts;
    fuzz_sink_state *s = ctx;
    s->opened++;
    if (f->client.family != 4 && f->client.family != 6)
        abort();
}

static size_t on_data(void *ctx, ow_flow *f, int dir, const uint8_t *d, size_t len, double ts)
{
    (void)f, (void)ts;
    fuzz_sink_state *s = ctx;
    if (dir != OW_DIR_C2S && dir != OW_DIR_S2C)
        abort();
    for (size_t i = 0; i < len; i++) /* every byte offered must be readable */
        s->sum ^= d[i];
    s->bytes += len;
    return len > 3 ? len - 3 : len; /* leave a little unconsumed now and then */
}

static void on_close(void *ctx, ow_flow *f, int how, double ts)
{
    (void)f, (void)ts;
    fuzz_sink_state *s = ctx;
    s->closed++;
    if (how < OW_CLOSE_FIN || how > OW_CLOSE_END)
        abort();
}

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static size_t pcap_header(uint8_t *h, uint32_t linktype)
{
    put32(h, 0xa1b2c3d4);
    h[4] = 2, h[5] = 0, h[6] = 4, h[7] = 0;
    put32(h + 8, 0);
    put32(h + 12, 0);
    put32(h + 16, 262144);
    put32(h + 20, linktype);
    return 24;
}

static size_t pcapng_block(uint8_t *b, uint32_t type, const uint8_t *body, uint32_t n)
{
    put32(b, type);
    put32(b + 4, n + 12);
    memcpy(b + 8, body, n);
    put32(b + 8 + n, n + 12);
    return n + 12;
}

static size_t pcapng_header(uint8_t *h, bool mixed)
{
    uint8_t shb[16] = {0};
    put32(shb, 0x1A2B3C4D);
    shb[4] = 1;
    memset(shb + 8, 0xFF, 8);
    size_t n = pcapng_block(h, 0x0A0D0D0A, shb, 16);
    uint8_t idb[8] = {101, 0, 0, 0, 0, 0, 4, 0}; /* RAW, snaplen 262144 */
    n += pcapng_block(h + n, 1, idb, 8);
    if (mixed) {
        idb[0] = 1; /* Ethernet */
        n += pcapng_block(h + n, 1, idb, 8);
    }
    return n;
}

/* OW_FUZZ_SAVE=PATH: each input is written there before it runs, so an input that corrupts
 * memory outside instrumented code (libpcap, libnids) is kept even if the crash handler dies. */
static void save_input(const uint8_t *data, size_t size)
{
    const char *path = getenv("OW_FUZZ_SAVE");
    FILE *f = path ? fopen(path, "wb") : NULL;
    if (!f)
        return;
    fwrite(data, 1, size, f);
    fclose(f);
}

/* The file written to fd as gzip (-1 when zlib fails). */
static int write_gzip(int fd, const uint8_t *hdr, size_t hlen, const uint8_t *body, size_t blen)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    size_t cap = deflateBound(&z, (uLong)(hlen + blen)) + 64;
    uint8_t *out = malloc(cap);
    int rc = -1;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    z.next_in = (Bytef *)hdr;
    z.avail_in = (uInt)hlen;
    if (out && deflate(&z, Z_NO_FLUSH) == Z_OK) {
        z.next_in = (Bytef *)body;
        z.avail_in = (uInt)blen;
        if (deflate(&z, Z_FINISH) == Z_STREAM_END &&
            write(fd, out, z.total_out) == (ssize_t)z.total_out)
            rc = 0;
    }
    deflateEnd(&z);
    free(out);
    return rc;
}

#define N_SHAPES 13u

/* The capture file for this input in fd: its shape's header, then the body. */
static int write_file(int fd, unsigned shape, const uint8_t *body, size_t blen)
{
    static const uint32_t linktypes[] = {101, 1, 113, 276, 0};
    static const uint8_t gzip_member[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    uint8_t hdr[128];
    if (shape == 12)
        shape = 7; /* the same file, written to a pipe */
    size_t hlen = shape < 5                   ? pcap_header(hdr, linktypes[shape])
                  : shape < 7                 ? pcapng_header(hdr, shape == 5)
                  : shape == 7 || shape == 11 ? pcap_header(hdr, 101)
                  : shape == 8                ? (memcpy(hdr, gzip_member, sizeof gzip_member), 10)
                                              : pcapng_header(hdr, true);
    if (shape == 7 || shape == 9)
        return write_gzip(fd, hdr, hlen, body, blen);
    return write(fd, hdr, hlen) == (ssize_t)hlen && write(fd, body, blen) == (ssize_t)blen ? 0 : -1;
}

/* A file descriptor holding the input's capture file: a memfd, or for the pipe shapes the
 * read end of a pipe holding all of it (-1 when it does not fit). */
static int input_fd(unsigned shape, const uint8_t *body, size_t blen)
{
    if (shape < 10) {
        int fd = memfd_create("fuzz_capture", 0);
        if (fd >= 0 && write_file(fd, shape, body, blen) < 0) {
            close(fd);
            return -1;
        }
        return fd;
    }
    int p[2];
    if (pipe(p) < 0)
        return -1;
    int room = fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
    bool fits = room > 0 && blen + 128 <= (size_t)room;
    if (!fits || write_file(p[1], shape, body, blen) < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    close(p[1]);
    return p[0];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    save_input(data, size);
    int fd = input_fd(data[0] % N_SHAPES, data + 1, size - 1);
    if (fd < 0)
        return 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    capture_opts o = {.file = path, .max_streams = 64, .max_stream_buffer = 4096};
    o.server_ports[0] = 5006;
    o.server_ports[1] = 80;
    o.n_server_ports = 2;
    char err[512];
    capture *c = capture_open(&o, err, sizeof err);
    if (c) {
        fuzz_sink_state st = {0};
        ow_flow_sink k = {.ctx = &st, .on_open = on_open, .on_data = on_data, .on_close = on_close};
        capture_run(c, &k, NULL, err, sizeof err);
        const capture_stats *s = capture_get_stats(c);
        uint64_t outcomes = s->non_ip + s->truncated + s->files_cut + s->bad_ip + s->fragments +
                            s->non_tcp + s->not_server_port + s->bad_tcp + s->tcp_packets;
        if (outcomes != s->packets)
            abort();
        capture_close(c, &k);
        if (st.opened != st.closed)
            abort();
    }
    close(fd);
    return 0;
}
