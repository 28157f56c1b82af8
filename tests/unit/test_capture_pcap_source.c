/* test_capture_pcap_source: a file read through pkt_source gives exactly what libpcap gives
 * reading it directly (every packet's time, lengths and bytes, in order, then the end), for
 * packets of every size up to the snap length; a file cut inside a record ends as truncated
 * after its last whole packet; a FIFO (`orphanwatch read <(tcpdump -w -)`) is read too: the
 * pcapng probe used to swallow its first bytes ("unknown file format"); a gzip-compressed
 * file gives the same packets, and cut short ends as truncated; a zstd one is refused with
 * the command that reads it; a pcapng of two sections (libpcap 1.10 refuses the second) gives
 * the same packets by name, from a FIFO, gzip-compressed and on standard input (a pcap there
 * too), and its filter is compiled as its link types come. A stream waiting for bytes (a
 * pipe, plain or gzip) calls its idle hook meanwhile, and reads what comes after. */
#include "capture/compressed.h"
#include "capture/pcap_source.h"
#include "tests/unit/testlib.h"
#include <zlib.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
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

static uint32_t packet_sec(int i)
{
    return 1714550400u + (uint32_t)i / 1000u;
}

/* Any microsecond: a time rebuilt from a double must come out exact. */
static uint32_t packet_usec(int i)
{
    return ((uint32_t)i * 7919u + 123u) % 1000000u;
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
        put32(f, packet_sec(i));
        put32(f, packet_usec(i));
        put32(f, len);
        put32(f, len + (uint32_t)(i % 3)); /* wire length sometimes longer than captured */
        fwrite(data, 1, len, f);
    }
    long size = ftell(f);
    fclose(f);
    return size;
}

/* A pcap block: type, length, body (padded to 4 bytes), length again. */
static void put_block(FILE *f, uint32_t type, const void *body, uint32_t n)
{
    static const uint8_t pad[4];
    uint32_t padded = (n + 3u) & ~3u;
    put32(f, type);
    put32(f, padded + 12);
    fwrite(body, 1, n, f);
    fwrite(pad, 1, padded - n, f);
    put32(f, padded + 12);
}

static void put_section(FILE *f)
{
    uint8_t shb[16] = {0};
    uint32_t bom = 0x1A2B3C4D;
    memcpy(shb, &bom, 4);
    shb[4] = 1;               /* version 1.0 */
    memset(shb + 8, 0xFF, 8); /* section length unknown */
    put_block(f, 0x0A0D0D0A, shb, sizeof shb);
    uint8_t idb[8] = {LINKTYPE_RAW, 0, 0, 0};
    uint32_t snap = SNAPLEN;
    memcpy(idb + 4, &snap, 4);
    put_block(f, 1, idb, sizeof idb);
}

/* The packets of write_pcap as a pcapng of two sections, one RAW interface each (libpcap 1.10
 * stops at the second): the own reader's. Returns its size. */
static long write_pcapng_sections(const char *path)
{
    static uint8_t block[20 + SNAPLEN];
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    for (int i = 0; i < N_PACKETS; i++) {
        if (i == 0 || i == N_PACKETS / 2)
            put_section(f);
        uint32_t len = packet_len(i), w[5];
        uint64_t us = (uint64_t)packet_sec(i) * 1000000u + packet_usec(i);
        w[0] = 0; /* interface */
        w[1] = (uint32_t)(us >> 32);
        w[2] = (uint32_t)us;
        w[3] = len;
        w[4] = len + (uint32_t)(i % 3);
        memcpy(block, w, sizeof w);
        for (uint32_t k = 0; k < len; k++)
            block[20 + k] = (uint8_t)(i * 31 + k);
        put_block(f, 6, block, 20 + len);
    }
    long size = ftell(f);
    fclose(f);
    return size;
}

static int open_source_filtered(pkt_source *s, const char *path, const char *bpf)
{
    char err[512] = "";
    static capture_opts o; /* outlives the source (its filter is compiled as packets come) */
    memset(&o, 0, sizeof o);
    o.file = path;
    o.bpf = bpf;
    o.server_ports[0] = 5006;
    o.n_server_ports = 1;
    int rc = src_open_file(s, &o, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "  src_open_file(%s): %s\n", path, err);
    return rc;
}

