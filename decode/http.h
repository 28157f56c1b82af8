/* http: HTTP/1.0 and 1.1 message parsing, incremental, for a passive observer of both
 * directions of one connection. Zero-copy: heads point into the caller's buffer and are valid
 * only during the callback. No allocation in the head parser; the connection state machine
 * (http_conn) is a fixed-size struct.
 *
 * Two levels:
 *  - http_parse_request_head / http_parse_response_head: picohttpparser-style, parse a head
 *    from the start of a buffer; return its length, HTTP_NEED_MORE or HTTP_ERROR (empty lines
 *    before the start line are skipped and counted in the length).
 *  - http_conn: both directions of one connection: pairs responses with requests (pipelining,
 *    HEAD, 1xx/100-continue, 204/304, CONNECT), frames bodies (Content-Length, chunked with
 *    trailers, until close), reports body bytes only when asked to, and stops at a 101. */
#ifndef OW_HTTP_H
#define OW_HTTP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEADERS    100   /* more headers in one head: the message is an error */
#define HTTP_MAX_HEAD_BYTES 65536 /* a head longer than this: error (no terminator found) */
#define HTTP_MAX_PENDING    64    /* requests awaiting their response (pipelining) */

enum { HTTP_NEED_MORE = -2, HTTP_ERROR = -1 };
enum { HTTP_DIR_REQUEST = 0, HTTP_DIR_RESPONSE = 1 }; /* same values as OW_DIR_C2S / S2C */

typedef struct http_header {
    const char *name;
    size_t name_len;
    const char *value; /* leading/trailing whitespace trimmed; folded lines keep their CRLFs */
    size_t value_len;
} http_header;

typedef struct http_head {
    const char *method, *target; /* requests */
    size_t method_len, target_len;
    int status; /* responses */
    const char *reason;
    size_t reason_len;
    int minor_version; /* 0 or 1 */
    size_t num_headers;
    http_header headers[HTTP_MAX_HEADERS];
    size_t head_len; /* bytes of the head including the blank line */
} http_head;

int http_parse_request_head(const char *buf, size_t len, http_head *h);
int http_parse_response_head(const char *buf, size_t len, http_head *h);
/* Case-insensitive header lookup; the first match or NULL. */
const http_header *http_find_header(const http_head *h, const char *name);
/* Does a comma-separated header value contain this token (case-insensitive)? */
bool http_value_has_token(const char *value, size_t len, const char *token);
/* The message's Content-Length as framing reads it: every Content-Length header and every
 * element of a comma list must give the same number, digits only, at most INT64_MAX. Returns
 * 0 when absent, 1 with *len set, -1 when invalid or conflicting. */
int http_content_length(const http_head *h, uint64_t *len);

/* ---- both directions of one connection ---- */

typedef struct http_request_info { /* what the response side needs to know of its request */
    char method[16];
    bool upgrade_websocket;
    uint32_t index; /* 0-based request number on this connection */
} http_request_info;

typedef struct http_callbacks {
    void *ctx;
    /* A request head. Return true to receive its body through on_body. */
    bool (*on_request)(void *ctx, const http_head *req, const http_request_info *info);
    /* A final response head (status >= 200, or 101), paired with its request (NULL when the
     * response has no request: picked up mid-stream). Interim 1xx responses other than 101
     * go to on_interim. Return true to receive its body through on_body. */
    bool (*on_response)(void *ctx, const http_head *resp, const http_request_info *req);
    void (*on_interim)(void *ctx, const http_head *resp); /* no on_message_end follows */
    void (*on_body)(void *ctx, int dir, const uint8_t *data, size_t len);
    /* End of a message's body. complete=false when cut short (EOF, gap, error inside it).
     * body_bytes is the body length as framed: bytes skipped in a gap are counted. */
    void (*on_message_end)(void *ctx, int dir, uint64_t body_bytes, bool complete);
    /* A 101 response ended: every later byte in both directions belongs to the new protocol. */
    void (*on_upgrade)(void *ctx, const http_request_info *req);
    /* Malformed input in dir: the parser skips to the next plausible message start. */
    void (*on_error)(void *ctx, int dir, const char *why);
    /* dir's first bytes are a TLS record (HTTPS, or anything else encrypted): the connection
     * is not HTTP on the wire; every later byte of both directions is consumed unread. */
    void (*on_tls)(void *ctx, int dir);
} http_callbacks;

typedef struct http_dir_state {
    int state;           /* internal: head, body kinds, chunk states, tunnel, resync */
    uint64_t remaining;  /* body or chunk bytes left */
    uint64_t body_bytes; /* de-chunked body bytes so far in the current message */
    uint64_t scan;       /* internal: head bytes already searched for the blank line, or
                            bytes of the current chunk-size line / trailer section */
    bool want_body;
    bool lost;    /* internal: bytes of the current message were lost in a gap */
    bool started; /* internal: the direction's first bytes were looked at (TLS or not) */
    bool eof;
} http_dir_state;

typedef struct http_conn {
    http_callbacks cb;
    http_dir_state dir[2];
    http_request_info pending[HTTP_MAX_PENDING]; /* ring of requests awaiting responses */
    unsigned pend_head, pend_count;
    uint32_t requests, responses, errors, pending_overflow;
    bool upgraded; /* after a 101: the parser consumes nothing more */
    bool tls;      /* a direction began with a TLS record: every byte is consumed unread */
} http_conn;

/* Whether bytes at the start of a direction begin a TLS record (RFC 8446 5.1: content type
 * 20-23, legacy version 3.x with x <= 4, a length a record can have), which no HTTP/1.x
 * message can: 1 yes, 0 no, -1 too few bytes to tell (fewer than the 5 of a record header,
 * all of them a TLS record's). */
int http_tls_sniff(const uint8_t *buf, size_t len);

void http_conn_init(http_conn *c, const http_callbacks *cb);
/* Feeds bytes of one direction. Returns how many bytes were consumed; the caller keeps the
 * rest and offers them again with more data (the head parser needs the whole head at once).
 * After an upgrade it returns 0; once the connection is TLS, len (see on_tls). */
size_t http_conn_feed(http_conn *c, int dir, const uint8_t *buf, size_t len);
/* The direction ended (FIN/RST/end of capture): ends an until-close body, reports a message
 * cut short. A second eof for the same direction does nothing. */
void http_conn_eof(http_conn *c, int dir);
/* len bytes are missing in dir: skipped inside a body if it lies within it, else the
 * direction resynchronises on the next request line / status line. The caller first drops the
 * bytes of dir it holds unconsumed (they precede the hole). */
void http_conn_gap(http_conn *c, int dir, uint64_t len);
#endif
