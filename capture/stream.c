/* stream: a capture read once, from a file descriptor (see stream.h). */
#include "capture/stream.h"
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const uint8_t pcapng_magic[4] = {0x0A, 0x0D, 0x0D, 0x0A};

ssize_t stream_peek_fd(int fd, uint8_t magic[STREAM_MAGIC_LEN])
{
    size_t got = 0;
    while (got < STREAM_MAGIC_LEN) {
        ssize_t n = read(fd, magic + got, STREAM_MAGIC_LEN - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

bool stream_is_pcapng(const uint8_t *magic, size_t n)
{
    return n >= sizeof pcapng_magic && memcmp(magic, pcapng_magic, sizeof pcapng_magic) == 0;
}

ssize_t stream_read_fd(int fd, void *buf, size_t n, const stream_hooks *hooks)
{
    while (hooks && hooks->idle) {
        int ms = hooks->wait_ms ? hooks->wait_ms(hooks->ctx) : STREAM_IDLE_MS;
        if (ms < 0) {
            errno = EINTR; /* asked to stop: as a signal would have made read(2) fail */
            return -1;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int rc = poll(&p, 1, ms);
        if (rc > 0)
            break; /* bytes, the end or an error: read(2) says which */
        if (rc < 0 && (errno != EINTR || !hooks->wait_ms))
            return -1; /* EINTR: a signal, as read(2) would have said */
        if (rc == 0)
            hooks->idle(hooks->ctx);
    }
    return read(fd, buf, n);
}

typedef struct fd_stream {
    int fd;
    bool owns_fd;
    const stream_hooks *hooks;
    uint8_t bytes[STREAM_MAGIC_LEN];
    size_t n, at;
    uint64_t total; /* bytes read from fd so far */
    int blocks;     /* reads in a row that emptied the pipe at a block's end */
    /* What the reads showed of the writer, and whether the hook of that name was told: each
     * is told once, as soon as there is a hook (they may be set after the first reads). */
    bool held_seen, prompt_seen, held_told, prompt_told;
} fd_stream;

static void tell_once(const stream_hooks *h, void (*hook)(void *), bool seen, bool *told)
{
    if (!seen || *told || !hook)
        return;
    *told = true;
    hook(h->ctx);
}

static void tell_hooks(fd_stream *r)
{
    const stream_hooks *h = r->hooks;
    if (!h)
        return;
    tell_once(h, h->held, r->held_seen, &r->held_told);
    tell_once(h, h->prompt, r->prompt_seen, &r->prompt_told);
}

/* A read of got bytes where asked were wanted: a writer that buffers its output hands the
 * pipe whole blocks, so reads that empty the pipe end on a block's end; one that writes each
 * packet as it comes leaves the pipe empty after a packet, anywhere (see stream.h). */
static void note_read(fd_stream *r, size_t got, size_t asked)
{
    r->total += got;
    bool emptied = got > 0 && got < asked;
    bool on_block = r->total % STREAM_BLOCK == 0;
    r->blocks = emptied && on_block ? r->blocks + 1 : 0;
    if (r->blocks >= STREAM_BLOCKS)
        r->held_seen = true;
    if (emptied && !on_block)
        r->prompt_seen = true;
    tell_hooks(r);
}

static ssize_t fd_stream_read(void *cookie, char *buf, size_t size)
{
    fd_stream *r = cookie;
    size_t k = 0;
    while (k < size && r->at < r->n)
        buf[k++] = (char)r->bytes[r->at++];
    if (k > 0)
        return (ssize_t)k;
    tell_hooks(r); /* what the reads before the hooks were set showed */
    /* what there is now; EINTR too (a stop: see capture_run) */
    ssize_t got = stream_read_fd(r->fd, buf, size, r->hooks);
    if (got >= 0)
        note_read(r, (size_t)got, size);
    return got;
}

static int fd_stream_close(void *cookie)
{
    fd_stream *r = cookie;
    int rc = r->owns_fd ? close(r->fd) : 0;
    free(r);
    return rc;
}

FILE *stream_from_fd(int fd, bool owns_fd, const uint8_t *bytes, size_t n,
                     const stream_hooks *hooks)
{
    if (n > STREAM_MAGIC_LEN) {
        errno = EINVAL;
        return NULL;
    }
    fd_stream *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    *r = (fd_stream){.fd = fd, .owns_fd = owns_fd, .hooks = hooks, .n = n, .total = n};
    if (n)
        memcpy(r->bytes, bytes, n);
    cookie_io_functions_t io = {.read = fd_stream_read, .close = fd_stream_close};
    FILE *out = fopencookie(r, "rb", io);
    if (!out)
        free(r);
    return out;
}
