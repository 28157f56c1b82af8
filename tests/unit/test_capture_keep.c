/* test_capture_keep: --keep-packets (capture/packet_keep.c). The rotation arithmetic; a ring of
 * kept files fed synthetic frames stays within its bound at every flush (files of at most
 * bound/8, mode 0600, the oldest deleted first and reported as dropped, every packet counted
 * once); the first packet's link type is every file's; the directory checks; and capture/
 * keeps exactly the server-port TCP packets of a capture, byte for byte. */
#include "capture/packet_keep.h"
#include "tests/unit/test_capture_synth.h"
#include <dirent.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <sys/stat.h>
#include "tests/unit/testlib.h"

#define MAX_SEEN 512
#define RING_MAX (64u * 1024)
#define RING_N   3000

typedef struct seen_file {
    char path[512];
    uint64_t packets, bytes;
    double first, last;
    bool dropped;
} seen_file;

typedef struct seen {
    seen_file f[MAX_SEEN];
    int n;
} seen;

/* The last report of each file. */
static void on_file(void *ctx, const capture_kept_file *k)
{
    seen *s = ctx;
    int i = 0;
    while (i < s->n && strcmp(s->f[i].path, k->path) != 0)
        i++;
    if (i == MAX_SEEN)
        return;
    if (i == s->n)
        s->n++;
    seen_file *f = &s->f[i];
    snprintf(f->path, sizeof f->path, "%s", k->path);
    f->packets = k->packets;
    f->bytes = k->bytes;
    f->first = k->first_ts;
    f->last = k->last_ts;
    f->dropped = k->dropped;
}

/* Sum of the sizes of the regular files in dir; counts them, checks each one's mode and
 * size. */
