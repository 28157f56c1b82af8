/* pcapng: a small pcapng block reader for the files libpcap refuses: interfaces of different
 * link types (e.g. tailscale0 RAW beside eth0 Ethernet), and, with libpcap 1.10 (Debian 12),
 * any second RAW interface, in the same section or a later one (`cat a.pcapng b.pcapng`):
 * "an interface has a type 101 different from the type of the first interface"; and every
 * pcapng that cannot be looked into before it is read (standard input, a pipe, gzip). Reads
 * SHB (either byte order, several sections), IDB (link type, if_tsresol, if_tsoffset), EPB,
 * SPB and the obsolete OPB; skips every other block. Every length is checked against the
 * block. Internal to capture/. */
#ifndef OW_CAPTURE_PCAPNG_H
#define OW_CAPTURE_PCAPNG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define OW_PCAPNG_MAX_IFACES 64
#define OW_PCAPNG_MAX_BLOCK  (16u << 20) /* larger blocks are refused as corrupt */

typedef struct pcapng_reader pcapng_reader;

typedef struct pcapng_packet {
    int linktype;
    int64_t sec;   /* the time: seconds (if_tsoffset added) */
    uint32_t usec; /* and microseconds, truncated (as libpcap gives them) */
    uint32_t caplen, wirelen;
    const uint8_t *data;
} pcapng_packet;

/* True when the file is pcapng (by its first four bytes). */
bool pcapng_is_pcapng(const char *path);
/* Collects the distinct link types of the file's interfaces; returns how many (up to max),
 * -1 on a read error (message in err). *n_ifaces: the interfaces declared, every section's. */
int pcapng_link_types(const char *path, int *types, int max, int *n_ifaces, char *err,
                      size_t errlen);
pcapng_reader *pcapng_open(const char *path, char *err, size_t errlen);
/* A reader over a stream (standard input, a pipe, a decompressing FILE: stream.h), read from
 * its first byte. Closing the reader closes f when owns_f. NULL with a message in err (f is
 * then left open). */
pcapng_reader *pcapng_open_stream(FILE *f, bool owns_f, char *err, size_t errlen);
/* 1: a packet; 0: end of file; -1: corrupt or unreadable (message in err); -3: the file ends
 * inside a block (message in err). */
int pcapng_next(pcapng_reader *r, pcapng_packet *p, char *err, size_t errlen);
void pcapng_close(pcapng_reader *r);

#endif
