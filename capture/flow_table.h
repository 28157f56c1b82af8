/* flow_table: capture/'s own table of TCP connections, keyed by the real 4-tuple (IPv4 or
 * IPv6), created on the first packet so TCP health is measured before libnids follows the
 * stream. Each flow owns a slot number (which names its libnids stand-in address pair, see
 * nids_glue.c) and sits on a least-recently-used list for timeouts and eviction. Bounded by
 * max_streams. Internal to capture/. */
#ifndef OW_CAPTURE_FLOW_TABLE_H
#define OW_CAPTURE_FLOW_TABLE_H
#include "capture/flow.h"
#include "capture/tcp_track.h"

struct tcp_stream;

#define OW_SEEN_RANGES 8

/* A range of sequence numbers [start, end). */
typedef struct seq_range {
    uint32_t start, end;
} seq_range;

/* Per direction, what capture/ fed libnids beyond the bytes libnids has in order, and the gap
 * filler it is currently cutting out of the stream. */
typedef struct flow_reasm {
    seq_range seen[OW_SEEN_RANGES];
    uint8_t nseen;
    bool gap_active, gap_announced;
    seq_range gap;
    bool data_seen;        /* data_end is valid */
    uint32_t data_end;     /* highest sequence number + 1 of the data seen */
    bool last_gap_valid;   /* last_gap_end is valid */
    uint32_t last_gap_end; /* a gap starting here continues the previous one */
} flow_reasm;

enum flow_state {
    FLOW_ACTIVE = 0,
    FLOW_CLOSED, /* the sink has had on_close; kept a while so late packets stay attached */
};

/* A segment seen lately in one direction, to tell the same packet captured twice: its
 * sequence, ACK, length, flags, IPv4 id and TCP checksum folded into 64 bits (segment_sig in
 * capture.c: two segments that differ in those differ here but with odds of 2^-64). */
typedef struct flow_last_seg {
    uint64_t sig;
    double ts; /* 0: none */
} flow_last_seg;
/* The last data segments kept per direction: a copy may come after a few other packets (a
 * burst in the same microsecond on two interfaces, two files of one traffic merged). */
#define FLOW_LAST_SEGS 4

typedef struct ow_flow_int {
    ow_flow pub; /* first: an ow_flow * handed to the sink converts back */
    struct ow_flow_int *hnext, *lprev, *lnext;
    uint32_t hash, slot;
    bool key_v4;        /* both ends IPv4: key_addrs and key_ports hold the 4-tuple */
    bool key_v6;        /* both ends IPv6: compared as key_ports, then the addresses */
    uint64_t key_addrs; /* client address << 32 | server address (as stored in ow_addr) */
    uint32_t key_ports; /* client port << 16 | server port (every flow) */
    uint8_t state;
    bool sink_opened;
    bool counted_midstream;
    uint32_t syn_seq; /* the client's first SYN (a SYN with another one is a new connection) */
    struct tcp_stream *nids; /* libnids' stream once established, else NULL */
    tcp_track track;
    flow_reasm rs[2];
    flow_last_seg last_seg[2][FLOW_LAST_SEGS]; /* a ring per direction */
    uint8_t last_seg_at[2];                    /* the ring's next slot */
    bool copied;                               /* a copy of one of its packets was seen */
} ow_flow_int;

typedef struct flow_table {
    ow_flow_int **buckets;
    uint32_t nbuckets; /* power of two */
    ow_flow_int **slots;
    uint32_t *free_slots;
    uint32_t nslots, nfree;
    ow_flow_int *lru_head, *lru_tail; /* head: most recently seen */
    ow_flow_int *last;                /* what the last lookup found (or NULL) */
    uint32_t seed;
} flow_table;

bool ft_init(flow_table *t, uint32_t max_flows);
/* Frees every flow still present (without telling anyone) and the table. */
void ft_destroy(flow_table *t);
/* The flow of a packet from src:sport to dst:dport; *dir tells its direction. */
ow_flow_int *ft_lookup(flow_table *t, const ow_addr *src, uint16_t sport, const ow_addr *dst,
                       uint16_t dport, int *dir);
bool ft_full(const flow_table *t);
/* New flow (table must not be full), zeroed but for addresses, slot and LRU position. */
ow_flow_int *ft_insert(flow_table *t, const ow_addr *client, uint16_t cport, const ow_addr *server,
                       uint16_t sport);
void ft_remove(flow_table *t, ow_flow_int *f);
void ft_touch(flow_table *t, ow_flow_int *f);
ow_flow_int *ft_by_slot(const flow_table *t, uint32_t slot);
static inline ow_flow_int *ft_oldest(const flow_table *t)
{
    return t->lru_tail;
}

#endif
