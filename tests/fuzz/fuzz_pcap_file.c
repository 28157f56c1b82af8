/* fuzz_pcap_file: libFuzzer target for capture/pcap_file.c, the own reader of classic pcap
 * files. The first input byte picks a file header (0: none, the input is the whole file;
 * 1-3: a fixed header, the input the records behind it) and a mapping window; the rest is the
 * file. Three readings of it must agree, packet by packet (timestamp, caplen, len, bytes) and
 * in how they end (clean, or the same error message):
 *   - the memory parser (pcapf_parse_header / pcapf_parse_record over the buffer),
 *   - libpcap reading the same bytes (fmemopen, microsecond precision), when the parser takes
 *     the header (and libpcap must then take it too, with the same link type and snapshot),
 *   - the mapped reader (pcapf_open on a memfd) with the chosen window, sliding over it;
 * and the mapped reader's next call after the end must give libpcap's (the end again, or
 * after a bogus record what follows its header). */
#include "capture/pcap_file.h"
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_FILE (1u << 20)

static void fail(const char *what, size_t packet)
{
    fprintf(stderr, "fuzz_pcap_file: %s (packet %zu)\n", what, packet);
    abort();
}

static void put32(uint8_t *p, uint32_t v, bool swap)
{
    v = swap ? __builtin_bswap32(v) : v;
    memcpy(p, &v, 4);
}

static void put16(uint8_t *p, uint16_t v, bool swap)
{
    v = swap ? __builtin_bswap16(v) : v;
    memcpy(p, &v, 2);
}

/* 1: little-endian microseconds, RAW, snaplen 262144, 2.4; 2: big-endian nanoseconds,
 * Ethernet, snaplen 100, 2.4; 3: little-endian, SLL, snaplen 0, 2.3 (lengths maybe swapped). */
static size_t header(uint8_t *h, unsigned shape)
{
    static const uint32_t magic[] = {0, 0xa1b2c3d4, 0xa1b23c4d, 0xa1b2c3d4};
    static const uint32_t snap[] = {0, 262144, 100, 0}, lt[] = {0, 101, 1, 113};
    static const uint16_t minor[] = {0, 4, 4, 3};
    if (shape == 0)
        return 0;
    bool swap = shape == 2;
    put32(h, magic[shape], swap);
    put16(h + 4, 2, swap);
    put16(h + 6, minor[shape], swap);
    put32(h + 8, 0, swap);
    put32(h + 12, 0, swap);
    put32(h + 16, snap[shape], swap);
    put32(h + 20, lt[shape], swap);
    return 24;
}

typedef struct reading {
    int rc;
    pcapf_record r;
    char err[PCAP_ERRBUF_SIZE + 64];
} reading;

static void same(const reading *a, const reading *b, size_t n, const char *who)
{
    if (a->rc != b->rc)
        fail(who, n);
    if (a->rc == PCAPF_PACKET) {
        const pcapf_record *x = &a->r, *y = &b->r;
        if (x->tv.tv_sec != y->tv.tv_sec || x->tv.tv_usec != y->tv.tv_usec ||
            x->caplen != y->caplen || x->len != y->len || memcmp(x->data, y->data, x->caplen)) {
            fprintf(stderr, "%lld.%06lld %u/%u vs %lld.%06lld %u/%u\n", (long long)x->tv.tv_sec,
                    (long long)x->tv.tv_usec, x->caplen, x->len, (long long)y->tv.tv_sec,
                    (long long)y->tv.tv_usec, y->caplen, y->len);
            fail(who, n);
        }
    } else if (a->rc != PCAPF_END && strcmp(a->err, b->err) != 0) {
        fprintf(stderr, "\"%s\" vs \"%s\"\n", a->err, b->err);
        fail(who, n);
    }
}

static void libpcap_next(pcap_t *p, reading *out)
{
    struct pcap_pkthdr *h;
    const u_char *d;
    int rc = pcap_next_ex(p, &h, &d);
    out->err[0] = 0;
    if (rc == 1) {
        out->rc = PCAPF_PACKET;
        out->r.tv = h->ts;
        out->r.caplen = h->caplen;
        out->r.len = h->len;
        out->r.data = d;
    } else if (rc == PCAP_ERROR_BREAK) {
        out->rc = PCAPF_END;
    } else {
        snprintf(out->err, sizeof out->err, "%s", pcap_geterr(p));
        out->rc = strstr(out->err, "truncated") ? PCAPF_SHORT : PCAPF_ERROR;
    }
}

static pcap_t *libpcap_open(const uint8_t *file, size_t n, const pcapf_format *f)
{
    FILE *fp = fmemopen((void *)file, n, "rb");
    char ebuf[PCAP_ERRBUF_SIZE];
    pcap_t *p =
        fp ? pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_MICRO, ebuf) : NULL;
    if (!p) {
        if (fp)
            fclose(fp);
        fail("libpcap refused a header the reader takes", 0);
    }
    if (pcap_datalink(p) != f->dlt || (uint32_t)pcap_snapshot(p) != f->snapshot)
        fail("link type or snapshot differs from libpcap's", 0);
    return p;
}

static pcapf_reader *mapped_open(const uint8_t *file, size_t n, size_t window, int *fd)
{
    *fd = memfd_create("fuzz_pcap_file", 0);
    if (*fd < 0 || write(*fd, file, n) != (ssize_t)n)
        return NULL;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", *fd);
    pcapf_reader *pf = pcapf_open(path, window);
    if (!pf)
        fail("the mapped reader refused a header the parser takes", 0);
    return pf;
}

static void compare_all(const uint8_t *file, size_t n, const pcapf_format *f, size_t window)
{
    pcap_t *p = libpcap_open(file, n, f);
    int fd;
    pcapf_reader *pf = mapped_open(file, n, window, &fd);
    size_t off = PCAPF_HEADER_LEN;
    for (size_t i = 0;; i++) {
        reading mem, lib, map;
        mem.rc = pcapf_parse_record(f, file, n, off, &mem.r, mem.err, sizeof mem.err);
        libpcap_next(p, &lib);
        same(&mem, &lib, i, "the parser and libpcap differ");
        if (pf) {
            map.rc = pcapf_next(pf, &map.r, map.err, sizeof map.err);
            same(&mem, &map, i, "the parser and the mapped reader differ");
        }
        if (mem.rc != PCAPF_PACKET)
            break;
        off = mem.r.next;
    }
    if (pf) { /* the call after the end: libpcap's answer too */
        reading lib, map;
        libpcap_next(p, &lib);
        map.rc = pcapf_next(pf, &map.r, map.err, sizeof map.err);
        same(&lib, &map, 0, "libpcap and the mapped reader differ after the end");
    }
    pcapf_close(pf);
    if (fd >= 0)
        close(fd);
    pcap_close(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t windows[] = {4096, 8192, 65536, 0};
    if (size < 1 || size > MAX_FILE)
        return 0;
    unsigned shape = data[0] % 4;
    size_t window = windows[(data[0] >> 2) % 4];
    uint8_t *file = malloc(size + 24);
    if (!file)
        return 0;
    size_t h = header(file, shape);
    memcpy(file + h, data + 1, size - 1);
    size_t n = h + size - 1;
    pcapf_format f;
    if (pcapf_parse_header(file, n, &f))
        compare_all(file, n, &f, window);
    free(file);
    return 0;
}
