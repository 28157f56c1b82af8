/* http_conn: the HTTP/1.x state machine for both directions of one connection, as seen by a
 * passive observer. Finds heads (parsed by http_head.c), frames bodies (RFC 7230 3.3.3:
 * Content-Length, chunked with extensions and trailers, until close, none), pairs responses
 * with requests through the bounded pending ring, stops at a 101, passes a CONNECT tunnel
 * through, tells a TLS connection by its first bytes (and reads no further), skips gaps, and
 * resynchronises on the next message start after a gap or malformed input. Bodies are
 * streamed, never buffered; a partial head stays in the caller's buffer.
 *
 * Every decision depends only on the bytes of the stream, never on how they were split across
 * calls: heads are parsed only at points that are properties of the bytes (the start line's
 * LF, the first HTTP_EARLY_CHECK_BYTES, the blank line, the size limit), and the parser is
 * prefix-consistent. */
#include "decode/http.h"
#include <string.h>

enum http_state {
    ST_HEAD = 0,      /* waiting for a head; its start line is not yet complete */
    ST_HEAD_REST,     /* start line complete and valid; waiting for the blank line */
    ST_BODY_LENGTH,   /* Content-Length body: remaining bytes */
    ST_BODY_CLOSE,    /* body delimited by the end of the direction */
    ST_CHUNK_SIZE,    /* hex digits of a chunk-size line */
    ST_CHUNK_EXT,     /* rest of a chunk-size line (extensions) up to its LF */
    ST_CHUNK_DATA,    /* chunk data: remaining bytes */
    ST_CHUNK_DATA_CR, /* the line end after chunk data */
    ST_CHUNK_DATA_LF,
    ST_TRAILER_START, /* start of a trailer line, or of the final blank line */
    ST_TRAILER_LINE,  /* inside a trailer line, up to its LF */
    ST_TRAILER_END_LF,
    ST_TUNNEL,      /* after a 2xx to CONNECT: opaque bytes, consumed and ignored */
    ST_RESYNC_LINE, /* resync: at a line start, looking for a message start */
    ST_RESYNC_SKIP, /* resync: discarding up to the next line start */
};

enum body_kind { BODY_NONE, BODY_LENGTH, BODY_CHUNKED, BODY_CLOSE, BODY_INVALID };

/* The start line is checked once it is complete, or once this many bytes of it are there. */
#define HTTP_EARLY_CHECK_BYTES 256
/* A TLS record's header (RFC 8446 5.1): content type change_cipher_spec (20) to
 * application_data (23), the legacy version 3.0 (SSL 3) to 3.4, a length of 1 to
 * TLS_RECORD_MAX. */
#define TLS_CONTENT_TYPE_MIN  20
#define TLS_CONTENT_TYPE_MAX  23
#define TLS_VERSION_MAJOR     3
#define TLS_VERSION_MINOR_MAX 4
#define TLS_RECORD_HEADER     5               /* type, version, 16-bit length */
#define TLS_RECORD_MAX        (16384u + 2048) /* the largest record length (TLS 1.2 6.2.3) */
/* A chunk-size line (hex digits and extensions) longer than this is an error. */
#define HTTP_MAX_CHUNK_LINE 4096
/* A Content-Length above this is an error (it fits every consumer's signed 64-bit field). */
#define HTTP_MAX_CONTENT_LENGTH ((uint64_t)INT64_MAX)

static const char *const request_starts[] = {"GET ",     "POST ",  "HEAD ",    "PUT ",  "DELETE ",
                                             "OPTIONS ", "PATCH ", "CONNECT ", "TRACE "};
static const char *const response_starts[] = {"HTTP/1."};

/* ---- small helpers ---- */

static bool valid_dir(int dir)
{
    return dir == HTTP_DIR_REQUEST || dir == HTTP_DIR_RESPONSE;
}

static void enter(http_dir_state *d, int state)
{
    d->state = state;
    d->scan = 0;
}

static void deliver(http_conn *c, int dir, const uint8_t *p, size_t n)
{
    http_dir_state *d = &c->dir[dir];
    d->body_bytes += n;
    if (n && d->want_body && c->cb.on_body)
        c->cb.on_body(c->cb.ctx, dir, p, n);
}

