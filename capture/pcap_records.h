/* pcap_records: the records of a classic pcap file read straight from a large buffer, for the
 * files where that gives exactly what libpcap gives. libpcap still opens and checks the file
 * (its header, link type and snapshot length come from it); this reader then takes the
 * records that need nothing from libpcap: native byte order, microsecond timestamps, version
 * 2.4, a regular file, no BPF filter, and each record whole with a captured length within the
 * snapshot. At the first record that is anything else (or the end of the file) it stops and
 * says at which file offset: libpcap is moved there and reads the rest, so its checks, its
 * error messages and its handling of a truncated file apply unchanged. What it saves is
 * libpcap's two stdio reads and one copy per packet (~450 instructions per packet).
 * Internal to capture/. */
#ifndef OW_CAPTURE_PCAP_RECORDS_H
#define OW_CAPTURE_PCAP_RECORDS_H
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>

#define PCAP_RECORDS_BUF_SIZE (1u << 19) /* > a chunk after the largest record libpcap accepts */
/* Bytes read at once past the unread ones: the kernel's copy lands where the decoders read it
 * next, in the cache (1 MB reads were 4-5 % slower end to end; docs/benchmarks.md). */
#define PCAP_RECORDS_READ_CHUNK (1u << 17)

typedef struct pcap_records {
    uint8_t *buf; /* NULL: not in use (a zeroed pcap_records is not in use) */
    int fd;
    size_t start, end; /* unread bytes: buf[start, end) */
    uint64_t offset;   /* the file offset of buf[start] */
    uint32_t snaplen;  /* libpcap's snapshot length for the file */
} pcap_records;

/* Takes over the records of path, which libpcap opened as p, when it can (see above);
 * r stays not in use otherwise. Never fails: libpcap reads the file then. */
void pcap_records_open(pcap_records *r, const char *path, pcap_t *p, bool filtered);
/* The next record: 1 with h and *data (valid until the next call; writable), or 0 when this
 * reader stops (odd record, end of file, read error): libpcap goes on from
 * pcap_records_offset(r). */
int pcap_records_next(pcap_records *r, struct pcap_pkthdr *h, uint8_t **data);
uint64_t pcap_records_offset(const pcap_records *r);
void pcap_records_close(pcap_records *r);

#endif
