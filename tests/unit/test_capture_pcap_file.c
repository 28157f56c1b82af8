/* test_capture_pcap_file: the own reader of classic pcap files (capture/pcap_file.c) gives
 * exactly what libpcap gives for the same file (every packet's timestamp, caplen, len and bytes;
 * the same end: clean, or the same error message) for the bundled sample and files made from
 * it: nanosecond timestamps, the other byte order, versions 2.2/2.3 (swapped lengths), cut in a
 * record header and in record data, no packets, a caplen libpcap refuses, caplens past the
 * snapshot length, odd timestamps, every link type capture/ decodes (with the upper bits of the
 * field set); each through the default window and windows of one and two pages, and through
 * the memory parser. pcap_source uses it for those files, and libpcap for stdin, pcapng and
 * what the reader does not take. A file that grows is read on; a file cut while mapped ends
 * in an error (no SIGBUS death; not tried under valgrind), and the SIGBUS disposition is put
 * back. */
#include "capture/pcap_source.h"
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tests/unit/testlib.h"

static char tmpdir[64];

static const char *source_dir(void)
{
    const char *d = getenv("OW_SOURCE_DIR");
    return d ? d : ".";
}

/* ---- writing files ---- */

typedef struct fbuf {
    uint8_t *b;
    size_t n, cap;
    bool swap; /* write in the other byte order */
} fbuf;

static void put(fbuf *f, const void *p, size_t n)
{
    if (f->n + n > f->cap) {
        f->cap = (f->n + n) * 2;
        f->b = realloc(f->b, f->cap);
    }
    memcpy(f->b + f->n, p, n);
    f->n += n;
}

static void put32(fbuf *f, uint32_t v)
{
    v = f->swap ? __builtin_bswap32(v) : v;
    put(f, &v, 4);
}

static void put16(fbuf *f, uint16_t v)
{
    v = f->swap ? __builtin_bswap16(v) : v;
    put(f, &v, 2);
}

static void pcap_hdr(fbuf *f, uint32_t magic, uint16_t minor, uint32_t snaplen, uint32_t lt)
{
    put32(f, magic);
    put16(f, 2);
    put16(f, minor);
    put32(f, 0);
    put32(f, 0);
    put32(f, snaplen);
    put32(f, lt);
}

static void pcap_rec(fbuf *f, uint32_t sec, uint32_t frac, uint32_t caplen, uint32_t len,
                     const uint8_t *data, size_t ndata)
{
    put32(f, sec);
    put32(f, frac);
    put32(f, caplen);
    put32(f, len);
    put(f, data, ndata);
}

static const char *save(const char *name, const uint8_t *b, size_t n)
{
    static char path[8][128];
    static int next;
    char *p = path[next++ % 8];
    snprintf(p, 128, "%s/%s", tmpdir, name);
    FILE *fp = fopen(p, "wb");
    if (fp) {
        fwrite(b, 1, n, fp);
        fclose(fp);
    }
    return p;
}

/* ---- the sample, rewritten ---- */

static uint8_t *sample;
static size_t sample_len;

static uint32_t le32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* The sample again: nanoseconds (usec*1000 + 999, which libpcap cuts back), the other byte
 * order, or version minor (lengths written swapped when < 3). */
static size_t rewrite_sample(fbuf *f, bool nsec, bool swap, uint16_t minor)
{
    f->n = 0;
    f->swap = swap;
    pcap_hdr(f, nsec ? 0xa1b23c4d : 0xa1b2c3d4, minor, le32(sample + 16), le32(sample + 20));
    size_t off = 24, count = 0;
    while (off + 16 <= sample_len) {
        const uint8_t *h = sample + off;
        uint32_t caplen = le32(h + 8), len = le32(h + 12);
        if (off + 16 + caplen > sample_len)
            break;
        uint32_t frac = nsec ? le32(h + 4) * 1000 + 999 : le32(h + 4);
        bool swapped_lengths = minor < 3;
        put32(f, le32(h));
        put32(f, frac);
        put32(f, swapped_lengths ? len : caplen);
        put32(f, swapped_lengths ? caplen : len);
        put(f, h + 16, caplen);
        off += 16 + caplen;
        count++;
    }
    return count;
}