static void end_message(http_conn *c, int dir, bool complete)
{
    http_dir_state *d = &c->dir[dir];
    bool ok = complete && !d->lost;
    uint64_t bytes = d->body_bytes;
    d->remaining = d->body_bytes = 0;
    d->want_body = d->lost = false;
    enter(d, ST_HEAD);
    if (c->cb.on_message_end)
        c->cb.on_message_end(c->cb.ctx, dir, bytes, ok);
}

static void report_error(http_conn *c, int dir, const char *why)
{
    c->errors++;
    if (c->cb.on_error)
        c->cb.on_error(c->cb.ctx, dir, why);
}

/* Malformed input outside a message: report it, skip to the next plausible message start. */
static void fail_head(http_conn *c, int dir, const char *why)
{
    report_error(c, dir, why);
    enter(&c->dir[dir], ST_RESYNC_SKIP);
}

/* Malformed input inside a message: report it, end the message cut short, resync. */
static void fail_message(http_conn *c, int dir, const char *why)
{
    report_error(c, dir, why);
    end_message(c, dir, false);
    enter(&c->dir[dir], ST_RESYNC_SKIP);
}

static bool is_body_state(int state)
{
    return state >= ST_BODY_LENGTH && state <= ST_TRAILER_END_LF;
}

/* ---- pending requests ---- */

static void pending_push(http_conn *c, const http_request_info *info)
{
    if (c->pend_count >= HTTP_MAX_PENDING) {
        c->pending_overflow++;
        return;
    }
    c->pending[(c->pend_head + c->pend_count) % HTTP_MAX_PENDING] = *info;
    c->pend_count++;
}

static bool pending_pop(http_conn *c, http_request_info *info)
{
    if (c->pend_count == 0)
        return false;
    *info = c->pending[c->pend_head % HTTP_MAX_PENDING];
    c->pend_head = (c->pend_head + 1) % HTTP_MAX_PENDING;
    c->pend_count--;
    return true;
}

/* ---- framing headers ---- */

static bool ascii_ieq_n(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y + 32);
        if (x != y)
            return false;
    }
    return true;
}

static bool is_list_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Transfer-Encoding present? *chunked: is chunked the final coding (last token of the last
 * Transfer-Encoding header)? */
static bool transfer_encoding(const http_head *h, bool *chunked)
{
    bool present = false;
    *chunked = false;
    for (size_t i = 0; i < h->num_headers; i++) {
        const http_header *hd = &h->headers[i];
        if (!ascii_ieq_n(hd->name, hd->name_len, "transfer-encoding"))
            continue;
        present = true;
        size_t stop = hd->value_len, start;
        while (stop > 0 && (is_list_space(hd->value[stop - 1]) || hd->value[stop - 1] == ','))
            stop--;
        start = stop;
        while (start > 0 && hd->value[start - 1] != ',')
            start--;
        while (start < stop && is_list_space(hd->value[start]))
            start++;
        *chunked = ascii_ieq_n(hd->value + start, stop - start, "chunked");
    }
    return present;
}

/* One Content-Length element: digits only. */
static bool parse_length_element(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        uint64_t digit = (uint64_t)(s[i] - '0');
        if (v > (HTTP_MAX_CONTENT_LENGTH - digit) / 10)
            return false;
        v = v * 10 + digit;
    }
    *out = v;
    return true;
}

int http_content_length(const http_head *h, uint64_t *len)
{
    bool seen = false;
    for (size_t i = 0; i < h->num_headers; i++) {
        const http_header *hd = &h->headers[i];
        if (!ascii_ieq_n(hd->name, hd->name_len, "content-length"))
            continue;
        size_t pos = 0;
        do {
            size_t start = pos;
            while (pos < hd->value_len && hd->value[pos] != ',')
                pos++;
            size_t stop = pos;
            while (start < stop && is_list_space(hd->value[start]))
                start++;
            while (stop > start && is_list_space(hd->value[stop - 1]))
                stop--;
            uint64_t v;
            if (!parse_length_element(hd->value + start, stop - start, &v))
                return -1;
            if (seen && v != *len)
                return -1;
            *len = v;
            seen = true;
            pos++;
        } while (pos <= hd->value_len);
    }
    return seen ? 1 : 0;
}

