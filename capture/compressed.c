/* compressed: compressed capture files (see compressed.h). */
#include "capture/compressed.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static const struct {
    compression c;
    const char *name, *cat;
    unsigned char magic[COMPRESSION_MAGIC_MAX];
    size_t len;
} kinds[] = {
    {COMPRESSION_GZIP, "gzip", "zcat", {0x1f, 0x8b}, 2},
    {COMPRESSION_ZSTD, "zstd", "zstdcat", {0x28, 0xb5, 0x2f, 0xfd}, 4},
    {COMPRESSION_XZ, "xz", "xzcat", {0xfd, '7', 'z', 'X', 'Z', 0x00}, 6},
    {COMPRESSION_BZIP2, "bzip2", "bzcat", {'B', 'Z', 'h'}, 3},
    {COMPRESSION_LZ4, "lz4", "lz4cat", {0x04, 0x22, 0x4d, 0x18}, 4},
};
enum { N_KINDS = sizeof kinds / sizeof kinds[0] };

compression compression_of_bytes(const uint8_t *head, size_t n)
{
    for (int i = 0; i < N_KINDS; i++)
        if (n >= kinds[i].len && memcmp(head, kinds[i].magic, kinds[i].len) == 0)
            return kinds[i].c;
    return COMPRESSION_NONE;
}

compression compression_of_file(const char *path)
{
    uint8_t head[COMPRESSION_MAGIC_MAX];
    struct stat st; /* a FIFO's bytes read here would be gone for libpcap */
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return COMPRESSION_NONE;
    FILE *f = fopen(path, "rb");
    if (!f)
        return COMPRESSION_NONE;
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    return compression_of_bytes(head, n);
}

const char *compression_name(compression c)
{
    for (int i = 0; i < N_KINDS; i++)
        if (kinds[i].c == c)
            return kinds[i].name;
    return "none";
}

const char *compression_cat(compression c)
{
    for (int i = 0; i < N_KINDS; i++)
        if (kinds[i].c == c)
            return kinds[i].cat;
    return "cat";
}

/* ---- gzip: zlib's inflate over a file descriptor (a file, standard input, a pipe) ---- */

#define GZ_STREAM_IN (1u << 16)

typedef struct gz_stream {
    int fd;
    bool owns_fd;
    bool ended;   /* the input ended, or the last member did and no other follows */
    bool between; /* a member ended: another may follow (gzip -c a b; bytes appended) */
    bool failed;  /* corrupt, or a read error: the next read fails (after what came before) */
    /* called while a pipe has nothing to read (stream.h); may be NULL */
    const stream_hooks *hooks;
    uint8_t head[COMPRESSION_HEAD_MAX]; /* first bytes out, decompressed ahead (peeked) */
    size_t n_head, head_at;
    z_stream z;
    uint8_t buf[GZ_STREAM_IN];
} gz_stream;

/* More compressed input: what the descriptor has now. 1; 0 at its end; -1 on an error;
 * GZ_INTERRUPTED when a signal came first (the reader may be asked to stop: see capture_run). */
#define GZ_INTERRUPTED (-2)
static int gzs_refill(gz_stream *g)
{
    ssize_t n = stream_read_fd(g->fd, g->buf, sizeof g->buf, g->hooks);
    g->z.next_in = g->buf;
    g->z.avail_in = n > 0 ? (uInt)n : 0;
    if (n < 0 && errno == EINTR)
        return GZ_INTERRUPTED;
    return n > 0 ? 1 : n == 0 ? 0 : -1;
}

/* Decompresses into buf: waits for input only while nothing came out yet (a pipe's packets
 * are analysed as they come). A stream cut short just ends (a short read, as gzread gives:
 * libpcap says "truncated"); a corrupt one, or a read error, is a read error (EIO) once what
 * came before it is out. */
