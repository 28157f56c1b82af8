/* ws: RFC 6455 WebSocket frame parser for a passive observer, one parser per direction.
 * Frame headers are read in place when whole in the input, else collected byte by byte (any
 * split works); payloads are unmasked on the fly and never buffered beyond max_message (nor
 * beyond what the consumer says it reads of a message); an unmasked, uncompressed message
 * that arrives whole in one input buffer is handed over from that buffer without a copy. The
 * common frames (a whole unfragmented text or binary message, unmasked from the server or
 * masked from the client, between messages) are taken in one go, the frame bookkeeping done at
 * once; anything else goes the general way, frame header, payload and message end one by one.
 * Fragmented messages are reassembled around interleaved control frames, and
 * permessage-deflate (RFC 7692) messages are inflated with one raw inflater per direction,
 * taken from the inflater budget if there is one (see ws_parser_new). After a framing error
 * the parser looks for a plausible frame header and carries on from there. */
#include "decode/ws.h"
#include <stdlib.h>
#include <string.h>

#define WS_MAX_CONTROL       125          /* RFC 6455 5.5: control payloads are at most 125 bytes */
#define WS_MAX_HEADER        14           /* 2 + 8 (64-bit length) + 4 (mask key) */
#define WS_UNMASK_CHUNK      4096         /* payload bytes unmasked per step, on the stack */
#define WS_RESYNC_WINDOW     1024         /* bytes examined at once while looking for a frame */
#define WS_RESYNC_MAX_LEN    (1ull << 26) /* a longer frame is not believed after a resync */
#define WS_RESYNC_CHAIN      3            /* following headers checked when a frame ends in view */
#define WS_INFLATE_SLICE     16           /* compressed bytes inflated per step */
#define WS_DEFLATE_MAX_RATIO 1032         /* most bytes deflate can make of one input byte */
#define WS_INFLATE_HELD      16384        /* more than zlib can make from bits it already holds */
#define WS_MSG_MIN_ALLOC     4096
#define WS_MSG_KEEP_ALLOC    65536 /* a message buffer larger than this is freed after use */

static const uint8_t deflate_tail[4] = {0x00, 0x00, 0xff, 0xff}; /* RFC 7692 7.2.2 */

enum { ST_HEADER, ST_PAYLOAD, ST_RESYNC };
enum { CAND_NO, CAND_YES, CAND_NEED_MORE };

struct ws_parser {
    ws_callbacks cb;
    bool from_client, deflate, no_context_takeover;
    size_t max_message;
    int state;
    uint8_t hdr[WS_MAX_HEADER];
    size_t hdr_len;
    /* the frame whose payload is being read */
    ws_frame_info f;
    uint8_t mask[4];
    uint64_t payload_pos, remaining;
    bool skip_frame; /* payload of a data frame that belongs to no message */
    bool frame_gap;  /* bytes of this frame were lost: keep nothing more of it */
    uint8_t ctl[WS_MAX_CONTROL];
    size_t ctl_len;
    /* the data message being assembled */
    bool in_message;
    bool lost_sync; /* a gap or resync happened: a continuation without a start is expected */
    int msg_opcode;
    bool msg_compressed, msg_gap, msg_inflate_failed, msg_stream_ended;
    uint8_t *msg;
    size_t msg_cap, msg_kept;
    size_t msg_limit; /* bytes of this message kept: max_message or less (message_keep) */
    size_t msg_held;  /* uncompressed: what a max_message buffer would hold (msg_kept and the
                         bytes past msg_limit), for the truncated flag */
    const uint8_t *msg_direct; /* a whole message in the input: delivered from there */
    uint64_t msg_wire, msg_dropped;
    ow_inflater *inflater;
    ow_inflate_budget *budget; /* NULL: unbounded */
    bool inflate_denied;       /* refused with context takeover: no inflater for good */
    /* resynchronisation: bytes not yet ruled out as the start of a frame */
    uint8_t rs[WS_RESYNC_WINDOW];
    size_t rs_len;
    ws_parser_stats stats;
};

/* ---- frame headers ---- */

static size_t header_size(const uint8_t *h)
{
    size_t n = 2;
    unsigned len7 = h[1] & 0x7f;
    if (len7 == 126)
        n += 2;
    else if (len7 == 127)
        n += 8;
    if (h[1] & 0x80)
        n += 4;
    return n;
}