/* Chunked, else Content-Length, else what a message without either means in this direction. */
static enum body_kind framed_body(const http_head *h, enum body_kind otherwise, uint64_t *len)
{
    bool chunked;
    if (transfer_encoding(h, &chunked)) {
        if (chunked)
            return BODY_CHUNKED;
        return otherwise == BODY_NONE ? BODY_INVALID : BODY_CLOSE;
    }
    switch (http_content_length(h, len)) {
    case 1:
        return BODY_LENGTH;
    case 0:
        return otherwise;
    default:
        return BODY_INVALID;
    }
}

static void start_body(http_conn *c, int dir, enum body_kind kind, uint64_t len, bool want)
{
    http_dir_state *d = &c->dir[dir];
    d->want_body = want;
    d->body_bytes = 0;
    d->lost = false;
    d->remaining = 0;
    switch (kind) {
    case BODY_LENGTH:
        if (len == 0) {
            end_message(c, dir, true);
        } else {
            enter(d, ST_BODY_LENGTH);
            d->remaining = len;
        }
        break;
    case BODY_CHUNKED:
        enter(d, ST_CHUNK_SIZE);
        break;
    case BODY_CLOSE:
        enter(d, ST_BODY_CLOSE);
        break;
    case BODY_INVALID:
        report_error(c, dir,
                     dir == HTTP_DIR_REQUEST ? "invalid request body framing"
                                             : "invalid response body framing");
        end_message(c, dir, false);
        enter(d, ST_RESYNC_LINE); /* the head ended at a line start */
        break;
    default:
        end_message(c, dir, true);
        break;
    }
}

/* ---- heads ---- */

static void request_info(const http_head *h, uint32_t index, http_request_info *info)
{
    memset(info, 0, sizeof *info);
    size_t n = h->method_len < sizeof info->method - 1 ? h->method_len : sizeof info->method - 1;
    memcpy(info->method, h->method, n);
    const http_header *up = http_find_header(h, "upgrade");
    info->upgrade_websocket = up && http_value_has_token(up->value, up->value_len, "websocket");
    info->index = index;
}

static void on_request_head(http_conn *c, const http_head *h)
{
    http_request_info info;
    request_info(h, c->requests++, &info);
    pending_push(c, &info);
    uint64_t len = 0;
    enum body_kind kind = framed_body(h, BODY_NONE, &len);
    bool want = c->cb.on_request ? c->cb.on_request(c->cb.ctx, h, &info) : false;
    start_body(c, HTTP_DIR_REQUEST, kind, len, want);
}

static void enter_tunnel(http_conn *c)
{
    for (int dir = 0; dir < 2; dir++) {
        if (is_body_state(c->dir[dir].state))
            end_message(c, dir, false);
        enter(&c->dir[dir], ST_TUNNEL);
    }
}

static void on_response_head(http_conn *c, const http_head *h)
{
    int status = h->status;
    if (status < 200 && status != 101) {
        if (c->cb.on_interim)
            c->cb.on_interim(c->cb.ctx, h);
        return; /* the final response still follows */
    }
    http_request_info req;
    const http_request_info *reqp = pending_pop(c, &req) ? &req : NULL;
    c->responses++;
    bool head = reqp && strcmp(req.method, "HEAD") == 0;
    bool connect_ok = reqp && strcmp(req.method, "CONNECT") == 0 && status / 100 == 2;
    uint64_t len = 0;
    enum body_kind kind = BODY_NONE;
    if (status != 101 && !connect_ok && !head && status != 204 && status != 304)
        kind = framed_body(h, BODY_CLOSE, &len);
    bool want = c->cb.on_response ? c->cb.on_response(c->cb.ctx, h, reqp) : false;
    if (status == 101) {
        end_message(c, HTTP_DIR_RESPONSE, true);
        c->upgraded = true;
        if (c->cb.on_upgrade)
            c->cb.on_upgrade(c->cb.ctx, reqp);
        return;
    }
    if (connect_ok) {
        end_message(c, HTTP_DIR_RESPONSE, true);
        enter_tunnel(c);
        return;
    }
    start_body(c, HTTP_DIR_RESPONSE, kind, len, want);
}