/* Offset of the n-th record of the sample. */
static size_t sample_record(size_t n)
{
    size_t off = 24;
    for (size_t i = 0; i < n && off + 16 <= sample_len; i++)
        off += 16 + le32(sample + off + 8);
    return off;
}

/* ---- libpcap's view against the reader's ---- */

typedef struct result {
    size_t packets;
    int end; /* PCAPF_END, PCAPF_SHORT, PCAPF_ERROR */
    char msg[PCAP_ERRBUF_SIZE + 64];
} result;

static bool same_packet(const struct pcap_pkthdr *h, const u_char *d, const pcapf_record *r)
{
    return h->ts.tv_sec == r->tv.tv_sec && h->ts.tv_usec == r->tv.tv_usec &&
           h->caplen == r->caplen && h->len == r->len && memcmp(d, r->data, r->caplen) == 0;
}

static int pcap_end(pcap_t *p, int rc, result *out)
{
    snprintf(out->msg, sizeof out->msg, "%s", rc == PCAP_ERROR ? pcap_geterr(p) : "");
    if (rc == PCAP_ERROR_BREAK)
        return PCAPF_END;
    return strstr(out->msg, "truncated") ? PCAPF_SHORT : PCAPF_ERROR;
}

/* The reader ended (orc) as libpcap did (lrc), with the same message. */
static void check_end(pcap_t *p, int lrc, int orc, result *out)
{
    char own[sizeof out->msg];
    snprintf(own, sizeof own, "%s", orc == PCAPF_END ? "" : out->msg);
    int want = lrc == 1 ? PCAPF_PACKET : pcap_end(p, lrc, out);
    CHECK_EQ_INT(orc, want);
    CHECK_EQ_STR(own, out->msg);
}

/* The call after the end gives what libpcap's gives (the end again after a cut record; after
 * a bogus one, what follows its header). */
static void after_the_end(pcap_t *p, pcapf_reader *pf)
{
    struct pcap_pkthdr *h;
    const u_char *d;
    pcapf_record r;
    result again = {0};
    int lrc = pcap_next_ex(p, &h, &d);
    int orc = pcapf_next(pf, &r, again.msg, sizeof again.msg);
    if (lrc == 1 && orc == PCAPF_PACKET)
        CHECK(same_packet(h, d, &r));
    else
        check_end(p, lrc, orc, &again);
}

/* Reads path with libpcap and with the reader (window bytes): every packet must agree; the
 * reader's result in out. False when the reader did not take the file. */
