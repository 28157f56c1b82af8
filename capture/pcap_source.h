/* pcap_source: where packets come from. A pcap or pcapng file through libpcap (the plain
 * records of a classic pcap file read from a buffer instead: pcap_records.h), a pcapng file
 * whose interfaces have different link types, or any pcapng read as a stream (standard
 * input, a pipe, gzip: stream.h), through capture/'s own pcapng reader (libpcap refuses
 * those), or a live interface (live.c). Each packet comes with its link type.
 * Internal to capture/. */
#ifndef OW_CAPTURE_PCAP_SOURCE_H
#define OW_CAPTURE_PCAP_SOURCE_H
#include "capture/capture.h"
#include "capture/pcap_records.h"
#include "capture/pcapng.h"
#include "capture/stream.h"
#include <pcap/pcap.h>

/* The user's BPF filter on the own pcapng reader: one program per link type of the file. */
typedef struct pkt_filter {
    int dlt;
    struct bpf_program prog;
} pkt_filter;
#define SRC_MAX_FILE_LINKTYPES 8

typedef struct pkt_source {
    pcap_t *pcap;      /* libpcap: file or live */
    pcapng_reader *ng; /* own pcapng reader */
    pcap_records rec;  /* a classic pcap file's records while they need nothing from libpcap */
    pkt_filter ng_filter[SRC_MAX_FILE_LINKTYPES];
    int n_ng_filter;             /* the link types compiled for so far */
    const capture_opts *ng_opts; /* the user's filter for the own reader (NULL: none); each
                                    link type's program is compiled when its first packet
                                    comes (the opts outlive the source) */
    char *iobuf;                 /* the stdio buffer of the file libpcap reads (freed after it) */
    stream_hooks hooks;          /* what a stream tells (set by capture/ after open) */
    int dlt;                     /* libpcap's link type */
    bool live;
    /* live: the interface went away (libpcap said so); what the ring still holds is read, then
     * every read fails with gone_msg (src_live_gone) */
    bool gone;
    char gone_msg[PCAP_ERRBUF_SIZE];
} pkt_source;

typedef struct raw_packet {
    double ts;
    struct timeval tv;
    uint32_t caplen, wirelen;
    const uint8_t *data;
    int dlt;
} raw_packet;

enum {
    SRC_PACKET = 1,
    SRC_NONE = 0, /* live: nothing ready */
    SRC_ERROR = -1,
    SRC_EOF = -2,
    SRC_TRUNCATED = -3, /* the file ends inside a record: treated as its end */
};

/* Opens o->file; a BPF expression in o->bpf filters its packets (filter.h). */
int src_open_file(pkt_source *s, const capture_opts *o, char *err, size_t errlen);
int src_open_live(pkt_source *s, const capture_opts *o, char *err, size_t errlen);
int src_next(pkt_source *s, raw_packet *p, char *err, size_t errlen);
/* Rewrites a live source's read error (in err) to name its interface, and to say what to do
 * when the interface went down or away (live.c). */
void src_live_error(const char *iface, char *err, size_t errlen);
/* libpcap's error msg on a live source: when it says the interface went away, true once,
 * after waiting for the kernel to hand over the ring's last block, so that the caller reads
 * what is left before failing (live.c). */
bool src_live_gone(pkt_source *s, const char *msg);
void src_close(pkt_source *s);
/* Writes "link type N (NAME: description)" for messages. */
void src_describe_dlt(int dlt, char *out, size_t outlen);

#endif
