/* test_capture_flow_table: the flow table finds each connection from either direction and
 * tells which it is, for IPv4 (compared as two words) and IPv6 alike, with many connections
 * sharing addresses or ports, after removals, and never confuses an IPv4 connection with an
 * IPv6 one whose address starts with the same bytes. */
#include "capture/flow_table.h"
#include "testlib.h"
#include <stdlib.h>
#include <string.h>

static ow_addr v4(uint32_t a)
{
    ow_addr x = {.family = 4};
    x.bytes[0] = (uint8_t)(a >> 24), x.bytes[1] = (uint8_t)(a >> 16);
    x.bytes[2] = (uint8_t)(a >> 8), x.bytes[3] = (uint8_t)a;
    return x;
}

static ow_addr v6(uint32_t a)
{
    ow_addr x = v4(a);
    x.family = 6;
    x.bytes[15] = 1;
    return x;
}

#define N 600

static void both_directions(void)
{
    flow_table t;
    CHECK(ft_init(&t, N * 2));
    ow_flow_int *fl[N];
    ow_addr cl[N], sv[N];
    uint16_t cp[N], sp[N];
    for (int i = 0; i < N; i++) {
        /* a few servers, many clients, ports reused; every third an IPv6 connection */
        uint32_t c = 0x64400000u + (uint32_t)(i % 37), s = 0x64400100u + (uint32_t)(i % 3);
        cl[i] = i % 3 == 2 ? v6(c) : v4(c);
        sv[i] = i % 3 == 2 ? v6(s) : v4(s);
        cp[i] = (uint16_t)(40000 + i / 37);
        sp[i] = (uint16_t)(5006 + i % 2);
        fl[i] = ft_insert(&t, &cl[i], cp[i], &sv[i], sp[i]);
        CHECK(fl[i] != NULL);
    }
    int found = 0, right_dir = 0;
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < N; i++) {
            int dir = -1;
            found += ft_lookup(&t, &cl[i], cp[i], &sv[i], sp[i], &dir) == fl[i];
            right_dir += dir == OW_DIR_C2S;
            found += ft_lookup(&t, &sv[i], sp[i], &cl[i], cp[i], &dir) == fl[i];
            right_dir += dir == OW_DIR_S2C;
            found += ft_lookup(&t, &sv[i], sp[i], &cl[i], cp[i], &dir) == fl[i]; /* cached */
            right_dir += dir == OW_DIR_S2C;
        }
    CHECK_EQ_INT(found, 6 * N);
    CHECK_EQ_INT(right_dir, 6 * N);
    /* the same addresses and ports in the other family are another connection (none) */
    int dir = -1;
    ow_addr c6 = v6(0x64400000u), s6 = v6(0x64400100u); /* flow 0 is IPv4 */
    ow_addr c4 = v4(0x64400002u), s4 = v4(0x64400102u); /* flow 2 is IPv6 */
    CHECK(ft_lookup(&t, &c6, cp[0], &s6, sp[0], &dir) == NULL);
    CHECK(ft_lookup(&t, &c4, cp[2], &s4, sp[2], &dir) == NULL);
    /* a port swapped is another connection */
    CHECK(ft_lookup(&t, &cl[0], sp[0], &sv[0], cp[0], &dir) == NULL);
    /* removed flows are gone, the others stay */
    for (int i = 0; i < N; i += 2)
        ft_remove(&t, fl[i]);
    int gone = 0, kept = 0;
    for (int i = 0; i < N; i++) {
        ow_flow_int *f = ft_lookup(&t, &sv[i], sp[i], &cl[i], cp[i], &dir);
        if (i % 2 == 0)
            gone += f == NULL;
        else
            kept += f == fl[i] && dir == OW_DIR_S2C;
    }
    CHECK_EQ_INT(gone, N / 2);
    CHECK_EQ_INT(kept, N / 2);
    ft_destroy(&t);
}

