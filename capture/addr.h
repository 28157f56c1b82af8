/* addr: an IPv4 or IPv6 address as the wire carried it, and its text form.
 * Every layer above capture names endpoints with ow_addr, never with libnids' stand-ins. */
#ifndef OW_ADDR_H
#define OW_ADDR_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct ow_addr {
    uint8_t family;    /* 4 or 6 */
    uint8_t bytes[16]; /* IPv4 in the first 4 bytes */
} ow_addr;

#define OW_ADDR_STRLEN 46

/* Text form: dotted quad, or RFC 5952 for IPv6 (inet_ntop). Returns out. */
char *ow_addr_str(const ow_addr *a, char *out, size_t outlen);
/* Parses dotted quad or IPv6 text; returns false when it is neither. */
bool ow_addr_parse(const char *s, ow_addr *out);
/* Inline: the flow table compares endpoints for every packet. The first four bytes are the
 * whole of an IPv4 address and the start of an IPv6 one. */
static inline bool ow_addr_eq(const ow_addr *a, const ow_addr *b)
{
    return a->family == b->family && memcmp(a->bytes, b->bytes, 4) == 0 &&
           (a->family != 6 || memcmp(a->bytes + 4, b->bytes + 4, 12) == 0);
}
#endif