static ssize_t gzs_inflate(gz_stream *g, uint8_t *buf, size_t size)
{
    g->z.next_out = buf;
    g->z.avail_out = size > (1u << 30) ? 1u << 30 : (uInt)size;
    uInt asked = g->z.avail_out;
    while (g->z.avail_out > 0 && !g->ended && !g->failed) {
        if (g->z.avail_in == 0) {
            if (g->z.avail_out < asked)
                break; /* something came out: give it before waiting for more */
            int rc = gzs_refill(g);
            if (rc == GZ_INTERRUPTED) {
                errno = EINTR;
                return -1;
            }
            if (rc <= 0) {
                g->ended = true;
                g->failed = rc < 0;
                break;
            }
        }
        if (g->between) { /* bytes that start no member are ignored, as gzip -d does */
            if (g->z.next_in[0] != 0x1f || inflateReset(&g->z) != Z_OK) {
                g->ended = true;
                break;
            }
            g->between = false;
        }
        int rc = inflate(&g->z, Z_NO_FLUSH);
        if (rc == Z_STREAM_END)
            g->between = true;
        else if (rc != Z_OK && rc != Z_BUF_ERROR)
            g->failed = true;
    }
    if (g->failed && g->z.avail_out == asked) {
        errno = EIO;
        return -1;
    }
    return (ssize_t)(asked - g->z.avail_out);
}

static ssize_t gzs_read(void *cookie, char *buf, size_t size)
{
    gz_stream *g = cookie;
    size_t k = 0;
    while (k < size && g->head_at < g->n_head)
        buf[k++] = (char)g->head[g->head_at++];
    if (k > 0)
        return (ssize_t)k;
    return gzs_inflate(g, (uint8_t *)buf, size);
}

static int gzs_close(void *cookie)
{
    gz_stream *g = cookie;
    inflateEnd(&g->z);
    int rc = g->owns_fd ? close(g->fd) : 0;
    free(g);
    return rc;
}

FILE *compressed_gzip_fd(int fd, bool owns_fd, const stream_hooks *hooks, const uint8_t *ahead,
                         size_t n_ahead, uint8_t *head, size_t *n_head, char *err, size_t errlen)
{
    gz_stream *g = n_ahead <= GZ_STREAM_IN ? calloc(1, sizeof *g) : NULL;
    if (!g || inflateInit2(&g->z, 15 + 16) != Z_OK) {
        snprintf(err, errlen, "out of memory for gzip decompression");
        free(g);
        return NULL;
    }
    g->fd = fd;
    g->owns_fd = owns_fd;
    g->hooks = hooks;
    memcpy(g->buf, ahead, n_ahead);
    g->z.next_in = g->buf;
    g->z.avail_in = (uInt)n_ahead;
    size_t want = *n_head < COMPRESSION_HEAD_MAX ? *n_head : COMPRESSION_HEAD_MAX;
    ssize_t got = 0;
    while (g->n_head < want && (got = gzs_inflate(g, g->head + g->n_head, want - g->n_head)) > 0)
        g->n_head += (size_t)got;
    memcpy(head, g->head, g->n_head);
    *n_head = g->n_head;
    cookie_io_functions_t io = {.read = gzs_read, .close = gzs_close};
    FILE *f = fopencookie(g, "rb", io);
    if (!f) {
        snprintf(err, errlen, "cannot read through zlib: %s", strerror(errno));
        inflateEnd(&g->z);
        free(g);
    }
    return f;
}

void compression_refusal(const char *path, compression c, char *err, size_t errlen)
{
    if (strcmp(path, "-") == 0) {
        snprintf(err, errlen,
                 "standard input is %s-compressed (gzip is read as it is, not %s): put %s in "
                 "the pipe: ... | %s | orphanwatch read -",
                 compression_name(c), compression_name(c), compression_cat(c), compression_cat(c));
        return;
    }
    snprintf(err, errlen,
             "%s is %s-compressed (gzip is read as it is, not %s): decompress it, or give it on "
             "standard input: %s %s | orphanwatch read -",
             path, compression_name(c), compression_name(c), compression_cat(c), path);
}
