/* test_capture_addr: ow_addr_str writes what inet_ntop writes, byte for byte: every IPv4
 * octet value, every pattern of zero and non-zero IPv6 words (runs of zeros, "::" placement,
 * embedded dotted quads), random addresses, and buffers too small (empty string). Also
 * ow_addr_parse and ow_addr_eq round trips. */
#include "capture/addr.h"
#include <arpa/inet.h>
#include <stdlib.h>
#include "tests/unit/testlib.h"

/* The reference: inet_ntop, empty when it refuses. */
static void reference(const ow_addr *a, char *out, size_t outlen)
{
    int af = a->family == 6 ? AF_INET6 : AF_INET;
    if (!inet_ntop(af, a->bytes, out, (socklen_t)outlen) && outlen)
        out[0] = 0;
}

static int mismatches;

static void same_as_inet_ntop(const ow_addr *a)
{
    for (size_t cap = 0; cap <= OW_ADDR_STRLEN; cap++) {
        char want[OW_ADDR_STRLEN + 1], got[OW_ADDR_STRLEN + 1];
        memset(want, 'x', sizeof want);
        memset(got, 'x', sizeof got);
        reference(a, want, cap);
        char *r = ow_addr_str(a, got, cap);
        if (r != got || (cap && strcmp(want, got) != 0) || got[cap] != 'x') {
            if (mismatches++ < 5)
                fprintf(stderr, "  cap %zu: got \"%s\", inet_ntop \"%s\"\n", cap, cap ? got : "",
                        cap ? want : "");
            tl_fail(__FILE__, __LINE__, "ow_addr_str == inet_ntop");
            return;
        }
    }
    tl_passed++;
}

static void set_words(ow_addr *a, const unsigned w[8])
{
    a->family = 6;
    for (int i = 0; i < 8; i++) {
        a->bytes[2 * i] = (uint8_t)(w[i] >> 8);
        a->bytes[2 * i + 1] = (uint8_t)w[i];
    }
}

static void ipv4_all_octets(void)
{
    ow_addr a = {.family = 4};
    for (unsigned v = 0; v < 256; v++) {
        a.bytes[0] = (uint8_t)v;
        a.bytes[1] = (uint8_t)(255 - v);
        a.bytes[2] = (uint8_t)(v * 7);
        a.bytes[3] = (uint8_t)(v / 3);
        same_as_inet_ntop(&a);
    }
    char s[OW_ADDR_STRLEN];
    ow_addr b = {.family = 4, .bytes = {100, 64, 0, 2}};
    CHECK_EQ_STR(ow_addr_str(&b, s, sizeof s), "100.64.0.2");
    CHECK_EQ_STR(ow_addr_str(&b, s, 11), "100.64.0.2");
    CHECK_EQ_STR(ow_addr_str(&b, s, 10), "");
}

static void ipv6_zero_patterns(void)
{
    static const unsigned values[] = {0x1, 0xffff, 0xab, 0x1000, 0xfe80};
    for (unsigned pattern = 0; pattern < 256; pattern++)
        for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
            unsigned w[8];
            for (int i = 0; i < 8; i++)
                w[i] = pattern >> i & 1 ? values[(v + (size_t)i) % 5] : 0;
            ow_addr a;
            set_words(&a, w);
            same_as_inet_ntop(&a);
        }
    /* embedded dotted quads, and near misses */
    static const unsigned special[][8] = {
        {0, 0, 0, 0, 0, 0xffff, 0xc0a8, 0x0101},
        {0, 0, 0, 0, 0, 0, 0x0a00, 0x0001},
        {0, 0, 0, 0, 0, 0xfffe, 0xc0a8, 0x0101},
        {0, 0, 0, 0, 0, 0, 0, 1},
        {0, 0, 0, 0, 0, 0, 0, 0},
        {0, 0, 0, 0, 0, 0xffff, 0, 0},
        {0, 0, 0, 0, 0xffff, 0, 0xc0a8, 1},
        {1, 0, 0, 0, 0, 0xffff, 0xc0a8, 1},
    };
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++) {
        ow_addr a;
        set_words(&a, special[i]);
        same_as_inet_ntop(&a);
    }
    char s[OW_ADDR_STRLEN];
    ow_addr a;
    set_words(&a, special[0]);
    CHECK_EQ_STR(ow_addr_str(&a, s, sizeof s), "::ffff:192.168.1.1");
}

static void ipv6_random(void)
{
    srand(12345);
    for (int n = 0; n < 20000; n++) {
        unsigned w[8];
        for (int i = 0; i < 8; i++) {
            int r = rand() % 4;
            w[i] = r == 0 ? 0 : r == 1 ? (unsigned)(rand() & 0xF) : (unsigned)(rand() & 0xFFFF);
        }
        ow_addr a;
        set_words(&a, w);
        same_as_inet_ntop(&a);
    }
}

static void parse_round_trip(void)
{
    static const char *const texts[] = {"10.0.0.1", "::1", "fd7a:115c:a1e0::1", "::ffff:1.2.3.4"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        ow_addr a, b;
        char s[OW_ADDR_STRLEN];
        CHECK(ow_addr_parse(texts[i], &a));
        CHECK_EQ_STR(ow_addr_str(&a, s, sizeof s), texts[i]);
        CHECK(ow_addr_parse(s, &b) && ow_addr_eq(&a, &b));
    }
    ow_addr x;
    CHECK(!ow_addr_parse("not an address", &x));
}

int main(void)
{
    ipv4_all_octets();
    ipv6_zero_patterns();
    ipv6_random();
    parse_round_trip();
    TEST_MAIN_END("test_capture_addr");
}