static bool compare(const char *path, size_t window, result *out)
{
    memset(out, 0, sizeof *out);
    char ebuf[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
    pcapf_reader *pf = pcapf_open(path, window);
    if (!p || !pf) {
        if (p)
            pcap_close(p);
        pcapf_close(pf);
        return false;
    }
    CHECK_EQ_INT(pcapf_format_of(pf)->dlt, pcap_datalink(p));
    CHECK_EQ_INT(pcapf_format_of(pf)->snapshot, pcap_snapshot(p));
    size_t mismatches = 0;
    for (;;) {
        struct pcap_pkthdr *h;
        const u_char *d;
        pcapf_record r;
        int lrc = pcap_next_ex(p, &h, &d);
        int orc = pcapf_next(pf, &r, out->msg, sizeof out->msg);
        if (lrc == 1 && orc == PCAPF_PACKET) {
            mismatches += !same_packet(h, d, &r);
            out->packets++;
            continue;
        }
        check_end(p, lrc, orc, out);
        out->end = orc;
        break;
    }
    after_the_end(p, pf);
    CHECK_EQ_INT(mismatches, 0);
    pcap_close(p);
    pcapf_close(pf);
    return true;
}

/* The memory parser over the whole file gives the same as the reader did. */
static void compare_parser(const uint8_t *b, size_t n, const result *want)
{
    pcapf_format f;
    CHECK(pcapf_parse_header(b, n, &f));
    size_t off = PCAPF_HEADER_LEN, packets = 0;
    char msg[sizeof want->msg] = "";
    pcapf_record r;
    int rc;
    while ((rc = pcapf_parse_record(&f, b, n, off, &r, msg, sizeof msg)) == PCAPF_PACKET) {
        packets++;
        off = r.next;
    }
    CHECK_EQ_INT(packets, want->packets);
    CHECK_EQ_INT(rc, want->end);
    if (rc != PCAPF_END)
        CHECK_EQ_STR(msg, want->msg);
}

static const size_t windows[] = {0, 4096, 8192};

/* compare() through every window, then the parser; returns the reader's result. */
static result check_file(const char *name, const uint8_t *b, size_t n)
{
    const char *path = save(name, b, n);
    result res[3];
    for (int i = 0; i < 3; i++) {
        bool taken = compare(path, windows[i], &res[i]);
        if (!taken)
            fprintf(stderr, "  %s: not taken by the reader\n", name);
        CHECK(taken);
        CHECK_EQ_INT(res[i].packets, res[0].packets);
    }
    compare_parser(b, n, &res[0]);
    return res[0];
}

/* ---- the cases ---- */

static void test_sample_variants(void)
{
    result r = check_file("sample.pcap", sample, sample_len);
    CHECK(r.packets > 1000);
    CHECK_EQ_INT(r.end, PCAPF_END);
    fbuf f = {0};
    size_t n = rewrite_sample(&f, true, false, 4);
    r = check_file("nsec.pcap", f.b, f.n);
    CHECK_EQ_INT(r.packets, n);
    n = rewrite_sample(&f, false, true, 4);
    r = check_file("swapped.pcap", f.b, f.n);
    CHECK_EQ_INT(r.packets, n);
    n = rewrite_sample(&f, true, true, 4);
    r = check_file("nsec-swapped.pcap", f.b, f.n);
    CHECK_EQ_INT(r.packets, n);
    n = rewrite_sample(&f, false, false, 2);
    r = check_file("v2.2.pcap", f.b, f.n);
    CHECK_EQ_INT(r.packets, n);
    n = rewrite_sample(&f, false, true, 3);
    r = check_file("v2.3.pcap", f.b, f.n);
    CHECK_EQ_INT(r.packets, n);
    free(f.b);
}

static void test_cut(void)
{
    size_t rec = sample_record(1000);
    result r = check_file("cut-header.pcap", sample, rec + 7);
    CHECK_EQ_INT(r.packets, 1000);
    CHECK_EQ_INT(r.end, PCAPF_SHORT);
    CHECK(strstr(r.msg, "truncated") != NULL);
    r = check_file("cut-data.pcap", sample, rec + 16 + le32(sample + rec + 8) / 2);
    CHECK_EQ_INT(r.packets, 1000);
    CHECK_EQ_INT(r.end, PCAPF_SHORT);
    CHECK(strstr(r.msg, "truncated dump file; tried to read") != NULL);
    r = check_file("empty.pcap", sample, 24);
    CHECK_EQ_INT(r.packets, 0);
    CHECK_EQ_INT(r.end, PCAPF_END);
}

/* caplens: refused (above 262144, above or below the snapshot length), and past the snapshot
 * length (cut to it, the rest skipped), the file ending inside both parts. */
static void test_caplens(void)
{
    static uint8_t data[300000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7);
    fbuf f = {0};
    pcap_hdr(&f, 0xa1b2c3d4, 4, 262144, 101);
    pcap_rec(&f, 1, 2, 60, 60, data, 60);
    pcap_rec(&f, 1, 3, 300000, 300000, data, 300000);
    result r = check_file("bogus-snaplen.pcap", f.b, f.n);
    CHECK_EQ_INT(r.packets, 1);
    CHECK_EQ_INT(r.end, PCAPF_ERROR);
    CHECK(strstr(r.msg, "invalid packet capture length 300000") != NULL);
    f.n = 0;
    pcap_hdr(&f, 0xa1b2c3d4, 4, 1000000, 1);
    pcap_rec(&f, 1, 3, 262145, 262145, data, 262145);
    r = check_file("bogus-max.pcap", f.b, f.n);
    CHECK_EQ_INT(r.end, PCAPF_ERROR);
    CHECK(strstr(r.msg, "maximum of 262144") != NULL);
    f.n = 0;
    pcap_hdr(&f, 0xa1b2c3d4, 4, 100, 101);
    pcap_rec(&f, 5, 6, 200, 1500, data, 200);
    pcap_rec(&f, 5, 7, 100, 100, data + 1, 100);
    pcap_rec(&f, 5, 8, 5000, 5000, data + 2, 5000);
    pcap_rec(&f, 5, 9, 0, 0, data, 0);
    size_t full = f.n;
    r = check_file("past-snaplen.pcap", f.b, full);
    CHECK_EQ_INT(r.packets, 4);
    CHECK_EQ_INT(r.end, PCAPF_END);
    r = check_file("past-snaplen-cut1.pcap", f.b, full - 16 - 4000); /* in the skipped part */
    CHECK_EQ_INT(r.packets, 2);
    CHECK_EQ_INT(r.end, PCAPF_SHORT);
    r = check_file("past-snaplen-cut2.pcap", f.b, full - 16 - 4950); /* in the kept part */
    CHECK_EQ_INT(r.packets, 2);
    CHECK_EQ_INT(r.end, PCAPF_SHORT);
    free(f.b);
}

/* Timestamps as signed 32-bit fields (unsigned in the other byte order: libpcap 1.10's
 * swap); nanoseconds divided (towards zero) by 1000. */
static void test_timestamps(void)
{
    uint8_t d[40] = {0x45};
    for (int k = 0; k < 4; k++) {
        int nsec = k & 1;
        fbuf f = {.swap = k >> 1};
        pcap_hdr(&f, nsec ? 0xa1b23c4d : 0xa1b2c3d4, 4, 0, 101);
        pcap_rec(&f, 0x80000001u, 999999, 40, 40, d, 40);
        pcap_rec(&f, 0xFFFFFFFFu, 0xFFFFFFFFu, 40, 40, d, 40);
        pcap_rec(&f, 7, 1999999999, 40, 40, d, 40);
        pcap_rec(&f, 7, 0x80000000u, 40, 40, d, 40);
        pcap_rec(&f, 7, 1001, 40, 20, d, 40); /* len < caplen kept as is */
        static const char *names[] = {"ts.pcap", "ts-nsec.pcap", "ts-be.pcap", "ts-nsec-be.pcap"};
        result r = check_file(names[k], f.b, f.n);
        CHECK_EQ_INT(r.packets, 5);
        free(f.b);
    }
}

/* Every link type capture/ decodes, with the upper bits of the field (FCS) set or not, reads
 * as libpcap reads it; the other types, and the bits libpcap keeps, are not taken. */
static void test_linktypes(void)
{
    static const uint32_t taken[] = {0, 1, 12, 101, 108, 113, 228, 229, 276};
    static const uint32_t bits[] = {0, 0x04000000u, 0xF4000000u, 0x10000000u};
    static const uint32_t refused[] = {14, 147, 105, 0x01000065u, 0x02000001u};
    uint8_t d[60] = {0x45};
    char name[64];
    for (size_t i = 0; i < sizeof taken / sizeof taken[0]; i++)
        for (size_t j = 0; j < sizeof bits / sizeof bits[0]; j++)
            for (int swap = 0; swap < 2; swap++) {
                fbuf f = {.swap = swap};
                pcap_hdr(&f, 0xa1b2c3d4, 4, 65535, taken[i] | bits[j]);
                pcap_rec(&f, 1, 1, 60, 60, d, 60);
                snprintf(name, sizeof name, "lt-%u-%x-%d.pcap", taken[i], bits[j], swap);
                const char *path = save(name, f.b, f.n);
                bool cooked = taken[i] == 113 || taken[i] == 276;
                result r;
                CHECK_EQ_INT(compare(path, 0, &r), !(swap && cooked));
                free(f.b);
            }
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        fbuf f = {0};
        pcap_hdr(&f, 0xa1b2c3d4, 4, 65535, refused[i]);
        pcap_rec(&f, 1, 1, 60, 60, d, 60);
        CHECK(pcapf_open(save("lt-refused.pcap", f.b, f.n), 0) == NULL);
        free(f.b);
    }
}

