/* testlib: the tiny assertion kit every unit test uses.
 * A failed CHECK prints file:line and the expression, counts, and the test goes on;
 * TEST_MAIN_END prints "N passed, N failed" and returns non-zero on any failure. */
#ifndef OW_TESTLIB_H
#define OW_TESTLIB_H
#include <stdio.h>
#include <string.h>
#include <stddef.h>
#include <stdint.h>

extern int tl_passed, tl_failed;
void tl_fail(const char *file, int line, const char *expr);

#define CHECK(e) ((e) ? (void)tl_passed++ : tl_fail(__FILE__, __LINE__, #e))
#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long _a = (long long)(a), _b = (long long)(b);                                        \
        if (_a == _b)                                                                              \
            tl_passed++;                                                                           \
        else {                                                                                     \
            fprintf(stderr, "  %s = %lld, expected %lld\n", #a, _a, _b);                           \
            tl_fail(__FILE__, __LINE__, #a " == " #b);                                             \
        }                                                                                          \
    } while (0)
#define CHECK_EQ_STR(a, b)                                                                         \
    do {                                                                                           \
        const char *_a = (a), *_b = (b);                                                           \
        if (_a && _b && strcmp(_a, _b) == 0)                                                       \
            tl_passed++;                                                                           \
        else {                                                                                     \
            fprintf(stderr, "  %s = \"%s\", expected \"%s\"\n", #a, _a ? _a : "(null)",            \
                    _b ? _b : "(null)");                                                           \
            tl_fail(__FILE__, __LINE__, #a " == " #b);                                             \
        }                                                                                          \
    } while (0)

/* Reads a whole file into a malloc'd buffer (NUL-terminated); NULL if it cannot. */
char *tl_read_file(const char *path, size_t *len);
/* fd 2 sent to a new file at path (mode 0600); returns the saved fd 2 for tl_stderr_back. */
int tl_stderr_to_file(const char *path);
/* fd 2 given back (saved by tl_stderr_to_file); returns what was written to path
 * (malloc'd, NUL-terminated; NULL if unreadable) and removes path. */
char *tl_stderr_back(int saved, const char *path);
/* Directory of the shared captures, or NULL (and a note on stderr) when not available. */
const char *tl_captures_dir(void);

/* Deterministic pseudo-random numbers for generated inputs (xorshift64; the same sequence on
 * every run): tl_seed starts a sequence (any nonzero seed), tl_random gives the next 32 bits,
 * tl_below(n) a value in [0, n); tl_seed(tl_random_state()) replays from where it was. */
void tl_seed(uint64_t seed);
uint64_t tl_random_state(void);
uint32_t tl_random(void);
unsigned tl_below(unsigned n);

int tl_finish(const char *name);
#define TEST_MAIN_END(name) return tl_finish(name)
#endif