/* Finds the blank line ending a head, searching from `from`: returns the offset just past it,
 * or 0 with *next set to where the next search must start. */
static size_t find_blank_line(const char *s, size_t n, size_t from, size_t *next)
{
    size_t i = from;
    while (i < n) {
        const char *lf = memchr(s + i, '\n', n - i);
        if (!lf)
            break;
        i = (size_t)(lf - s);
        if (i + 1 >= n || (s[i + 1] == '\r' && i + 2 >= n)) {
            *next = i; /* undecided until more bytes arrive */
            return 0;
        }
        if (s[i + 1] == '\n')
            return i + 2;
        if (s[i + 1] == '\r' && s[i + 2] == '\n')
            return i + 3;
        i++;
    }
    *next = n;
    return 0;
}

static int parse_dir_head(int dir, const char *s, size_t n, http_head *h)
{
    return dir == HTTP_DIR_REQUEST ? http_parse_request_head(s, n, h)
                                   : http_parse_response_head(s, n, h);
}

/* Why the head at s was refused. The parser stops at the first bad byte, which every caller
 * of this has in s[0..n), so the answer is the same however the stream was split. */
static const char *head_error(int dir, const char *s, size_t n)
{
    http_head h;
    size_t lim = n < HTTP_MAX_HEAD_BYTES - 1 ? n : HTTP_MAX_HEAD_BYTES - 1;
    if (parse_dir_head(dir, s, lim, &h) != HTTP_ERROR)
        return "head longer than HTTP_MAX_HEAD_BYTES";
    if (h.num_headers >= HTTP_MAX_HEADERS)
        return "more than HTTP_MAX_HEADERS headers";
    return dir == HTTP_DIR_REQUEST ? "malformed request head" : "malformed response head";
}

/* Empty lines between messages are consumed. Returns bytes consumed, 0 when none (or when a
 * lone CR needs its next byte: *wait). */
static size_t skip_empty_line(const char *s, size_t n, bool *wait)
{
    *wait = false;
    if (s[0] == '\n')
        return 1;
    if (s[0] != '\r')
        return 0;
    if (n < 2) {
        *wait = true;
        return 0;
    }
    return s[1] == '\n' ? 2 : 0;
}

/* ST_HEAD: the start line is checked when its LF arrives, or early on its first bytes. */
static bool step_start_line(http_conn *c, int dir, const char *s, size_t n, size_t *used)
{
    http_dir_state *d = &c->dir[dir];
    http_head h;
    if (d->scan == 0) {
        bool wait;
        *used = skip_empty_line(s, n, &wait);
        if (*used || wait)
            return *used > 0;
    }
    const char *lf = memchr(s + d->scan, '\n', n - d->scan);
    if (!lf) {
        bool early = d->scan < HTTP_EARLY_CHECK_BYTES;
        size_t lim = n < HTTP_EARLY_CHECK_BYTES ? n : HTTP_EARLY_CHECK_BYTES;
        if (n >= HTTP_MAX_HEAD_BYTES || (early && parse_dir_head(dir, s, lim, &h) == HTTP_ERROR)) {
            fail_head(c, dir, head_error(dir, s, n));
            return true;
        }
        d->scan = n;
        return false;
    }
    size_t line_end = (size_t)(lf - s) + 1;
    if (parse_dir_head(dir, s, line_end, &h) == HTTP_ERROR) {
        fail_head(c, dir, head_error(dir, s, n));
        return true;
    }
    d->state = ST_HEAD_REST;
    d->scan = line_end - 1; /* the blank line may follow this LF */
    return true;
}

/* ST_HEAD_REST: the head is parsed once its blank line is there (or it is too long). */
static bool step_head_rest(http_conn *c, int dir, const char *s, size_t n, size_t *used)
{
    http_dir_state *d = &c->dir[dir];
    size_t next = n;
    size_t end = find_blank_line(s, n, (size_t)d->scan, &next);
    if (end == 0 && n < HTTP_MAX_HEAD_BYTES) {
        d->scan = next;
        return false;
    }
    http_head h;
    int rc = parse_dir_head(dir, s, n, &h);
    if (rc == HTTP_NEED_MORE) { /* not expected: the blank line ends every valid head */
        d->scan = next;
        return false;
    }
    if (rc == HTTP_ERROR) {
        fail_head(c, dir, head_error(dir, s, n));
        return true;
    }
    *used = (size_t)rc;
    enter(d, ST_HEAD);
    if (dir == HTTP_DIR_REQUEST)
        on_request_head(c, &h);
    else
        on_response_head(c, &h);
    return true;
}

