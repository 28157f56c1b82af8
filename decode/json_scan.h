/* json_scan: reads top-level members of a small JSON object without building the object:
 * a string value (unescaped to UTF-8) or an integer value for a key, or several keys at once. Works
 * on a prefix of a document and says when the data ends first. No allocation, no recursion; nested
 * values of other keys are skipped by counting brackets. Not a general JSON library. */
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

/* Several keys in one pass over the object. For each, rc is what json_has_key would return
 * (the first member of that name counts) and, when JSON_FOUND, at is the offset of its value
 * in buf, to read with json_string_at or json_int_at. */
typedef struct json_member {
    const char *key; /* in */
    int rc;          /* out */
    size_t at;       /* out */
} json_member;
void json_find_members(const char *buf, size_t len, json_member *want, size_t n);
/* The value at buf[at] read as json_find_string / json_find_int read a found key's value
 * (at >= len: the data ends before the value, JSON_CUT). */
int json_string_at(const char *buf, size_t len, size_t at, char *out, size_t cap, size_t *out_len,
                   bool *truncated);
int json_int_at(const char *buf, size_t len, size_t at, int64_t *value);
/* How many bytes at s (of len) are plain string bytes: no quote, backslash or control
 * character. A string body without escapes is that long, then its closing quote. */
size_t json_plain_run(const char *s, size_t len);
#endif