static int open_source(pkt_source *s, const char *path)
{
    return open_source_filtered(s, path, NULL);
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

/* Feeds path into a new FIFO from a child; returns the child (0 on failure). */
static pid_t feed_fifo(const char *path, const char *fifo)
{
    if (mkfifo(fifo, 0600) != 0)
        return 0;
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
    return pid > 0 ? pid : 0;
}

static void reap(pid_t pid)
{
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
          WEXITSTATUS(status) == 0);
}

/* A FIFO: the same packets. */
static void test_fifo(void)
{
    char path[128], fifo[128], err[512];
    snprintf(path, sizeof path, "%s/whole.pcap", tmpdir);
    snprintf(fifo, sizeof fifo, "%s/fifo.pcap", tmpdir);
    pid_t pid = feed_fifo(path, fifo);
    pkt_source s;
    if (pid > 0 && open_source(&s, fifo) == 0) {
        int end = 0;
        CHECK_EQ_INT(compare_with_libpcap(&s, path, &end, err, sizeof err), N_PACKETS);
        CHECK_EQ_INT(end, SRC_EOF);
        src_close(&s);
    }
    reap(pid);
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
        /* the same cut file from a pipe (decompressed as a stream): the same packets, the
         * same end */
        char fifo[128];
        snprintf(fifo, sizeof fifo, "%s/gz.fifo", tmpdir);
        pid_t pid = feed_fifo(gz, fifo);
        int m = 0, end2 = 0;
        if (pid > 0 && open_source(&s, fifo) == 0) {
            while ((end2 = src_next(&s, &p, err, sizeof err)) == SRC_PACKET)
                m++;
            src_close(&s);
        }
        reap(pid);
        unlink(fifo);
        CHECK(m == n && end2 == SRC_TRUNCATED);
    }
}

/* The start of a zstd frame: enough to be recognised as zstd. */
static void write_zstd(const char *path)
{
    FILE *f = fopen(path, "wb");
    static const unsigned char zstd[] = {0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x00, 0x01, 0x02};
    CHECK(f && fwrite(zstd, 1, sizeof zstd, f) == sizeof zstd);
    if (f)
        fclose(f);
}

/* A corrupt gzip stream is an error after the packets before it, not a quiet end; another
 * compression on standard input is refused with the command to put in the pipe. */
static void test_stream_refusals(void)
{
    char gz[128], bad[128], fifo[128], err[512] = "";
    snprintf(gz, sizeof gz, "%s/whole.pcap.gz", tmpdir);
    snprintf(bad, sizeof bad, "%s/bad.gz", tmpdir);
    snprintf(fifo, sizeof fifo, "%s/bad.fifo", tmpdir);
    FILE *in = fopen(gz, "rb"), *out = fopen(bad, "wb");
    static char buf[200000];
    size_t n = in ? fread(buf, 1, sizeof buf, in) : 0;
    CHECK(n > 10000);
    for (size_t i = n / 2; i < n; i++) /* the second half of the deflate data: garbage */
        buf[i] = (char)(i * 7919u >> 3);
    CHECK(out && fwrite(buf, 1, n, out) == n);
    if (in)
        fclose(in);
    if (out)
        fclose(out);
    pkt_source s;
    pid_t pid = feed_fifo(bad, fifo);
    int packets = 0, end = 0;
    if (pid > 0 && open_source(&s, fifo) == 0) {
        raw_packet p;
        while ((end = src_next(&s, &p, err, sizeof err)) == SRC_PACKET)
            packets++;
        src_close(&s);
    }
    reap(pid);
    CHECK(packets > 0 && end == SRC_ERROR);

    char zst[128];
    snprintf(zst, sizeof zst, "%s/whole.pcap.zst", tmpdir);
    write_zstd(zst);
    int saved = dup(0), fd = open(zst, O_RDONLY);
    CHECK(saved >= 0 && fd >= 0 && dup2(fd, 0) == 0);
    capture_opts o;
    memset(&o, 0, sizeof o);
    o.file = "-";
    CHECK_EQ_INT(src_open_file(&s, &o, err, sizeof err), -1);
    CHECK(strstr(err, "standard input is zstd-compressed") && strstr(err, "| zstdcat |"));
    clearerr(stdin);
    CHECK(dup2(saved, 0) == 0);
    close(saved);
    close(fd);
}