/* ---- bodies ---- */

static size_t step_length(http_conn *c, int dir, const uint8_t *p, size_t n, int after)
{
    http_dir_state *d = &c->dir[dir];
    size_t take = d->remaining < n ? (size_t)d->remaining : n;
    d->remaining -= take;
    deliver(c, dir, p, take);
    if (d->remaining == 0) {
        if (after == ST_HEAD)
            end_message(c, dir, true);
        else
            enter(d, after);
    }
    return take;
}

static int hex_value(uint8_t ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static void chunk_line_done(http_dir_state *d)
{
    if (d->remaining == 0)
        enter(d, ST_TRAILER_START);
    else
        enter(d, ST_CHUNK_DATA); /* keeps remaining */
}

static size_t step_chunk_size(http_conn *c, int dir, const uint8_t *p, size_t n)
{
    http_dir_state *d = &c->dir[dir];
    size_t i = 0;
    for (; i < n; i++, d->scan++) {
        if (d->scan >= HTTP_MAX_CHUNK_LINE) {
            fail_message(c, dir, "chunk-size line too long");
            return i;
        }
        int v = hex_value(p[i]);
        if (v >= 0) {
            if (d->remaining > (UINT64_MAX >> 4)) {
                fail_message(c, dir, "chunk size overflows 64 bits");
                return i;
            }
            d->remaining = d->remaining << 4 | (uint64_t)v;
            continue;
        }
        if (d->scan == 0) {
            fail_message(c, dir, "chunk-size line without a size");
            return i;
        }
        if (p[i] == '\n') {
            chunk_line_done(d);
            return i + 1;
        }
        if (p[i] == ';' || p[i] == ' ' || p[i] == '\t' || p[i] == '\r') {
            d->state = ST_CHUNK_EXT; /* keeps scan: the line goes on */
            d->scan++;
            return i + 1;
        }
        fail_message(c, dir, "invalid character in chunk size");
        return i;
    }
    return n;
}

/* Skips to the LF ending a line of which d->scan bytes were seen, at most `limit` in all.
 * Returns bytes consumed; *done when the LF was consumed, *too_long when the limit was hit. */
static size_t skip_line(http_dir_state *d, const uint8_t *p, size_t n, uint64_t limit, bool *done,
                        bool *too_long)
{
    size_t room = d->scan < limit ? (size_t)(limit - d->scan) : 0;
    size_t look = n < room ? n : room;
    const uint8_t *lf = memchr(p, '\n', look);
    *done = lf != NULL;
    *too_long = !lf && n >= room;
    size_t used = lf ? (size_t)(lf - p) + 1 : look;
    d->scan += used;
    return used;
}

static size_t step_chunk_ext(http_conn *c, int dir, const uint8_t *p, size_t n)
{
    http_dir_state *d = &c->dir[dir];
    bool done, too_long;
    size_t used = skip_line(d, p, n, HTTP_MAX_CHUNK_LINE, &done, &too_long);
    if (done)
        chunk_line_done(d);
    else if (too_long)
        fail_message(c, dir, "chunk-size line too long");
    return used;
}

static size_t step_trailer_line(http_conn *c, int dir, const uint8_t *p, size_t n)
{
    http_dir_state *d = &c->dir[dir];
    bool done, too_long;
    size_t used = skip_line(d, p, n, HTTP_MAX_HEAD_BYTES, &done, &too_long);
    if (done)
        d->state = ST_TRAILER_START; /* keeps scan: the trailer section goes on */
    else if (too_long)
        fail_message(c, dir, "trailer section too long");
    return used;
}

/* One-byte states: the line ends after chunk data and around the trailer section. */
static size_t step_line_end(http_conn *c, int dir, uint8_t ch)
{
    http_dir_state *d = &c->dir[dir];
    switch (d->state) {
    case ST_CHUNK_DATA_CR:
    case ST_CHUNK_DATA_LF:
        if (ch == '\r' && d->state == ST_CHUNK_DATA_CR) {
            d->state = ST_CHUNK_DATA_LF;
            return 1;
        }
        if (ch != '\n') { /* a bare LF is accepted */
            fail_message(c, dir, "chunk data not followed by a line end");
            return 0;
        }
        enter(d, ST_CHUNK_SIZE);
        d->remaining = 0;
        return 1;
    case ST_TRAILER_START:
        if (ch == '\n') {
            end_message(c, dir, true);
        } else if (ch == '\r') {
            d->state = ST_TRAILER_END_LF;
            d->scan++;
        } else {
            d->state = ST_TRAILER_LINE;
            return 0;
        }
        return 1;
    default: /* ST_TRAILER_END_LF */
        if (ch != '\n') {
            fail_message(c, dir, "CR without LF ending the trailer section");
            return 0;
        }
        end_message(c, dir, true);
        return 1;
    }
}

/* ---- resync ---- */

/* Does s start a plausible message for dir? 1 yes, 0 no, -1 too few bytes to tell. */
static int plausible_start(int dir, const char *s, size_t n)
{
    const char *const *starts = dir == HTTP_DIR_REQUEST ? request_starts : response_starts;
    size_t count = dir == HTTP_DIR_REQUEST ? sizeof request_starts / sizeof *request_starts
                                           : sizeof response_starts / sizeof *response_starts;
    int result = 0;
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen(starts[i]);
        size_t cmp = n < len ? n : len;
        if (memcmp(s, starts[i], cmp) != 0)
            continue;
        if (cmp == len)
            return 1;
        result = -1;
    }
    return result;
}