static void test_snaplens(void)
{
    static const uint32_t snaps[] = {0, 1, 65535, 262145, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFFu};
    uint8_t d[60] = {0x60};
    for (size_t i = 0; i < sizeof snaps / sizeof snaps[0]; i++) {
        fbuf f = {0};
        pcap_hdr(&f, 0xa1b2c3d4, 4, snaps[i], 1);
        pcap_rec(&f, 1, 1, 60, 60, d, 60);
        result r;
        CHECK(compare(save("snap.pcap", f.b, f.n), 0, &r));
        CHECK_EQ_INT(r.packets, 1);
        free(f.b);
    }
}

/* ---- who reads what: pcap_source ---- */

static void open_source(const char *path, bool want_mapped)
{
    pkt_source s;
    char err[512];
    CHECK_EQ_INT(src_open_file(&s, path, err, sizeof err), 0);
    CHECK_EQ_INT(s.mm != NULL, want_mapped);
    CHECK_EQ_INT(s.pcap != NULL, !want_mapped);
    raw_packet p;
    int rc, n = 0;
    while ((rc = src_next(&s, &p, err, sizeof err)) == SRC_PACKET)
        n++;
    CHECK(n > 0);
    CHECK_EQ_INT(rc, SRC_EOF);
    src_close(&s);
}

