/* tcp_segment: decodes a TCP header (RFC 9293) and the options TCP health needs: MSS, window
 * scale, SACK-permitted and SACK blocks. The option walk is bounded by the header length and
 * stops at a malformed option. The checksum is not checked (offloaded on the sending host). */
#include "capture/packet.h"

#define TCP_MIN_HLEN    20
#define TS_ONLY_OPTIONS 0x0101080Au /* NOP, NOP, timestamps (kind 8, length 10) */

enum { OPT_EOL = 0, OPT_NOP = 1, OPT_MSS = 2, OPT_WSCALE = 3, OPT_SACK_OK = 4, OPT_SACK = 5 };

static void parse_options(const uint8_t *o, uint32_t len, ow_tcp_seg *s)
{
    uint32_t i = 0;
    while (i < len) {
        uint8_t kind = o[i];
        if (kind == OPT_EOL)
            return;
        if (kind == OPT_NOP) {
            i++;
            continue;
        }
        if (i + 2 > len)
            return;
        uint8_t olen = o[i + 1];
        if (olen < 2 || i + olen > len)
            return;
        const uint8_t *v = o + i + 2;
        if (kind == OPT_MSS && olen == 4)
            s->mss = ow_get16(v);
        else if (kind == OPT_WSCALE && olen == 3)
            s->wscale = (int8_t)(v[0] > 14 ? 14 : v[0]);
        else if (kind == OPT_SACK_OK && olen == 2)
            s->sack_permitted = true;
        else if (kind == OPT_SACK && olen >= 10 && (olen - 2) % 8 == 0) {
            for (uint32_t b = 0; b < (uint32_t)(olen - 2) / 8 && s->n_sack < OW_TCP_MAX_SACK; b++) {
                s->sack[s->n_sack][0] = ow_get32(v + (size_t)8 * b);
                s->sack[s->n_sack][1] = ow_get32(v + (size_t)8 * b + 4);
                s->n_sack++;
            }
        }
        i += olen;
    }
}

enum ow_pkt_verdict ow_tcp_decode(const ow_ip *ip, ow_tcp_seg *s)
{
    const uint8_t *p = ip->l4;
    if (ip->l4_wirelen < TCP_MIN_HLEN)
        return OW_PKT_BAD_TCP;
    if (ip->l4_caplen < TCP_MIN_HLEN)
        return OW_PKT_TRUNCATED;
    uint32_t hlen = (uint32_t)(p[12] >> 4) * 4;
    if (hlen < TCP_MIN_HLEN || hlen > ip->l4_wirelen)
        return OW_PKT_BAD_TCP;
    if (hlen > ip->l4_caplen)
        return OW_PKT_TRUNCATED;

    s->sport = ow_get16(p);
    s->dport = ow_get16(p + 2);
    s->seq = ow_get32(p + 4);
    s->ack = ow_get32(p + 8);
    s->flags = p[13];
    s->win = ow_get16(p + 14);
    s->csum = ow_get16(p + 16);
    s->hdr_len = (uint8_t)hlen;
    /* no memset of the whole segment: the SACK blocks past n_sack are never read */
    s->mss = 0;
    s->wscale = -1;
    s->sack_permitted = false;
    s->n_sack = 0;
    s->payload = p + hlen;
    s->payload_caplen = ip->l4_caplen - hlen;
    s->payload_wirelen = ip->l4_wirelen - hlen;
    /* Most segments carry only NOP, NOP, timestamps: nothing TCP health reads. */
    if (!(hlen == TCP_MIN_HLEN + 12 && ow_get32(p + TCP_MIN_HLEN) == TS_ONLY_OPTIONS))
        parse_options(p + TCP_MIN_HLEN, hlen - TCP_MIN_HLEN, s);
    return OW_PKT_OK;
}