static bool step_resync(http_conn *c, int dir, const uint8_t *p, size_t n, size_t *used)
{
    http_dir_state *d = &c->dir[dir];
    if (d->state == ST_RESYNC_SKIP) {
        const uint8_t *lf = memchr(p, '\n', n);
        *used = lf ? (size_t)(lf - p) + 1 : n;
        if (lf)
            enter(d, ST_RESYNC_LINE);
        return true;
    }
    if (p[0] == '\n') {
        *used = 1;
        return true;
    }
    switch (plausible_start(dir, (const char *)p, n)) {
    case 1:
        enter(d, ST_HEAD);
        return true;
    case -1:
        return false;
    default:
        enter(d, ST_RESYNC_SKIP);
        return true;
    }
}

/* ---- the feed loop ---- */

/* One step of dir's state machine on p[0..n), n > 0. Returns false when it cannot go on
 * without more bytes; *used is what it consumed. */
static bool step(http_conn *c, int dir, const uint8_t *p, size_t n, size_t *used)
{
    http_dir_state *d = &c->dir[dir];
    *used = 0;
    switch (d->state) {
    case ST_HEAD:
    case ST_HEAD_REST:
        if (d->scan > n) /* the caller offered less than before: look again */
            enter(d, ST_HEAD);
        if (d->state == ST_HEAD)
            return step_start_line(c, dir, (const char *)p, n, used);
        return step_head_rest(c, dir, (const char *)p, n, used);
    case ST_BODY_LENGTH:
        *used = step_length(c, dir, p, n, ST_HEAD);
        return true;
    case ST_BODY_CLOSE:
        deliver(c, dir, p, n);
        *used = n;
        return true;
    case ST_CHUNK_SIZE:
        *used = step_chunk_size(c, dir, p, n);
        return true;
    case ST_CHUNK_EXT:
        *used = step_chunk_ext(c, dir, p, n);
        return true;
    case ST_CHUNK_DATA:
        *used = step_length(c, dir, p, n, ST_CHUNK_DATA_CR);
        return true;
    case ST_CHUNK_DATA_CR:
    case ST_CHUNK_DATA_LF:
    case ST_TRAILER_START:
    case ST_TRAILER_END_LF:
        *used = step_line_end(c, dir, p[0]);
        return true;
    case ST_TRAILER_LINE:
        *used = step_trailer_line(c, dir, p, n);
        return true;
    case ST_TUNNEL:
        *used = n;
        return true;
    case ST_RESYNC_LINE:
    case ST_RESYNC_SKIP:
        return step_resync(c, dir, p, n, used);
    default: /* corrupted state: treat as lost */
        enter(d, ST_RESYNC_SKIP);
        return true;
    }
}

