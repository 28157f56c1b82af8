/* internal: the correlator's own state, shared by its files (not a public contract).
 *   conn.c      per-connection decoding: HTTP exchanges, the upgrade, websocket + Bokeh
 *   pageload.c  page loads: creation from tokens, linking statics and websockets, outcomes
 *   verdict.c   why a page load failed: rules over the linked resources' TCP health
 *   correlator.c the flow sink, the maps, ticks and the end of the capture */
#ifndef OW_CORRELATE_INTERNAL_H
#define OW_CORRELATE_INTERNAL_H
#include "correlate/correlator.h"
#include "correlate/strmap.h"
#include "decode/bokeh.h"
#include "decode/http.h"
#include "decode/inflate.h"
#include "decode/ws.h"
#include <stddef.h>

#define PAGE_MAX_RESOURCES 12 /* page HTML + statics remembered per page load */
#define PAGE_MAX_WS        4  /* websockets remembered per page load (all are counted) */
#define PAGE_MAX_EVIDENCE  8
#define EVIDENCE_TEXT_MAX  320
#define CONN_MAX_PAGE_REFS 8  /* page loads a connection served resources for */
#define CONN_RECENT_EXCH   16 /* finished exchanges kept to report last-byte-acked at close */
#define MSGTYPE_SLOTS      12

/* What the verdict rules need of a connection's transport, kept after it closes. */
typedef struct health_brief {
    uint32_t max_seg, max_seg_acked, max_seg_lost, lost_retrans, retrans, rto_count;
    uint32_t seg_after_recovery;
    bool recovered_smaller;
    double longest_stall, stall_start;
    uint64_t unacked, acked_bytes;
    double client_fin_ts, client_rst_ts, server_fin_ts, server_rst_ts; /* 0: none */
    double server_last_data_ts; /* last new byte from the server */
    int close_how;              /* 0 while open */
} health_brief;

typedef struct page_resource {
    int64_t http_id, conn_id;
    char path[160];
    bool is_page; /* the page HTML itself */
    bool has_response, ended, complete;
    int status;
    int64_t content_length;
    uint64_t body_bytes;
    uint64_t end_offset; /* server->client stream offset just after this response */
    double req_ts, resp_ts, end_ts;
    uint16_t client_port;
    health_brief health;
} page_resource;

typedef struct page_ws {
    int64_t ws_id, conn_id;
    int status;
    double upgrade_ts;
    bool same_server;
    ow_addr server;
    uint16_t server_port, client_port;
    bool ack, doc, closed;
    uint32_t client_patch_docs;
    int close_code[2];
    double close_ts, pull_doc_ts;
    char path[160];
    char origin[128];
} page_ws;

typedef struct page_load {
    int64_t id, http_id, conn_id;
    char session_id[BOKEH_SESSION_ID_MAX];
    ow_addr client, server;
    uint16_t client_port, server_port;
    char host[128], path[512], app[160], user_agent[256];
    double started;
    int status;
    uint64_t resp_bytes;
    double ttfb, ttlb, resp_end_ts;
    int64_t token_expiry;
    int n_res;
    uint32_t static_count, static_failed, resources_dropped;
    uint64_t static_bytes;
    int n_ws;
    uint32_t ws_total;
    double first_ws_ts;
    ow_outcome outcome;
    ow_verdict verdict;
    double confidence;
    char summary[256];
    char advice[640];
    ow_evidence evidence[PAGE_MAX_EVIDENCE];
    int n_evidence;
    double decided_ts;
    double created_ts; /* capture time the page load was found (list order) */
    bool dirty;
    struct page_load *prev, *next; /* in creation order */
    /* From here on a new page load is not zeroed (most of its size): an entry is written
     * whole when it is counted (res[n_res], ws[n_ws], evidence_text[n_evidence]) and only
     * counted entries are read. */
    page_resource res[PAGE_MAX_RESOURCES];
    page_ws ws[PAGE_MAX_WS];
    char evidence_text[PAGE_MAX_EVIDENCE][EVIDENCE_TEXT_MAX];
} page_load;
#define PAGE_LOAD_ZEROED offsetof(page_load, res)

