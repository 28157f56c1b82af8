/* flow: one TCP connection as capture hands it upward, and the sink interface through
 * which the layers above receive its bytes. capture/ owns the flow table; the layers above
 * keep their own state in flow->user. Addresses are the real ones (IPv6 included). */
#ifndef OW_FLOW_H
#define OW_FLOW_H
#include "capture/addr.h"
#include "capture/tcp_health.h"
#include <stddef.h>
#include <stdint.h>

enum ow_close_how {
    OW_CLOSE_FIN = 1, /* both sides (or one side and then silence) closed with FIN */
    OW_CLOSE_RST,     /* a reset ended it */
    OW_CLOSE_TIMEOUT, /* idle past the flow timeout, or evicted by a limit */
    OW_CLOSE_END,     /* the capture ended while the connection was open */
};

typedef struct ow_flow {
    uint64_t id; /* unique within one capture run, from 1 */
    ow_addr client, server;
    uint16_t client_port, server_port;
    double first_ts, last_ts;
    bool syn_seen; /* false: picked up mid-stream */
    bool midstream;
    uint64_t gaps[2]; /* content gaps per direction (bytes acknowledged but never seen) */
    uint64_t gap_bytes[2];
    tcp_health health;
    void *user; /* owned by the sink */
} ow_flow;

typedef struct ow_flow_sink {
    void *ctx;
    void (*on_open)(void *ctx, ow_flow *f, double ts);
    /* data = every byte of this direction not yet consumed (earlier unconsumed bytes first).
     * Returns how many bytes from the start it consumed; the rest is offered again with the
     * next data. Returning fewer than len with no new data never loops. */
    size_t (*on_data)(void *ctx, ow_flow *f, int dir, const uint8_t *data, size_t len, double ts);
    /* len bytes of this direction are missing from the capture (a content gap). Called before
     * the bytes that follow the gap; bytes left unconsumed before it are not offered again. */
    void (*on_gap)(void *ctx, ow_flow *f, int dir, uint64_t len, double ts);
    void (*on_close)(void *ctx, ow_flow *f, int how, double ts);
    /* Capture time advanced to now (called at least once per second of capture time and
     * after every packet batch). Used for grace timers. */
    void (*on_tick)(void *ctx, double now);
} ow_flow_sink;

#endif