/* Packets kept by a filter, through the source. */
static int count_kept(const char *path, const char *bpf, int *end)
{
    pkt_source s;
    char err[512];
    if (open_source_filtered(&s, path, bpf) != 0)
        return -1;
    raw_packet p;
    int n = 0;
    while ((*end = src_next(&s, &p, err, sizeof err)) == SRC_PACKET)
        n++;
    src_close(&s);
    return n;
}

/* A pcapng libpcap cannot read (two sections) gives libpcap's packets of the same pcap by
 * name, from a FIFO, gzip-compressed and on standard input (the last three are read once,
 * their first bytes given back to the own reader); with a filter, what the filter keeps of
 * the pcap. */
static void test_pcapng_streams(void)
{
    char pcap[128], ng[128], gz[128], fifo[128], err[512] = "";
    snprintf(pcap, sizeof pcap, "%s/whole.pcap", tmpdir);
    snprintf(ng, sizeof ng, "%s/sections.pcapng", tmpdir);
    snprintf(gz, sizeof gz, "%s/sections.pcapng.gz", tmpdir);
    snprintf(fifo, sizeof fifo, "%s/fifo.pcapng", tmpdir);
    CHECK(write_pcapng_sections(ng) > 0 && gzip_file(ng, gz) > 0);
    pkt_source s;
    int end = 0;
    char pcap_gz[128];
    snprintf(pcap_gz, sizeof pcap_gz, "%s/whole.pcap.gz", tmpdir);
    CHECK(gzip_file(pcap, pcap_gz) > 0);
    /* by name or FIFO; or on standard input: the pcapng, the pcap, both gzip-compressed */
    const struct {
        const char *path, *stdin_file;
    } by[] = {{ng, NULL},  {gz, NULL}, {fifo, NULL},  {"-", ng},
              {"-", pcap}, {"-", gz},  {"-", pcap_gz}};
    for (size_t k = 0; k < sizeof by / sizeof by[0]; k++) {
        pid_t pid = by[k].path == fifo ? feed_fifo(ng, fifo) : 0;
        int saved = -1, in = -1;
        if (by[k].stdin_file) {
            saved = dup(0);
            in = open(by[k].stdin_file, O_RDONLY);
            CHECK(saved >= 0 && in >= 0 && dup2(in, 0) == 0);
        }
        if (open_source(&s, by[k].path) == 0) {
            CHECK_EQ_INT(compare_with_libpcap(&s, pcap, &end, err, sizeof err), N_PACKETS);
            CHECK_EQ_INT(end, SRC_EOF);
            src_close(&s);
        }
        if (pid)
            reap(pid);
        if (saved >= 0) { /* stdin itself was left open: it is read on */
            clearerr(stdin);
            CHECK(dup2(saved, 0) == 0 && fileno(stdin) == 0);
            close(saved);
            close(in);
        }
    }
    int want = count_kept(pcap, "len > 1500", &end);
    CHECK(want > 0 && want < N_PACKETS && end == SRC_EOF); /* some kept, not all */
    CHECK_EQ_INT(count_kept(ng, "len > 1500", &end), want);
    CHECK_EQ_INT(count_kept(gz, "len > 1500", &end), want);
    CHECK_EQ_INT(end, SRC_EOF);
    /* a filter that cannot apply to RAW: refused at open by name, at the first packet in a
     * stream */
    CHECK_EQ_INT(open_source_filtered(&s, ng, "ether host 1:2:3:4:5:6"), -1);
    CHECK_EQ_INT(count_kept(gz, "ether host 1:2:3:4:5:6", &end), 0);
    CHECK_EQ_INT(end, SRC_ERROR);
}

static void test_other_compression(void)
{
    char path[128], err[512] = "";
    snprintf(path, sizeof path, "%s/whole.pcap.zst", tmpdir);
    write_zstd(path);
    pkt_source s;
    capture_opts o;
    memset(&o, 0, sizeof o);
    o.file = path;
    CHECK_EQ_INT(src_open_file(&s, &o, err, sizeof err), -1);
    CHECK(strstr(err, "zstd-compressed") && strstr(err, "zstdcat"));
}

/* ---- a stream that waits: its idle hook, here the one that writes what comes next ---- */

typedef struct idle_feed {
    int fd;
    const uint8_t *bytes;
    size_t n;
    int calls;
} idle_feed;