static void decode_header(const uint8_t *h, ws_frame_info *f, uint8_t mask[4])
{
    f->fin = h[0] & 0x80;
    f->rsv1 = h[0] & 0x40;
    f->opcode = h[0] & 0x0f;
    f->masked = h[1] & 0x80;
    unsigned len7 = h[1] & 0x7f;
    size_t at = 2;
    if (len7 < 126) {
        f->len = len7;
    } else {
        size_t n = len7 == 126 ? 2 : 8;
        f->len = 0;
        for (size_t i = 0; i < n; i++)
            f->len = (f->len << 8) | h[at + i];
        at += n;
    }
    if (f->masked)
        memcpy(mask, h + at, 4);
    else
        memset(mask, 0, 4);
}

static bool is_control(int opcode)
{
    return opcode >= 0x8;
}

static bool is_known_opcode(int opcode)
{
    return opcode <= WS_OP_BINARY || (opcode >= WS_OP_CLOSE && opcode <= WS_OP_PONG);
}

/* The RFC 6455 rules that the first two bytes of a header can break; NULL when they hold. */
static const char *prefix_violation(uint8_t b0, uint8_t b1, bool from_client, bool deflate)
{
    int opcode = b0 & 0x0f;
    bool fin = b0 & 0x80, rsv1 = b0 & 0x40, masked = b1 & 0x80;
    if (b0 & 0x30)
        return "reserved bits RSV2/RSV3 set";
    if (!is_known_opcode(opcode))
        return "reserved opcode";
    if (masked != from_client)
        return from_client ? "client frame not masked" : "server frame masked";
    if (is_control(opcode)) {
        if (!fin)
            return "fragmented control frame";
        if ((b1 & 0x7f) > WS_MAX_CONTROL)
            return "control frame longer than 125 bytes";
        if (rsv1)
            return "RSV1 set on a control frame";
    }
    if (rsv1 && !deflate)
        return "RSV1 set without permessage-deflate";
    if (rsv1 && opcode == WS_OP_CONT)
        return "RSV1 set on a continuation frame";
    return NULL;
}

/* All the rules a complete header can break; NULL when it is valid. */
static const char *header_violation(const uint8_t *h, bool from_client, bool deflate)
{
    const char *why = prefix_violation(h[0], h[1], from_client, deflate);
    if (!why && (h[1] & 0x7f) == 127 && (h[2] & 0x80))
        why = "64-bit length with the top bit set";
    return why;
}

/* Is there a believable frame header at buf[at]? Stricter than the parser: the length must be
 * minimally encoded and not absurd, and if the frame ends inside buf, what follows must look
 * like a frame header too (up to depth levels). */
static int candidate_at(const uint8_t *buf, size_t len, size_t at, bool from_client, bool rsv1_ok,
                        int depth)
{
    if (at == len)
        return CAND_NEED_MORE;
    size_t avail = len - at;
    const uint8_t *h = buf + at;
    if (prefix_violation(h[0], avail > 1 ? h[1] : (from_client ? 0x80 : 0), from_client, rsv1_ok))
        return CAND_NO;
    if (avail < 2)
        return CAND_NEED_MORE;
    size_t hsize = header_size(h);
    if (avail < hsize)
        return CAND_NEED_MORE;
    ws_frame_info f;
    uint8_t mask[4];
    decode_header(h, &f, mask);
    if (header_violation(h, from_client, rsv1_ok))
        return CAND_NO;
    unsigned len7 = h[1] & 0x7f;
    if ((len7 == 126 && f.len < 126) || (len7 == 127 && f.len < 65536))
        return CAND_NO;
    if (f.len > WS_RESYNC_MAX_LEN)
        return CAND_NO;
    if (f.opcode == WS_OP_CONT && f.len == 0)
        return CAND_NO; /* legal but rare, while runs of zero bytes are common */
    if (depth <= 0 || f.len > avail - hsize)
        return CAND_YES;
    int next = candidate_at(buf, len, at + hsize + (size_t)f.len, from_client, rsv1_ok, depth - 1);
    return next == CAND_NO ? CAND_NO : CAND_YES;
}

size_t ws_find_frame_start(const uint8_t *buf, size_t len, bool from_client)
{
    if (!buf)
        return len;
    for (size_t i = 0; i < len; i++)
        if (candidate_at(buf, len, i, from_client, true, WS_RESYNC_CHAIN) == CAND_YES)
            return i;
    return len;
}

/* ---- message buffer ---- */

/* Room for want bytes of the message (at most its limit). */
static bool grow_to(ws_parser *p, size_t want)
{
    size_t limit = p->msg_limit;
    if (want > limit)
        want = limit;
    if (want <= p->msg_cap)
        return true;
    size_t cap = p->msg_cap ? p->msg_cap : WS_MSG_MIN_ALLOC;
    if (cap > limit)
        cap = limit;
    while (cap < want)
        cap = cap > limit / 2 ? limit : cap * 2;
    uint8_t *m = realloc(p->msg, cap);
    if (!m)
        return false;
    p->msg = m;
    p->msg_cap = cap;
    return true;
}

