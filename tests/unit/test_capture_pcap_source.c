/* test_capture_pcap_source: a file read through pkt_source gives exactly what libpcap gives
 * reading it directly (every packet's time, lengths and bytes, in order, then the end), for
 * packets of every size up to the snap length; a file cut inside a record ends as truncated
 * after its last whole packet; a FIFO (`orphanwatch read <(tcpdump -w -)`) is read too: the
 * pcapng probe used to swallow its first bytes ("unknown file format"); a gzip-compressed
 * file gives the same packets, and cut short ends as truncated; a zstd one is refused with
 * the command that reads it. */
#include "capture/pcap_source.h"
#include "tests/unit/testlib.h"
#include <zlib.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define LINKTYPE_RAW 101
#define SNAPLEN      262144
#define N_PACKETS    6000

static char tmpdir[64];

static uint32_t packet_len(int i)
{
    if (i % 997 == 5)
        return SNAPLEN;
    if (i % 401 == 7)
        return 0;
    return (uint32_t)((i * 7919u) % 3000u) + 20u;
}

static void put32(FILE *f, uint32_t v)
{
    fwrite(&v, 4, 1, f);
}

/* A pcap (little-endian, microseconds, RAW) of N_PACKETS; returns its size in bytes. */
static long write_pcap(const char *path)
{
    static uint8_t data[SNAPLEN];
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    put32(f, 0xa1b2c3d4);
    uint16_t v[2] = {2, 4};
    fwrite(v, 2, 2, f);
    put32(f, 0);
    put32(f, 0);
    put32(f, SNAPLEN);
    put32(f, LINKTYPE_RAW);
    for (int i = 0; i < N_PACKETS; i++) {
        uint32_t len = packet_len(i);
        for (uint32_t k = 0; k < len; k++)
            data[k] = (uint8_t)(i * 31 + k);
        put32(f, 1714550400u + (uint32_t)i / 1000u);
        put32(f, (uint32_t)(i % 1000) * 1000u);
        put32(f, len);
        put32(f, len + (uint32_t)(i % 3)); /* wire length sometimes longer than captured */
        fwrite(data, 1, len, f);
    }
    long size = ftell(f);
    fclose(f);
    return size;
}

static int open_source(pkt_source *s, const char *path)
{
    char err[512] = "";
    capture_opts o;
    memset(&o, 0, sizeof o);
    o.file = path;
    int rc = src_open_file(s, &o, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "  src_open_file(%s): %s\n", path, err);
    return rc;
}

/* Reads path through the source and directly through libpcap, packet by packet; returns the
 * packets that matched, and the source's final code in *end. */
static int compare_with_libpcap(pkt_source *s, const char *path, int *end, char *err, size_t errlen)
{
    char ebuf[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(path, ebuf);
    CHECK(p != NULL);
    if (!p)
        return -1;
    int same = 0;
    for (;;) {
        raw_packet got;
        struct pcap_pkthdr *h;
        const u_char *want;
        int rc = src_next(s, &got, err, errlen);
        int prc = pcap_next_ex(p, &h, &want);
        if (rc != SRC_PACKET || prc != 1) {
            CHECK(rc != SRC_PACKET && prc != 1); /* both end at the same packet */
            *end = rc;
            break;
        }
        if (got.tv.tv_sec == h->ts.tv_sec && got.tv.tv_usec == h->ts.tv_usec &&
            got.caplen == h->caplen && got.wirelen == h->len && got.dlt == DLT_RAW &&
            memcmp(got.data, want, h->caplen) == 0)
            same++;
    }
    pcap_close(p);
    return same;
}

static void test_whole_file(void)
{
    char path[128], err[512];
    pkt_source s;
    snprintf(path, sizeof path, "%s/whole.pcap", tmpdir);
    CHECK(write_pcap(path) > 0);
    if (open_source(&s, path) != 0)
        return;
    int end = 0;
    CHECK_EQ_INT(compare_with_libpcap(&s, path, &end, err, sizeof err), N_PACKETS);
    CHECK_EQ_INT(end, SRC_EOF);
    raw_packet p;
    CHECK_EQ_INT(src_next(&s, &p, err, sizeof err), SRC_EOF); /* and again */
    src_close(&s);
}

static void test_truncated(void)
{
    char path[128], err[512] = "";
    pkt_source s;
    snprintf(path, sizeof path, "%s/cut.pcap", tmpdir);
    long size = write_pcap(path);
    CHECK(size > 0 && truncate(path, size * 2 / 3) == 0);
    if (open_source(&s, path) != 0)
        return;
    int end = 0, same = compare_with_libpcap(&s, path, &end, err, sizeof err);
    CHECK(same > N_PACKETS / 2 && same < N_PACKETS);
    CHECK_EQ_INT(end, SRC_TRUNCATED);
    CHECK(strstr(err, "truncated") != NULL);
    src_close(&s);
}

/* A FIFO: the same packets. */
static void test_fifo(void)
{
    char path[128], fifo[128], err[512];
    snprintf(path, sizeof path, "%s/whole.pcap", tmpdir);
    snprintf(fifo, sizeof fifo, "%s/fifo.pcap", tmpdir);
    CHECK(mkfifo(fifo, 0600) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        int in = open(path, O_RDONLY), out = open(fifo, O_WRONLY);
        char buf[65536];
        ssize_t n;
        while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof buf)) > 0)
            if (write(out, buf, (size_t)n) != n)
                _exit(1);
        _exit(0);
    }
    pkt_source s;
    if (pid > 0 && open_source(&s, fifo) == 0) {
        int end = 0;
        CHECK_EQ_INT(compare_with_libpcap(&s, path, &end, err, sizeof err), N_PACKETS);
        CHECK_EQ_INT(end, SRC_EOF);
        src_close(&s);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
          WEXITSTATUS(status) == 0);
}

