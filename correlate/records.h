/* records: what the correlator concludes, as rows, handed to a record sink (the SQLite writer
 * in db/, or a test). Every record has a stable id; a record emitted again with the same id
 * replaces the earlier one (the correlator re-emits as it learns more). Strings are
 * NUL-terminated and owned by the correlator: valid only during the call. Text values are
 * what the wire carried, cut to the field size, secrets redacted unless store_secrets. */
#ifndef OW_RECORDS_H
#define OW_RECORDS_H
#include "capture/capture.h"
#include "correlate/outcome.h"
#include <stdbool.h>
#include <stdint.h>

typedef struct ow_capture_rec {
    int64_t id;
    const char *source;
    bool live;
    const char *filter;
    const char *server_ports;
    const char *end_reason; /* running, eof, signal, error */
    const char *linktypes;
    double grace;
    bool store_secrets;
    const char *counters_json;
    const capture_stats *stats;
} ow_capture_rec;

typedef struct ow_conn_rec {
    int64_t id;          /* == flow id */
    const ow_flow *flow; /* addresses, times, health, gaps */
    const char *close;   /* open, fin, rst, timeout, end */
    const char *kind;    /* http, websocket, tls, other */
    uint64_t bytes[2];
    uint32_t requests;
} ow_conn_rec;

typedef struct ow_http_rec {
    int64_t id, conn_id;
    uint32_t seq;
    const char *kind; /* page, static, websocket, autoload, favicon, other */
    double req_ts;
    const char *method, *target, *host, *user_agent, *referer, *origin;
    uint64_t req_body_bytes;
    double resp_ts, resp_end_ts; /* 0 when none */
    int status;                  /* 0 when no response */
    const char *reason, *content_type, *content_encoding;
    int64_t content_length; /* -1 none */
    uint64_t resp_body_bytes;
    bool complete;
    int last_byte_acked;    /* 1, 0, -1 unknown */
    int64_t page_load_id;   /* 0 none */
    const char *session_id; /* may be NULL */
} ow_http_rec;

typedef struct ow_ws_rec {
    int64_t id, conn_id, http_id, page_load_id;
    const char *session_id;
    double upgrade_ts;
    int status;
    const char *reason, *origin, *path;
    bool subprotocol_ok;
    int64_t token_expiry; /* 0 unknown */
    bool deflate;
    uint64_t frames[2], bytes[2], messages[2];
    const char *msg_counts_json;
    const char *opcode_counts_json; /* {"1": n, "8": n, ...} frames by opcode, both ways */
    double ack_ts, pull_doc_ts;     /* 0 none */
    uint32_t client_patch_docs, pings, pongs;
    int close_code[2]; /* -1 none, 0 close without code */
    const char *close_reason;
    double close_ts, end_ts;
    bool midstream;
    uint32_t errors;
} ow_ws_rec;

typedef struct ow_bokeh_rec {
    int64_t id, ws_id;
    double ts;
    int dir;
    const char *msgtype, *msgid, *reqid;
    uint64_t size;
    uint32_t num_buffers;
} ow_bokeh_rec;

typedef struct ow_evidence {
    int64_t conn_id, http_id; /* 0 when not tied to one */
    const char *text;
} ow_evidence;

typedef struct ow_page_rec {
    int64_t id, http_id, conn_id;
    const char *session_id;
    const ow_addr *client, *server;
    uint16_t client_port, server_port;
    const char *host, *path, *app, *user_agent;
    double started;
    int status;
    uint64_t resp_bytes;
    double ttfb, ttlb; /* -1 unknown */
    int64_t token_expiry;
    uint32_t static_count, static_failed;
    uint64_t static_bytes;
    uint32_t websockets;
    double first_ws_ts; /* 0 none */
    ow_outcome outcome;
    ow_verdict verdict;
    double confidence;
    const char *summary, *advice;
    double decided_ts;
    const ow_evidence *evidence;
    size_t n_evidence;
} ow_page_rec;

typedef struct ow_session_rec {
    const char *session_id;
    double first_ts, last_ts;
    uint32_t page_loads, websockets;
    int64_t token_expiry;
    const char *outcome;
} ow_session_rec;

/* A file of kept packets (--keep-packets; not from the correlator: the pipeline forwards what
 * capture reports). Keyed by file within the capture; re-emitted as it grows and when it is
 * deleted (dropped). */
typedef struct ow_packet_file_rec {
    const char *file; /* absolute path */
    double first_ts, last_ts;
    uint64_t packets;
    bool dropped;
} ow_packet_file_rec;

/* A file a read took (not from the correlator: the pipeline writes one per file at the end of
 * a read). Keyed by its place in reading order within the capture. */
typedef struct ow_capture_file_rec {
    int seq;
    const char *file; /* as in the capture row's source */
    double first_ts, last_ts;
    uint64_t packets;
} ow_capture_file_rec;

typedef struct ow_record_sink {
    void *ctx;
    void (*capture)(void *ctx, const ow_capture_rec *r);
    void (*conn)(void *ctx, const ow_conn_rec *r);
    void (*http)(void *ctx, const ow_http_rec *r);
    void (*ws)(void *ctx, const ow_ws_rec *r);
    void (*bokeh)(void *ctx, const ow_bokeh_rec *r);
    void (*page)(void *ctx, const ow_page_rec *r);
    void (*session)(void *ctx, const ow_session_rec *r);
    void (*packet_file)(void *ctx, const ow_packet_file_rec *r);
    void (*capture_file)(void *ctx, const ow_capture_file_rec *r);
    /* A good moment to commit (the writer decides by its own interval). */
    void (*tick)(void *ctx, double now);
} ow_record_sink;

#endif
