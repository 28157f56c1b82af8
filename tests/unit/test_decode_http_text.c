/* test_decode_http_text: every byte value at every offset of a header value (and of a reason
 * phrase), on both sides of the sixteen-byte steps the value scanner takes: HTAB, SP, VCHAR
 * and obs-text are part of the value; any other control byte or DEL makes the head an error;
 * the value ends at CR or LF. Also values of every length, whole and cut short. */
#include "decode/http.h"
#include "tests/unit/testlib.h"
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool allowed(unsigned char b)
{
    return b == '\t' || (b >= 0x20 && b != 0x7f);
}

/* "GET / HTTP/1.1\r\nX: " + value + "\r\nHost: h\r\n\r\n" */
static size_t request_with_value(char *buf, size_t cap, const char *value, size_t n)
{
    static const char head[] = "GET / HTTP/1.1\r\nX: ", tail[] = "\r\nHost: h\r\n\r\n";
    size_t len = 0;
    if (sizeof head + n + sizeof tail > cap)
        return 0;
    memcpy(buf, head, sizeof head - 1);
    len += sizeof head - 1;
    memcpy(buf + len, value, n);
    len += n;
    memcpy(buf + len, tail, sizeof tail - 1);
    return len + sizeof tail - 1;
}

static void test_every_byte_everywhere(void)
{
    char value[64], buf[256];
    http_head h;
    int wrong = 0;
    for (size_t at = 0; at < 40; at++) {
        for (int b = 0; b < 256; b++) {
            if (b == '\r' || b == '\n')
                continue;
            memset(value, 'v', sizeof value);
            value[at] = (char)b;
            size_t n = 41, len = request_with_value(buf, sizeof buf, value, n);
            int rc = http_parse_request_head(buf, len, &h);
            bool ok = allowed((unsigned char)b);
            /* a value's leading and trailing SP/HT are not part of it (never last here) */
            size_t lead = at == 0 && (b == ' ' || b == '\t');
            if (ok ? !(rc == (int)len && h.num_headers == 2 && h.headers[0].value_len == n - lead &&
                       (lead || (unsigned char)h.headers[0].value[at] == (unsigned char)b))
                   : rc != HTTP_ERROR)
                wrong++;
        }
    }
    CHECK_EQ_INT(wrong, 0);
}

static void test_reason_phrase(void)
{
    char buf[128];
    http_head h;
    int wrong = 0;
    for (size_t at = 0; at < 33; at++) {
        for (int b = 0; b < 256; b++) {
            if (b == '\r' || b == '\n')
                continue;
            static const char start[] = "HTTP/1.1 200 ";
            size_t len = sizeof start - 1;
            memcpy(buf, start, len);
            memset(buf + len, 'r', 34);
            buf[len + at] = (char)b;
            memcpy(buf + len + 34, "\r\n\r\n", 4);
            len += 38;
            int rc = http_parse_response_head(buf, len, &h);
            size_t lead = at == 0 && (b == ' ' || b == '\t'); /* skipped before the reason */
            if (allowed((unsigned char)b) ? rc != (int)len || h.reason_len != 34 - lead
                                          : rc != HTTP_ERROR)
                wrong++;
        }
    }
    CHECK_EQ_INT(wrong, 0);
}

/* Values of every length, the line end anywhere in a sixteen-byte step; cut short, a head
 * needs more. */
static void test_lengths_and_cuts(void)
{
    char value[100], buf[256];
    http_head h;
    int wrong = 0;
    memset(value, 'a', sizeof value);
    for (size_t n = 1; n < sizeof value; n++) {
        size_t len = request_with_value(buf, sizeof buf, value, n);
        if (http_parse_request_head(buf, len, &h) != (int)len || h.headers[0].value_len != n)
            wrong++;
        for (size_t cut = 0; cut < len; cut++)
            if (http_parse_request_head(buf, cut, &h) != HTTP_NEED_MORE)
                wrong++;
    }
    CHECK_EQ_INT(wrong, 0);
}

int main(void)
{
    test_every_byte_everywhere();
    test_reason_phrase();
    test_lengths_and_cuts();
    TEST_MAIN_END("test_decode_http_text");
}
