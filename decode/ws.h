/* ws: RFC 6455 WebSocket frames for a passive observer, one ws_parser per direction.
 * Incremental across any split: the header is parsed once complete, payload bytes are
 * consumed as they arrive (unmasked on the fly) and kept only up to a message cap. Reassembles
 * fragmented messages (control frames may interleave) and, with permessage-deflate (RFC 7692),
 * inflates each message (context takeover kept per direction unless negotiated off), with an
 * inflater taken from a shared budget (decode/inflate.h) when one is given. */
#ifndef OW_WS_H
#define OW_WS_H
#include "decode/inflate.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA
};
#define WS_DEFAULT_MAX_MESSAGE (1u << 20) /* bytes of one message kept for decoding */

typedef struct ws_frame_info {
    int opcode;
    bool fin, rsv1, masked;
    uint64_t len; /* payload length as declared */
} ws_frame_info;

typedef struct ws_callbacks {
    void *ctx;
    void (*on_frame)(void *ctx, const ws_frame_info *f); /* every frame header */
    /* A complete data message (text/binary). data = the first kept bytes (after unmasking and
     * inflating; valid during the call only: it may point into the buffer being fed), total =
     * its full size, truncated when bytes below max_message are missing (total > max_message,
     * lost bytes, data that does not inflate). */
    void (*on_message)(void *ctx, int opcode, const uint8_t *data, size_t kept, uint64_t total,
                       bool compressed, bool truncated);
    /* Control frame with its (unmasked) payload; close code 0 when absent. */
    void (*on_control)(void *ctx, int opcode, const uint8_t *payload, size_t len);
    void (*on_error)(void *ctx, const char *why); /* protocol violation, then resync */
    /* Optional, asked as each data message starts: how many of its first bytes the consumer
     * reads (e.g. 0 for a binary message of which only the size matters). At most that many
     * are kept (never more than max_message); bytes past it are neither copied nor unmasked,
     * though a compressed message is still inflated in full (context takeover) and its size
     * counted. on_message then gets kept <= that limit, the same total, and truncated exactly
     * as without a limit (it says bytes are missing below max_message, not below the limit).
     * NULL: every message keeps up to max_message. */
    size_t (*message_keep)(void *ctx, int opcode);
} ws_callbacks;

typedef struct ws_parser ws_parser; /* opaque: holds the message buffer and the inflater */

/* from_client: frames must be masked. deflate/no_context_takeover from the negotiated
 * Sec-WebSocket-Extensions (see ws_parse_extensions). max_message caps kept bytes.
 * budget (NULL: unbounded) is asked for a slot before the parser creates its inflater (at the
 * first compressed message) and gets it back when the parser is freed; it must outlive the
 * parser. When the budget is spent, a compressed message is not inflated and nothing is
 * allocated for it: it is delivered empty and truncated, on_error says so (like data that does
 * not inflate), and it is counted in stats.inflate_skipped and budget->skipped. The next
 * message asks again, unless context takeover is on: then its later messages depend on the
 * skipped one, and that direction stays uninflated for good (each message counted). */
ws_parser *ws_parser_new(const ws_callbacks *cb, bool from_client, bool deflate,
                         bool no_context_takeover, size_t max_message, ow_inflate_budget *budget);
void ws_parser_free(ws_parser *p);
/* Consumes all it can (always everything once the frame header is complete). */
size_t ws_parser_feed(ws_parser *p, const uint8_t *buf, size_t len);
/* len bytes missing: skipped inside a payload, else the parser resynchronises. On a new parser,
 * ws_parser_gap(p, 0) means "starting mid-stream": it finds a frame start by itself and skips
 * continuation frames of a message begun earlier without reporting them as errors. */
void ws_parser_gap(ws_parser *p, uint64_t len);
/* The direction ended (FIN/RST/end of capture): a data message in progress is delivered,
 * marked truncated (a frame that declared more bytes than ever came, e.g. 2^62). */
void ws_parser_eof(ws_parser *p);
/* Mid-stream pick-up: offset of the first plausible frame header in buf (or len if none). */
size_t ws_find_frame_start(const uint8_t *buf, size_t len, bool from_client);

typedef struct ws_parser_stats {
    uint64_t frames, by_opcode[16], bytes, messages, errors, inflate_errors, truncated_messages;
    uint64_t gap_bytes;       /* bytes reported missing through ws_parser_gap */
    uint64_t resync_bytes;    /* bytes skipped while looking for a frame start after an error */
    uint64_t inflate_skipped; /* compressed messages not inflated: the inflater budget was spent */
} ws_parser_stats;
const ws_parser_stats *ws_parser_get_stats(const ws_parser *p);

/* Close payload: code (0 if none) and reason (points into payload). */
void ws_parse_close(const uint8_t *payload, size_t len, int *code, const uint8_t **reason,
                    size_t *reason_len);
/* Sec-WebSocket-Extensions of the 101: is permessage-deflate on, and with which options. */
void ws_parse_extensions(const char *value, size_t len, bool *deflate,
                         bool *server_no_context_takeover, bool *client_no_context_takeover);
#endif
