/* ipv4: decodes an IPv4 header (RFC 791) down to the transport bytes. Offload realities are
 * accepted: a total length of 0 (TSO super-packet) means "the frame's length"; Ethernet
 * padding past the total length is ignored; the header checksum is not checked (captures on
 * the sending host carry offloaded checksums). */
#include "capture/packet.h"
#include <string.h>

#define IPV4_MIN_HLEN    20
#define IPV4_MF          0x2000
#define IPV4_OFFSET_MASK 0x1FFF

enum ow_pkt_verdict ow_ipv4_decode(const ow_l3 *l3, ow_ip *out)
{
    const uint8_t *p = l3->data;
    if (l3->caplen < IPV4_MIN_HLEN)
        return OW_PKT_TRUNCATED;
    uint32_t hlen = (uint32_t)(p[0] & 0x0F) * 4;
    if (hlen < IPV4_MIN_HLEN)
        return OW_PKT_BAD_IP;
    if (l3->caplen < hlen)
        return OW_PKT_TRUNCATED;
    uint32_t total = ow_get16(p + 2);
    if (total == 0) /* TSO/GSO super-packet: the length did not fit or was left for the NIC */
        total = l3->wirelen;
    if (total < hlen || total > l3->wirelen)
        return OW_PKT_BAD_IP;

    memset(out, 0, sizeof *out);
    out->src.family = out->dst.family = 4;
    memcpy(out->src.bytes, p + 12, 4);
    memcpy(out->dst.bytes, p + 16, 4);
    out->proto = p[9];
    out->l4 = p + hlen;
    uint32_t captured = l3->caplen < total ? l3->caplen : total;
    out->l4_caplen = captured - hlen;
    out->l4_wirelen = total - hlen;

    out->ip_id = ow_get16(p + 4);
    uint16_t frag = ow_get16(p + 6);
    if ((frag & IPV4_MF) || (frag & IPV4_OFFSET_MASK)) {
        out->frag_id = out->ip_id;
        out->frag_offset = (uint32_t)(frag & IPV4_OFFSET_MASK) * 8;
        out->frag_more = (frag & IPV4_MF) != 0;
        return OW_PKT_FRAGMENT;
    }
    return OW_PKT_OK;
}