static void feed_on_idle(void *ctx)
{
    idle_feed *f = ctx;
    if (f->calls++ == 0)
        CHECK(write(f->fd, f->bytes, f->n) == (ssize_t)f->n);
}

static void test_stream_idle(void)
{
    int p[2];
    CHECK(pipe(p) == 0);
    idle_feed f = {.fd = p[1], .bytes = (const uint8_t *)"later", .n = 5};
    stream_hooks idle = {.idle = feed_on_idle, .ctx = &f};
    char buf[64];
    CHECK_EQ_INT(stream_read_fd(p[0], buf, sizeof buf, &idle), 5); /* after one wait */
    CHECK_EQ_INT(f.calls, 1);
    CHECK(memcmp(buf, "later", 5) == 0);
    CHECK(write(p[1], "x", 1) == 1);
    CHECK_EQ_INT(stream_read_fd(p[0], buf, sizeof buf, &idle), 1); /* there: no wait */
    CHECK_EQ_INT(f.calls, 1);
    /* gzip: its first bytes read already, the rest written while it waits */
    uint8_t gz[128];
    z_stream z = {0};
    CHECK(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    z.next_in = (Bytef *)"written while the reader waited";
    z.avail_in = 31;
    z.next_out = gz;
    z.avail_out = sizeof gz;
    CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
    size_t gz_len = sizeof gz - z.avail_out;
    deflateEnd(&z);
    idle_feed g = {.fd = p[1], .bytes = gz + 10, .n = gz_len - 10};
    stream_hooks idle2 = {.idle = feed_on_idle, .ctx = &g};
    uint8_t head[COMPRESSION_HEAD_MAX];
    size_t n_head = 8;
    char err[256] = "";
    FILE *fp = compressed_gzip_fd(p[0], false, &idle2, gz, 10, head, &n_head, err, sizeof err);
    CHECK(fp != NULL);
    CHECK_EQ_INT(g.calls, 1);
    close(p[1]);
    if (fp) {
        size_t got = fread(buf, 1, sizeof buf, fp);
        CHECK_EQ_INT(got, 31);
        CHECK(memcmp(buf, "written while the reader waited", 31) == 0);
        CHECK(n_head == 8 && memcmp(head, "written ", 8) == 0);
        fclose(fp);
    }
    close(p[0]);
}

/* ---- a stream asked to stop: the wait_ms hook decides whether a read waits on ---- */

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
    (void)sig;
    alarms = alarms + 1;
}

typedef struct wait_plan {
    int fd;      /* written to once a signal came */
    int calls;   /* of the hook */
    int give_up; /* return -1 from this call on (0: never) */
    int idles;
} wait_plan;

static int plan_wait_ms(void *ctx)
{
    wait_plan *w = ctx;
    w->calls++;
    if (w->give_up && w->calls >= w->give_up)
        return -1;
    if (alarms > 0 && w->fd >= 0) {
        CHECK(write(w->fd, "after", 5) == 5);
        w->fd = -1;
    }
    return 1000;
}

static void plan_idle(void *ctx)
{
    ((wait_plan *)ctx)->idles++;
}

/* Interrupts the next blocking call 30 ms from now with SIGALRM (no SA_RESTART). */
static void alarm_soon(void)
{
    struct sigaction sa = {.sa_handler = on_alarm};
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
    struct itimerval t = {.it_value = {.tv_sec = 0, .tv_usec = 30000}};
    CHECK(setitimer(ITIMER_REAL, &t, NULL) == 0);
}

