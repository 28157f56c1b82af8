/* addr: text conversion and comparison of ow_addr (see addr.h). */
#include "capture/addr.h"
#include <arpa/inet.h>
#include <string.h>

char *ow_addr_str(const ow_addr *a, char *out, size_t outlen)
{
    int af = a->family == 6 ? AF_INET6 : AF_INET;
    if (!inet_ntop(af, a->bytes, out, (socklen_t)outlen) && outlen)
        out[0] = 0;
    return out;
}

bool ow_addr_parse(const char *s, ow_addr *out)
{
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, s, out->bytes) == 1) {
        out->family = 4;
        return true;
    }
    if (inet_pton(AF_INET6, s, out->bytes) == 1) {
        out->family = 6;
        return true;
    }
    return false;
}

bool ow_addr_eq(const ow_addr *a, const ow_addr *b)
{
    size_t n = a->family == 6 ? 16 : 4;
    return a->family == b->family && memcmp(a->bytes, b->bytes, n) == 0;
}
