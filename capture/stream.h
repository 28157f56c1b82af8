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

#define STREAM_MAGIC_LEN 6 /* enough for every magic looked for (compressed.h, pcapng) */

/* Reads up to STREAM_MAGIC_LEN first bytes of fd into magic (waiting for them, up to its
 * end); returns how many, -1 on a read error (errno). */
ssize_t stream_peek_fd(int fd, uint8_t magic[STREAM_MAGIC_LEN]);
/* The bytes start a pcapng section header block. */
bool stream_is_pcapng(const uint8_t *magic, size_t n);
/* A FILE that reads the n bytes first, then fd (n <= STREAM_MAGIC_LEN); closing it closes fd
 * when owns_fd. NULL (errno set) when it cannot be made: fd is then left open. */
FILE *stream_from_fd(int fd, bool owns_fd, const uint8_t *bytes, size_t n);

#endif
