/* http_head: picohttpparser-style parsing of one HTTP/1.x head (request line or status line,
 * then header lines up to the blank line) from the start of a buffer, plus header lookup and
 * comma-separated token matching. Zero-copy, no allocation: every pointer in the http_head
 * points into the caller's buffer.
 *
 * The parser is prefix-consistent: if a prefix of a buffer gives HTTP_ERROR, so does the whole
 * buffer, and a complete head parses the same whatever follows it. http_conn relies on this to
 * give the same result however the stream is split. */
#include "decode/http.h"
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* RFC 9110 tchar: ALPHA, DIGIT and !#$%&'*+-.^_`|~, as a bitmap by byte value. */
static const uint32_t tchar_bits[8] = {0x00000000u, 0x03ff6cfau, 0xc7fffffeu, 0x57ffffffu,
                                       0,           0,           0,           0};

static bool is_tchar(unsigned char c)
{
    return tchar_bits[c >> 5] >> (c & 31) & 1u;
}

/* Field values and reason phrases: HTAB, SP, VCHAR and obs-text; no other control byte. */
static bool is_text_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool is_target_char(unsigned char c)
{
    return c > 0x20 && c != 0x7f;
}

static unsigned char ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

static bool ascii_ieq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
            return false;
    return true;
}

/* A cursor over buf[0..end): end is min(len, HTTP_MAX_HEAD_BYTES). */
typedef struct cursor {
    const char *buf;
    size_t pos, end;
} cursor;

static int peek(const cursor *c)
{
    return c->pos < c->end ? (unsigned char)c->buf[c->pos] : -1;
}

/* The end of a line: CRLF or a bare LF. */
static int eat_eol(cursor *c)
{
    int ch = peek(c);
    if (ch < 0)
        return HTTP_NEED_MORE;
    if (ch == '\n') {
        c->pos++;
        return 0;
    }
    if (ch != '\r')
        return HTTP_ERROR;
    if (c->pos + 1 >= c->end)
        return HTTP_NEED_MORE;
    if (c->buf[c->pos + 1] != '\n')
        return HTTP_ERROR;
    c->pos += 2;
    return 0;
}

/* Empty lines before a start line are tolerated (RFC 7230 3.5). */
static int skip_empty_lines(cursor *c)
{
    for (;;) {
        int ch = peek(c);
        if (ch < 0)
            return HTTP_NEED_MORE;
        if (ch != '\r' && ch != '\n')
            return 0;
        int rc = eat_eol(c);
        if (rc != 0)
            return rc;
    }
}

/* One or more SP. */
static int eat_spaces(cursor *c)
{
    if (peek(c) < 0)
        return HTTP_NEED_MORE;
    if (peek(c) != ' ')
        return HTTP_ERROR;
    while (peek(c) == ' ')
        c->pos++;
    return peek(c) < 0 ? HTTP_NEED_MORE : 0;
}

static void skip_ows(cursor *c)
{
    while (peek(c) == ' ' || peek(c) == '\t')
        c->pos++;
}

static int parse_token(cursor *c, const char **tok, size_t *tok_len)
{
    size_t start = c->pos;
    while (c->pos < c->end && is_tchar((unsigned char)c->buf[c->pos]))
        c->pos++;
    if (c->pos >= c->end)
        return HTTP_NEED_MORE;
    if (c->pos == start)
        return HTTP_ERROR;
    *tok = c->buf + start;
    *tok_len = c->pos - start;
    return 0;
}

/* "HTTP/1.0" or "HTTP/1.1". */
static int parse_version(cursor *c, int *minor)
{
    static const char prefix[] = "HTTP/1.";
    for (size_t i = 0; i < sizeof prefix - 1; i++) {
        int ch = peek(c);
        if (ch < 0)
            return HTTP_NEED_MORE;
        if (ch != prefix[i])
            return HTTP_ERROR;
        c->pos++;
    }
    int ch = peek(c);
    if (ch < 0)
        return HTTP_NEED_MORE;
    if (ch != '0' && ch != '1')
        return HTTP_ERROR;
    *minor = ch - '0';
    c->pos++;
    return 0;
}

