/* test_capture_decode: capture/'s decoders on hand-made and hostile bytes: every link type
 * (truncated headers, VLAN stacks, NULL byte orders, IPv6 address families), IPv4 (TSO total
 * length 0, padding, lying lengths), IPv6 extension chains (too long, lengths past the end,
 * atomic fragments), fragment reassembly (out of order, duplicates, overlaps, oversize) and TCP
 * options (malformed, SACK blocks). Every buffer is exactly as long as stated, so a read past
 * it shows under valgrind/ASan. */
#include "capture/ip_frag.h"
#include "capture/packet.h"
#include "tests/unit/testlib.h"
#include <stdlib.h>

static uint8_t *exact(const uint8_t *src, size_t n) /* a heap copy with nothing after it */
{
    uint8_t *p = malloc(n ? n : 1);
    memcpy(p, src, n);
    return p;
}

static uint8_t ipv4_tcp[] = {
    0x45, 0,    0,    44,   0,    1,    0x40, 0,  64, 6,
    0,    0,    100,  64,   0,    2,    100,  64, 0,  1, /* IPv4 */
    0xA4, 0x10, 0x13, 0x8E, 0,    0,    0,    1,  0,  0,
    0,    0,    0x60, 0x02, 0xFF, 0xFF, 0,    0,  0,  0, /* TCP */
    2,    4,    0x05, 0xB4,                              /* MSS 1460 */
};

static enum ow_pkt_verdict link(int dlt, const uint8_t *frame, size_t n, ow_l3 *l3)
{
    uint8_t *p = exact(frame, n);
    enum ow_pkt_verdict v = ow_link_decode(dlt, p, (uint32_t)n, (uint32_t)n, l3);
    free(p);
    return v;
}

static void link_layers(void)
{
    ow_l3 l3;
    uint8_t f[128];
    CHECK_EQ_INT(link(101, ipv4_tcp, sizeof ipv4_tcp, &l3), OW_PKT_OK);
    CHECK_EQ_INT(l3.version, 4);
    CHECK_EQ_INT(link(12, ipv4_tcp, 0, &l3), OW_PKT_TRUNCATED);
    uint8_t bad_nibble[] = {0x75, 0};
    CHECK_EQ_INT(link(101, bad_nibble, 2, &l3), OW_PKT_BAD_IP);
    /* Ethernet + QinQ */
    memset(f, 0, 12);
    uint8_t tags[] = {0x88, 0xA8, 0, 200, 0x81, 0x00, 0, 100, 0x08, 0x00};
    memcpy(f + 12, tags, sizeof tags);
    memcpy(f + 22, ipv4_tcp, sizeof ipv4_tcp);
    CHECK_EQ_INT(link(1, f, 22 + sizeof ipv4_tcp, &l3), OW_PKT_OK);
    CHECK_EQ_INT(l3.caplen, sizeof ipv4_tcp);
    CHECK_EQ_INT(link(1, f, 18, &l3), OW_PKT_TRUNCATED); /* ends inside the second tag */
    uint8_t many[64] = {0};
    for (int i = 0; i < 6; i++)
        many[12 + 4 * i] = 0x81;
    CHECK_EQ_INT(link(1, many, sizeof many, &l3), OW_PKT_NON_IP); /* too many tags */
    uint8_t arp[60] = {0};
    arp[12] = 0x08, arp[13] = 0x06;
    CHECK_EQ_INT(link(1, arp, sizeof arp, &l3), OW_PKT_NON_IP);
    /* SLL and SLL2 */
    memset(f, 0, sizeof f);
    f[14] = 0x86, f[15] = 0xDD, f[16] = 0x60;
    CHECK_EQ_INT(link(113, f, 17, &l3), OW_PKT_OK);
    CHECK_EQ_INT(l3.version, 6);
    CHECK_EQ_INT(link(113, f, 15, &l3), OW_PKT_TRUNCATED);
    memset(f, 0, sizeof f);
    f[0] = 0x08, f[20] = 0x45;
    CHECK_EQ_INT(link(276, f, 21, &l3), OW_PKT_OK);
    CHECK_EQ_INT(link(276, f, 19, &l3), OW_PKT_TRUNCATED);
    /* NULL in either byte order; LOOP in network order; BSD IPv6 families */
    uint8_t null_le[] = {2, 0, 0, 0, 0x45}, null_be[] = {0, 0, 0, 2, 0x45};
    CHECK_EQ_INT(link(0, null_le, 5, &l3), OW_PKT_OK);
    CHECK_EQ_INT(link(0, null_be, 5, &l3), OW_PKT_OK);
    CHECK_EQ_INT(link(108, null_be, 5, &l3), OW_PKT_OK);
    CHECK_EQ_INT(link(108, null_le, 5, &l3), OW_PKT_NON_IP);
    int fam6[] = {10, 24, 28, 30};
    for (int i = 0; i < 4; i++) {
        uint8_t n6[] = {(uint8_t)fam6[i], 0, 0, 0, 0x60};
        CHECK_EQ_INT(link(0, n6, 5, &l3), OW_PKT_OK);
        CHECK_EQ_INT(l3.version, 6);
    }
    uint8_t n7[] = {7, 0, 0, 0, 0x45};
    CHECK_EQ_INT(link(0, n7, 5, &l3), OW_PKT_NON_IP);
    CHECK(!ow_link_supported(147));
    CHECK(ow_link_supported(276));
}