/* dst = src XOR the mask, starting at payload position pos; eight bytes at a time. */
static void unmask(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t mask[4], uint64_t pos)
{
    unsigned r = (unsigned)(pos & 3);
    uint8_t m[8] = {mask[r], mask[(r + 1) & 3], mask[(r + 2) & 3], mask[(r + 3) & 3]};
    memcpy(m + 4, m, 4);
    uint64_t m8, w;
    memcpy(&m8, m, sizeof m8);
    size_t i = 0;
    for (; n - i >= sizeof w; i += sizeof w) {
        memcpy(&w, src + i, sizeof w);
        w ^= m8;
        memcpy(dst + i, &w, sizeof w);
    }
    for (; i < n; i++)
        dst[i] = src[i] ^ m[i & 7];
}

/* n payload bytes at payload position pos into dst, unmasked when the frame is masked. */
static void copy_payload(const ws_parser *p, uint8_t *dst, const uint8_t *src, size_t n,
                         uint64_t pos)
{
    if (p->f.masked)
        unmask(dst, src, n, p->mask, pos);
    else
        memcpy(dst, src, n);
}

/* Payload bytes of an uncompressed message, the first at payload position pos (still masked
 * if the frame is): those under the message's limit are kept, the others only counted (as far
 * as max_message, for the truncated flag). */
static void append_plain(ws_parser *p, const uint8_t *data, size_t n, uint64_t pos)
{
    p->msg_wire += n;
    if (p->msg_gap)
        return;
    size_t room = p->max_message - p->msg_held;
    size_t take = n < room ? n : room;
    if (take && p->msg_held < p->msg_limit) { /* msg_held == msg_kept below the limit */
        size_t copy = p->msg_limit - p->msg_held;
        copy = take < copy ? take : copy;
        if (!grow_to(p, p->msg_kept + copy) || copy > p->msg_cap - p->msg_kept)
            return; /* out of memory: these bytes are missing (truncated) */
        copy_payload(p, p->msg + p->msg_kept, data, copy, pos);
        p->msg_kept += copy;
    }
    p->msg_held += take;
}

static void inflate_failed(ws_parser *p)
{
    p->msg_inflate_failed = true;
    p->stats.inflate_errors++;
    if (p->cb.on_error)
        p->cb.on_error(p->cb.ctx, "permessage-deflate data does not inflate");
}

/* The inflater's room for output: the buffer, as far as the message's limit (past it, the
 * output is only counted). */
static size_t inflate_room(const ws_parser *p)
{
    return p->msg_cap < p->msg_limit ? p->msg_cap : p->msg_limit;
}

/* Inflates in slices so that the buffer can grow ahead of the output: one slice makes at most
 * WS_INFLATE_SLICE * WS_DEFLATE_MAX_RATIO bytes (plus what zlib's bit buffer still holds), so
 * nothing under the limit is dropped, whatever the split of the input. */
static void append_compressed(ws_parser *p, const uint8_t *data, size_t n)
{
    p->msg_wire += n;
    if (p->msg_gap || p->msg_inflate_failed || p->msg_stream_ended)
        return;
    while (n > 0) {
        size_t s = n < WS_INFLATE_SLICE ? n : WS_INFLATE_SLICE;
        size_t want = p->msg_kept + s * WS_DEFLATE_MAX_RATIO + WS_INFLATE_HELD;
        if (!grow_to(p, want) && p->msg_cap < p->msg_limit) {
            inflate_failed(p); /* out of memory: say so rather than lose data silently */
            return;
        }
        int rc = ow_inflater_feed(p->inflater, data, s, p->msg, inflate_room(p), &p->msg_kept,
                                  &p->msg_dropped);
        if (rc < 0) {
            inflate_failed(p);
            return;
        }
        if (rc == 1) {
            p->msg_stream_ended = true; /* BFINAL: the rest of the message is ignored */
            return;
        }
        data += s;
        n -= s;
    }
}

/* The inflater comes with a slot of the budget. Refused, the message is not inflated (nothing
 * is allocated for it) and goes the way of data that does not inflate, counted apart. */
static void open_inflater(ws_parser *p)
{
    if (!p->inflate_denied && ow_inflate_budget_take(p->budget)) {
        p->inflater = ow_inflater_new(OW_INFLATE_RAW);
        if (!p->inflater) {
            ow_inflate_budget_give(p->budget);
            inflate_failed(p);
        }
        return;
    }
    p->inflate_denied = !p->no_context_takeover; /* later messages refer to this one */
    p->msg_inflate_failed = true;
    p->stats.inflate_skipped++;
    if (p->budget) /* always: only a budget refuses */
        p->budget->skipped++;
    if (p->cb.on_error)
        p->cb.on_error(p->cb.ctx,
                       "permessage-deflate message not inflated: inflater limit reached");
}

