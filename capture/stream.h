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
#define STREAM_BLOCK     4096 /* a pipe's stdio buffer: what a buffering writer hands over */
#define STREAM_BLOCKS    2    /* reads in a row that end on a block show a buffering writer */

/* What a stream tells its owner, from inside a read (between packets). The struct is read at
 * each call, so its owner may set it after the stream is made; a NULL hook does nothing.
 *  - idle(ctx): while it waits for bytes (a pipe whose writer has nothing to say yet), every
 *    STREAM_IDLE_MS;
 *  - held(ctx): once, when a plain pipe's writer is seen to hand over whole STREAM_BLOCK
 *    blocks (STREAM_BLOCKS reads in a row that emptied the pipe and ended on a multiple of
 *    STREAM_BLOCK bytes from its start): it buffers its output, as tcpdump without -U does,
 *    so its packets may wait in that buffer for a long time;
 *  - prompt(ctx): once, when a read that emptied the pipe ended off a block's end: the
 *    writer hands over what it has as it has it (tcpdump -U writes each packet at once), at
 *    least so far. Until one of the two is seen, the writer is not known;
 *  - wait_ms(ctx): before each wait for bytes (and again after a signal interrupted one):
 *    how long to wait at most, in ms; < 0: do not wait, the read fails as a signal would
 *    make it (EINTR). NULL: STREAM_IDLE_MS, and a signal ends the wait (EINTR). So a stream
 *    asked to stop may still read what its writer sends before it closes the pipe. */
typedef struct stream_hooks {
    void (*idle)(void *ctx);
    void *ctx;
    void (*held)(void *ctx);
    void (*prompt)(void *ctx);
    int (*wait_ms)(void *ctx);
} stream_hooks;

/* read(2) of fd, calling the idle hook while nothing is there (hooks may be NULL). A signal
 * interrupts it as it does read(2), -1 with errno EINTR, unless the wait_ms hook says to wait
 * on. */
ssize_t stream_read_fd(int fd, void *buf, size_t n, const stream_hooks *hooks);

/* Reads up to STREAM_MAGIC_LEN first bytes of fd into magic (waiting for them, up to its
 * end); returns how many, -1 on a read error (errno). */
ssize_t stream_peek_fd(int fd, uint8_t magic[STREAM_MAGIC_LEN]);
/* The bytes start a pcapng section header block. */
bool stream_is_pcapng(const uint8_t *magic, size_t n);
/* A FILE that reads the n bytes first (the first of fd, read already), then fd
 * (n <= STREAM_MAGIC_LEN), calling the hooks (hooks may be NULL; they must outlive the FILE);
 * closing it closes fd when owns_fd. NULL (errno set) when it cannot be made: fd is then left
 * open. */
FILE *stream_from_fd(int fd, bool owns_fd, const uint8_t *bytes, size_t n,
                     const stream_hooks *hooks);

#endif
