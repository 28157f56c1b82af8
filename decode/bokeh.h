/* bokeh: the Bokeh server protocol as seen on the wire (see shared reference bokeh-wire.md):
 * session tokens (base64url JSON carrying the session id and expiry), tokens in page HTML and
 * autoload.js, the token in Sec-WebSocket-Protocol, and Bokeh messages assembled from
 * WebSocket messages (header, metadata, content, then per buffer a text id + binary frame). */
#ifndef OW_BOKEH_H
#define OW_BOKEH_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BOKEH_SESSION_ID_MAX 256 /* longer ids are cut (and flagged) */

typedef struct bokeh_token_info {
    char session_id[BOKEH_SESSION_ID_MAX];
    bool session_id_truncated;
    bool has_expiry;
    int64_t expiry;         /* epoch seconds */
    bool signed_token;      /* had a ".<signature>" part */
    bool has_extra_payload; /* __bk__zlib_ (headers/cookies) present: never stored */
} bokeh_token_info;

/* Decodes a token (B64U JSON[.sig]). Returns 0, or -1 when it is not a Bokeh token. Only the
 * session id and expiry are read; the compressed headers/cookies are not decoded. */
int bokeh_token_decode(const char *tok, size_t len, bokeh_token_info *out);

/* Finds tokens in page HTML or autoload.js: every `"token":"<T>"` (3.x) and also legacy
 * `"sessionid":"<id>"` (<=1.4, plaintext id: reported with is_token=false).
 * Fills up to max entries; returns how many were found (may exceed max: count them all). */
typedef struct bokeh_found {
    const char *start; /* points into buf */
    size_t len;
    bool is_token;
} bokeh_found;
size_t bokeh_find_tokens(const char *buf, size_t len, bokeh_found *out, size_t max);

/* Sec-WebSocket-Protocol value "bokeh, <token>": returns 0 and the token, -1 otherwise
 * (wrong count of items, first item not bokeh). */
int bokeh_parse_subprotocol(const char *value, size_t len, const char **tok, size_t *tok_len);
/* Legacy websocket query "bokeh-session-id=<id>" in a request target: 0 and the id, or -1. */
int bokeh_query_session_id(const char *target, size_t len, const char **id, size_t *id_len);

/* ---- messages ---- */
typedef struct bokeh_msg {
    char msgtype[32]; /* e.g. ACK, PULL-DOC-REQ, PULL-DOC-REPLY, PATCH-DOC, OK, ERROR */
    char msgid[64];
    char reqid[64]; /* empty when absent */
    uint32_t num_buffers;
    uint64_t size; /* bytes of all its websocket messages (header+metadata+content+buffers) */
    uint64_t content_size;
} bokeh_msg;

typedef struct bokeh_stream {
    int state; /* internal: expecting header/metadata/content/buffer id/buffer */
    bokeh_msg cur;
    uint32_t buffers_left;
    uint64_t messages, errors;
} bokeh_stream;

void bokeh_stream_init(bokeh_stream *s);
/* How many first bytes of the next WebSocket message bokeh_stream_feed reads (SIZE_MAX: all):
 * none of a binary message (only its size counts), all of a text. Feeding only those, with the
 * real total, gives the same results as feeding more. */
static inline size_t bokeh_stream_keep(const bokeh_stream *s, bool binary)
{
    (void)s; /* binary parts are never read, in any state; a text may be read whole */
    return binary ? 0 : SIZE_MAX;
}
/* Feeds one complete websocket data message (possibly only its first kept bytes; total is
 * its full size). Returns 1 when a Bokeh message completed (copied to *out unless out is NULL;
 * it is s->cur either way, until the next feed), 0 when more parts are expected, -1 on a
 * protocol error (the stream resynchronises on the next message that looks like a header). */
int bokeh_stream_feed(bokeh_stream *s, bool binary, const uint8_t *data, size_t kept,
                      uint64_t total, bokeh_msg *out);
#endif
