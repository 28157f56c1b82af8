/* owgen_pcap.c: owgen's output side: a buffered pcap writer (classic pcap, microsecond
 * timestamps, link type RAW or EN10MB) and the Internet checksum (RFC 1071) used for the
 * IPv4 header and TCP checksums. */
#define _POSIX_C_SOURCE 200809L /* write, open */
#include "owgen.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PCAP_BUF_BYTES (8u << 20) /* one write() per 8 MB */
#define PCAP_SNAPLEN   262144

static void put32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    for (int guard = 0; n > 0 && guard < 1000000; guard++) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return n == 0 ? 0 : -1;
}

static void pcap_flush(pcap_out *o)
{
    if (o->len && write_all(o->fd, o->buf, o->len) != 0) {
        perror("owgen: write");
        exit(1);
    }
    o->len = 0;
}

int pcap_open(pcap_out *o, const char *path, int linktype, int offload)
{
    memset(o, 0, sizeof *o);
    o->fd = strcmp(path, "-") == 0 ? 1 : open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (o->fd < 0)
        return -1;
    o->cap = PCAP_BUF_BYTES;
    o->buf = malloc(o->cap);
    if (!o->buf)
        return -1;
    o->linktype = linktype;
    o->offload = offload;
    uint8_t *h = o->buf;
    put32le(h, 0xa1b2c3d4);
    h[4] = 2, h[5] = 0, h[6] = 4, h[7] = 0; /* version 2.4 */
    put32le(h + 8, 0);
    put32le(h + 12, 0);
    put32le(h + 16, PCAP_SNAPLEN);
    put32le(h + 20, (uint32_t)linktype);
    o->len = 24;
    o->bytes = 24;
    return 0;
}

int pcap_close(pcap_out *o)
{
    pcap_flush(o);
    free(o->buf);
    o->buf = NULL;
    int rc = 0;
    if (o->fd > 2)
        rc = close(o->fd);
    return rc;
}

uint8_t *pcap_reserve(pcap_out *o, size_t n)
{
    if (o->len + n > o->cap)
        pcap_flush(o);
    return o->buf + o->len;
}

void pcap_commit(pcap_out *o, size_t n)
{
    o->len += n;
    o->bytes += n;
    o->packets++;
}

/* Sum of native-order 16-bit words (as 32-bit loads) into 32 bits plus carries; the final
 * fold and complement give the checksum in native order, to be stored with memcpy. */
uint32_t csum_partial(const uint8_t *p, size_t n, uint32_t sum32)
{
    uint64_t sum = sum32;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        uint32_t w[4];
        memcpy(w, p + i, 16);
        sum += (uint64_t)w[0] + w[1] + w[2] + w[3];
    }
    for (; i + 4 <= n; i += 4) {
        uint32_t w;
        memcpy(&w, p + i, 4);
        sum += w;
    }
    if (i + 2 <= n) {
        uint16_t w;
        memcpy(&w, p + i, 2);
        sum += w;
        i += 2;
    }
    if (i < n) {
        uint8_t last[2] = {p[i], 0};
        uint16_t w;
        memcpy(&w, last, 2);
        sum += w;
    }
    while (sum >> 32)
        sum = (sum & 0xffffffffu) + (sum >> 32);
    return (uint32_t)sum;
}

uint16_t csum_fold(uint64_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}
