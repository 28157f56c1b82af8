/* linklayer: finds the IP packet inside a captured frame for every link type a Tailscale host
 * shows: RAW (tailscale0, a TUN device), Ethernet with 802.1Q / 802.1ad (QinQ) tags, Linux
 * cooked SLL and SLL2 (`-i any`), BSD NULL / LOOP (4-byte address family), and IPv4 / IPv6
 * raw link types. */
#include "capture/packet.h"

enum {
    DLT_NULL_ = 0,
    DLT_EN10MB_ = 1,
    DLT_RAW_ = 12,
    LINKTYPE_RAW_ = 101,
    DLT_LOOP_ = 108,
    DLT_LINUX_SLL_ = 113,
    DLT_IPV4_ = 228,
    DLT_IPV6_ = 229,
    DLT_LINUX_SLL2_ = 276,
};

#define ETH_HLEN      14
#define SLL_HLEN      16
#define SLL2_HLEN     20
#define NULL_HLEN     4
#define VLAN_TAG_LEN  4
#define MAX_VLAN_TAGS 4 /* QinQ is two; more is malformed or hostile */

bool ow_link_supported(int dlt)
{
    switch (dlt) {
    case DLT_NULL_:
    case DLT_EN10MB_:
    case DLT_RAW_:
    case LINKTYPE_RAW_:
    case DLT_LOOP_:
    case DLT_LINUX_SLL_:
    case DLT_IPV4_:
    case DLT_IPV6_:
    case DLT_LINUX_SLL2_:
        return true;
    default:
        return false;
    }
}

/* Inlined into each link type's path: this runs for every packet. */
#define HOT static inline __attribute__((always_inline))

HOT enum ow_pkt_verdict l3_at(int version, const uint8_t *frame, uint32_t off, uint32_t caplen,
                              uint32_t wirelen, ow_l3 *out)
{
    if (caplen < off + 1)
        return OW_PKT_TRUNCATED;
    out->data = frame + off;
    out->caplen = caplen - off;
    if (wirelen > OW_MAX_WIRELEN) /* a record header's length is not trusted past this */
        wirelen = caplen;
    out->wirelen = wirelen > off ? wirelen - off : out->caplen;
    if (out->wirelen < out->caplen)
        out->wirelen = out->caplen;
    int nibble = frame[off] >> 4;
    if (version == 0) /* RAW: the first nibble says which IP */
        version = nibble;
    if ((version != 4 && version != 6) || nibble != version)
        return OW_PKT_BAD_IP;
    out->version = version;
    return OW_PKT_OK;
}

static int version_of_ethertype(uint16_t type)
{
    if (type == 0x0800)
        return 4;
    if (type == 0x86DD)
        return 6;
    return -1;
}

static bool is_vlan_ethertype(uint16_t type)
{
    return type == 0x8100 || type == 0x88A8 || type == 0x9100;
}

/* Skips VLAN tags starting at *off, where the ethertype *type was read just before. */
HOT enum ow_pkt_verdict skip_vlan_tags(const uint8_t *frame, uint32_t caplen, uint32_t *off,
                                       uint16_t *type)
{
    for (int tags = 0; is_vlan_ethertype(*type); tags++) {
        if (tags == MAX_VLAN_TAGS)
            return OW_PKT_NON_IP;
        if (caplen < *off + VLAN_TAG_LEN)
            return OW_PKT_TRUNCATED;
        *type = ow_get16(frame + *off + 2);
        *off += VLAN_TAG_LEN;
    }
    return OW_PKT_OK;
}

HOT enum ow_pkt_verdict by_ethertype(const uint8_t *frame, uint32_t caplen, uint32_t wirelen,
                                     uint32_t off, uint16_t type, ow_l3 *out)
{
    int version = version_of_ethertype(type); /* untagged IP: nearly every frame */
    if (version < 0) {
        enum ow_pkt_verdict v = skip_vlan_tags(frame, caplen, &off, &type);
        if (v != OW_PKT_OK)
            return v;
        version = version_of_ethertype(type);
        if (version < 0)
            return OW_PKT_NON_IP;
    }
    return l3_at(version, frame, off, caplen, wirelen, out);
}

/* BSD address family values for IPv4 / IPv6 (IPv6 differs per OS). */
static int version_of_family(uint32_t af)
{
    if (af == 2)
        return 4;
    if (af == 10 || af == 24 || af == 28 || af == 30)
        return 6;
    return -1;
}

static enum ow_pkt_verdict decode_null(const uint8_t *frame, uint32_t caplen, uint32_t wirelen,
                                       bool network_order, ow_l3 *out)
{
    if (caplen < NULL_HLEN)
        return OW_PKT_TRUNCATED;
    uint32_t be = ow_get32(frame);
    uint32_t le = (uint32_t)frame[0] | (uint32_t)frame[1] << 8 | (uint32_t)frame[2] << 16 |
                  (uint32_t)frame[3] << 24;
    /* NULL is in the writer's byte order: the family is a small number, so the order with the
     * high bytes zero is the right one. LOOP is always network order. */
    uint32_t af = network_order ? be : ((be & 0xFFFF0000u) ? le : be);
    int version = version_of_family(af);
    if (version < 0)
        return OW_PKT_NON_IP;
    return l3_at(version, frame, NULL_HLEN, caplen, wirelen, out);
}

enum ow_pkt_verdict ow_link_decode(int dlt, const uint8_t *frame, uint32_t caplen, uint32_t wirelen,
                                   ow_l3 *out)
{
    switch (dlt) {
    case DLT_RAW_:
    case LINKTYPE_RAW_:
        return l3_at(0, frame, 0, caplen, wirelen, out);
    case DLT_IPV4_:
        return l3_at(4, frame, 0, caplen, wirelen, out);
    case DLT_IPV6_:
        return l3_at(6, frame, 0, caplen, wirelen, out);
    case DLT_EN10MB_:
        if (caplen < ETH_HLEN)
            return OW_PKT_TRUNCATED;
        return by_ethertype(frame, caplen, wirelen, ETH_HLEN, ow_get16(frame + 12), out);
    case DLT_LINUX_SLL_:
        if (caplen < SLL_HLEN)
            return OW_PKT_TRUNCATED;
        return by_ethertype(frame, caplen, wirelen, SLL_HLEN, ow_get16(frame + 14), out);
    case DLT_LINUX_SLL2_:
        if (caplen < SLL2_HLEN)
            return OW_PKT_TRUNCATED;
        return by_ethertype(frame, caplen, wirelen, SLL2_HLEN, ow_get16(frame), out);
    case DLT_NULL_:
        return decode_null(frame, caplen, wirelen, false, out);
    case DLT_LOOP_:
        return decode_null(frame, caplen, wirelen, true, out);
    default:
        return OW_PKT_NON_IP;
    }
}
