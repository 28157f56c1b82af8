/* test_correlate_copy: copy_bounded (the copy of every text that goes into a row) copies runs
 * of text whole, sixteen bytes at a time where SSE2 is there; it must give what the byte loop
 * gives: each control byte (below 0x20, and DEL) made '?', everything else kept (0x80 and up
 * too), cut to the capacity, NUL-terminated, nothing written past the NUL. Checked on every
 * byte value at every place of two blocks and a tail, on random texts at every length and
 * capacity, on a NULL source, a zero capacity, and a copy onto itself. */
#include "correlate/internal.h"
#include "tests/unit/testlib.h"
#include <stdlib.h>

static void ref_copy(char *dst, size_t cap, const char *src, size_t len)
{
    if (!cap)
        return;
    if (!src)
        len = 0;
    if (len >= cap)
        len = cap - 1;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)src[i];
        dst[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    dst[len] = 0;
}

/* Both copies into buffers filled alike; the whole buffers must be equal. */
static int compare(const char *src, size_t len, size_t cap)
{
    char a[128], b[128];
    memset(a, '#', sizeof a);
    memset(b, '#', sizeof b);
    copy_bounded(a, cap, src, len);
    ref_copy(b, cap, src, len);
    return memcmp(a, b, sizeof a) != 0;
}

static void test_each_byte(void)
{
    char s[64];
    int bad = 0;
    for (int c = 0; c < 256; c++)
        for (size_t at = 0; at < 40; at++) {
            memset(s, 'k', sizeof s);
            s[at] = (char)c;
            for (size_t len = at; len <= 40; len += 5)
                bad += compare(s, len, 64) + compare(s, len, at + 1) + compare(s, len, at + 2);
        }
    CHECK_EQ_INT(bad, 0);
}

static void test_random(void)
{
    static const char bytes[] = "aZ09 ~/?\x01\x1f\x20\x7f\x80\xff\t\r\n";
    char s[100];
    int bad = 0;
    srand(3);
    for (int round = 0; round < 3000; round++) {
        size_t len = (size_t)rand() % sizeof s;
        for (size_t i = 0; i < len; i++)
            s[i] =
                rand() % 4 ? (char)('a' + rand() % 26) : bytes[(size_t)rand() % (sizeof bytes - 1)];
        for (size_t cap = 0; cap <= len + 2 && cap < 128; cap++)
            bad += compare(s, len, cap);
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_edges(void)
{
    char d[8] = "xxxxxxx";
    copy_bounded(d, 0, "abc", 3);
    CHECK_EQ_STR(d, "xxxxxxx"); /* no capacity: nothing written */
    copy_bounded(d, sizeof d, NULL, 5);
    CHECK_EQ_STR(d, "");
    char self[40] = "a long text\x01with a control byte, twice\x7f";
    copy_bounded(self, sizeof self, self, strlen(self));
    CHECK_EQ_STR(self, "a long text?with a control byte, twice?");
}

int main(void)
{
    test_each_byte();
    test_random();
    test_edges();
    TEST_MAIN_END("test_correlate_copy");
}