/* How many bytes of the message starting now are kept: max_message, or less if the consumer
 * reads less. */
static size_t message_limit(const ws_parser *p, int opcode)
{
    if (!p->cb.message_keep)
        return p->max_message;
    size_t want = p->cb.message_keep(p->cb.ctx, opcode);
    return want < p->max_message ? want : p->max_message;
}

static void start_message(ws_parser *p, const ws_frame_info *f)
{
    p->in_message = true;
    p->lost_sync = false;
    p->msg_opcode = f->opcode;
    p->msg_compressed = f->rsv1;
    p->msg_gap = p->msg_inflate_failed = p->msg_stream_ended = false;
    p->msg_kept = p->msg_held = 0;
    p->msg_direct = NULL;
    p->msg_wire = p->msg_dropped = 0;
    p->msg_limit = message_limit(p, f->opcode);
    if (p->msg_compressed && !p->inflater)
        open_inflater(p);
}

/* The inflater's end of a compressed message; returns its size after inflating. Sets *held to
 * what a buffer of max_message would have kept of it: the message's own buffer, or, when that
 * filled up to the limit, what max_message admits. */
static uint64_t finish_compressed(ws_parser *p, uint64_t *held)
{
    if (!p->msg_gap && !p->msg_inflate_failed && !p->msg_stream_ended) {
        grow_to(p, p->msg_kept + sizeof deflate_tail * WS_DEFLATE_MAX_RATIO + WS_INFLATE_HELD);
        int rc = ow_inflater_feed(p->inflater, deflate_tail, sizeof deflate_tail, p->msg,
                                  inflate_room(p), &p->msg_kept, &p->msg_dropped);
        if (rc < 0)
            inflate_failed(p);
        else if (rc == 1)
            p->msg_stream_ended = true;
    }
    uint64_t total = p->msg_kept + p->msg_dropped;
    *held = p->msg_kept;
    if (p->msg_kept >= p->msg_limit)
        *held = total < p->max_message ? total : p->max_message;
    if (p->inflater &&
        (p->no_context_takeover || p->msg_gap || p->msg_inflate_failed || p->msg_stream_ended))
        ow_inflater_reset(p->inflater);
    return total;
}

static void finish_message(ws_parser *p)
{
    p->in_message = false;
    uint64_t total = p->msg_wire, held = p->msg_held;
    if (p->msg_compressed)
        total = finish_compressed(p, &held);
    bool truncated = total > held || p->msg_gap || p->msg_inflate_failed;
    p->stats.messages++;
    if (truncated)
        p->stats.truncated_messages++;
    const uint8_t *data = p->msg_direct ? p->msg_direct : p->msg ? p->msg : (const uint8_t *)"";
    p->msg_direct = NULL;
    if (p->cb.on_message)
        p->cb.on_message(p->cb.ctx, p->msg_opcode, data, p->msg_kept, total, p->msg_compressed,
                         truncated);
    if (p->msg_cap > WS_MSG_KEEP_ALLOC) {
        free(p->msg);
        p->msg = NULL;
        p->msg_cap = 0;
    }
}

/* Framing or bytes were lost inside a message: deliver what was kept, marked truncated. */
static void abandon_message(ws_parser *p)
{
    if (!p->in_message)
        return;
    p->msg_gap = true;
    finish_message(p);
}

/* ---- frames ---- */

static void report_error(ws_parser *p, const char *why)
{
    p->stats.errors++;
    if (p->cb.on_error)
        p->cb.on_error(p->cb.ctx, why);
}

/* Framing is lost: end the message in progress and look for the next frame header. */
static void lose_sync(ws_parser *p)
{
    abandon_message(p);
    p->lost_sync = true;
    p->state = ST_RESYNC;
    p->hdr_len = 0;
}

static void finish_frame(ws_parser *p)
{
    p->state = ST_HEADER;
    if (is_control(p->f.opcode)) {
        if (p->cb.on_control)
            p->cb.on_control(p->cb.ctx, p->f.opcode, p->ctl, p->ctl_len);
        return;
    }
    if (!p->skip_frame && p->in_message && p->f.fin)
        finish_message(p);
}

