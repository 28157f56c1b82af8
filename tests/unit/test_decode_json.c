/* test_decode_json: json_scan's string reading at every alignment: a run of plain bytes of
 * each length 0..40 ended by a quote, an escape or a control byte at each offset, read from
 * each start offset, must give what a byte-by-byte reading gives (the word-at-a-time scan
 * finds the ending byte inside its word). Also bytes >= 0x80 next to the ending byte. */
#include "decode/json_scan.h"
#include <stdlib.h>
#include "tests/unit/testlib.h"

/* {"k":"<plain run><stop>..."}: the value json_find_string should give, built by hand. */
static void one_case(size_t pad, size_t run, char stop, unsigned char fill)
{
    char buf[160], want[64];
    size_t n = 0;
    memset(buf, ' ', pad); /* whitespace before the object shifts the alignment */
    n = pad;
    memcpy(buf + n, "{\"k\":\"", 6);
    n += 6;
    for (size_t i = 0; i < run; i++)
        buf[n++] = want[i] = (char)(i % 3 == 0 ? fill : 'a' + (char)(i % 26));
    size_t wlen = run;
    int want_rc = JSON_FOUND;
    if (stop == '"') {
        buf[n++] = '"';
    } else if (stop == '\\') {
        memcpy(buf + n, "\\n\"", 3); /* an escape, then the end */
        n += 3;
        want[wlen++] = '\n';
    } else {
        buf[n++] = stop; /* a control byte: bad */
        buf[n++] = '"';
        want_rc = JSON_BAD;
    }
    buf[n++] = '}';
    want[wlen] = 0;
    char out[64];
    size_t out_len = 0;
    bool truncated = true;
    int rc = json_find_string(buf, n, "k", out, sizeof out, &out_len, &truncated);
    CHECK_EQ_INT(rc, want_rc);
    if (want_rc == JSON_FOUND) {
        CHECK_EQ_INT(out_len, wlen);
        CHECK(memcmp(out, want, wlen) == 0 && out[wlen] == 0);
        CHECK(!truncated);
    }
    /* the same text cut right after the run: cut, and what was read so far */
    rc = json_find_string(buf, pad + 6 + run, "k", out, sizeof out, &out_len, &truncated);
    CHECK_EQ_INT(rc, JSON_CUT);
}

int main(void)
{
    static const char stops[] = {'"', '\\', 0x01, 0x1f};
    static const unsigned char fills[] = {'x', ' ', 0x80, 0xff, '!', '#', 0x7f};
    for (size_t pad = 0; pad < 8; pad++)
        for (size_t run = 0; run <= 40; run++)
            for (size_t s = 0; s < sizeof stops; s++)
                for (size_t f = 0; f < sizeof fills; f++)
                    one_case(pad, run, stops[s], fills[f]);
    /* a member name found after names of every length */
    for (size_t len = 0; len < 20; len++) {
        char buf[128];
        int n = snprintf(buf, sizeof buf, "{\"%.*s\":1,\"msgtype\":\"OK\"}", (int)len,
                         "abcdefghijklmnopqrstuvwxyz");
        char out[16];
        CHECK_EQ_INT(json_find_string(buf, (size_t)n, "msgtype", out, sizeof out, NULL, NULL),
                     JSON_FOUND);
        CHECK_EQ_STR(out, "OK");
    }
    TEST_MAIN_END("test_decode_json");
}