/* One HTTP request/response on a connection, from request head to response end. */
typedef struct exchange {
    int64_t id;
    uint32_t seq;
    char kind[12];
    double req_ts, resp_ts, resp_end_ts;
    char method[16], target[1024], host[128], user_agent[256], referer[512], origin[128];
    char subprotocol_session[BOKEH_SESSION_ID_MAX];
    int64_t token_expiry;
    bool has_token;
    uint64_t req_body_bytes, resp_body_bytes;
    int status;
    char reason[64], content_type[64], content_encoding[16];
    int64_t content_length;
    bool has_response, complete, ended;
    bool ws_deflate, ws_server_nct, ws_client_nct, ws_subprotocol_ok;
    uint64_t end_offset;
    int64_t page_load_id;
    int res_index; /* index in that page load's resources, -1 none */
    /* page body accumulation (only for responses that may carry tokens) */
    bool collect;
    uint8_t *body;
    size_t body_len, body_cap;
    ow_inflater *inflater;
    uint64_t inflate_dropped;
    struct exchange *next;
} exchange;

typedef struct ws_state {
    int64_t id, http_id, page_load_id;
    char session_id[BOKEH_SESSION_ID_MAX];
    double upgrade_ts;
    int status;
    char reason[64], origin[128], path[160];
    bool subprotocol_ok, deflate, midstream;
    int64_t token_expiry;
    ws_parser *parser[2];
    bokeh_stream bokeh[2];
    uint64_t messages[2], bokeh_stored;
    char msgtype[MSGTYPE_SLOTS][32];
    uint8_t msgtype_len[MSGTYPE_SLOTS]; /* strlen of each name */
    uint64_t msgcount[MSGTYPE_SLOTS];
    uint16_t type_stored[2]; /* per direction: bit i set once a msgtype[i] message is stored */
    _Static_assert(MSGTYPE_SLOTS <= 16, "type_stored has a bit per msgtype slot");
    double ack_ts, pull_doc_ts, close_ts, last_ts;
    uint32_t client_patch_docs, pings, pongs, errors;
    int close_code[2];
    char close_reason[128];
    int cur_dir; /* direction being fed (for callbacks) */
} ws_state;

/* What the connection's last emitted row was made of: a row that would come out the same is
 * not emitted again (page loads refresh the rows of their open connections often). The flow
 * is compared byte for byte, all of it: it holds values only, and its user pointer stays the
 * same while the connection is open (a padding byte that differs only costs an emission).
 * A pointer field added to ow_flow would have to be compared by what it points at. */
typedef struct conn_row_snapshot {
    bool valid;
    const char *close, *kind;
    uint64_t bytes[2];
    uint32_t requests;
    ow_flow flow;
} conn_row_snapshot;

typedef struct conn_state {
    struct correlator *cor;
    ow_flow *flow;
    http_conn http;
    exchange *queue_head, *queue_tail; /* requests awaiting their response, in order */
    unsigned n_queued;                 /* at most HTTP_MAX_PENDING */
    exchange *req_cur;                 /* request whose body is being received */
    exchange *resp_cur;                /* response being received */
    exchange *recent[CONN_RECENT_EXCH];
    int n_recent;
    ws_state *ws;
    uint64_t offset[2];
    uint64_t feed_end[2];   /* stream offset just past the bytes being fed */
    double last_data_ts[2]; /* when new bytes last arrived in each direction */
    uint32_t requests;
    bool any_ws;
    int64_t page_refs[CONN_MAX_PAGE_REFS];
    int n_page_refs;
    double now;
    /* rows to refresh at the next tick (conn_mark): CONN_DIRTY_* bits, and the list of such
     * connections (correlator.dirty_head) */
    unsigned dirty;
    struct conn_state *dirty_prev, *dirty_next;
    conn_row_snapshot last_row; /* not zeroed when the connection opens: valid says */
} conn_state;
#define CONN_STATE_ZEROED offsetof(conn_state, last_row)