/* Compresses src into dst with zlib; the compressed size, -1 on failure. */
static long gzip_file(const char *src, const char *dst)
{
    FILE *in = fopen(src, "rb");
    gzFile out = gzopen(dst, "wb6");
    char buf[65536];
    size_t n;
    bool ok = in && out;
    while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0)
        ok = gzwrite(out, buf, (unsigned)n) == (int)n;
    if (in)
        fclose(in);
    if (out)
        ok = gzclose(out) == Z_OK && ok;
    struct stat st;
    return ok && stat(dst, &st) == 0 ? (long)st.st_size : -1;
}

static void test_gzip(void)
{
    char path[128], gz[128], err[512] = "";
    snprintf(path, sizeof path, "%s/whole.pcap", tmpdir);
    snprintf(gz, sizeof gz, "%s/whole.pcap.gz", tmpdir);
    long size = gzip_file(path, gz);
    CHECK(size > 0);
    pkt_source s;
    if (open_source(&s, gz) == 0) {
        int end = 0;
        CHECK_EQ_INT(compare_with_libpcap(&s, path, &end, err, sizeof err), N_PACKETS);
        CHECK_EQ_INT(end, SRC_EOF);
        src_close(&s);
    }
    /* cut short: the packets before the cut, then truncated */
    CHECK(truncate(gz, size * 2 / 3) == 0);
    if (open_source(&s, gz) == 0) {
        raw_packet p;
        int n = 0, end;
        while ((end = src_next(&s, &p, err, sizeof err)) == SRC_PACKET)
            n++;
        CHECK(n > N_PACKETS / 3 && n < N_PACKETS);
        CHECK_EQ_INT(end, SRC_TRUNCATED);
        src_close(&s);
    }
}

static void test_other_compression(void)
{
    char path[128], err[512] = "";
    snprintf(path, sizeof path, "%s/whole.pcap.zst", tmpdir);
    FILE *f = fopen(path, "wb");
    static const unsigned char zstd[] = {0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x00, 0x01, 0x02};
    CHECK(f && fwrite(zstd, 1, sizeof zstd, f) == sizeof zstd);
    if (f)
        fclose(f);
    pkt_source s;
    capture_opts o;
    memset(&o, 0, sizeof o);
    o.file = path;
    CHECK_EQ_INT(src_open_file(&s, &o, err, sizeof err), -1);
    CHECK(strstr(err, "zstd-compressed") && strstr(err, "zstdcat"));
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ow_test_pcap_source.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_whole_file();
    test_truncated();
    test_fifo();
    test_gzip();
    test_other_compression();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "note: could not remove %s\n", tmpdir);
    TEST_MAIN_END("test_capture_pcap_source");
}