/* A connection from a host to itself (same address, ports differ) is found both ways. */
static void same_host(void)
{
    flow_table t;
    CHECK(ft_init(&t, 4));
    ow_addr a = v4(0x7F000001u);
    ow_flow_int *f = ft_insert(&t, &a, 50000, &a, 5006);
    int dir = -1;
    CHECK(ft_lookup(&t, &a, 5006, &a, 50000, &dir) == f);
    CHECK_EQ_INT(dir, OW_DIR_S2C);
    CHECK(ft_lookup(&t, &a, 50000, &a, 5006, &dir) == f);
    CHECK_EQ_INT(dir, OW_DIR_C2S);
    ft_destroy(&t);
}

/* The plain search the table's lookups must agree with: any flow with these endpoints. */
static ow_flow_int *reference_find(ow_flow_int **fl, int n, const ow_addr *src, uint16_t sport,
                                   const ow_addr *dst, uint16_t dport, int *dir)
{
    for (int i = 0; i < n; i++) {
        const ow_flow *p = &fl[i]->pub;
        if (p->client_port == sport && p->server_port == dport && ow_addr_eq(&p->client, src) &&
            ow_addr_eq(&p->server, dst)) {
            *dir = OW_DIR_C2S;
            return fl[i];
        }
        if (p->server_port == sport && p->client_port == dport && ow_addr_eq(&p->server, src) &&
            ow_addr_eq(&p->client, dst)) {
            *dir = OW_DIR_S2C;
            return fl[i];
        }
    }
    return NULL;
}

/* An IPv6 address from a small set: they differ in one byte of either half, or not at all. */
static ow_addr some_v6(void)
{
    ow_addr a = {.family = 6, .bytes = {0x20, 0x01, 0x0d, 0xb8}};
    uint32_t r = tl_random();
    a.bytes[1 + r % 4] ^= (uint8_t)(r >> 4 & 1);         /* first half */
    a.bytes[8 + (r >> 8) % 8] ^= (uint8_t)(r >> 12 & 1); /* second half */
    return a;
}

/* IPv6 lookups (their own key compare and hash) against the plain search, for packets of known
 * flows both ways and for near misses (an address bit or a port off, ports swapped). */
static void v6_against_reference(void)
{
    enum { FLOWS = 300, PROBES = 20000 };
    flow_table t;
    CHECK(ft_init(&t, FLOWS));
    ow_flow_int *fl[FLOWS];
    int n = 0;
    for (int i = 0; i < FLOWS; i++) {
        ow_addr c = some_v6(), s = some_v6();
        uint16_t cp = (uint16_t)(40000 + tl_random() % 8), sp = (uint16_t)(5006 + i % 2);
        int dir;
        if (reference_find(fl, n, &c, cp, &s, sp, &dir))
            continue; /* the table holds one flow per 4-tuple */
        fl[n++] = ft_insert(&t, &c, cp, &s, sp);
    }
    int agree = 0;
    for (int i = 0; i < PROBES; i++) {
        const ow_flow *p = &fl[tl_random() % (uint32_t)n]->pub;
        uint32_t r = tl_random();
        ow_addr src = r & 1 ? p->client : p->server, dst = r & 1 ? p->server : p->client;
        uint16_t sport = r & 1 ? p->client_port : p->server_port;
        uint16_t dport = r & 1 ? p->server_port : p->client_port;
        if ((r >> 1) % 4 == 0)
            src = some_v6();
        if ((r >> 1) % 4 == 1)
            dport = (uint16_t)(dport ^ 1);
        if ((r >> 1) % 8 == 2) {
            uint16_t x = sport;
            sport = dport, dport = x;
        }
        int dir_ref = -1, dir = -1;
        ow_flow_int *want = reference_find(fl, n, &src, sport, &dst, dport, &dir_ref);
        ow_flow_int *got = ft_lookup(&t, &src, sport, &dst, dport, &dir);
        agree += got == want && (!want || dir == dir_ref);
    }
    CHECK_EQ_INT(agree, PROBES);
    ft_destroy(&t);
}

int main(void)
{
    v6_against_reference();
    both_directions();
    same_host();
    TEST_MAIN_END("capture_flow_table");
}
