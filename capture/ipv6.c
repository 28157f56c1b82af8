/* ipv6: decodes an IPv6 header (RFC 8200) and walks its extension headers (hop-by-hop,
 * routing, destination options, fragment, AH, mobility, HIP, shim6) to the transport bytes.
 * Every header length is checked against both the captured and the announced length, and the
 * chain is limited to OW_IPV6_MAX_EXT headers. A payload length of 0 (jumbogram or GSO
 * super-packet) means "the frame's length". */
#include "capture/packet.h"
#include <string.h>

#define IPV6_HLEN       40
#define OW_IPV6_MAX_EXT 8
#define FRAG_HLEN       8

enum {
    NH_HOP_BY_HOP = 0,
    NH_TCP = 6,
    NH_ROUTING = 43,
    NH_FRAGMENT = 44,
    NH_ESP = 50,
    NH_AH = 51,
    NH_NONE = 59,
    NH_DEST_OPTS = 60,
    NH_MOBILITY = 135,
    NH_HIP = 139,
    NH_SHIM6 = 140,
};

static bool is_generic_ext(uint8_t nh)
{
    return nh == NH_HOP_BY_HOP || nh == NH_ROUTING || nh == NH_DEST_OPTS || nh == NH_MOBILITY ||
           nh == NH_HIP || nh == NH_SHIM6;
}

static enum ow_pkt_verdict fragment_header(const uint8_t *p, uint32_t caplen, uint32_t wirelen,
                                           ow_ip *out, bool *atomic)
{
    if (wirelen < FRAG_HLEN)
        return OW_PKT_BAD_IP;
    if (caplen < FRAG_HLEN)
        return OW_PKT_TRUNCATED;
    uint16_t off_flags = ow_get16(p + 2);
    out->frag_offset = off_flags & 0xFFF8u;
    out->frag_more = (off_flags & 1) != 0;
    out->frag_id = ow_get32(p + 4);
    /* An atomic fragment (offset 0, no more fragments, RFC 6946) is a whole datagram. */
    *atomic = out->frag_offset == 0 && !out->frag_more;
    return OW_PKT_OK;
}

enum ow_pkt_verdict ow_ipv6_walk(uint8_t next, const uint8_t *p, uint32_t caplen, uint32_t wirelen,
                                 ow_ip *out)
{
    for (int hops = 0;; hops++) {
        if (next == NH_TCP || !(is_generic_ext(next) || next == NH_AH || next == NH_FRAGMENT)) {
            out->proto = next;
            out->l4 = p;
            out->l4_caplen = caplen;
            out->l4_wirelen = wirelen;
            return next == NH_TCP ? OW_PKT_OK : OW_PKT_NON_TCP;
        }
        if (hops == OW_IPV6_MAX_EXT)
            return OW_PKT_BAD_IP;
        uint32_t len;
        if (next == NH_FRAGMENT) {
            bool atomic;
            enum ow_pkt_verdict v = fragment_header(p, caplen, wirelen, out, &atomic);
            if (v != OW_PKT_OK)
                return v;
            if (!atomic) {
                out->proto = p[0];
                out->l4 = p + FRAG_HLEN;
                out->l4_caplen = caplen - FRAG_HLEN;
                out->l4_wirelen = wirelen - FRAG_HLEN;
                return OW_PKT_FRAGMENT;
            }
            len = FRAG_HLEN;
        } else {
            if (wirelen < 2)
                return OW_PKT_BAD_IP;
            if (caplen < 2)
                return OW_PKT_TRUNCATED;
            len = next == NH_AH ? ((uint32_t)p[1] + 2) * 4 : ((uint32_t)p[1] + 1) * 8;
        }
        if (len > wirelen)
            return OW_PKT_BAD_IP;
        if (len > caplen)
            return OW_PKT_TRUNCATED;
        next = p[0];
        p += len;
        caplen -= len;
        wirelen -= len;
    }
}

enum ow_pkt_verdict ow_ipv6_decode(const ow_l3 *l3, ow_ip *out)
{
    const uint8_t *p = l3->data;
    if (l3->caplen < IPV6_HLEN)
        return OW_PKT_TRUNCATED;
    uint32_t plen = ow_get16(p + 4);
    if (plen == 0) /* jumbogram / GSO super-packet */
        plen = l3->wirelen - IPV6_HLEN;
    if (IPV6_HLEN + plen > l3->wirelen)
        return OW_PKT_BAD_IP;

    memset(out, 0, sizeof *out);
    out->src.family = out->dst.family = 6;
    memcpy(out->src.bytes, p + 8, 16);
    memcpy(out->dst.bytes, p + 24, 16);
    uint32_t captured = l3->caplen < IPV6_HLEN + plen ? l3->caplen : IPV6_HLEN + plen;
    return ow_ipv6_walk(p[6], p + IPV6_HLEN, captured - IPV6_HLEN, plen, out);
}
