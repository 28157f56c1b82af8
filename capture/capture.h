/* capture: packets in, flows out. Opens a pcap/pcapng file or a live interface, decodes the
 * link layer and IP (v4 and v6), measures TCP health, reassembles TCP with libnids and hands
 * each connection's bytes to an ow_flow_sink. Nothing here knows HTTP. */
#ifndef OW_CAPTURE_H
#define OW_CAPTURE_H
#include "capture/flow.h"
#include <signal.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define OW_DEFAULT_SERVER_PORT       5006
#define OW_MAX_SERVER_PORTS          16
#define OW_DEFAULT_MAX_STREAMS       65536
#define OW_DEFAULT_SNAPLEN           262144
#define OW_DEFAULT_BUFFER_MB         32
#define OW_DEFAULT_MAX_STREAM_BUFFER (1u << 20) /* unconsumed bytes kept per direction */
#define OW_DEFAULT_KEEP_MB           256        /* --keep-packets-size */

/* One file of kept packets (--keep-packets), as capture reports it to on_kept_file: when it
 * is created, as it grows (at most once per tick), when it is finished and when it is
 * deleted to stay within the size bound. */
typedef struct capture_kept_file {
    const char *path; /* absolute */
    double first_ts, last_ts;
    uint64_t packets, bytes;
    bool dropped; /* deleted (oldest first) */
} capture_kept_file;

typedef struct capture_opts {
    const char *file; /* read this pcap/pcapng ("-" = stdin), and these after it as one
                         capture, all in the order of their first packets (files.h), or */
    const char *const *more_files;
    int n_more_files;
    const char *iface; /* capture live on this interface */
    const char *bpf;   /* extra BPF expression (tcpdump syntax), may be NULL */
    uint16_t server_ports[OW_MAX_SERVER_PORTS];
    int n_server_ports; /* 0: OW_DEFAULT_SERVER_PORT */
    int snaplen;
    int buffer_mb;   /* live kernel buffer */
    int max_streams; /* connections tracked at once */
    uint32_t max_stream_buffer;
    bool promisc;
    /* --keep-packets: every analysed packet (server-port TCP, not IP fragments) is written in
     * its link-layer framing to keep_dir/orphanwatch-START-NNNN.pcap files of at most
     * keep_bytes/8 each, the oldest deleted when all would exceed keep_bytes. */
    const char *keep_dir; /* NULL: keep nothing */
    uint64_t keep_bytes;  /* 0: OW_DEFAULT_KEEP_MB */
    bool keep_chown;      /* running as root: a keep_dir created here goes to keep_uid/gid */
    uid_t keep_uid;
    gid_t keep_gid;
    void (*on_kept_file)(void *ctx, const capture_kept_file *f);
    void *kept_ctx;
} capture_opts;

/* Every packet is counted in exactly one outcome: packets == non_ip + truncated + bad_ip +
 * fragments + non_tcp + not_server_port + bad_tcp + tcp_packets (ipv4/ipv6 count IP packets
 * across outcomes; reassembled datagrams go on as TCP without being counted again). A
 * segment whose payload the snap length cut is counted as truncated, and still analysed. */
