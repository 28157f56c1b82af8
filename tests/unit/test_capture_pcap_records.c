/* test_capture_pcap_records: the own reader of classic pcap records (pcap_records.c) gives,
 * packet for packet and to the last error message, what libpcap gives reading the file
 * itself: on plain files (records crossing its buffer's end), on files whose records turn odd
 * midway (captured length beyond the snapshot length, beyond libpcap's maximum), on a small
 * file cut at every byte, and on random files mixing all of these. It takes over only the
 * files it can (native byte order, microseconds, 2.4, regular file, no filter): a
 * nanosecond, byte-swapped, filtered or piped file stays with libpcap. */
#include "capture/pcap_source.h"
#include "tests/unit/testlib.h"
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LINKTYPE_RAW 101
#define MAX_RECORDS  4000

static char tmpdir[64];
static uint8_t payload[300000];

typedef struct rec_spec {
    uint32_t caplen; /* as written in the record header */
    uint32_t bytes;  /* bytes written after it (fewer: a lie; the file goes on) */
    uint32_t len;
} rec_spec;

typedef struct file_spec {
    uint32_t magic;
    uint16_t major, minor;
    uint32_t snaplen;
    bool swapped;
    rec_spec rec[MAX_RECORDS];
    int n;
} file_spec;

static uint32_t swap32(uint32_t v)
{
    return v >> 24 | (v >> 8 & 0xff00) | (v << 8 & 0xff0000) | v << 24;
}

static void put32(FILE *f, uint32_t v, bool swapped)
{
    v = swapped ? swap32(v) : v;
    fwrite(&v, 4, 1, f);
}

static void put16(FILE *f, uint16_t v, bool swapped)
{
    v = swapped ? (uint16_t)(v >> 8 | v << 8) : v;
    fwrite(&v, 2, 1, f);
}

/* Writes fs to path; returns the file's size. */
static long write_file(const char *path, const file_spec *fs)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    put32(f, fs->magic, fs->swapped);
    put16(f, fs->major, fs->swapped);
    put16(f, fs->minor, fs->swapped);
    put32(f, 0, fs->swapped);
    put32(f, 0, fs->swapped);
    put32(f, fs->snaplen, fs->swapped);
    put32(f, LINKTYPE_RAW, fs->swapped);
    for (int i = 0; i < fs->n; i++) {
        const rec_spec *r = &fs->rec[i];
        put32(f, 1714550400u + (uint32_t)i, fs->swapped);
        put32(f, (uint32_t)(i * 7919) % 1000000u, fs->swapped);
        put32(f, r->caplen, fs->swapped);
        put32(f, r->len, fs->swapped);
        fwrite(payload + i % 1000, 1, r->bytes, f);
    }
    long size = ftell(f);
    fclose(f);
    return size;
}

static void plain_header(file_spec *fs, uint32_t snaplen)
{
    memset(fs, 0, sizeof *fs);
    fs->magic = 0xa1b2c3d4;
    fs->major = 2;
    fs->minor = 4;
    fs->snaplen = snaplen;
}

static void add(file_spec *fs, uint32_t caplen, uint32_t bytes, uint32_t len)
{
    if (fs->n < MAX_RECORDS)
        fs->rec[fs->n++] = (rec_spec){caplen, bytes, len};
}

/* Reads src_path through pkt_source (own reader when used_own) and path through libpcap;
 * every packet and the end (code class and message) must agree. Returns the packets
 * compared. */
static int compare_from(const char *src_path, const char *path, const char *bpf, bool used_own)
{
    pkt_source s;
    capture_opts o;
    memset(&o, 0, sizeof o);
    o.file = src_path;
    o.bpf = bpf;
    char err[512] = "", ebuf[PCAP_ERRBUF_SIZE];
    if (src_open_file(&s, &o, err, sizeof err) != 0) {
        pcap_t *q = pcap_open_offline(path, ebuf);
        CHECK(q == NULL); /* refused by both */
        if (q)
            pcap_close(q);
        return 0;
    }
    CHECK((s.rec.buf != NULL) == used_own);
    pcap_t *p = pcap_open_offline(path, ebuf);
    CHECK(p != NULL);
    if (!p) {
        src_close(&s);
        return -1;
    }
    int n = 0;
    for (;;) {
        raw_packet got;
        struct pcap_pkthdr *h;
        const u_char *want;
        int rc = src_next(&s, &got, err, sizeof err);
        int prc = pcap_next_ex(p, &h, &want);
        if (rc != SRC_PACKET || prc != 1) {
            CHECK(rc != SRC_PACKET && prc != 1);
            CHECK((rc == SRC_EOF) == (prc == PCAP_ERROR_BREAK));
            if (prc == PCAP_ERROR)
                CHECK_EQ_STR(err, pcap_geterr(p));
            break;
        }
        bool same = got.tv.tv_sec == h->ts.tv_sec && got.tv.tv_usec == h->ts.tv_usec &&
                    got.caplen == h->caplen &&
                    got.wirelen == (h->len < h->caplen ? h->caplen : h->len) &&
                    memcmp(got.data, want, h->caplen) == 0;
        CHECK(same);
        if (!same)
            break;
        n++;
    }
    pcap_close(p);
    src_close(&s);
    return n;
}

static int compare(const char *path, const char *bpf, bool used_own)
{
    return compare_from(path, path, bpf, used_own);
}