#if defined(__SSE2__)
/* The offset of the first byte among the sixteen at p that is_text_char refuses (a control
 * byte other than HTAB, or DEL; CR and LF among them), or 16 when there is none. (Control:
 * max(byte, 0x1f) == 0x1f, an unsigned byte <= 0x1f.) */
static unsigned first_non_text_of_16(const unsigned char *p)
{
    const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    const __m128i ctl = _mm_set1_epi8(0x1f);
    __m128i stop = _mm_andnot_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\t')),
                                    _mm_cmpeq_epi8(_mm_max_epu8(v, ctl), ctl));
    stop = _mm_or_si128(stop, _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f)));
    unsigned mask = (unsigned)_mm_movemask_epi8(stop);
    return mask ? (unsigned)__builtin_ctz(mask) : 16;
}
#endif

/* The first byte at or after p (before end) that is_text_char refuses, or end: sixteen bytes
 * at a time where SSE2 is there (a Chromium request head is over a kilobyte of values). */
static const unsigned char *text_run_end(const unsigned char *p, const unsigned char *end)
{
#if defined(__SSE2__)
    while (end - p >= 16) {
        unsigned k = first_non_text_of_16(p);
        if (k < 16)
            return p + k;
        p += 16;
    }
#endif
    while (p < end && is_text_char(*p))
        p++;
    return p;
}

/* Bytes up to the end of the line, each accepted by is_text_char; the range excludes the
 * line end and trailing SP/HT. The line end itself is left for eat_eol. */
static int scan_text(cursor *c, const char **text, size_t *text_len)
{
    size_t start = c->pos;
    const unsigned char *p = (const unsigned char *)c->buf + start;
    const unsigned char *end = (const unsigned char *)c->buf + c->end;
    p = text_run_end(p, end);
    c->pos = (size_t)(p - (const unsigned char *)c->buf);
    if (p == end)
        return HTTP_NEED_MORE;
    if (*p != '\r' && *p != '\n')
        return HTTP_ERROR;
    size_t stop = c->pos;
    while (stop > start && (c->buf[stop - 1] == ' ' || c->buf[stop - 1] == '\t'))
        stop--;
    *text = c->buf + start;
    *text_len = stop - start;
    return 0;
}

static int parse_request_line(cursor *c, http_head *h)
{
    int rc = parse_token(c, &h->method, &h->method_len);
    if (rc == 0)
        rc = eat_spaces(c);
    if (rc != 0)
        return rc;
    size_t start = c->pos;
    while (c->pos < c->end && is_target_char((unsigned char)c->buf[c->pos]))
        c->pos++;
    if (c->pos >= c->end)
        return HTTP_NEED_MORE;
    if (c->pos == start)
        return HTTP_ERROR;
    h->target = c->buf + start;
    h->target_len = c->pos - start;
    rc = eat_spaces(c);
    if (rc == 0)
        rc = parse_version(c, &h->minor_version);
    if (rc == 0)
        rc = eat_eol(c);
    return rc;
}

static int parse_status_line(cursor *c, http_head *h)
{
    int rc = parse_version(c, &h->minor_version);
    if (rc == 0)
        rc = eat_spaces(c);
    if (rc != 0)
        return rc;
    int status = 0;
    for (int i = 0; i < 3; i++) {
        int ch = peek(c);
        if (ch < 0)
            return HTTP_NEED_MORE;
        if (ch < '0' || ch > '9')
            return HTTP_ERROR;
        status = status * 10 + (ch - '0');
        c->pos++;
    }
    if (status < 100)
        return HTTP_ERROR;
    h->status = status;
    int ch = peek(c);
    if (ch < 0)
        return HTTP_NEED_MORE;
    if (ch == ' ') {
        skip_ows(c);
        rc = scan_text(c, &h->reason, &h->reason_len);
    } else if (ch == '\r' || ch == '\n') {
        h->reason = c->buf + c->pos; /* no reason phrase */
        h->reason_len = 0;
    } else {
        return HTTP_ERROR;
    }
    if (rc == 0)
        rc = eat_eol(c);
    return rc;
}