typedef struct capture_stats {
    uint64_t packets, bytes;
    uint64_t ipv4, ipv6, non_ip, non_tcp, not_server_port;
    uint64_t tcp_packets;     /* server-port TCP segments analysed (health + reassembly) */
    uint64_t truncated;       /* caplen shorter than the headers or the IP length */
    uint64_t bad_ip, bad_tcp; /* malformed headers */
    uint64_t fragments, reassembled;
    uint64_t streams, streams_without_syn, midstream_recovered;
    uint64_t nids_refused;    /* libnids warnings (table full, bad flags, too much data) */
    uint64_t streams_evicted; /* max_streams hit */
    uint64_t gaps, gap_bytes;
    uint64_t buffer_overflows; /* max_stream_buffer hit: bytes skipped as a gap */
    /* packets over OW_BACKWARDS_S older than the newest before them (a file out of order, a
     * clock step), and the largest such step in milliseconds */
    uint64_t time_backwards, max_backwards_ms;
    uint64_t duplicates; /* the same TCP packet again within OW_DUPLICATE_S: analysed once */
    uint64_t files_cut;  /* files that end inside a packet (that packet counted here, not read) */
    uint64_t files_open_max; /* several files: the most read side by side (1: none overlapped) */
    uint64_t kernel_drops, if_drops; /* live only (pcap_stats) */
    /* --keep-packets */
    uint64_t kept_packets;         /* analysed packets written to kept files */
    uint64_t kept_skipped;         /* analysed packets not kept: another link type than the
                                      first kept packet's, or after a write error */
    uint64_t kept_files_dropped;   /* kept files deleted to stay within the size bound */
    uint64_t kept_packets_dropped; /* the packets they held */
    double first_ts, last_ts;
    int linktypes[8]; /* DLTs seen (pcapng may have several) */
    int n_linktypes;
} capture_stats;

typedef struct capture capture;

/* Opens the source. Live capture needs privileges only here. Returns NULL and writes a clear
 * message to err on failure (unknown link type, truncated file header, no such device).
 * libnids is process-global: only one capture can be open at a time. */
capture *capture_open(const capture_opts *o, char *err, size_t errlen);
/* Reads packets and feeds the sink until end of file, *stop becomes non-zero, or an error.
 * *stop counts the stop requests (signals). A stream (standard input, a pipe) asked once goes
 * on reading what its writer still sends, until the writer closes it or OW_STREAM_DRAIN_S
 * pass: a writer stopped by the same Ctrl-C (tcpdump flushes its buffer as it exits) loses
 * nothing. At OW_STOP_AT_ONCE requests it stops at once. Returns 0 at end of input or stop,
 * -1 on a read error (message in err). */
#define OW_STREAM_DRAIN_S 1.0
#define OW_STOP_AT_ONCE   2
int capture_run(capture *c, const ow_flow_sink *sink, volatile sig_atomic_t *stop, char *err,
                size_t errlen);
/* Live loop: handles the packets that are ready now, without waiting (at most max_packets,
 * <= 0: no limit), then calls on_tick. Returns the number of packets handled (0 if none was
 * ready), -1 on error (message in err), -2 at the end of a file. Usable for files too. */
int capture_poll(capture *c, const ow_flow_sink *sink, int max_packets, char *err, size_t errlen);
/* A descriptor that becomes readable when capture_poll has packets to handle (poll/select);
 * -1 for files (always ready) or where libpcap has none. */
int capture_get_fd(capture *c);
/* Ends every open flow through the sink (OW_CLOSE_END; OW_CLOSE_FIN when both FINs were seen,
 * OW_CLOSE_RST after a reset), then frees. */
void capture_close(capture *c, const ow_flow_sink *sink);
const capture_stats *capture_get_stats(const capture *c);
/* Updates kernel drop counters (live); harmless for files. */
void capture_refresh_stats(capture *c);
/* Descriptive name of the source for the report: file path or interface. */
const char *capture_source_name(const capture *c);
/* The files read, in the order they are read (1 for a live capture: its interface). */
int capture_source_count(const capture *c);
const char *capture_source_at(const capture *c, int i);
/* File i of a read (as capture_source_at): the time of its first packet (a filter's or not),
 * of its latest packet read so far, and how many were read (those a filter kept). false
 * while it has given none, and for a live capture. */
bool capture_source_span(const capture *c, int i, double *first_ts, double *last_ts,
                         uint64_t *packets);
bool capture_is_live(const capture *c);
/* Prints the interfaces libpcap can open (for `orphanwatch interfaces`). */
int capture_list_interfaces(FILE *out, char *err, size_t errlen);

#endif