static void test_stream_wait_hook(void)
{
    int p[2];
    CHECK(pipe(p) == 0);
    char buf[16];
    /* -1 at once: the read fails as interrupted, without waiting or going idle */
    wait_plan now = {.fd = -1, .give_up = 1};
    stream_hooks h = {.idle = plan_idle, .ctx = &now, .wait_ms = plan_wait_ms};
    errno = 0;
    CHECK_EQ_INT(stream_read_fd(p[0], buf, sizeof buf, &h), -1);
    CHECK_EQ_INT(errno, EINTR);
    CHECK_EQ_INT(now.calls, 1);
    CHECK_EQ_INT(now.idles, 0);
    /* a signal during the wait: asked again, the hook waits on, and what comes is read */
    alarms = 0;
    wait_plan on = {.fd = p[1]};
    h.ctx = &on;
    alarm_soon();
    CHECK_EQ_INT(stream_read_fd(p[0], buf, sizeof buf, &h), 5);
    CHECK(alarms == 1);
    CHECK_EQ_INT(on.calls, 2);
    CHECK(memcmp(buf, "after", 5) == 0);
    /* without the hook, the same signal ends the read (EINTR), as read(2) would */
    alarms = 0;
    wait_plan none = {.fd = -1};
    stream_hooks plain = {.idle = plan_idle, .ctx = &none};
    alarm_soon();
    errno = 0;
    CHECK_EQ_INT(stream_read_fd(p[0], buf, sizeof buf, &plain), -1);
    CHECK_EQ_INT(errno, EINTR);
    CHECK(alarms == 1);
    close(p[0]);
    close(p[1]);
}

typedef struct seen_hooks {
    int held, prompt;
} seen_hooks;

static void count_held(void *ctx)
{
    ((seen_hooks *)ctx)->held++;
}

static void count_prompt(void *ctx)
{
    ((seen_hooks *)ctx)->prompt++;
}

/* Reads through the stream's FILE what was just written to the pipe. */
static void write_then_read(int wfd, FILE *fp, size_t n)
{
    static uint8_t bytes[3 * STREAM_BLOCK];
    CHECK(n <= sizeof bytes && write(wfd, bytes, n) == (ssize_t)n);
    CHECK_EQ_INT(fread(bytes, 1, n, fp), n);
}

/* A writer that buffers its output hands the pipe whole 4 KB blocks: said once, after two
 * reads in a row that emptied the pipe at a block's end (the first block's end counted from
 * the bytes read before the stream was made), and never taken for a prompt one. Records
 * written one by one are not blocks: prompt, said once, at the first read. */
static void test_stream_blocks(void)
{
    int p[2];
    seen_hooks seen = {0, 0};
    CHECK(pipe(p) == 0);
    stream_hooks hooks = {.ctx = &seen, .held = count_held, .prompt = count_prompt};
    FILE *fp = stream_from_fd(p[0], false, (const uint8_t *)"\xd4\xc3\xb2\xa1\x02\x00", 6, &hooks);
    CHECK(fp != NULL);
    if (!fp)
        return;
    uint8_t magic[6];
    CHECK_EQ_INT(fread(magic, 1, 6, fp), 6);
    write_then_read(p[1], fp, STREAM_BLOCK - 6); /* the first block, its first bytes read */
    CHECK(seen.held == 0 && seen.prompt == 0);   /* not known yet */
    write_then_read(p[1], fp, STREAM_BLOCK);
    CHECK_EQ_INT(seen.held, 1);
    write_then_read(p[1], fp, STREAM_BLOCK);
    CHECK_EQ_INT(seen.held, 1); /* once */
    CHECK_EQ_INT(seen.prompt, 0);
    fclose(fp);
    /* records as they come: never on a block's end twice in a row; prompt at the first */
    seen = (seen_hooks){0, 0};
    fp = stream_from_fd(p[0], false, NULL, 0, &hooks);
    for (int i = 0; i < 100 && fp; i++) {
        write_then_read(p[1], fp, 90 + (size_t)(i * 37) % 1200);
        if (i == 0)
            CHECK_EQ_INT(seen.prompt, 1);
    }
    CHECK(seen.held == 0 && seen.prompt == 1);
    if (fp)
        fclose(fp);
    /* hooks set after a prompt read (the reader is opened before its owner runs): told at
     * the next read */
    seen = (seen_hooks){0, 0};
    stream_hooks later = {.ctx = NULL};
    fp = stream_from_fd(p[0], false, NULL, 0, &later);
    if (fp) {
        write_then_read(p[1], fp, 24);
        later = hooks;
        write_then_read(p[1], fp, 100);
        CHECK_EQ_INT(seen.prompt, 1);
        fclose(fp);
    }
    close(p[0]);
    close(p[1]);
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
    test_pcapng_streams();
    test_stream_refusals();
    test_other_compression();
    test_stream_idle();
    test_stream_wait_hook();
    test_stream_blocks();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "note: could not remove %s\n", tmpdir);
    TEST_MAIN_END("test_capture_pcap_source");
}
