/* capture_priv: the capture object shared by capture/'s files (capture.c drives, nids_glue.c
 * reassembles, live.c and pcap_source.c read), and the flow life-cycle calls between them.
 * Internal to capture/. */
#ifndef OW_CAPTURE_PRIV_H
#define OW_CAPTURE_PRIV_H
#include "capture/capture.h"
#include "capture/files.h"
#include "capture/flow_table.h"
#include "capture/ip_frag.h"
#include "capture/packet_keep.h"
#include "capture/pcap_source.h"

/* Flow time limits, in capture seconds. */
#define OW_FIN_LINGER        10.0   /* both FINs seen, final ACK missing: closed after this */
#define OW_HALF_CLOSED_IDLE  60.0   /* one FIN, then silence this long: closed */
#define OW_HANDSHAKE_IDLE    130.0  /* never established (SYN retries give up after ~127 s) */
#define OW_FLOW_IDLE_TIMEOUT 1800.0 /* an open connection silent this long is timed out */
#define OW_CLOSED_LINGER     30.0   /* a closed flow stays to absorb late packets this long */
#define OW_TICK_INTERVAL     1.0
#define OW_BACKWARDS_S       1.0 /* a packet this much older than the newest is counted */
/* The same TCP segment (sequence, ACK, length, flags, IPv4 id and TCP checksum) again within
 * this is one packet captured twice (`-i any` over a bridge, a mirror port), not a
 * retransmission, which takes a round trip at least and, over IPv4, a new id (segments
 * without data: IPv4 with an id only, see captured_twice). */
#define OW_DUPLICATE_S       200e-6
#define OW_MAX_STREAMS_LIMIT (1 << 24) /* stand-in addresses are numbered per flow slot */
/* A stream (standard input, a pipe) whose last packet was read within this of its own time
 * carries packets as they are captured (`tcpdump -U -w - | orphanwatch read -`): while it
 * waits and once it ends, the time since that packet passes for the timers too (see
 * stream_follow_clock). */
#define OW_STREAM_LIVE_S 10.0
/* A stream's packet read this much later than the promptest packet of the stream was (its
 * own time against the clock) was held back by the writer: tcpdump without -U keeps its
 * output in a 4 KB buffer until it fills. Such a stream stops going by the clock while it is
 * silent (see stream_note_read). tcpdump -U is at most ~1 s late (libpcap's buffer timeout). */
#define OW_STREAM_HELD_S 3.0

struct capture {
    capture_opts opts;
    uint64_t server_port_bits[65536 / 64]; /* opts.server_ports as a bit per port */
    char *name;
    char *file_copy, *iface_copy, *bpf_copy;
    char **files; /* a read's files, in reading order (files.h); NULL: opts.file alone */
    double *files_first_ts;
    int n_files;
    files_merge *merge; /* reads them (files.h); NULL: src reads opts.file or the interface */
    pkt_source src;
    capture_stats stats;
    flow_table flows;
    frag_table frags;
    const ow_flow_sink *sink;
    double now, last_tick;
    bool from_stream;      /* opts.file is standard input or a pipe, not a regular file */
    double stream_read_at; /* the wall clock when the stream's newest packet was read */
    double stream_pkt_now; /* now as that packet left it */
    double stream_min_lag; /* the least lag (read time - own time) of its packets so far */
    bool stream_blocks;    /* its writer hands over whole blocks (stream.h: held) */
    bool stream_prompt;    /* its writer hands over what it has (stream.h: prompt) */
    bool stream_held;      /* its writer holds packets back: it goes by its packets */
    /* capture_run's stop requests; once asked, a stream drains until drain_until (the wall
     * clock; 0: not asked yet), unless drain_over (that time passed, or asked again). */
    volatile sig_atomic_t *stop;
    double drain_until;
    bool drain_over;
    packet_keep *keep; /* --keep-packets, or NULL */
    /* The packet being handled, as it came. Once it is kept (--keep-packets) and decoded, the
     * bytes before its TCP payload are scratch: nids_glue.c writes libnids' headers there. */
    const raw_packet *frame;
    double pkt_ts;          /* time of the packet being handled */
    struct timeval pkt_tv;  /* the same, for libnids */
    struct timeval nids_tv; /* the clock libnids sees: never goes back (see nids_feed_one) */
    uint64_t next_flow_id;
    /* libnids */
    void *nids_pcap;   /* pcap_open_dead(DLT_RAW) handed to libnids */
    uint8_t *nids_buf; /* the IPv4 packet being built for libnids */
    /* Packets go through nids_pcap_handler, libnids' public entry, instead of straight to its
     * TCP layer (nids_glue.c, OW_NIDS_DIRECT): set by tests comparing the two. */
    bool nids_via_handler;
    int nids_warnings_logged;
};

/* nids_glue.c */
bool nids_glue_init(capture *c, char *err, size_t errlen);
void nids_glue_exit(capture *c);
/* Hands one segment of flow f to libnids (synthesizing a handshake, filling capture gaps). */
void nids_glue_packet(capture *c, ow_flow_int *f, int dir, const ow_tcp_seg *s);
/* Delivers what libnids still holds out of order, then makes it forget the flow. */
void nids_glue_release(capture *c, ow_flow_int *f);

/* capture.c: the sink sees a flow open (once) and close (once). */
void capture_flow_opened(capture *c, ow_flow_int *f);
void capture_flow_closed(capture *c, ow_flow_int *f, int how);

/* capture.c: the timers' work, every OW_TICK_INTERVAL of capture time and when a stream waits:
 * flows that ended are closed, the sink's own timers run. */
void capture_tick(capture *c);

/* stream_clock.c: the wall clock in seconds (its timeval too when tv is not NULL); the hooks
 * a stream read by c calls; a packet of the stream just read (its own time pkt_ts); the
 * stream's end (whole: read to its end, not stopped by a signal). */
double capture_wall_clock(struct timeval *tv);
stream_hooks stream_clock_hooks(capture *c);
void stream_clock_note_read(capture *c, double pkt_ts);
void stream_clock_ended(capture *c, bool whole);
/* stream_clock.c: asked to stop (*c->stop), may the capture read on? Only a stream, draining
 * what its writer still sends (capture_run), until OW_STREAM_DRAIN_S after the first request
 * or a further request. */
bool stream_drains(capture *c);

#endif
