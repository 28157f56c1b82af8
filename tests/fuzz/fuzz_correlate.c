/* Fuzz target: the correlator driven directly through its flow sink, the way capture/ calls
 * it, with attacker-chosen bytes on up to four connections: opens, data in either direction
 * (HTTP, websocket frames, anything), gaps, closes and clock ticks, in any order.
 * Input: a sequence of [op][conn][len lo][len hi][bytes...]. */
#include "correlate/correlator.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CONNS 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ow_record_sink out = {0};
    correlator_opts co;
    correlator_default_opts(&co);
    co.max_page_loads = 8;
    co.max_page_body = 1 << 14;
    co.max_ws_message = 1 << 14;
    correlator *c = correlator_new(&co, &out);
    const ow_flow_sink *s = correlator_flow_sink(c);
    ow_flow flows[CONNS];
    bool open[CONNS] = {0};
    uint8_t *pending[CONNS][2] = {{0}};
    size_t pending_len[CONNS][2] = {{0}};
    memset(flows, 0, sizeof flows);
    double t = 1795636846.0;
    size_t i = 0;
    while (i + 4 <= size) {
        uint8_t op = data[i], k = data[i + 1] % CONNS;
        size_t len = data[i + 2] | (size_t)data[i + 3] << 8;
        i += 4;
        if (len > size - i)
            len = size - i;
        ow_flow *f = &flows[k];
        t += (op >> 4) * 0.37;
        switch (op & 7) {
        case 0:
            if (!open[k]) {
                memset(f, 0, sizeof *f);
                f->id = (uint64_t)(i + 1);
                ow_addr_parse(k & 1 ? "fd7a:115c:a1e0::2" : "100.64.0.2", &f->client);
                ow_addr_parse(k & 1 ? "fd7a:115c:a1e0::1" : "100.64.0.1", &f->server);
                f->client_port = (uint16_t)(40000 + k);
                f->server_port = 5006;
                f->syn_seen = !(op & 8);
                f->midstream = op & 8;
                s->on_open(s->ctx, f, t);
                open[k] = true;
            }
            break;
        case 1:
        case 2:
        case 3:
        case 4:
            if (open[k]) { /* data, with the caller keeping unconsumed bytes like capture */
                int dir = ((op & 7) - 1) & 1; /* ops 1,3: client; 2,4: server */
                size_t have = pending_len[k][dir];
                /* exactly the bytes handed over: ASan then catches a read of one past */
                uint8_t *buf = realloc(pending[k][dir], have + len ? have + len : 1);
                if (!buf)
                    break;
                memcpy(buf + have, data + i, len);
                pending[k][dir] = buf;
                have += len;
                size_t used = s->on_data(s->ctx, f, dir, buf, have, t);
                if (used > have)
                    abort();
                memmove(buf, buf + used, have - used);
                pending_len[k][dir] = (have - used) > (1 << 16) ? 0 : have - used;
            }
            i += len;
            break;
        case 5:
            if (open[k])
                s->on_gap(s->ctx, f, op & 8 ? 1 : 0, len, t);
            break;
        case 6:
            if (open[k]) {
                s->on_close(s->ctx, f, 1 + (op >> 3) % 4, t);
                open[k] = false;
                pending_len[k][0] = pending_len[k][1] = 0;
            }
            break;
        default:
            s->on_tick(s->ctx, t);
        }
    }
    for (int k = 0; k < CONNS; k++) {
        if (open[k])
            s->on_close(s->ctx, &flows[k], OW_CLOSE_END, t);
        free(pending[k][0]);
        free(pending[k][1]);
    }
    correlator_finish(c, t + 100);
    correlator_free(c);
    return 0;
}