static void path_of(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

static file_spec fs; /* large: one at a time */

/* Records of every size, some 256 KB, crossing the reader's 1 MB buffer many times. */
static void test_plain(void)
{
    char path[128];
    path_of(path, sizeof path, "plain.pcap");
    plain_header(&fs, 262144);
    for (int i = 0; i < 3000; i++) {
        uint32_t len = i % 211 == 3 ? 262144 : i % 97 == 1 ? 0 : (uint32_t)(i * 7919) % 3000u;
        add(&fs, len, len, len + (uint32_t)(i % 3));
    }
    CHECK(write_file(path, &fs) > 8 * PCAP_RECORDS_BUF_SIZE);
    CHECK_EQ_INT(compare(path, NULL, true), 3000);
    /* the same file through a filter, and piped: libpcap's own reading */
    pkt_source src;
    capture_opts o = {.file = path, .bpf = "ip", .n_server_ports = 1, .server_ports = {5006}};
    char err[512] = "";
    CHECK(src_open_file(&src, &o, err, sizeof err) == 0 && src.rec.buf == NULL && src.pcap);
    src_close(&src);
    char fifo[128], cmd[400];
    path_of(fifo, sizeof fifo, "plain.fifo");
    CHECK(mkfifo(fifo, 0600) == 0);
    snprintf(cmd, sizeof cmd, "cat %s > %s &", path, fifo);
    CHECK(system(cmd) == 0);
    CHECK_EQ_INT(compare_from(fifo, path, NULL, false), 3000);
}

/* Records that turn odd after a while: libpcap takes over at that record. */
static void test_odd_midway(void)
{
    char path[128];
    path_of(path, sizeof path, "odd.pcap");
    /* beyond a small snapshot length: libpcap keeps the first snaplen bytes, and goes on */
    plain_header(&fs, 1500);
    for (int i = 0; i < 50; i++)
        add(&fs, 1000, 1000, 1000);
    add(&fs, 4000, 4000, 4000);
    for (int i = 0; i < 50; i++)
        add(&fs, 700, 700, 900);
    CHECK(write_file(path, &fs) > 0);
    CHECK_EQ_INT(compare(path, NULL, true), 101);
    /* beyond libpcap's maximum: an error after the packets before it */
    plain_header(&fs, 262144);
    for (int i = 0; i < 30; i++)
        add(&fs, 100, 100, 100);
    add(&fs, 262145, 2000, 262145);
    add(&fs, 100, 100, 100);
    CHECK(write_file(path, &fs) > 0);
    CHECK_EQ_INT(compare(path, NULL, true), 30);
}

/* Files the own reader leaves to libpcap from the start. */
static void test_not_taken(void)
{
    char path[128];
    path_of(path, sizeof path, "other.pcap");
    plain_header(&fs, 65535);
    for (int i = 0; i < 100; i++)
        add(&fs, 60 + (uint32_t)i, 60 + (uint32_t)i, 60 + (uint32_t)i);
    fs.magic = 0xa1b23c4d; /* nanoseconds */
    CHECK(write_file(path, &fs) > 0);
    CHECK_EQ_INT(compare(path, NULL, false), 100);
    fs.magic = 0xa1b2c3d4;
    fs.swapped = true;
    CHECK(write_file(path, &fs) > 0);
    CHECK_EQ_INT(compare(path, NULL, false), 100);
    fs.swapped = false;
    fs.minor = 3;
    CHECK(write_file(path, &fs) > 0);
    CHECK(compare(path, NULL, false) >= 0);
}

/* A small file cut at every byte: the same packets and the same end as libpcap. */
static void test_every_cut(void)
{
    char path[128], cut[128];
    path_of(path, sizeof path, "small.pcap");
    path_of(cut, sizeof cut, "cut.pcap");
    plain_header(&fs, 262144);
    for (int i = 0; i < 12; i++)
        add(&fs, (uint32_t)(i * 13) % 90u, (uint32_t)(i * 13) % 90u, 90);
    long size = write_file(path, &fs);
    CHECK(size > 0);
    size_t len = 0;
    char *whole = tl_read_file(path, &len);
    CHECK(whole != NULL && (long)len == size);
    int total = 0;
    for (long at = 24; whole && at <= size; at++) {
        FILE *f = fopen(cut, "wb");
        CHECK(f && fwrite(whole, 1, (size_t)at, f) == (size_t)at);
        if (f)
            fclose(f);
        total += compare(cut, NULL, true);
    }
    free(whole);
    CHECK(total > 12 * 12); /* cuts late in the file keep most packets */
}

/* Random files: plain, short and long records, a lie about the length, odd ones. */
static void test_random(void)
{
    char path[128];
    path_of(path, sizeof path, "random.pcap");
    srand(7);
    for (int round = 0; round < 40; round++) {
        uint32_t snap = round % 3 == 0 ? 2048 : 262144;
        plain_header(&fs, snap);
        int n = 1 + rand() % 400;
        for (int i = 0; i < n; i++) {
            int kind = rand() % 100;
            uint32_t c = (uint32_t)rand() % (kind < 5 ? 262144u : 1600u);
            uint32_t bytes = kind == 99 ? c / 2 : c; /* a record shorter than it says */
            add(&fs, kind == 98 ? 300000 : c, bytes, c + (uint32_t)(rand() % 40));
        }
        CHECK(write_file(path, &fs) > 0);
        CHECK(compare(path, NULL, true) >= 0);
    }
}

int main(void)
{
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 131 + 7);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ow_test_pcap_records.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_plain();
    test_odd_midway();
    test_not_taken();
    test_every_cut();
    test_random();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "note: could not remove %s\n", tmpdir);
    TEST_MAIN_END("test_capture_pcap_records");
}
