/* test_capture_readahead: the reader thread hands over every packet unchanged and in order,
 * with the source's end (and its message) at the same place, whatever the packet sizes
 * (records larger than a block included); it stops cleanly wherever it is; and a real pcap
 * read through src_open_file (which reads a regular file ahead) gives exactly the packets
 * libpcap gives directly. */
#include "capture/pcap_source.h"
#include "capture/readahead.h"
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdlib.h>
#include "tests/unit/testlib.h"

/* ---- a made-up source: packet i has a size and bytes derived from i ---- */

typedef struct fake_source {
    uint32_t n, i;
    int end_rc;
    const char *end_msg;
    uint8_t *buf; /* the current packet: valid until the next call, as libpcap's */
} fake_source;

static uint32_t size_of(uint32_t i)
{
    if (i % 997 == 5)
        return READAHEAD_BLOCK_SIZE + 4096 + i % 13; /* larger than a block */
    if (i % 101 == 7)
        return 0;
    return (i * 2654435761u) % 3000;
}

static uint8_t byte_of(uint32_t i, uint32_t k)
{
    return (uint8_t)(i * 31 + k * 7);
}

static int fake_next(void *ctx, raw_packet *p, char *err, size_t errlen)
{
    fake_source *f = ctx;
    if (f->i == f->n) {
        snprintf(err, errlen, "%s", f->end_msg);
        return f->end_rc;
    }
    uint32_t i = f->i++, len = size_of(i);
    free(f->buf);
    f->buf = malloc(len ? len : 1);
    for (uint32_t k = 0; k < len; k++)
        f->buf[k] = byte_of(i, k);
    p->ts = 1000.0 + i / 1000.0;
    p->tv.tv_sec = 1000 + i;
    p->tv.tv_usec = i % 1000000;
    p->caplen = len;
    p->wirelen = len + i % 3;
    p->data = f->buf;
    p->dlt = (int)(i % 5);
    return SRC_PACKET;
}

static bool packet_is(const raw_packet *p, uint32_t i)
{
    uint32_t len = size_of(i);
    if (p->caplen != len || p->wirelen != len + i % 3 || p->dlt != (int)(i % 5) ||
        p->ts != 1000.0 + i / 1000.0 || p->tv.tv_sec != 1000 + (time_t)i ||
        p->tv.tv_usec != (suseconds_t)(i % 1000000))
        return false;
    for (uint32_t k = 0; k < len; k++)
        if (p->data[k] != byte_of(i, k))
            return false;
    return true;
}

static void every_packet_then_the_end(void)
{
    fake_source f = {.n = 40000, .end_rc = SRC_TRUNCATED, .end_msg = "cut at 4242"};
    readahead *ra = readahead_start(fake_next, &f);
    CHECK(ra != NULL);
    if (!ra)
        return;
    raw_packet p;
    char err[128] = "";
    uint32_t good = 0, i = 0;
    int rc;
    while ((rc = readahead_next(ra, &p, err, sizeof err)) == SRC_PACKET)
        good += packet_is(&p, i++);
    CHECK_EQ_INT(i, 40000);
    CHECK_EQ_INT(good, 40000);
    CHECK_EQ_INT(rc, SRC_TRUNCATED);
    CHECK_EQ_STR(err, "cut at 4242");
    err[0] = '\0'; /* asked again: the same end */
    CHECK_EQ_INT(readahead_next(ra, &p, err, sizeof err), SRC_TRUNCATED);
    CHECK_EQ_STR(err, "cut at 4242");
    readahead_stop(ra);
    free(f.buf);
}

static void an_empty_source(void)
{
    fake_source f = {.n = 0, .end_rc = SRC_EOF, .end_msg = ""};
    readahead *ra = readahead_start(fake_next, &f);
    raw_packet p;
    char err[64];
    CHECK(ra && readahead_next(ra, &p, err, sizeof err) == SRC_EOF);
    readahead_stop(ra);
    free(f.buf);
}

/* Stopped with the ring full (the reader waiting), mid-way, and before anything was read. */
static void stops_wherever_it_is(void)
{
    for (int reads = 0; reads <= 3000; reads += 1500) {
        fake_source f = {.n = 1000000, .end_rc = SRC_ERROR, .end_msg = "never reached"};
        readahead *ra = readahead_start(fake_next, &f);
        raw_packet p;
        char err[64];
        uint32_t good = 0;
        for (int k = 0; ra && k < reads; k++)
            good += readahead_next(ra, &p, err, sizeof err) == SRC_PACKET && packet_is(&p, k);
        CHECK_EQ_INT(good, reads);
        readahead_stop(ra); /* returns: the reader was woken and joined */
        CHECK(f.i < f.n);
        free(f.buf);
    }
    readahead_stop(NULL);
}

/* ---- a real file: src_open_file (read ahead) against libpcap read directly ---- */

static void same_as_libpcap(const char *path)
{
    pkt_source s;
    char err[512];
    if (src_open_file(&s, path, err, sizeof err) < 0) {
        fprintf(stderr, "  %s: %s\n", path, err);
        CHECK(!"src_open_file");
        return;
    }
    CHECK(s.ra != NULL); /* a regular file is read ahead */
    char ebuf[PCAP_ERRBUF_SIZE];
    pcap_t *direct =
        pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
    CHECK(direct != NULL);
    uint64_t n = 0, same = 0;
    raw_packet p;
    struct pcap_pkthdr *h;
    const u_char *data;
    int rc;
    while (direct && (rc = src_next(&s, &p, err, sizeof err)) == SRC_PACKET) {
        n++;
        if (pcap_next_ex(direct, &h, &data) != 1)
            break;
        same += h->caplen == p.caplen && h->ts.tv_sec == p.tv.tv_sec &&
                h->ts.tv_usec == p.tv.tv_usec && memcmp(data, p.data, h->caplen) == 0;
    }
    CHECK(n > 100);
    CHECK_EQ_INT(same, n);
    CHECK(direct && pcap_next_ex(direct, &h, &data) == PCAP_ERROR_BREAK); /* both ended */
    printf("%s: %llu packets, %llu the same\n", path, (unsigned long long)n,
           (unsigned long long)same);
    if (direct)
        pcap_close(direct);
    src_close(&s);
}

int main(void)
{
    every_packet_then_the_end();
    an_empty_source();
    stops_wherever_it_is();
    const char *src = getenv("OW_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/sample.pcap", src ? src : ".");
    same_as_libpcap(path);
    TEST_MAIN_END("test_capture_readahead");
}