/* A valid header arrived: check it against the message sequence and set up its payload. */
static void begin_frame(ws_parser *p)
{
    const ws_frame_info *f = &p->f;
    p->stats.frames++;
    p->stats.by_opcode[f->opcode & 0x0f]++;
    if (p->cb.on_frame)
        p->cb.on_frame(p->cb.ctx, f);
    p->payload_pos = 0;
    p->remaining = f->len;
    p->skip_frame = p->frame_gap = false;
    p->ctl_len = 0;
    if (f->opcode == WS_OP_TEXT || f->opcode == WS_OP_BINARY) {
        if (p->in_message) {
            report_error(p, "new data frame inside a fragmented message");
            abandon_message(p);
        }
        start_message(p, f);
    } else if (f->opcode == WS_OP_CONT && !p->in_message) {
        if (!p->lost_sync)
            report_error(p, "continuation frame without a message");
        p->skip_frame = true;
    }
    p->state = ST_PAYLOAD;
    if (p->remaining == 0)
        finish_frame(p);
}

/* Header bytes that turned out invalid go back to be searched for a frame start. */
static void header_error(ws_parser *p, const char *why)
{
    report_error(p, why);
    p->stats.resync_bytes++; /* the first byte; the others are searched again */
    size_t n = p->hdr_len - 1;
    uint8_t back[WS_MAX_HEADER];
    memcpy(back, p->hdr + 1, n);
    lose_sync(p);
    memcpy(p->rs, back, n);
    p->rs_len = n;
}

/* A valid header whole at the start of buf (nothing collected yet): read in place. Returns its
 * size, or 0 to go the byte-by-byte way (cut header, or an invalid one: that way reports it). */
static size_t header_in_place(ws_parser *p, const uint8_t *buf, size_t len)
{
    if (p->hdr_len != 0 || len < 2)
        return 0;
    size_t n = header_size(buf);
    if (len < n || header_violation(buf, p->from_client, p->deflate))
        return 0;
    decode_header(buf, &p->f, p->mask);
    begin_frame(p);
    return n;
}

static size_t take_header(ws_parser *p, const uint8_t *buf, size_t len)
{
    size_t used = header_in_place(p, buf, len);
    if (used)
        return used;
    for (;;) {
        size_t need = p->hdr_len < 2 ? 2 : header_size(p->hdr);
        if (p->hdr_len >= need || used == len)
            break;
        size_t n = need - p->hdr_len < len - used ? need - p->hdr_len : len - used;
        memcpy(p->hdr + p->hdr_len, buf + used, n);
        p->hdr_len += n;
        used += n;
    }
    if (p->hdr_len < 2)
        return used;
    const char *why = prefix_violation(p->hdr[0], p->hdr[1], p->from_client, p->deflate);
    if (!why && p->hdr_len < header_size(p->hdr))
        return used;
    if (!why)
        why = header_violation(p->hdr, p->from_client, p->deflate);
    if (why) {
        header_error(p, why);
        return used;
    }
    decode_header(p->hdr, &p->f, p->mask);
    p->hdr_len = 0;
    begin_frame(p);
    return used;
}

static void control_data(ws_parser *p, const uint8_t *data, size_t n)
{
    if (p->frame_gap)
        return;
    size_t room = WS_MAX_CONTROL - p->ctl_len;
    size_t take = n < room ? n : room;
    copy_payload(p, p->ctl + p->ctl_len, data, take, p->payload_pos);
    p->ctl_len += take;
}

/* Compressed payload goes to the inflater unmasked, a stack chunk at a time. */
static void compressed_data(ws_parser *p, const uint8_t *data, size_t n)
{
    uint8_t chunk[WS_UNMASK_CHUNK];
    for (size_t done = 0; done < n;) {
        size_t k = n - done < sizeof chunk ? n - done : sizeof chunk;
        const uint8_t *src = data + done;
        if (p->f.masked) {
            unmask(chunk, src, k, p->mask, p->payload_pos + done);
            src = chunk;
        }
        append_compressed(p, src, k);
        done += k;
    }
}

/* Is the payload at hand (n bytes) a whole message by itself, readable where it is: the one
 * frame of an uncompressed message, unmasked, not begun yet, nothing of it lost (even a gap of
 * 0 bytes marks it)? */
static bool whole_message_here(const ws_parser *p, size_t n)
{
    return p->f.fin && !p->f.masked && !p->msg_compressed && p->payload_pos == 0 &&
           p->msg_wire == 0 && !p->msg_gap && n == p->remaining && p->f.opcode != WS_OP_CONT;
}

/* Such a message is delivered from the input itself (as much of it as would be kept). */
static void direct_message(ws_parser *p, const uint8_t *data, size_t n)
{
    p->msg_wire = n;
    p->msg_held = n < p->max_message ? n : p->max_message;
    p->msg_kept = n < p->msg_limit ? n : p->msg_limit;
    p->msg_direct = data;
}

