/* test_flow: a connection as capture/ hands it to the correlator (client 100.64.0.2, server
 * 100.64.0.1:5006, handshake seen), for the correlator's tests. Header-only. */
#ifndef OW_TEST_FLOW_H
#define OW_TEST_FLOW_H
#include "capture/capture.h"
#include <stdint.h>
#include <stdlib.h>

/* calloc'd; NULL without memory. */
static inline ow_flow *test_new_flow(uint64_t id, uint16_t client_port)
{
    ow_flow *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->id = id;
    ow_addr_parse("100.64.0.2", &f->client);
    ow_addr_parse("100.64.0.1", &f->server);
    f->client_port = client_port;
    f->server_port = 5006;
    f->syn_seen = true;
    return f;
}
#endif
