/* stream: a capture read once, from a file descriptor: standard input, a pipe, a gzip file.
 * Its first bytes are read to choose the reader (a compression is undone first; pcapng goes
 * to the own reader: libpcap 1.10 cannot read every pcapng, and a pipe cannot be looked into
 * first) and are given back to it. Reads return what the descriptor has at the time (one
 * read(2)), so packets arriving slowly on a pipe are analysed as they come, not once a
 * buffer is full. Internal to capture/. */
#ifndef OW_CAPTURE_STREAM_H
#define OW_CAPTURE_STREAM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define STREAM_MAGIC_LEN 6    /* enough for every magic looked for (compressed.h, pcapng) */
#define STREAM_IDLE_MS   1000 /* a stream with nothing to read calls its idle hook this often */

/* What a stream does while it waits for bytes (a pipe whose writer has nothing to say yet):
 * fn(ctx) every STREAM_IDLE_MS, from inside the read (between packets). fn NULL: nothing. The
 * struct is read at each wait, so its owner may set it after the stream is made. */
typedef struct stream_idle {
    void (*fn)(void *ctx);
    void *ctx;
} stream_idle;

/* read(2) of fd, calling idle's hook while nothing is there (idle may be NULL). A signal
 * interrupts it as it does read(2): -1 with errno EINTR. */
ssize_t stream_read_fd(int fd, void *buf, size_t n, const stream_idle *idle);

/* Reads up to STREAM_MAGIC_LEN first bytes of fd into magic (waiting for them, up to its
 * end); returns how many, -1 on a read error (errno). */
ssize_t stream_peek_fd(int fd, uint8_t magic[STREAM_MAGIC_LEN]);
/* The bytes start a pcapng section header block. */
bool stream_is_pcapng(const uint8_t *magic, size_t n);
/* A FILE that reads the n bytes first, then fd (n <= STREAM_MAGIC_LEN), idle's hook called
 * while it waits (idle may be NULL; it must outlive the FILE); closing it closes fd when
 * owns_fd. NULL (errno set) when it cannot be made: fd is then left open. */
FILE *stream_from_fd(int fd, bool owns_fd, const uint8_t *bytes, size_t n, const stream_idle *idle);

#endif