static void frame_data(ws_parser *p, const uint8_t *data, size_t n)
{
    if (is_control(p->f.opcode))
        control_data(p, data, n);
    else if (p->skip_frame || !p->in_message)
        return;
    else if (whole_message_here(p, n))
        direct_message(p, data, n);
    else if (p->msg_compressed)
        compressed_data(p, data, n);
    else
        append_plain(p, data, n, p->payload_pos);
}

/* The size of a simple frame's header at buf and its payload length: an unfragmented text or
 * binary message in one unmasked frame without RSV bits (valid from the server, uncompressed),
 * the header whole in buf and minimally valid (a 64-bit length without the top bit). 0 when
 * buf does not start with one (the general way then reads or reports it). */
static inline size_t simple_header(const uint8_t *buf, size_t len, uint64_t *flen)
{
    if (len < 2 || (buf[0] != (0x80 | WS_OP_TEXT) && buf[0] != (0x80 | WS_OP_BINARY)))
        return 0; /* FIN, no RSV bits, a data opcode */
    unsigned b1 = buf[1];
    if (b1 < 126) { /* and so not masked */
        *flen = b1;
        return 2;
    }
    if (b1 == 126) {
        if (len < 4)
            return 0;
        *flen = (uint64_t)buf[2] << 8 | buf[3];
        return 4;
    }
    if (b1 != 127 || len < 10 || (buf[2] & 0x80))
        return 0;
    uint64_t v = 0;
    for (int i = 2; i < 10; i++)
        v = v << 8 | buf[i];
    *flen = v;
    return 10;
}

/* The common case in one go: such a frame (simple_header), not empty, with its whole payload
 * in buf, while the parser is between messages with nothing of a header collected and no
 * on_frame callback. Does what begin_frame, direct_message and finish_frame do for it (the
 * same callbacks with the same arguments, the same stats and the same state after), without
 * their general checks. Returns the bytes used, or 0 when this is not the case. */
static inline size_t take_simple_frame(ws_parser *p, const uint8_t *buf, size_t len)
{
    uint64_t flen;
    if (p->hdr_len != 0 || p->in_message || p->from_client || p->cb.on_frame)
        return 0;
    size_t hsize = simple_header(buf, len, &flen);
    if (!hsize || flen == 0 || flen > len - hsize)
        return 0;
    int opcode = buf[0] & 0x0f;
    size_t n = (size_t)flen;
    p->f = (ws_frame_info){.opcode = opcode, .fin = true, .len = flen};
    memset(p->mask, 0, sizeof p->mask);
    p->stats.frames++;
    p->stats.by_opcode[opcode]++;
    p->payload_pos = flen;
    p->remaining = 0;
    p->skip_frame = p->frame_gap = false;
    p->ctl_len = 0;
    p->lost_sync = false;
    p->msg_opcode = opcode;
    p->msg_compressed = p->msg_gap = p->msg_inflate_failed = p->msg_stream_ended = false;
    p->msg_dropped = 0;
    p->msg_direct = NULL;
    p->state = ST_HEADER;
    size_t limit = message_limit(p, opcode);
    size_t held = n < p->max_message ? n : p->max_message;
    size_t kept = n < limit ? n : limit;
    p->msg_limit = limit;
    p->msg_wire = n;
    p->msg_held = held;
    p->msg_kept = kept;
    bool truncated = n > held;
    p->stats.messages++;
    p->stats.truncated_messages += truncated;
    if (p->cb.on_message)
        p->cb.on_message(p->cb.ctx, opcode, buf + hsize, kept, n, false, truncated);
    if (p->msg_cap > WS_MSG_KEEP_ALLOC) {
        free(p->msg);
        p->msg = NULL;
        p->msg_cap = 0;
    }
    return hsize + n;
}

/* The client's common case in one go: an unfragmented text or binary message in one masked
 * frame without RSV bits, not empty, whole in buf, while the parser is between messages with
 * nothing of a header collected and no on_frame callback. Its payload is unmasked into the
 * message buffer by append_plain and the message delivered by finish_message, as the general
 * way does; only the frame bookkeeping between them is done here at once. Returns the bytes
 * used, or 0 when this is not the case. */
