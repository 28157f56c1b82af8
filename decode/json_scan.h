/* json_scan: reads one top-level member of a small JSON object without building the object:
 * a string value (unescaped to UTF-8) or an integer value for a key. Works on a prefix of a
 * document and says when the data ends first. No allocation, no recursion; nested values of
 * other keys are skipped by counting brackets. Not a general JSON library. */
#ifndef OW_JSON_SCAN_H
#define OW_JSON_SCAN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    JSON_BAD = -1,   /* not a JSON object, or the value is malformed or of another type */
    JSON_ABSENT = 0, /* the object ends without the key */
    JSON_FOUND = 1,  /* found, value complete */
    JSON_CUT = 2,    /* found, but the data ends inside the value (what was there is given) */
    JSON_ENDED = 3   /* the data ends before the key was reached */
};

/* String value of key: unescaped into out (capacity cap, always NUL-terminated when cap > 0;
 * *truncated when it did not fit; \u0000 and lone surrogates become U+FFFD). */
int json_find_string(const char *buf, size_t len, const char *key, char *out, size_t cap,
                     size_t *out_len, bool *truncated);
/* Integer value of key (optional minus, decimal digits, fits in int64_t). JSON_CUT when the
 * data ends right after the digits (more could follow). */
int json_find_int(const char *buf, size_t len, const char *key, int64_t *value);
/* JSON_FOUND when the key is a top-level member (its value is not examined). */
int json_has_key(const char *buf, size_t len, const char *key);
#endif
