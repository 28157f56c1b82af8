/* standin: the IPv4 address pair under which libnids knows each flow. Every flow, IPv4 or
 * IPv6, gets a pair from reserved space (240.0.0.0/4) numbered by its slot in the flow table:
 * client 240.0.0.0 + 2*slot, server + 1. IPv6 flows thereby go through libnids (which knows
 * only IPv4); no stand-in can collide with another flow's (real IPv4 addresses never reach
 * libnids); the pair is freed with the slot when the flow ends; and a stream maps back to its
 * flow, so the sink only ever sees real addresses. */
#include "capture/nids_priv.h"
#include <arpa/inet.h>
#include <string.h>

void standin_tuple(const ow_flow_int *f, struct tuple4 *t)
{
    memset(t, 0, sizeof *t);
    t->saddr = htonl(standin_addr(f, 1));
    t->daddr = htonl(standin_addr(f, 0));
    t->source = f->pub.client_port;
    t->dest = f->pub.server_port;
}

ow_flow_int *standin_flow(capture *c, uint32_t saddr_net, uint16_t sport, uint16_t dport)
{
    uint32_t a = ntohl(saddr_net);
    if ((a & 0xF0000000u) != STANDIN_BASE)
        return NULL;
    uint32_t off = a - STANDIN_BASE;
    ow_flow_int *f = ft_by_slot(&c->flows, off / 2);
    if (!f)
        return NULL;
    bool client = (off & 1) == 0;
    uint16_t own = client ? f->pub.client_port : f->pub.server_port;
    uint16_t peer = client ? f->pub.server_port : f->pub.client_port;
    return own == sport && peer == dport ? f : NULL;
}