static inline size_t take_masked_frame(ws_parser *p, const uint8_t *buf, size_t len)
{
    if (p->hdr_len != 0 || p->in_message || !p->from_client || p->cb.on_frame || len < 6 ||
        (buf[0] != (0x80 | WS_OP_TEXT) && buf[0] != (0x80 | WS_OP_BINARY)) || !(buf[1] & 0x80))
        return 0;
    unsigned len7 = buf[1] & 0x7f;
    size_t hsize;
    uint64_t flen;
    if (len7 < 126) {
        hsize = 6;
        flen = len7;
    } else if (len7 == 126) {
        if (len < 8)
            return 0;
        hsize = 8;
        flen = (uint64_t)buf[2] << 8 | buf[3];
    } else {
        if (len < 14 || (buf[2] & 0x80))
            return 0; /* (a cut header, or one the general way reports) */
        hsize = 14;
        flen = 0;
        for (int i = 2; i < 10; i++)
            flen = flen << 8 | buf[i];
    }
    if (flen == 0 || flen > len - hsize)
        return 0;
    int opcode = buf[0] & 0x0f;
    p->f = (ws_frame_info){.opcode = opcode, .fin = true, .masked = true, .len = flen};
    memcpy(p->mask, buf + hsize - 4, sizeof p->mask);
    p->stats.frames++;
    p->stats.by_opcode[opcode]++;
    p->payload_pos = 0;
    p->remaining = flen;
    p->skip_frame = p->frame_gap = false;
    p->ctl_len = 0;
    start_message(p, &p->f);
    append_plain(p, buf + hsize, (size_t)flen, 0);
    p->payload_pos = flen;
    p->remaining = 0;
    p->state = ST_HEADER;
    finish_message(p);
    return hsize + (size_t)flen;
}

/* At a frame boundary: a simple frame in one go, else the header, byte by byte if need be. */
static size_t take_frame_start(ws_parser *p, const uint8_t *buf, size_t len)
{
    size_t n = p->from_client ? take_masked_frame(p, buf, len) : take_simple_frame(p, buf, len);
    return n ? n : take_header(p, buf, len);
}

static size_t take_payload(ws_parser *p, const uint8_t *buf, size_t len)
{
    size_t take = p->remaining < len ? (size_t)p->remaining : len;
    frame_data(p, buf, take);
    p->payload_pos += take;
    p->remaining -= take;
    if (p->remaining == 0)
        finish_frame(p);
    return take;
}

/* ---- resynchronisation ---- */

/* Runs the header/payload machine over bytes until they are used up or framing is lost
 * again; returns how many were used. */
static size_t replay(ws_parser *p, const uint8_t *buf, size_t len)
{
    size_t off = 0;
    while (off < len && p->state != ST_RESYNC)
        off += p->state == ST_HEADER ? take_header(p, buf + off, len - off)
                                     : take_payload(p, buf + off, len - off);
    return off;
}

/* Adds input to the window, finds the first believable frame header in it and resumes
 * parsing there. Bytes ruled out are counted; a possible header cut by the end is kept. */
static size_t take_resync(ws_parser *p, const uint8_t *buf, size_t len)
{
    size_t take = WS_RESYNC_WINDOW - p->rs_len;
    take = len < take ? len : take;
    memcpy(p->rs + p->rs_len, buf, take);
    p->rs_len += take;
    while (p->state == ST_RESYNC) {
        size_t at = 0;
        int c = CAND_NO;
        for (; at < p->rs_len; at++) {
            c = candidate_at(p->rs, p->rs_len, at, p->from_client, p->deflate, WS_RESYNC_CHAIN);
            if (c != CAND_NO)
                break;
        }
        p->stats.resync_bytes += at;
        if (c != CAND_YES) { /* nothing, or a header cut by the end: keep that part */
            memmove(p->rs, p->rs + at, p->rs_len - at);
            p->rs_len -= at;
            return take;
        }
        uint8_t tmp[WS_RESYNC_WINDOW];
        size_t n = p->rs_len - at;
        memcpy(tmp, p->rs + at, n);
        p->rs_len = 0;
        p->state = ST_HEADER;
        p->hdr_len = 0;
        size_t used = replay(p, tmp, n);
        if (used < n) { /* lost again: what is left joins what header_error put back */
            memcpy(p->rs + p->rs_len, tmp + used, n - used);
            p->rs_len += n - used;
        }
    }
    return take;
}

/* ---- public ---- */

ws_parser *ws_parser_new(const ws_callbacks *cb, bool from_client, bool deflate,
                         bool no_context_takeover, size_t max_message, ow_inflate_budget *budget)
{
    ws_parser *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    if (cb)
        p->cb = *cb;
    p->from_client = from_client;
    p->deflate = deflate;
    p->no_context_takeover = no_context_takeover;
    p->max_message = max_message ? max_message : WS_DEFAULT_MAX_MESSAGE;
    p->budget = budget;
    p->state = ST_HEADER;
    return p;
}

