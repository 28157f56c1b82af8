/* ip_frag: reassembly of IPv4 and IPv6 fragments into whole datagrams, so TCP health and
 * libnids only ever see complete segments. Bounded: OW_FRAG_MAX_DATAGRAMS in progress (the
 * oldest dropped when full), OW_FRAG_MAX_PIECES fragments each, OW_FRAG_TIMEOUT seconds.
 * Overlapping fragments that are not exact duplicates drop the datagram (RFC 5722).
 * Internal to capture/. */
#ifndef OW_CAPTURE_IP_FRAG_H
#define OW_CAPTURE_IP_FRAG_H
#include "capture/packet.h"

#define OW_FRAG_MAX_DATAGRAMS 64
#define OW_FRAG_MAX_PIECES    64
#define OW_FRAG_TIMEOUT       30.0
#define OW_FRAG_MAX_PAYLOAD   65535u

typedef struct frag_dgram frag_dgram;

typedef struct frag_table {
    frag_dgram *d;    /* OW_FRAG_MAX_DATAGRAMS entries */
    uint8_t *done;    /* the last completed datagram's payload */
    uint64_t dropped; /* datagrams given up (overlap, too big, timeout, table full) */
} frag_table;

enum frag_result { FRAG_HELD = 0, FRAG_DONE, FRAG_DROPPED };

bool frag_init(frag_table *t);
void frag_destroy(frag_table *t);
/* Adds a fragment decoded as ip (verdict OW_PKT_FRAGMENT). On FRAG_DONE, *out describes the
 * whole datagram: out->l4 points at its payload (valid until the next call) and out->proto is
 * the first fragment's protocol / next header. */
enum frag_result frag_add(frag_table *t, const ow_ip *ip, double now, ow_ip *out);

#endif