static void test_fallbacks(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/tests/data/sample.pcap", source_dir());
    open_source(path, true);
    int saved = dup(0);
    CHECK(freopen(path, "rb", stdin) != NULL);
    open_source("-", false);
    dup2(saved, 0);
    close(saved);
    uint8_t d[60] = {0x45};
    fbuf f = {0}; /* pcapng: section header, one RAW interface, one enhanced packet */
    put32(&f, 0x0A0D0D0A), put32(&f, 28), put32(&f, 0x1A2B3C4D), put16(&f, 1), put16(&f, 0);
    put32(&f, 0xFFFFFFFF), put32(&f, 0xFFFFFFFF), put32(&f, 28);
    put32(&f, 1), put32(&f, 20), put16(&f, 101), put16(&f, 0), put32(&f, 0), put32(&f, 20);
    put32(&f, 6), put32(&f, 92), put32(&f, 0), put32(&f, 0), put32(&f, 1), put32(&f, 60);
    put32(&f, 60), put(&f, d, 60), put32(&f, 92);
    open_source(save("one.pcapng", f.b, f.n), false);
    f.n = 0; /* Kuznetzov's magic, a version libpcap refuses */
    pcap_hdr(&f, 0xa1b2cd34, 4, 65535, 101);
    CHECK(pcapf_open(save("kuz.pcap", f.b, f.n), 0) == NULL);
    f.n = 0;
    pcap_hdr(&f, 0xa1b2c3d4, 5, 65535, 101);
    CHECK(pcapf_open(save("v2.5.pcap", f.b, f.n), 0) == NULL);
    CHECK(pcapf_open(save("short.pcap", f.b, 20), 0) == NULL);
    CHECK(pcapf_open(tmpdir, 0) == NULL);
    CHECK(pcapf_open("/nonexistent/x.pcap", 0) == NULL);
    CHECK(pcapf_open("-", 0) == NULL);
    free(f.b);
}

/* ---- files that change while read ---- */

static void append(const char *path, const uint8_t *b, size_t n)
{
    FILE *fp = fopen(path, "ab");
    if (fp) {
        fwrite(b, 1, n, fp);
        fclose(fp);
    }
}

