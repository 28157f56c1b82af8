/* correlator: turns reassembled TCP streams into what happened to each Bokeh page load.
 * It is the ow_flow_sink that capture/ feeds: per connection it drives the HTTP decoder, and
 * after a 101 the WebSocket and Bokeh decoders; it links every served page (and the session
 * ids its tokens carry) to the static fetches made for it and to the websockets that carry
 * its session, decides each page load's outcome when its grace time ends, and names a
 * verdict with evidence. Everything it concludes leaves as records (correlate/records.h). */
#ifndef OW_CORRELATOR_H
#define OW_CORRELATOR_H
#include "capture/flow.h"
#include "correlate/records.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OW_DEFAULT_MAX_PAGE_LOADS 100000     /* page loads held in memory at once */
#define OW_DEFAULT_MAX_PAGE_BODY  (2u << 20) /* page HTML kept (decompressed) to find tokens */
#define OW_PAGE_RETAIN_S          600.0 /* a decided page load stays linkable this long (token life) */
/* Bokeh messages recorded per websocket, the first of each type and direction (all counted) */
#define OW_DEFAULT_MAX_BOKEH_STORED 8
/* permessage-deflate inflaters alive at once (~40 KB each: zlib state and a 32 KB window); a
 * compressed message on a websocket beyond them is not inflated, counted, and an error */
#define OW_DEFAULT_MAX_INFLATERS 512

typedef struct correlator_opts {
    double grace;            /* OW_DEFAULT_GRACE_S */
    bool store_secrets;      /* keep token-bearing query values (default: redacted) */
    size_t max_page_loads;   /* OW_DEFAULT_MAX_PAGE_LOADS */
    size_t max_page_body;    /* OW_DEFAULT_MAX_PAGE_BODY */
    size_t max_ws_message;   /* WS_DEFAULT_MAX_MESSAGE */
    size_t max_bokeh_stored; /* OW_DEFAULT_MAX_BOKEH_STORED */
    size_t max_inflaters;    /* OW_DEFAULT_MAX_INFLATERS (websocket inflaters at once) */
} correlator_opts;

/* Every limit hit and every skip, counted (stored in the capture row as JSON). */
typedef struct correlator_stats {
    uint64_t connections, http_requests, http_responses, http_errors, http_unpaired;
    uint64_t ws_upgrades, ws_frames, ws_messages, ws_errors, bokeh_messages, bokeh_errors;
    uint64_t page_loads, tokens_bad, page_body_truncated, inflate_errors;
    uint64_t page_loads_evicted; /* max_page_loads hit */
    uint64_t statics_unlinked;   /* static fetch with no page to belong to */
    uint64_t ws_without_page;    /* websocket whose session has no page in this capture */
    uint64_t ws_midstream;
    uint64_t bokeh_not_stored; /* beyond max_bokeh_stored on one websocket: counted only */
    uint64_t gaps;
    uint64_t http_pending_overflow; /* requests beyond HTTP_MAX_PENDING unanswered: not kept */
    uint64_t ws_truncated; /* websocket messages not decoded whole (max_ws_message, a deflate
                              bomb, a gap, the connection ended inside one) */
    uint64_t inflate_budget_skipped; /* compressed websocket messages not inflated: all
                                        max_inflaters were in use (each also a ws error) */
    uint64_t tls_connections;        /* began with a TLS record: encrypted, not decoded */
} correlator_stats;

typedef struct correlator correlator;

void correlator_default_opts(correlator_opts *o);
correlator *correlator_new(const correlator_opts *o, const ow_record_sink *out);
const ow_flow_sink *correlator_flow_sink(correlator *c);
/* The capture ended at end_ts: decides every page load still pending (orphan when its grace
 * time has passed, else undecided) and emits the final rows. Call after capture_close. */
void correlator_finish(correlator *c, double end_ts);
const correlator_stats *correlator_get_stats(const correlator *c);
/* Appends the counters as a JSON object body ("key": n, ...) to buf. */
size_t correlator_stats_json(const correlator *c, char *buf, size_t cap);
void correlator_free(correlator *c);
#endif
