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

int main(void)
{
    both_directions();
    same_host();
    TEST_MAIN_END("capture_flow_table");
}