/* One step on both readers of a growing file: the same answer, the packet's second. */
static int step_both(pcap_t *p, pcapf_reader *pf, long *sec)
{
    struct pcap_pkthdr *h;
    const u_char *d;
    pcapf_record r;
    char err[256];
    int lrc = pcap_next_ex(p, &h, &d), orc = pcapf_next(pf, &r, err, sizeof err);
    int want = lrc == 1                              ? PCAPF_PACKET
               : lrc == PCAP_ERROR_BREAK             ? PCAPF_END
               : strstr(pcap_geterr(p), "truncated") ? PCAPF_SHORT
                                                     : PCAPF_ERROR;
    CHECK_EQ_INT(orc, want);
    if (lrc == 1 && orc == PCAPF_PACKET)
        CHECK(same_packet(h, d, &r));
    *sec = orc == PCAPF_PACKET ? (long)r.tv.tv_sec : -1;
    return orc;
}

/* A file written while read (tcpdump -w): what was added before the reader got to the end is
 * read, through new windows; the end, once seen, stays (as with libpcap, whose stdio stream
 * keeps its end-of-file), and so does a record cut at the end. */
static void test_growing(void)
{
    uint8_t d[3000];
    memset(d, 0x45, sizeof d);
    fbuf f = {0};
    pcap_hdr(&f, 0xa1b2c3d4, 4, 65535, 101);
    pcap_rec(&f, 1, 1, 3000, 3000, d, 3000);
    for (int cut = 0; cut < 2; cut++) {
        const char *path = save("growing.pcap", f.b, f.n);
        char ebuf[PCAP_ERRBUF_SIZE];
        pcap_t *p = pcap_open_offline(path, ebuf);
        pcapf_reader *pf = pcapf_open(path, 4096);
        CHECK(p && pf);
        if (!p || !pf)
            return;
        fbuf more = {0};
        pcap_rec(&more, 2, 1, 3000, 3000, d, 3000);
        pcap_rec(&more, 3, 1, 100, 100, d, 100);
        long sec;
        CHECK_EQ_INT(step_both(p, pf, &sec), PCAPF_PACKET);
        append(path, more.b, more.n - (cut ? 50 : 0)); /* before the end was reached */
        CHECK_EQ_INT(step_both(p, pf, &sec), PCAPF_PACKET);
        CHECK_EQ_INT(sec, 2);
        CHECK_EQ_INT(step_both(p, pf, &sec), cut ? PCAPF_SHORT : PCAPF_PACKET);
        CHECK_EQ_INT(step_both(p, pf, &sec), PCAPF_END);
        append(path, more.b, more.n); /* after it */
        CHECK_EQ_INT(step_both(p, pf, &sec), PCAPF_END);
        pcap_close(p);
        pcapf_close(pf);
        free(more.b);
    }
    free(f.b);
}

static bool sigbus_is_default(void)
{
    struct sigaction sa;
    return sigaction(SIGBUS, NULL, &sa) == 0 && !(sa.sa_flags & SA_SIGINFO) &&
           sa.sa_handler == SIG_DFL;
}

/* A file of 2000 packets of 1000 bytes (~2 MB), mapped whole. */
static const char *big_file(const char *name)
{
    uint8_t d[1000];
    fbuf f = {0};
    pcap_hdr(&f, 0xa1b2c3d4, 4, 65535, 101);
    for (uint32_t i = 0; i < 2000; i++) {
        memset(d, (int)(i % 200) + 1, sizeof d);
        pcap_rec(&f, i, 0, sizeof d, sizeof d, d, sizeof d);
    }
    const char *path = save(name, f.b, f.n);
    free(f.b);
    return path;
}

