/* test_capture_server_ports: capture/ tells server-port packets from the others with a bit per
 * port; here, against a plain search of the configured ports, for varied port sets (edges of
 * the 64-bit words: 0, 63, 64, 65535; up to OW_MAX_SERVER_PORTS ports; the default when none
 * is given) and packets whose ports are on, next to or far from them. */
#include "capture/capture.h"
#include "tests/unit/test_capture_synth.h"
#include "tests/unit/testlib.h"

#define PACKETS 400

static bool in_list(const capture_opts *o, uint16_t port)
{
    int n = o->n_server_ports > 0 ? o->n_server_ports : 1;
    for (int i = 0; i < n; i++)
        if ((o->n_server_ports > 0 ? o->server_ports[i] : OW_DEFAULT_SERVER_PORT) == port)
            return true;
    return false;
}

/* A port on, next to, or far from one of the configured ports. */
static uint16_t some_port(const capture_opts *o)
{
    uint32_t r = tl_random();
    int n = o->n_server_ports > 0 ? o->n_server_ports : 1;
    uint16_t near =
        o->n_server_ports > 0 ? o->server_ports[r % (uint32_t)n] : OW_DEFAULT_SERVER_PORT;
    switch ((r >> 8) % 4) {
    case 0:
        return near;
    case 1:
        return (uint16_t)(near + 1);
    case 2:
        return (uint16_t)(near - 1);
    default:
        return (uint16_t)(r >> 12);
    }
}

/* Runs PACKETS SYNs with varied ports through capture/ with the ports in o; the packets not on
 * a server port must be exactly those the plain search finds. */
static void one_port_set(capture_opts *o)
{
    synth_pcap p;
    CHECK(synth_open(&p, 101) == 0);
    uint64_t expect_other = 0;
    for (int i = 0; i < PACKETS; i++) {
        synth_seg g = {.src = 0x64400002u,
                       .dst = 0x64400001u,
                       .sport = some_port(o),
                       .dport = some_port(o),
                       .seq = (uint32_t)i,
                       .flags = 0x02,
                       .wscale = -1};
        expect_other += !in_list(o, g.sport) && !in_list(o, g.dport);
        synth_tcp(&p, &g);
        p.t += 0.001;
    }
    synth_close(&p);
    o->file = p.path;
    char err[256] = "";
    capture *cap = capture_open(o, err, sizeof err);
    CHECK(cap != NULL);
    if (cap) {
        while (capture_poll(cap, NULL, 100, err, sizeof err) > 0)
            ;
        const capture_stats *st = capture_get_stats(cap);
        CHECK_EQ_INT(st->not_server_port, expect_other);
        CHECK_EQ_INT(st->tcp_packets, PACKETS - expect_other);
        capture_close(cap, NULL);
    }
    unlink(p.path);
}

int main(void)
{
    capture_opts none = {0}; /* the default port */
    one_port_set(&none);
    capture_opts edges = {.n_server_ports = 4, .server_ports = {0, 63, 64, 65535}};
    one_port_set(&edges);
    for (int round = 0; round < 6; round++) {
        capture_opts o = {.n_server_ports = 1 + (int)(tl_random() % OW_MAX_SERVER_PORTS)};
        for (int i = 0; i < o.n_server_ports; i++)
            o.server_ports[i] = (uint16_t)(round % 2 ? tl_random() % 128 : tl_random());
        one_port_set(&o);
    }
    TEST_MAIN_END("capture_server_ports");
}
