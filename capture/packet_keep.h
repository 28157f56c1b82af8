/* packet_keep: --keep-packets. The packets capture/ analyses, written as they came (link-layer
 * framing, timestamps) to a ring of pcap files in one directory, so `export` can cut one page
 * load out of them later. Files are named orphanwatch-START-NNNN.pcap (START: the capture's
 * start, UTC), created 0600; each holds at most max/8 bytes (one larger packet alone), and the
 * oldest file is deleted before all of them would exceed max. Every file takes the link type
 * of the first kept packet; packets of another link type (pcapng with several interfaces) are
 * counted as kept_skipped, not written. Every change of a file (created, grown, finished,
 * deleted) is reported through capture_opts.on_kept_file. Internal to capture/. */
#ifndef OW_CAPTURE_PACKET_KEEP_H
#define OW_CAPTURE_PACKET_KEEP_H
#include "capture/capture.h"
#include <sys/time.h>

#define OW_KEEP_FILE_HEADER   24u     /* pcap file header */
#define OW_KEEP_RECORD_HEADER 16u     /* pcap record header */
#define OW_KEEP_SNAPLEN       262144u /* longer frames are cut to this (file header snaplen) */
#define OW_KEEP_MAX_FILES     64      /* more files than this (tiny ones): the oldest goes */
#define OW_KEEP_NAME_TRIES    1000    /* names already taken are skipped, this many at most */

typedef struct packet_keep packet_keep;

/* Prepares the directory: created 0700 when missing (and given to keep_uid/keep_gid when
 * keep_chown, running as root), else it must be a directory the user orphanwatch runs as can
 * write. Files are created at the first packet. NULL with a message in err. The counters go
 * to st. */
packet_keep *pk_open(const capture_opts *o, capture_stats *st, char *err, size_t errlen);
/* Keeps one frame (counted in st: kept_packets, or kept_skipped). */
void pk_packet(packet_keep *k, int dlt, const struct timeval *tv, uint32_t caplen, uint32_t wirelen,
               const uint8_t *frame);
/* Flushes the current file and reports it if it grew since the last report. */
void pk_tick(packet_keep *k);
/* Finishes the current file (reported) and frees. NULL is ignored. */
void pk_close(packet_keep *k);

/* The rotation arithmetic (pure). */
uint64_t pk_file_limit(uint64_t max_bytes);
/* A record of `record` bytes does not fit in a file that already holds packets. */
bool pk_must_rotate(uint64_t file_bytes, uint64_t file_packets, uint64_t record,
                    uint64_t file_limit);

#endif