void ws_parser_free(ws_parser *p)
{
    if (!p)
        return;
    if (p->inflater) {
        ow_inflater_free(p->inflater);
        ow_inflate_budget_give(p->budget);
    }
    free(p->msg);
    free(p);
}

size_t ws_parser_feed(ws_parser *p, const uint8_t *buf, size_t len)
{
    if (!p || !buf)
        return 0;
    p->stats.bytes += len;
    size_t off = 0;
    while (off < len) {
        if (p->state == ST_HEADER)
            off += take_frame_start(p, buf + off, len - off);
        else if (p->state == ST_PAYLOAD)
            off += take_payload(p, buf + off, len - off);
        else
            off += take_resync(p, buf + off, len - off);
    }
    return len;
}

/* Inside a payload the lost bytes are skipped (the message is marked truncated; a control
 * frame is reported with the bytes before the gap); anywhere else, or when the gap runs past
 * the frame, framing is lost: the message so far is delivered truncated and the parser
 * resynchronises. */
void ws_parser_gap(ws_parser *p, uint64_t len)
{
    if (!p)
        return;
    p->stats.gap_bytes += len;
    if (p->state == ST_PAYLOAD && len <= p->remaining) {
        p->frame_gap = true;
        if (!is_control(p->f.opcode) && !p->skip_frame && p->in_message) {
            p->msg_gap = true;
            p->msg_wire += len;
        }
        p->payload_pos += len;
        p->remaining -= len;
        if (p->remaining == 0)
            finish_frame(p);
        return;
    }
    if (p->state == ST_PAYLOAD && !is_control(p->f.opcode) && !p->skip_frame && p->in_message)
        p->msg_wire += p->remaining; /* the rest of this frame is in the gap */
    p->rs_len = 0;
    lose_sync(p);
}

void ws_parser_eof(ws_parser *p)
{
    if (p)
        abandon_message(p);
}

const ws_parser_stats *ws_parser_get_stats(const ws_parser *p)
{
    return p ? &p->stats : NULL;
}

void ws_parse_close(const uint8_t *payload, size_t len, int *code, const uint8_t **reason,
                    size_t *reason_len)
{
    int c = 0;
    const uint8_t *r = NULL;
    size_t rl = 0;
    if (payload && len >= 2) {
        c = (payload[0] << 8) | payload[1];
        r = payload + 2;
        rl = len - 2;
    }
    if (code)
        *code = c;
    if (reason)
        *reason = r;
    if (reason_len)
        *reason_len = rl;
}

/* ---- Sec-WebSocket-Extensions ---- */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void trim(const char **s, const char **e)
{
    while (*s < *e && is_space(**s))
        (*s)++;
    while (*e > *s && is_space((*e)[-1]))
        (*e)--;
}

static bool token_is(const char *s, const char *e, const char *want)
{
    size_t n = strlen(want);
    if ((size_t)(e - s) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != want[i])
            return false;
    }
    return true;
}

/* One extension "name; param[=value]; ...": is it permessage-deflate, and its options. */
static bool parse_one_extension(const char *s, const char *e, bool *server_nct, bool *client_nct)
{
    const char *semi = memchr(s, ';', (size_t)(e - s));
    const char *name_end = semi ? semi : e;
    const char *ns = s;
    trim(&ns, &name_end);
    if (!token_is(ns, name_end, "permessage-deflate"))
        return false;
    const char *q = semi;
    while (q && q < e) {
        const char *ps = q + 1;
        const char *next = memchr(ps, ';', (size_t)(e - ps));
        const char *pe = next ? next : e;
        const char *eq = memchr(ps, '=', (size_t)(pe - ps));
        const char *name_e = eq ? eq : pe;
        trim(&ps, &name_e);
        if (token_is(ps, name_e, "server_no_context_takeover"))
            *server_nct = true;
        else if (token_is(ps, name_e, "client_no_context_takeover"))
            *client_nct = true;
        q = next;
    }
    return true;
}

void ws_parse_extensions(const char *value, size_t len, bool *deflate,
                         bool *server_no_context_takeover, bool *client_no_context_takeover)
{
    bool d = false, snct = false, cnct = false;
    const char *s = value, *end = value ? value + len : NULL;
    while (s && s < end && !d) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *e = comma ? comma : end;
        d = parse_one_extension(s, e, &snct, &cnct);
        s = comma ? comma + 1 : end;
    }
    if (deflate)
        *deflate = d;
    if (server_no_context_takeover)
        *server_no_context_takeover = d && snct;
    if (client_no_context_takeover)
        *client_no_context_takeover = d && cnct;
}
