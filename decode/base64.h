/* base64: bounded decoding of standard (RFC 4648 section 4) and URL-safe (section 5) base64,
 * with or without '=' padding. Output never goes past the caller's capacity. */
#ifndef OW_BASE64_H
#define OW_BASE64_H
#include <stddef.h>
#include <stdint.h>

typedef enum { OW_B64_STD, OW_B64_URL, OW_B64_ANY } ow_b64_alphabet;

/* Bytes that n characters of base64 can decode to (an upper bound). */
size_t ow_b64_decoded_max(size_t n);

/* Decodes src[0..n) into dst (capacity cap); *out_len = bytes written. Padding '=' is allowed
 * only at the end; a missing one is fine. Returns 0 when all of src was decoded, 1 when dst
 * filled up first (the output is the decoded prefix), -1 on a character outside the alphabet,
 * misplaced padding, or a lone final character. */
int ow_b64_decode(const char *src, size_t n, ow_b64_alphabet alphabet, uint8_t *dst, size_t cap,
                  size_t *out_len);

/* How many of the first characters of src[0..n) are in the URL-safe alphabet (A-Z a-z 0-9 - _,
 * no '='): n when all are. Sixteen at a time where SSE2 is there. */
size_t ow_b64_url_run(const char *src, size_t n);
#endif