static enum ow_pkt_verdict ip4(const uint8_t *pkt, size_t caplen, uint32_t wirelen, ow_ip *ip)
{
    uint8_t *p = exact(pkt, caplen);
    ow_l3 l3 = {4, p, (uint32_t)caplen, wirelen};
    enum ow_pkt_verdict v = ow_ipv4_decode(&l3, ip);
    free(p);
    return v;
}

static void ipv4(void)
{
    ow_ip ip;
    uint8_t p[64];
    memcpy(p, ipv4_tcp, sizeof ipv4_tcp);
    CHECK_EQ_INT(ip4(p, sizeof ipv4_tcp, sizeof ipv4_tcp, &ip), OW_PKT_OK);
    CHECK_EQ_INT(ip.l4_wirelen, 24);
    CHECK_EQ_INT(ip.proto, 6);
    p[2] = p[3] = 0; /* TSO: total length 0 -> the frame's length */
    CHECK_EQ_INT(ip4(p, sizeof ipv4_tcp, 3000, &ip), OW_PKT_OK);
    CHECK_EQ_INT(ip.l4_wirelen, 3000 - 20);
    CHECK_EQ_INT(ip.l4_caplen, 24);
    p[2] = 0xFF, p[3] = 0xFF; /* claims more than the frame had */
    CHECK_EQ_INT(ip4(p, sizeof ipv4_tcp, sizeof ipv4_tcp, &ip), OW_PKT_BAD_IP);
    p[2] = 0, p[3] = 10; /* less than its header */
    CHECK_EQ_INT(ip4(p, sizeof ipv4_tcp, sizeof ipv4_tcp, &ip), OW_PKT_BAD_IP);
    memcpy(p, ipv4_tcp, sizeof ipv4_tcp);
    p[0] = 0x4F; /* 60-byte header in a 44-byte capture */
    CHECK_EQ_INT(ip4(p, sizeof ipv4_tcp, sizeof ipv4_tcp, &ip), OW_PKT_TRUNCATED);
    p[0] = 0x44;
    CHECK_EQ_INT(ip4(p, sizeof ipv4_tcp, sizeof ipv4_tcp, &ip), OW_PKT_BAD_IP);
    CHECK_EQ_INT(ip4(p, 19, 19, &ip), OW_PKT_TRUNCATED);
    memcpy(p, ipv4_tcp, sizeof ipv4_tcp);
    memset(p + 44, 0, 16); /* Ethernet padding after the datagram */
    CHECK_EQ_INT(ip4(p, 60, 60, &ip), OW_PKT_OK);
    CHECK_EQ_INT(ip.l4_caplen, 24);
    p[6] = 0x20; /* MF */
    CHECK_EQ_INT(ip4(p, 44, 44, &ip), OW_PKT_FRAGMENT);
    CHECK(ip.frag_more);
}

static enum ow_pkt_verdict ip6_cut(const uint8_t *pkt, size_t n, size_t wire, ow_ip *ip)
{
    uint8_t *p = exact(pkt, n);
    ow_l3 l3 = {6, p, (uint32_t)n, (uint32_t)wire};
    enum ow_pkt_verdict v = ow_ipv6_decode(&l3, ip);
    free(p);
    return v;
}

static enum ow_pkt_verdict ip6(const uint8_t *pkt, size_t n, ow_ip *ip)
{
    uint8_t *p = exact(pkt, n);
    ow_l3 l3 = {6, p, (uint32_t)n, (uint32_t)n};
    enum ow_pkt_verdict v = ow_ipv6_decode(&l3, ip);
    free(p);
    return v;
}

/* IPv6 header with payload length plen and first next header nh. */
static size_t v6hdr(uint8_t *p, uint8_t nh, uint16_t plen)
{
    memset(p, 0, 40);
    p[0] = 0x60;
    ow_put16(p + 4, plen);
    p[6] = nh;
    p[7] = 64;
    p[8] = 0xfd, p[23] = 2, p[24] = 0xfd, p[39] = 1;
    return 40;
}

