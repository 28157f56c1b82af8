/* compressed: capture files that are compressed. gzip (as `tcpdump -G ... -z gzip` leaves
 * rotated files, and Wireshark reads; or on standard input) is decompressed through zlib into
 * a stdio FILE that libpcap, or the own pcapng reader, reads like any other; zstd, xz, bzip2
 * and lz4 are recognised by their magic bytes and named, with the command that reads them,
 * instead of libpcap's "unknown file format".
 * Internal to capture/. */
#ifndef OW_CAPTURE_COMPRESSED_H
#define OW_CAPTURE_COMPRESSED_H
#include "capture/stream.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define COMPRESSION_MAGIC_MAX 6  /* the longest magic (xz) */
#define COMPRESSION_HEAD_MAX  16 /* decompressed bytes compressed_gzip_fd can peek */

typedef enum compression {
    COMPRESSION_NONE,
    COMPRESSION_GZIP,
    COMPRESSION_ZSTD,
    COMPRESSION_XZ,
    COMPRESSION_BZIP2,
    COMPRESSION_LZ4,
} compression;

/* The compression bytes (a file's first n) show. */
compression compression_of_bytes(const uint8_t *head, size_t n);
/* The compression a regular file's first bytes show (COMPRESSION_NONE when it cannot be read,
 * and for anything else: a FIFO's bytes are not looked at). */
compression compression_of_file(const char *path);
/* "gzip", "zstd", ...; and the command that writes the decompressed bytes ("zcat", ...). */
const char *compression_name(compression c);
const char *compression_cat(compression c);
/* A gzip stream on fd (a file, standard input, a pipe) decompressed as it is read, its first
 * n_ahead bytes read already (to recognise it): a FILE that closes fd when owns_fd, the idle
 * hook called while fd has nothing (stream.h; hooks may be NULL). Its first
 * *n_head (up to COMPRESSION_HEAD_MAX) decompressed bytes are copied to head as well, *n_head
 * set to how many there are (they are still the first the FILE gives). Members one after the
 * other are read as one; a stream cut short ends; a corrupt one is a read error (EIO). NULL
 * with a message in err (fd is then left open). */
FILE *compressed_gzip_fd(int fd, bool owns_fd, const stream_hooks *hooks, const uint8_t *ahead,
                         size_t n_ahead, uint8_t *head, size_t *n_head, char *err, size_t errlen);
/* The message refusing a file compressed with c (not gzip): what to run instead; for
 * standard input (path "-"), the command to put in the pipe. */
void compression_refusal(const char *path, compression c, char *err, size_t errlen);

#endif
