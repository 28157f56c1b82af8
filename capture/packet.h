/* packet: the decoded view of one captured packet as capture/ passes it between its stages
 * (link layer -> IP -> TCP). Internal to capture/; nothing above includes it. Every pointer
 * points into the captured bytes (or a reassembly buffer) and comes with its captured length;
 * "wire" lengths are what the headers claim and may exceed what was captured. */
#ifndef OW_CAPTURE_PACKET_H
#define OW_CAPTURE_PACKET_H
#include "capture/addr.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Outcome of a decoding step; every value but OW_PKT_OK maps to one stats counter. */
enum ow_pkt_verdict {
    OW_PKT_OK = 0,
    OW_PKT_NON_IP,    /* link layer carries something else (ARP, LLDP, ...) */
    OW_PKT_TRUNCATED, /* captured bytes end inside a header */
    OW_PKT_BAD_IP,    /* malformed IP header or extension chain */
    OW_PKT_NON_TCP,   /* IP, but not TCP (or an unparseable next header such as ESP) */
    OW_PKT_BAD_TCP,   /* malformed TCP header */
    OW_PKT_FRAGMENT,  /* a fragment: held for reassembly */
};

/* Largest frame length believed from a capture record (GSO/BIG TCP super-packets stay well
 * below); a larger claim is replaced by the captured length. */
#define OW_MAX_WIRELEN (1u << 20)

/* The network-layer packet inside a frame. */
typedef struct ow_l3 {
    int version; /* 4 or 6 (from the link layer's protocol field or the first nibble) */
    const uint8_t *data;
    uint32_t caplen;  /* captured bytes from the IP header on */
    uint32_t wirelen; /* bytes the frame had on the wire from the IP header on */
} ow_l3;

/* An IP datagram reduced to what TCP needs. */
typedef struct ow_ip {
    ow_addr src, dst;
    uint8_t proto;
    const uint8_t *l4;
    uint32_t l4_caplen;  /* captured bytes of the transport header + payload */
    uint32_t l4_wirelen; /* transport bytes the IP header announced */
    uint16_t ip_id;      /* IPv4 identification (0 for IPv6) */
    /* fragment description, when the verdict is OW_PKT_FRAGMENT */
    uint32_t frag_id;
    uint32_t frag_offset; /* bytes */
    bool frag_more;
} ow_ip;

#define OW_TCP_MAX_SACK 4

/* A TCP segment. */
typedef struct ow_tcp_seg {
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t win;
    uint16_t csum; /* as on the wire (not checked): with the rest, tells a duplicate */
    uint8_t hdr_len;
    const uint8_t *payload;
    uint32_t payload_caplen;  /* payload bytes present in the capture */
    uint32_t payload_wirelen; /* payload bytes the segment carried (IP length - headers) */
    /* options */
    uint16_t mss;  /* 0: none */
    int8_t wscale; /* -1: none */
    bool sack_permitted;
    uint8_t n_sack;
    uint32_t sack[OW_TCP_MAX_SACK][2];
} ow_tcp_seg;

enum {
    OW_TH_FIN = 0x01,
    OW_TH_SYN = 0x02,
    OW_TH_RST = 0x04,
    OW_TH_PSH = 0x08,
    OW_TH_ACK = 0x10,
    OW_TH_URG = 0x20
};

/* linklayer.c: true when capture/ can decode this DLT / LINKTYPE value. */
bool ow_link_supported(int dlt);
/* Finds the IP packet in a frame of link type dlt. */
enum ow_pkt_verdict ow_link_decode(int dlt, const uint8_t *frame, uint32_t caplen, uint32_t wirelen,
                                   ow_l3 *out);

/* ipv4.c / ipv6.c */
enum ow_pkt_verdict ow_ipv4_decode(const ow_l3 *l3, ow_ip *out);
enum ow_pkt_verdict ow_ipv6_decode(const ow_l3 *l3, ow_ip *out);
/* IPv6: after reassembly, continue the extension chain of the reassembled payload. */
enum ow_pkt_verdict ow_ipv6_walk(uint8_t next, const uint8_t *p, uint32_t caplen, uint32_t wirelen,
                                 ow_ip *out);

/* tcp_segment.c */
enum ow_pkt_verdict ow_tcp_decode(const ow_ip *ip, ow_tcp_seg *out);

/* Wrap-safe sequence number comparisons (RFC 1982). */
static inline bool ow_seq_lt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}
static inline bool ow_seq_le(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) <= 0;
}
static inline uint32_t ow_seq_max(uint32_t a, uint32_t b)
{
    return ow_seq_lt(a, b) ? b : a;
}
static inline uint16_t ow_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t ow_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
/* Values in this machine's byte order at any alignment (pcap record headers, address words
 * for hashing). */
static inline uint16_t ow_load16_host(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline uint32_t ow_load32_host(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void ow_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void ow_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#endif