static void ipv6(void)
{
    uint8_t p[400];
    ow_ip ip;
    /* hop-by-hop -> routing -> destination options -> TCP */
    size_t n = v6hdr(p, 0, 24 + 20);
    uint8_t ext[] = {43, 0, 1, 4, 0, 0, 0, 0, 60, 0, 0, 0, 0, 0, 0, 0, 6, 0, 1, 4, 0, 0, 0, 0};
    memcpy(p + n, ext, sizeof ext);
    memcpy(p + n + sizeof ext, ipv4_tcp + 20, 20);
    CHECK_EQ_INT(ip6(p, n + 44, &ip), OW_PKT_OK);
    CHECK_EQ_INT(ip.l4_wirelen, 20);
    CHECK_EQ_INT(ip.src.family, 6);
    CHECK_EQ_INT(ip.dst.bytes[15], 1);
    CHECK_EQ_INT(ip6_cut(p, n + 20, n + 44, &ip), OW_PKT_TRUNCATED); /* capture ends in the chain */
    /* an extension length past the payload */
    n = v6hdr(p, 0, 8);
    p[40] = 6, p[41] = 5;
    memset(p + 42, 0, 6);
    CHECK_EQ_INT(ip6(p, 48, &ip), OW_PKT_BAD_IP);
    /* a chain longer than the limit */
    n = v6hdr(p, 60, 8 * 12);
    for (int i = 0; i < 12; i++)
        p[40 + 8 * i] = 60, p[41 + 8 * i] = 0;
    CHECK_EQ_INT(ip6(p, 40 + 96, &ip), OW_PKT_BAD_IP);
    /* payload length beyond the frame */
    v6hdr(p, 6, 1000);
    CHECK_EQ_INT(ip6(p, 60, &ip), OW_PKT_BAD_IP);
    /* an atomic fragment is a whole datagram; a real one goes to reassembly */
    n = v6hdr(p, 44, 8 + 20);
    uint8_t fh[] = {6, 0, 0, 0, 0, 0, 0, 9};
    memcpy(p + 40, fh, 8);
    memcpy(p + 48, ipv4_tcp + 20, 20);
    CHECK_EQ_INT(ip6(p, 68, &ip), OW_PKT_OK);
    p[43] = 1; /* more fragments */
    CHECK_EQ_INT(ip6(p, 68, &ip), OW_PKT_FRAGMENT);
    CHECK_EQ_INT(ip.frag_id, 9);
    CHECK_EQ_INT(ip.proto, 6);
    /* ESP and "no next header" are not TCP */
    v6hdr(p, 50, 8);
    CHECK_EQ_INT(ip6(p, 48, &ip), OW_PKT_NON_TCP);
    v6hdr(p, 59, 0);
    CHECK_EQ_INT(ip6(p, 40, &ip), OW_PKT_NON_TCP);
}

static ow_ip frag(uint32_t id, uint32_t off, bool more, const uint8_t *data, uint32_t n)
{
    ow_ip f = {0};
    f.src.family = f.dst.family = 4;
    f.src.bytes[0] = 10, f.dst.bytes[0] = 11;
    f.proto = 6;
    f.l4 = data;
    f.l4_caplen = f.l4_wirelen = n;
    f.frag_id = id;
    f.frag_offset = off;
    f.frag_more = more;
    return f;
}

static void fragments(void)
{
    frag_table t;
    CHECK(frag_init(&t));
    uint8_t d[3000];
    for (int i = 0; i < 3000; i++)
        d[i] = (uint8_t)i;
    ow_ip out, a = frag(1, 0, true, d, 1000), b = frag(1, 1000, true, d + 1000, 1000),
               c = frag(1, 2000, false, d + 2000, 1000);
    CHECK_EQ_INT(frag_add(&t, &c, 1.0, &out), FRAG_HELD); /* out of order */
    CHECK_EQ_INT(frag_add(&t, &a, 1.0, &out), FRAG_HELD);
    CHECK_EQ_INT(frag_add(&t, &a, 1.0, &out), FRAG_HELD); /* exact duplicate */
    CHECK_EQ_INT(frag_add(&t, &b, 1.1, &out), FRAG_DONE);
    CHECK_EQ_INT(out.l4_wirelen, 3000);
    CHECK(memcmp(out.l4, d, 3000) == 0);
    /* overlap with different bytes: dropped */
    ow_ip x = frag(2, 0, true, d, 1000), y = frag(2, 992, false, d + 100, 1000);
    CHECK_EQ_INT(frag_add(&t, &x, 2.0, &out), FRAG_HELD);
    CHECK_EQ_INT(frag_add(&t, &y, 2.0, &out), FRAG_DROPPED);
    /* beyond 64 KB, non-multiple of 8, length disagreement */
    ow_ip big = frag(3, 65000, false, d, 1000);
    CHECK_EQ_INT(frag_add(&t, &big, 3.0, &out), FRAG_DROPPED);
    ow_ip odd = frag(4, 0, true, d, 1001);
    CHECK_EQ_INT(frag_add(&t, &odd, 3.0, &out), FRAG_DROPPED);
    ow_ip last1 = frag(5, 1000, false, d, 500), last2 = frag(5, 2000, false, d, 500);
    CHECK_EQ_INT(frag_add(&t, &last1, 3.0, &out), FRAG_HELD);
    CHECK_EQ_INT(frag_add(&t, &last2, 3.0, &out), FRAG_DROPPED);
    /* timeout: the first half is forgotten, the second alone never completes */
    ow_ip h1 = frag(6, 0, true, d, 1000), h2 = frag(6, 1000, false, d + 1000, 8);
    CHECK_EQ_INT(frag_add(&t, &h1, 10.0, &out), FRAG_HELD);
    CHECK_EQ_INT(frag_add(&t, &h2, 10.0 + OW_FRAG_TIMEOUT + 1, &out), FRAG_HELD);
    /* more datagrams in flight than the table holds: the oldest go, never a crash */
    for (uint32_t id = 100; id < 100 + 2 * OW_FRAG_MAX_DATAGRAMS; id++) {
        ow_ip p = frag(id, 0, true, d, 8);
        frag_add(&t, &p, 50.0 + id * 0.001, &out);
    }
    CHECK(t.dropped >= OW_FRAG_MAX_DATAGRAMS);
    frag_destroy(&t);
}

