/* tcp_track: the small, bounded per-connection state behind tcp_health (see tcp_health.h):
 * per direction the sequence space seen, and a short list of recent unacknowledged segments
 * (OW_TRACK_SEGS, the oldest kept) from which retransmissions, timeouts, segments lost or
 * acknowledged, stalls and recovery in smaller segments are told. Internal to capture/. */
#ifndef OW_CAPTURE_TCP_TRACK_H
#define OW_CAPTURE_TCP_TRACK_H
#include "capture/packet.h"
#include "capture/tcp_health.h"

#define OW_TRACK_SEGS        32
#define OW_TRACK_SPAN_MAX    (1u << 30) /* see track_dir.segs_unordered */
#define OW_TRACK_KEEP_OLDEST 8 /* never displaced by newer segments when the list is full */
/* A retransmission of the oldest unacknowledged byte after this much silence (no data sent,
 * no ACK received) is a retransmission timeout; Linux's minimum RTO is 200 ms. */
#define OW_RTO_MIN_SILENCE 0.19

typedef struct track_seg {
    uint32_t seq, len;
    uint16_t sends;      /* transmissions seen at exactly this seq and length */
    bool retrans;        /* first seen as a retransmission (never "sent once") */
    bool smaller_resend; /* re-sends a range earlier sent larger, after a timeout */
    bool superseded;     /* part of its range was re-sent in a smaller segment */
    double last_ts;
} track_seg;

typedef struct track_dir {
    bool seq_known;
    uint32_t snd_una;     /* highest ACK from the peer (or the start of what was seen) */
    uint32_t snd_max;     /* highest data sequence sent + 1 */
    uint32_t outstanding; /* data bytes in [snd_una, snd_max) (FIN excluded; 0 until seq_known) */
    bool fin_sent;
    uint32_t fin_seq; /* sequence number of the FIN (data ends there) */
    double last_data_ts, last_ack_rx_ts, last_progress_ts;
    double stall_ref_ts; /* start of the current no-progress period (0: nothing outstanding) */
    double last_rto_ts;
    uint16_t peer_win;  /* last window the peer advertised (unscaled) */
    int8_t peer_wscale; /* the peer's window shift: -1 unless both SYNs announced scaling */
    /* peer_win << peer_wscale when both are known, else 0 (window_full is not judged) */
    uint64_t peer_window;
    bool peer_win_known, zero_window_now, window_full_now;
    uint8_t nseg;
    /* false: the segments' ends rise along the list (seg_end(i) - seg_end(0) never falls and
     * stays below OW_TRACK_SPAN_MAX), so an ACK covers a prefix of it */
    bool segs_unordered;
    track_seg seg[OW_TRACK_SEGS];
} track_dir;

typedef struct tcp_track {
    track_dir d[2];
    double last_syn_ts;
} tcp_track;

void tcp_track_init(tcp_track *t, tcp_health *h);
/* One segment sent in direction dir (OW_DIR_C2S: by the client). */
void tcp_track_segment(tcp_track *t, tcp_health *h, int dir, const ow_tcp_seg *s, double ts);
/* Brings the "so far" figure (the ongoing stall) up to ts; unacked_bytes is always current. */
void tcp_track_finish(tcp_track *t, tcp_health *h, double ts);

#endif