void http_conn_init(http_conn *c, const http_callbacks *cb)
{
    memset(c, 0, sizeof *c);
    if (cb)
        c->cb = *cb;
}

int http_tls_sniff(const uint8_t *buf, size_t len)
{
    if (!buf || len == 0)
        return -1;
    if (buf[0] < TLS_CONTENT_TYPE_MIN || buf[0] > TLS_CONTENT_TYPE_MAX)
        return 0;
    if (len >= 2 && buf[1] != TLS_VERSION_MAJOR)
        return 0;
    if (len >= 3 && buf[2] > TLS_VERSION_MINOR_MAX)
        return 0;
    if (len < TLS_RECORD_HEADER)
        return -1;
    unsigned length = (unsigned)buf[3] << 8 | buf[4];
    return length >= 1 && length <= TLS_RECORD_MAX;
}

/* A direction's first bytes: a TLS record makes the whole connection opaque (on_tls). Returns
 * false while too few bytes are there to tell: the caller keeps them. */
static bool look_at_start(http_conn *c, int dir, const uint8_t *buf, size_t len)
{
    int tls = http_tls_sniff(buf, len);
    if (tls < 0)
        return false;
    c->dir[dir].started = true;
    if (tls > 0) {
        c->tls = true;
        if (c->cb.on_tls)
            c->cb.on_tls(c->cb.ctx, dir);
    }
    return true;
}

size_t http_conn_feed(http_conn *c, int dir, const uint8_t *buf, size_t len)
{
    size_t off = 0;
    if (!valid_dir(dir) || !buf)
        return 0;
    if (!c->tls && !c->dir[dir].started && !c->upgraded && !look_at_start(c, dir, buf, len))
        return 0;
    if (c->tls)
        return len;
    while (off < len && !c->upgraded) {
        size_t used;
        if (!step(c, dir, buf + off, len - off, &used))
            break;
        off += used;
    }
    return off;
}

void http_conn_eof(http_conn *c, int dir)
{
    if (!valid_dir(dir))
        return;
    http_dir_state *d = &c->dir[dir];
    if (d->eof)
        return; /* a direction ends once */
    d->eof = true;
    if (c->upgraded || c->tls)
        return;
    switch (d->state) {
    case ST_HEAD:
    case ST_HEAD_REST:
        if (d->scan > 0)
            report_error(c, dir, "head cut short by the end of the stream");
        enter(d, ST_HEAD);
        break;
    case ST_BODY_CLOSE:
        end_message(c, dir, true);
        break;
    case ST_TUNNEL:
        break;
    case ST_RESYNC_LINE:
    case ST_RESYNC_SKIP:
        enter(d, ST_HEAD);
        break;
    default:
        end_message(c, dir, false);
        break;
    }
}

/* A gap inside a counted run (Content-Length body or chunk data) is skipped; framing goes on. */
static bool gap_in_counted(http_conn *c, int dir, uint64_t *len)
{
    http_dir_state *d = &c->dir[dir];
    uint64_t skip = *len < d->remaining ? *len : d->remaining;
    d->remaining -= skip;
    d->body_bytes += skip;
    d->lost = true;
    *len -= skip;
    if (d->remaining > 0)
        return true;
    if (d->state == ST_BODY_LENGTH)
        end_message(c, dir, false);
    else
        enter(d, ST_CHUNK_DATA_CR);
    return *len == 0;
}

void http_conn_gap(http_conn *c, int dir, uint64_t len)
{
    if (!valid_dir(dir) || len == 0 || c->upgraded || c->tls)
        return;
    http_dir_state *d = &c->dir[dir];
    if (d->state == ST_TUNNEL)
        return;
    if (d->state == ST_BODY_LENGTH || d->state == ST_CHUNK_DATA) {
        if (gap_in_counted(c, dir, &len))
            return;
    }
    if (d->state == ST_BODY_CLOSE)
        d->body_bytes += len;
    /* the hole reaches past what framing can account for: restart at a message start */
    if (is_body_state(d->state))
        end_message(c, dir, false);
    enter(d, ST_RESYNC_LINE);
}