static enum ow_pkt_verdict tcp(const uint8_t *hdr, size_t n, uint32_t wire, ow_tcp_seg *s)
{
    uint8_t *p = exact(hdr, n);
    ow_ip ip = {.proto = 6, .l4 = p, .l4_caplen = (uint32_t)n, .l4_wirelen = wire};
    enum ow_pkt_verdict v = ow_tcp_decode(&ip, s);
    free(p);
    return v;
}

static void tcp_options(void)
{
    ow_tcp_seg s;
    uint8_t h[60] = {0};
    memcpy(h, ipv4_tcp + 20, 20);
    h[12] = 0xF0; /* 60-byte header */
    uint8_t opts[] = {1, 1, 3, 3, 7, 4, 2, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2, 2, 4, 0x05, 0xB4};
    memcpy(h + 20, opts, sizeof opts);
    CHECK_EQ_INT(tcp(h, 60, 60, &s), OW_PKT_OK);
    CHECK_EQ_INT(s.wscale, 7);
    CHECK(s.sack_permitted);
    CHECK_EQ_INT(s.n_sack, 1);
    CHECK_EQ_INT(s.sack[0][0], 1);
    CHECK_EQ_INT(s.sack[0][1], 2);
    CHECK_EQ_INT(s.mss, 1460);
    CHECK_EQ_INT(s.payload_wirelen, 0);
    /* a plain header after one with options: no option value is left over */
    h[12] = 0x50;
    CHECK_EQ_INT(tcp(h, 20, 20, &s), OW_PKT_OK);
    CHECK_EQ_INT(s.mss, 0);
    CHECK_EQ_INT(s.wscale, -1);
    CHECK(!s.sack_permitted);
    CHECK_EQ_INT(s.n_sack, 0);
    CHECK_EQ_INT(tcp(h, 60, 60, &s), OW_PKT_OK); /* options again */
    h[12] = 0xF0;
    CHECK_EQ_INT(tcp(h, 60, 60, &s), OW_PKT_OK);
    CHECK_EQ_INT(s.mss, 1460);
    h[20] = 2, h[21] = 200; /* an option longer than the header: the walk stops */
    CHECK_EQ_INT(tcp(h, 60, 60, &s), OW_PKT_OK);
    CHECK_EQ_INT(s.mss, 0);
    h[20] = 3, h[21] = 0; /* zero-length option */
    CHECK_EQ_INT(tcp(h, 60, 60, &s), OW_PKT_OK);
    CHECK_EQ_INT(tcp(h, 40, 60, &s), OW_PKT_TRUNCATED);
    CHECK_EQ_INT(tcp(h, 19, 19, &s), OW_PKT_BAD_TCP);
    h[12] = 0x40; /* data offset 4: below the minimum */
    CHECK_EQ_INT(tcp(h, 60, 60, &s), OW_PKT_BAD_TCP);
    h[12] = 0x50;
    CHECK_EQ_INT(tcp(h, 30, 1000, &s), OW_PKT_OK);
    CHECK_EQ_INT(s.payload_caplen, 10);
    CHECK_EQ_INT(s.payload_wirelen, 980);
    CHECK(ow_seq_lt(0xFFFFFFF0u, 5)); /* wrap-around */
}

int main(void)
{
    link_layers();
    ipv4();
    ipv6();
    fragments();
    tcp_options();
    TEST_MAIN_END("test_capture_decode");
}
