/* test_ws_frame: building one RFC 6455 frame for the WebSocket tests. */
#ifndef OW_TEST_WS_FRAME_H
#define OW_TEST_WS_FRAME_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Writes one frame into out (room for len + 14 bytes), masked with key unless key is NULL.
 * Returns its size. */
static inline size_t ws_test_frame(uint8_t *out, int opcode, bool fin, bool rsv1,
                                   const uint8_t key[4], const uint8_t *payload, size_t len)
{
    size_t n = 0;
    out[n++] = (uint8_t)((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode);
    uint8_t m = key ? 0x80 : 0;
    if (len < 126) {
        out[n++] = (uint8_t)(m | len);
    } else if (len < 65536) {
        out[n++] = m | 126;
        out[n++] = (uint8_t)(len >> 8);
        out[n++] = (uint8_t)len;
    } else {
        out[n++] = m | 127;
        for (int i = 7; i >= 0; i--)
            out[n++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    if (key) {
        memcpy(out + n, key, 4);
        n += 4;
    }
    for (size_t i = 0; i < len; i++)
        out[n + i] = key ? payload[i] ^ key[i & 3] : payload[i];
    return n + len;
}
#endif