/* obs-fold: a line starting with SP/HT continues the previous header's value; the value range
 * grows to cover it (the line breaks stay inside the range). */
static int parse_continuation(cursor *c, http_head *h)
{
    if (h->num_headers == 0)
        return HTTP_ERROR; /* whitespace between the start line and the first header */
    skip_ows(c);
    const char *text;
    size_t text_len;
    int rc = scan_text(c, &text, &text_len);
    if (rc != 0)
        return rc;
    http_header *last = &h->headers[h->num_headers - 1];
    if (text_len > 0) {
        if (last->value_len == 0)
            last->value = text;
        last->value_len = (size_t)(text + text_len - last->value);
    }
    return eat_eol(c);
}

static int parse_header_line(cursor *c, http_head *h)
{
    if (h->num_headers >= HTTP_MAX_HEADERS)
        return HTTP_ERROR;
    http_header *hd = &h->headers[h->num_headers];
    int rc = parse_token(c, &hd->name, &hd->name_len);
    if (rc != 0)
        return rc;
    if (peek(c) != ':')
        return HTTP_ERROR; /* also rejects whitespace before the colon */
    c->pos++;
    skip_ows(c);
    rc = scan_text(c, &hd->value, &hd->value_len);
    if (rc != 0)
        return rc;
    h->num_headers++;
    return eat_eol(c);
}

static int parse_headers(cursor *c, http_head *h)
{
    for (;;) {
        int ch = peek(c);
        if (ch < 0)
            return HTTP_NEED_MORE;
        int rc;
        if (ch == '\r' || ch == '\n') {
            rc = eat_eol(c);
            if (rc == 0)
                h->head_len = c->pos;
            return rc;
        }
        if (ch == ' ' || ch == '\t')
            rc = parse_continuation(c, h);
        else
            rc = parse_header_line(c, h);
        if (rc != 0)
            return rc;
    }
}

static void head_reset(http_head *h)
{
    h->method = h->target = h->reason = NULL;
    h->method_len = h->target_len = h->reason_len = 0;
    h->status = 0;
    h->minor_version = -1;
    h->num_headers = 0;
    h->head_len = 0;
}

static int parse_head(const char *buf, size_t len, http_head *h, bool request)
{
    head_reset(h);
    cursor c = {buf, 0, len < HTTP_MAX_HEAD_BYTES ? len : HTTP_MAX_HEAD_BYTES};
    int rc = skip_empty_lines(&c);
    if (rc == 0)
        rc = request ? parse_request_line(&c, h) : parse_status_line(&c, h);
    if (rc == 0)
        rc = parse_headers(&c, h);
    if (rc == HTTP_NEED_MORE && len >= HTTP_MAX_HEAD_BYTES)
        return HTTP_ERROR; /* no blank line within the limit */
    return rc == 0 ? (int)h->head_len : rc;
}

int http_parse_request_head(const char *buf, size_t len, http_head *h)
{
    return parse_head(buf, len, h, true);
}

int http_parse_response_head(const char *buf, size_t len, http_head *h)
{
    return parse_head(buf, len, h, false);
}

const http_header *http_find_header(const http_head *h, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < h->num_headers && i < HTTP_MAX_HEADERS; i++) {
        const http_header *hd = &h->headers[i];
        if (hd->name_len == n && ascii_ieq(hd->name, name, n))
            return hd;
    }
    return NULL;
}

static bool is_list_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool http_value_has_token(const char *value, size_t len, const char *token)
{
    size_t tlen = strlen(token);
    size_t i = 0;
    if (!value || tlen == 0)
        return false;
    while (i < len) {
        size_t start = i;
        while (i < len && value[i] != ',')
            i++;
        size_t stop = i;
        while (start < stop && is_list_space(value[start]))
            start++;
        while (stop > start && is_list_space(value[stop - 1]))
            stop--;
        if (stop - start == tlen && ascii_ieq(value + start, token, tlen))
            return true;
        i++; /* past the comma */
    }
    return false;
}
