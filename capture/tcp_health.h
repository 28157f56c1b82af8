/* tcp_health: what the packets say about one TCP connection's transport, per direction,
 * measured from every packet (retransmissions included) before and beside libnids.
 * "dir" is the direction the data travels: OW_DIR_C2S (client to server) or OW_DIR_S2C.
 * All sizes are TCP payload bytes; times are capture seconds (epoch, fractional). */
#ifndef OW_TCP_HEALTH_H
#define OW_TCP_HEALTH_H
#include <stdbool.h>
#include <stdint.h>

enum { OW_DIR_C2S = 0, OW_DIR_S2C = 1 };

#define OW_RTO_SERIES_MAX 12

typedef struct tcp_dir_health {
    /* options announced by the sender of this direction (SYN / SYN-ACK) */
    uint16_t mss;  /* 0: none seen */
    int8_t wscale; /* -1: none seen */
    bool sack_permitted;
    /* data sent in this direction */
    uint64_t segments; /* data-bearing segments, retransmissions included */
    uint64_t bytes;    /* payload bytes, retransmissions included */
    uint64_t retrans_segments, retrans_bytes;
    uint32_t max_seg;            /* largest payload in one segment (super-packets included) */
    uint32_t max_seg_acked;      /* largest segment whose end the peer acknowledged */
    uint32_t max_seg_lost;       /* largest segment retransmitted >= 2 times without the peer
                                    acknowledging it (before a smaller re-send got through) */
    uint32_t lost_retrans;       /* retransmissions of segments larger than max_seg_acked */
    double longest_stall;        /* longest time data was outstanding with no ACK progress */
    double stall_start_ts;       /* when that longest stall began (0: none) */
    bool recovered_smaller;      /* after a stall, the same data was re-sent in smaller segments
                                    and those were acknowledged (PMTU probing / fallback) */
    uint32_t seg_after_recovery; /* largest segment acknowledged after that recovery */
    uint32_t rto_count;          /* timeouts seen: retransmission of the oldest unacked segment */
    double rto_series[OW_RTO_SERIES_MAX]; /* gaps between successive timeouts (back-off) */
    uint64_t acked_bytes;                 /* stream bytes of this direction the peer acknowledged */
    uint64_t unacked_bytes;               /* sent but not acknowledged at the last packet */
    /* what the receiver of this direction said back */
    uint32_t dup_acks;
    uint32_t sack_blocks;
    uint32_t zero_windows; /* receiver advertised a zero window */
    uint32_t window_full;  /* sender stopped because bytes in flight reached the window */
    uint32_t max_in_flight;
    /* endings, sent by the sender of this direction */
    bool fin, rst;
    double fin_ts, rst_ts;
} tcp_dir_health;

typedef struct tcp_health {
    tcp_dir_health dir[2];
    uint32_t syn_count; /* SYNs from the client (> 1: retries) */
    bool synack_seen;
    double syn_ts, synack_ts, ack_ts;
    double rtt;      /* SYN-ACK to the client's ACK plus SYN to SYN-ACK, seconds; 0 unknown */
    double max_idle; /* longest gap between two packets of the connection */
    double last_ts;
} tcp_health;

#endif