static uint64_t dir_bytes(const char *dir, int *files, uint64_t file_limit)
{
    DIR *d = opendir(dir);
    uint64_t total = 0;
    *files = 0;
    if (!d)
        return 0;
    for (struct dirent *e; (e = readdir(d));) {
        char p[512];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (stat(p, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        CHECK_EQ_INT(st.st_mode & 0777, 0600);
        CHECK((uint64_t)st.st_size <= file_limit);
        total += (uint64_t)st.st_size;
        (*files)++;
    }
    closedir(d);
    return total;
}

static long pcap_count(const char *path, int *dlt)
{
    char e[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(path, e);
    if (!p)
        return -1;
    *dlt = pcap_datalink(p);
    struct pcap_pkthdr *h;
    const u_char *d;
    long n = 0;
    while (pcap_next_ex(p, &h, &d) == 1)
        n++;
    pcap_close(p);
    return n;
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        for (struct dirent *e; (e = readdir(d));) {
            char p[512];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            if (e->d_name[0] != '.')
                unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

static void test_arithmetic(void)
{
    CHECK_EQ_INT(pk_file_limit(1u << 20), 131072);
    CHECK_EQ_INT(pk_file_limit(256ull << 20), 32u << 20);
    CHECK(!pk_must_rotate(OW_KEEP_FILE_HEADER, 0, 300000, 1000)); /* an empty file takes any */
    CHECK(!pk_must_rotate(140, 1, 116, 256));                     /* exactly full still fits */
    CHECK(pk_must_rotate(140, 1, 117, 256));
}

static void check_reports(const seen *s, const capture_stats *st, const char *dir)
{
    uint64_t packets = 0, dropped_packets = 0;
    int dropped = 0, alive = 0;
    for (int i = 0; i < s->n; i++) {
        const seen_file *f = &s->f[i];
        struct stat sb;
        bool exists = stat(f->path, &sb) == 0;
        CHECK(strncmp(f->path, dir, strlen(dir)) == 0 || f->path[0] == '/');
        packets += f->packets;
        if (f->dropped) {
            dropped++;
            dropped_packets += f->packets;
            CHECK(!exists);
            continue;
        }
        alive++;
        int dlt = -1;
        CHECK(exists && (uint64_t)sb.st_size == f->bytes);
        CHECK_EQ_INT(pcap_count(f->path, &dlt), (long)f->packets);
        CHECK_EQ_INT(dlt, DLT_RAW);
        CHECK(f->first <= f->last);
    }
    CHECK_EQ_INT(packets, RING_N);
    CHECK_EQ_INT(dropped, st->kept_files_dropped);
    CHECK_EQ_INT(dropped_packets, st->kept_packets_dropped);
    CHECK(dropped > 0 && alive > 1);
}

/* Frames of varying size, flushed now and then: the files on disk never exceed the bound. */
static void test_ring(void)
{
    char base[] = "/tmp/ow_keep_XXXXXX", dir[64];
    CHECK(mkdtemp(base) != NULL);
    snprintf(dir, sizeof dir, "%s/kept", base);
    static seen s;
    capture_stats st = {0};
    capture_opts o = {
        .keep_dir = dir, .keep_bytes = RING_MAX, .on_kept_file = on_file, .kept_ctx = &s};
    char err[256];
    packet_keep *k = pk_open(&o, &st, err, sizeof err);
    CHECK(k != NULL);
    if (!k)
        return;
    struct stat ds;
    CHECK(stat(dir, &ds) == 0 && (ds.st_mode & 0777) == 0700);
    static uint8_t frame[70000];
    for (size_t i = 0; i < sizeof frame; i++)
        frame[i] = (uint8_t)i;
    int files = 0;
    double last = 0;
    for (int i = 0; i < RING_N; i++) {
        struct timeval tv = {1700000000 + i / 10, (i % 10) * 100000};
        uint32_t len = 60 + (uint32_t)(i * 37) % 240;
        pk_packet(k, DLT_RAW, &tv, len, len, frame);
        last = (double)tv.tv_sec + tv.tv_usec / 1e6;
        if (i % 97 == 0) {
            pk_tick(k);
            CHECK(dir_bytes(dir, &files, pk_file_limit(RING_MAX)) <= RING_MAX);
        }
    }
    struct timeval tv = {1700001000, 0};
    pk_packet(k, DLT_EN10MB, &tv, 100, 100, frame);  /* another link type */
    pk_packet(k, DLT_RAW, &tv, 66000, 66000, frame); /* can never fit in 64 KiB */
    pk_close(k);
    uint64_t total = dir_bytes(dir, &files, pk_file_limit(RING_MAX));
    CHECK(total <= RING_MAX && total > RING_MAX / 2);
    CHECK_EQ_INT(st.kept_packets, RING_N);
    CHECK_EQ_INT(st.kept_skipped, 2);
    check_reports(&s, &st, dir);
    double newest = 0;
    for (int i = 0; i < s.n; i++)
        if (!s.f[i].dropped && s.f[i].last > newest)
            newest = s.f[i].last;
    CHECK(newest == last); /* the newest packets are the ones kept */
    remove_dir(dir);
    rmdir(base);
}

static void test_directory_checks(void)
{
    char base[] = "/tmp/ow_keep_XXXXXX", path[64], err[256];
    CHECK(mkdtemp(base) != NULL);
    snprintf(path, sizeof path, "%s/plain", base);
    FILE *f = fopen(path, "w");
    if (f)
        fclose(f);
    capture_stats st = {0};
    capture_opts o = {.keep_dir = path};
    packet_keep *k = pk_open(&o, &st, err, sizeof err);
    CHECK(k == NULL && strstr(err, "not a directory"));
    pk_close(k);
    unlink(path);
    if (geteuid() == 0) { /* live as root: the directory must be the dropped user's */
        o = (capture_opts){
            .keep_dir = base, .keep_chown = true, .keep_uid = 65534, .keep_gid = 65534};
        k = pk_open(&o, &st, err, sizeof err);
        CHECK(k == NULL && strstr(err, "not writable"));
        pk_close(k);
        snprintf(path, sizeof path, "%s/new", base);
        o.keep_dir = path;
        k = pk_open(&o, &st, err, sizeof err);
        struct stat sb;
        CHECK(k != NULL && stat(path, &sb) == 0 && sb.st_uid == 65534 && sb.st_gid == 65534);
        pk_close(k);
        rmdir(path);
    }
    rmdir(base);
}

/* capture/ keeps the server-port TCP packets, as they were, and nothing else. */
static void test_capture_keeps_server_port(void)
{
    synth_pcap p;
    CHECK(synth_open(&p, DLT_RAW) == 0);
    int server_packets = 0;
    for (int i = 0; i < 40; i++) {
        bool web = i % 3 == 0; /* port 80: not analysed, not kept */
        synth_seg g = {.src = 0x64400002u,
                       .dst = 0x64400001u,
                       .sport = (uint16_t)(40000 + i % 5),
                       .dport = web ? 80 : 5006,
                       .seq = 1000u + (uint32_t)i * 10,
                       .ack = 1,
                       .flags = S_ACK | S_PSH,
                       .payload_len = 10,
                       .wscale = -1};
        synth_tcp(&p, &g);
        p.t += 0.01;
        server_packets += !web;
    }
    synth_close(&p);
    char base[] = "/tmp/ow_keep_XXXXXX", err[256];
    CHECK(mkdtemp(base) != NULL);
    static seen s;
    memset(&s, 0, sizeof s);
    capture_opts o = {.file = p.path, .keep_dir = base, .on_kept_file = on_file, .kept_ctx = &s};
    static rec_sink r;
    capture_stats st = {0};
    CHECK_EQ_INT(rec_run_opts(&o, &r, &st, err, sizeof err), 0);
    CHECK_EQ_INT(st.kept_packets, server_packets);
    CHECK_EQ_INT(st.kept_packets, st.tcp_packets);
    CHECK_EQ_INT(s.n, 1);
    char e[PCAP_ERRBUF_SIZE];
    pcap_t *orig = pcap_open_offline(p.path, e),
           *kept = s.n ? pcap_open_offline(s.f[0].path, e) : NULL;
    CHECK(orig && kept);
    struct pcap_pkthdr *h, *hk;
    const u_char *d, *dk;
    int same = 0;
    while (orig && kept && pcap_next_ex(orig, &h, &d) == 1) {
        if (((d[22] << 8) | d[23]) != 5006)
            continue;
        if (pcap_next_ex(kept, &hk, &dk) == 1 && hk->caplen == h->caplen && hk->len == h->len &&
            hk->ts.tv_sec == h->ts.tv_sec && hk->ts.tv_usec == h->ts.tv_usec &&
            memcmp(d, dk, h->caplen) == 0)
            same++;
    }
    CHECK_EQ_INT(same, server_packets);
    CHECK(!kept || pcap_next_ex(kept, &hk, &dk) != 1); /* nothing more */
    if (orig)
        pcap_close(orig);
    if (kept)
        pcap_close(kept);
    unlink(p.path);
    remove_dir(base);
}

int main(void)
{
    test_arithmetic();
    test_ring();
    test_directory_checks();
    test_capture_keeps_server_port();
    TEST_MAIN_END("test_capture_keep");
}
