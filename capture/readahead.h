/* readahead: reading a capture file on a thread of its own. A reader thread pulls packets
 * from a source function (libpcap, or the own pcapng reader) and copies them into a small
 * ring of large blocks; the packet thread takes them from there. The file's reads (the
 * kernel's copy, stdio's, libpcap's record parsing) then run beside the analysis instead of
 * before each packet. Packets come out in the same order, with the same end (EOF, error or
 * truncation) and its message, at the same place. Only for regular files: a pipe's packets
 * would wait for a block to fill. Internal to capture/. */
#ifndef OW_CAPTURE_READAHEAD_H
#define OW_CAPTURE_READAHEAD_H
#include "capture/pcap_source.h"
#include <stddef.h>

#define READAHEAD_BLOCK_SIZE (1u << 18) /* a larger record gets an empty block grown for it */
#define READAHEAD_BLOCKS     4

typedef int (*readahead_next_fn)(void *ctx, raw_packet *p, char *err, size_t errlen);
typedef struct readahead readahead;

/* Starts the reader thread over next(ctx, ...); NULL when it cannot (no memory, no thread):
 * the caller then reads directly. */
readahead *readahead_start(readahead_next_fn next, void *ctx);
/* The next packet, as src_next gives it: p->data stays valid until the next call. */
int readahead_next(readahead *ra, raw_packet *p, char *err, size_t errlen);
/* Stops the reader (wherever it is) and frees everything; NULL is fine. */
void readahead_stop(readahead *ra);

#endif