struct correlator {
    correlator_opts opts;
    ow_record_sink out;
    ow_flow_sink sink;
    correlator_stats stats;
    int64_t next_http_id, next_ws_id, next_page_id, next_bokeh_id;
    page_load *pages_head, *pages_tail;
    size_t n_pages;
    strmap page_by_id;      /* 8-byte id -> page_load */
    strmap page_by_session; /* session id -> latest page_load */
    strmap page_by_url;     /* client|target -> latest page_load */
    strmap page_by_client;  /* client -> latest page_load */
    strmap conn_by_id;      /* 8-byte flow id -> conn_state, while the connection is open */
    double now;
    double last_sweep;
    conn_state *dirty_head; /* open connections with rows to refresh (conn_flush_marked) */
    /* inflaters of all websocket parsers (opts.max_inflaters); they are freed before it */
    ow_inflate_budget inflaters;
};

/* conn.c */
void conn_open(correlator *c, ow_flow *f, double ts);
size_t conn_data(correlator *c, ow_flow *f, int dir, const uint8_t *data, size_t len, double ts);
void conn_gap(correlator *c, ow_flow *f, int dir, uint64_t len, double ts);
void conn_close(correlator *c, ow_flow *f, int how, double ts);
/* The connection's transport health as the verdict rules need it, now. */
void health_brief_from(health_brief *b, const conn_state *cs, int close_how);
/* The open connection with this flow id, or NULL once it closed. */
conn_state *conn_find(correlator *c, int64_t conn_id);
/* Rows of an open connection to refresh at the next tick (conn_flush_marked), not at once:
 * what happens to a connection between two ticks (a websocket's ACK, PULL-DOC-REPLY and first
 * PATCH-DOC, the page evaluations they cause) then costs one row, not one per event. A tick
 * comes after every batch of packets, before the writer's commit: each commit holds the
 * refreshed rows. A connection's close emits its final rows itself. */
enum { CONN_DIRTY_ROW = 1, CONN_DIRTY_WS = 2 };
void conn_mark(correlator *c, conn_state *cs, unsigned what);
void conn_flush_marked(correlator *c);
/* Re-emits an open connection's row (its transport health so far), at the next tick. */
void conn_emit_progress(correlator *c, conn_state *cs);

/* pageload.c */
page_load *page_find(correlator *c, int64_t id);
void page_from_tokens(correlator *c, conn_state *cs, exchange *x);
void page_link_static(correlator *c, conn_state *cs, exchange *x);
void page_update_resource(correlator *c, conn_state *cs, exchange *x);
void page_refresh_conn(correlator *c, conn_state *cs, int close_how);
void page_link_ws(correlator *c, conn_state *cs, ws_state *ws);
void page_update_ws(correlator *c, ws_state *ws, const ow_flow *f);
void pages_tick(correlator *c, double now, bool final);
void page_emit(correlator *c, page_load *p);
void pages_free(correlator *c);
void session_emit(correlator *c, const char *sid, double ts, const page_load *p,
                  const ws_state *ws);

/* verdict.c */
void verdict_decide(correlator *c, page_load *p, bool final);

/* conn_rows.c: the rows of an exchange, a websocket, a connection (see there) */
void conn_emit_http(correlator *c, conn_state *cs, const exchange *x);
void conn_emit_ws(correlator *c, conn_state *cs, ws_state *ws);
void conn_emit_row(correlator *c, conn_state *cs, const char *close);

/* row_text.c: text from the wire into a row's field of cap bytes, control bytes as '?'
 * (src may be dst); a header's value (empty when absent); a URL's credential values replaced
 * in place by REDACTED */
void copy_bounded(char *dst, size_t cap, const char *src, size_t len);
void copy_header(char *dst, size_t cap, const http_head *h, const char *name);
void redact_query(char *target, size_t cap);
#endif