/* Cut under the reader: the packets before the cut read normally, then an error, no crash. */
static void test_cut_while_mapped(void)
{
    char err[512] = "";
    pcapf_record r;
    bool dfl = sigbus_is_default();
    const char *path = big_file("cut-live.pcap");
    pcapf_reader *pf = pcapf_open(path, 8u << 20);
    CHECK(pf != NULL);
    CHECK_EQ_INT(pcapf_next(pf, &r, err, sizeof err), PCAPF_PACKET);
    CHECK(truncate(path, 100000) == 0);
    int rc, n = 1;
    while ((rc = pcapf_next(pf, &r, err, sizeof err)) == PCAPF_PACKET)
        n++;
    CHECK_EQ_INT(rc, PCAPF_ERROR);
    CHECK(strstr(err, "truncated by another process") != NULL);
    CHECK(n < 100);
    pcapf_close(pf);
    if (dfl)
        CHECK(sigbus_is_default());
}

/* Cut after a packet was handed out, before its bytes are read: they read as zeros, and the
 * next call says so. */
static void test_cut_under_a_packet(void)
{
    char err[512] = "";
    pcapf_record r;
    const char *path = big_file("cut-packet.pcap");
    pcapf_reader *pf = pcapf_open(path, 8u << 20);
    CHECK(pf != NULL);
    for (int i = 0; i < 1500; i++)
        CHECK_EQ_INT(pcapf_next(pf, &r, err, sizeof err), PCAPF_PACKET);
    CHECK_EQ_INT(r.data[500], 1499 % 200 + 1);
    CHECK(truncate(path, 4096) == 0);
    unsigned sum = 0;
    for (uint32_t i = 0; i < r.caplen; i++)
        sum += r.data[i];
    CHECK_EQ_INT(sum, 0);
    CHECK_EQ_INT(pcapf_next(pf, &r, err, sizeof err), PCAPF_ERROR);
    CHECK(strstr(err, "truncated by another process") != NULL);
    CHECK_EQ_INT(pcapf_next(pf, &r, err, sizeof err), PCAPF_ERROR);
    pcapf_close(pf);
}

/* A SIGBUS that is not a fault in a mapping of the reader goes to the handler before it. */
static volatile sig_atomic_t foreign_seen;

static void foreign_handler(int sig, siginfo_t *si, void *ctx)
{
    (void)sig, (void)si, (void)ctx;
    foreign_seen++;
}

static void test_foreign_sigbus(void)
{
    struct sigaction sa = {.sa_sigaction = foreign_handler, .sa_flags = SA_SIGINFO}, old;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGBUS, &sa, &old) == 0);
    pcapf_reader *pf = pcapf_open(big_file("foreign.pcap"), 0);
    CHECK(pf != NULL);
    raise(SIGBUS);
    CHECK_EQ_INT(foreign_seen, 1);
    pcapf_close(pf);
    struct sigaction now;
    CHECK(sigaction(SIGBUS, NULL, &now) == 0);
    CHECK(now.sa_sigaction == foreign_handler);
    sigaction(SIGBUS, &old, NULL);
}

/* valgrind's emulation of SIGBUS for pages past the end of a cut file is not the kernel's
 * (after the first replaced page it reads other pages' garbage or reports a fault at 0): the
 * cut tests are for the real thing. */
static bool under_valgrind(void)
{
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "vgpreload");
}

int main(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tests/data/sample.pcap", source_dir());
    sample = (uint8_t *)tl_read_file(path, &sample_len);
    CHECK(sample != NULL && sample_len > 1000);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ow-pcapf-XXXXXX");
    if (!sample || !mkdtemp(tmpdir))
        TEST_MAIN_END("capture_pcap_file");
    test_sample_variants();
    test_cut();
    test_caplens();
    test_timestamps();
    test_linktypes();
    test_snaplens();
    test_fallbacks();
    test_growing();
    if (under_valgrind()) {
        fprintf(stderr, "note: under valgrind: the files cut while mapped are not tried\n");
    } else {
        test_cut_while_mapped();
        test_cut_under_a_packet();
    }
    test_foreign_sigbus();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    CHECK(system(cmd) == 0);
    free(sample);
    TEST_MAIN_END("capture_pcap_file");
}
