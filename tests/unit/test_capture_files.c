/* test_capture_files: the files of one read are put in the order of their first packets
 * (capture/files.c): names that sort otherwise (cap.pcap10 before cap.pcap2), a file without
 * packets last, equal first times in the order given; a file that cannot be read is an error
 * naming it. And a capture over them reads every packet, in that order; files that overlap in
 * time are merged packet by packet. */
#include "capture/capture.h"
#include "capture/files.h"
#include "tests/unit/testlib.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

static void put32(FILE *f, uint32_t v)
{
    fwrite(&v, 4, 1, f);
}

/* A RAW pcap of n 40-byte IPv4 packets, the first at second t0 and usec microseconds, one a
 * second. */
static void write_pcap_at(const char *name, uint32_t t0, uint32_t usec, int n)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    put32(f, 0xa1b2c3d4);
    uint16_t v[2] = {2, 4};
    fwrite(v, 2, 2, f);
    put32(f, 0);
    put32(f, 0);
    put32(f, 65535);
    put32(f, 101);
    for (int i = 0; i < n; i++) {
        uint8_t ip[40] = {0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 100, 64, 0, 2, 100, 64, 0, 1};
        ip[20] = 0x9c, ip[21] = 0x40, ip[22] = 0x13, ip[23] = 0x8e; /* 40000 -> 5006 */
        ip[32] = 0x50, ip[33] = 0x10;                               /* header length, ACK */
        put32(f, t0 + (uint32_t)i);
        put32(f, usec);
        put32(f, 40);
        put32(f, 40);
        fwrite(ip, 1, 40, f);
    }
    fclose(f);
}

static void write_pcap(const char *name, uint32_t t0, int n)
{
    write_pcap_at(name, t0, 0, n);
}

static char *path_of(const char *name)
{
    char *p = malloc(128);
    if (p)
        snprintf(p, 128, "%s/%s", dir, name);
    return p;
}

static bool ends_with(const char *s, const char *tail)
{
    size_t a = strlen(s), b = strlen(tail);
    return a >= b && strcmp(s + a - b, tail) == 0;
}

static void test_order(void)
{
    write_pcap("cap.pcap", 1000, 3);
    write_pcap("cap.pcap2", 1010, 3);
    write_pcap("cap.pcap10", 1100, 3);
    write_pcap("empty.pcap", 0, 0);
    write_pcap("same.pcap", 1010, 1);
    const char *given[] = {"empty.pcap", "cap.pcap10", "cap.pcap2", "same.pcap", "cap.pcap"};
    enum { N = sizeof given / sizeof given[0] };
    char *paths[N];
    for (int i = 0; i < N; i++)
        paths[i] = path_of(given[i]);
    capture_opts o;
    memset(&o, 0, sizeof o);
    char err[256] = "";
    double first[N];
    CHECK_EQ_INT(files_order(paths, N, first, &o, err, sizeof err), 0);
    const char *want[] = {"/cap.pcap", "/cap.pcap2", "/same.pcap", "/cap.pcap10", "/empty.pcap"};
    const double want_ts[] = {1000, 1010, 1010, 1100, INFINITY};
    for (int i = 0; i < N; i++)
        CHECK(paths[i] && ends_with(paths[i], want[i]) && first[i] == want_ts[i]);
    for (int i = 0; i < N; i++)
        free(paths[i]);

    char *bad[2] = {path_of("cap.pcap"), path_of("missing.pcap")};
    CHECK_EQ_INT(files_order(bad, 2, NULL, &o, err, sizeof err), -1);
    CHECK(strstr(err, "missing.pcap") != NULL);
    free(bad[0]);
    free(bad[1]);
}

typedef struct seen {
    int packets;
} seen;

static void test_capture_reads_all(void)
{
    char *first = path_of("cap.pcap10");
    char *more[2] = {path_of("cap.pcap"), path_of("cap.pcap2")};
    capture_opts o;
    memset(&o, 0, sizeof o);
    o.file = first;
    o.more_files = (const char *const *)more;
    o.n_more_files = 2;
    char err[256] = "";
    capture *c = capture_open(&o, err, sizeof err);
    CHECK(c != NULL);
    if (c) {
        CHECK_EQ_INT(capture_source_count(c), 3);
        CHECK(ends_with(capture_source_at(c, 0), "/cap.pcap"));
        CHECK(ends_with(capture_source_at(c, 2), "/cap.pcap10"));
        ow_flow_sink k = {0};
        CHECK(capture_run(c, &k, NULL, err, sizeof err) >= 0);
        const capture_stats *s = capture_get_stats(c);
        CHECK_EQ_INT(s->packets, 9);
        CHECK(s->first_ts == 1000.0 && s->last_ts == 1102.0);
        capture_close(c, &k);
    }
    free(first);
    free(more[0]);
    free(more[1]);
}

static int last_open_max; /* merge_all's merge: files_merge_open_max */

/* Reads the merge of the named files to its end: packets, how many came from each of the
 * first two files (by name), whether time ever went back; the end code. */
static int merge_all(const char *const *names, int n, int *packets, int from[2], bool *back,
                     int *truncated, char *err, size_t errlen)
{
    char *paths[40];
    double first[40];
    for (int i = 0; i < n; i++)
        paths[i] = path_of(names[i]);
    capture_opts o;
    memset(&o, 0, sizeof o);
    int rc = files_order(paths, n, first, &o, err, errlen);
    files_merge *m = rc == 0 ? files_merge_open(paths, first, n, &o, err, errlen) : NULL;
    *packets = from[0] = from[1] = *truncated = 0;
    *back = false;
    double last = 0;
    raw_packet p;
    while (m && (rc = files_merge_next(m, &p, err, errlen)) != SRC_EOF && rc != SRC_ERROR) {
        if (rc == SRC_TRUNCATED) {
            (*truncated)++;
            continue;
        }
        (*packets)++;
        *back |= p.ts < last;
        last = p.ts;
        for (int k = 0; k < 2; k++)
            from[k] += ends_with(files_merge_name(m), names[k]);
    }
    last_open_max = m ? files_merge_open_max(m) : -1;
    files_merge_close(m);
    for (int i = 0; i < n; i++)
        free(paths[i]);
    return rc;
}

/* Files in sequence: those that end before a time are passed over unopened (a file ends
 * where the next begins), and never more than one is open. */
static void test_skip_before(void)
{
    char *paths[3] = {path_of("cap.pcap"), path_of("cap.pcap2"), path_of("cap.pcap10")};
    double first[3];
    capture_opts o;
    memset(&o, 0, sizeof o);
    char err[256] = "";
    CHECK_EQ_INT(files_order(paths, 3, first, &o, err, sizeof err), 0);
    for (int k = 0; k < 3; k++) {
        static const double from[3] = {999, 1050, 5000};
        static const int opened[3] = {3, 2, 1}, packets_left[3] = {9, 6, 3};
        files_merge *m = files_merge_open(paths, first, 3, &o, err, sizeof err);
        if (!m)
            continue;
        files_merge_skip_before(m, from[k]);
        raw_packet p;
        int n = 0;
        while (files_merge_next(m, &p, err, sizeof err) == SRC_PACKET)
            n++;
        CHECK(n == packets_left[k] && files_merge_opened(m) == opened[k] &&
              files_merge_open_max(m) == 1);
        files_merge_close(m);
    }
    for (int i = 0; i < 3; i++)
        free(paths[i]);
}

/* Files that overlap in time come out merged packet by packet, in time; equal times from the
 * file that started first; a file cut inside a packet is said once and the others go on; more
 * than FILES_MAX_OPEN open at once is refused with advice. */
static void test_merge(void)
{
    write_pcap_at("a.pcap", 2000, 0, 10);      /* 2000.0 .. 2009.0 */
    write_pcap_at("b.pcap", 2003, 500000, 10); /* 2003.5 .. 2012.5 */
    write_pcap_at("c.pcap", 2003, 0, 3);       /* 2003.0 .. 2005.0: equal times with a */
    int packets, from[2], truncated;
    bool back;
    char err[256] = "";
    const char *ab[] = {"b.pcap", "a.pcap"};
    CHECK_EQ_INT(merge_all(ab, 2, &packets, from, &back, &truncated, err, sizeof err), SRC_EOF);
    CHECK(packets == 20 && from[0] == 10 && from[1] == 10 && !back && truncated == 0);
    CHECK_EQ_INT(last_open_max, 2);

    /* equal times: a (first packet at 2000) before c (2003): the packet after each tie is c's */
    char *pa = path_of("a.pcap"), *pc = path_of("c.pcap"), *paths[2] = {pc, pa};
    double first[2];
    capture_opts o;
    memset(&o, 0, sizeof o);
    CHECK_EQ_INT(files_order(paths, 2, first, &o, err, sizeof err), 0);
    files_merge *m = files_merge_open(paths, first, 2, &o, err, sizeof err);
    raw_packet p;
    int ties_in_order = 0;
    double prev = -1;
    bool prev_a = false;
    while (m && files_merge_next(m, &p, err, sizeof err) == SRC_PACKET) {
        bool is_a = ends_with(files_merge_name(m), "/a.pcap");
        if (p.ts == prev && prev_a && !is_a)
            ties_in_order++;
        prev = p.ts;
        prev_a = is_a;
    }
    CHECK_EQ_INT(ties_in_order, 3);
    files_merge_close(m);
    free(pa);
    free(pc);

    /* a cut among overlapping files: said once, the rest read */
    write_pcap_at("cut.pcap", 2001, 250000, 10);
    char *cut = path_of("cut.pcap");
    CHECK(truncate(cut, 24 + 5 * 56 + 20) == 0); /* 5 whole packets, then part of one */
    free(cut);
    const char *acut[] = {"a.pcap", "cut.pcap"};
    CHECK_EQ_INT(merge_all(acut, 2, &packets, from, &back, &truncated, err, sizeof err), SRC_EOF);
    CHECK(packets == 15 && from[0] == 10 && from[1] == 5 && truncated == 1 && !back);

    /* more than FILES_MAX_OPEN at once */
    const char *many[FILES_MAX_OPEN + 1];
    char names[FILES_MAX_OPEN + 1][32];
    for (int i = 0; i <= FILES_MAX_OPEN; i++) {
        snprintf(names[i], sizeof names[i], "many%02d.pcap", i);
        write_pcap_at(names[i], 3000, (uint32_t)i, 2);
        many[i] = names[i];
    }
    CHECK_EQ_INT(
        merge_all(many, FILES_MAX_OPEN + 1, &packets, from, &back, &truncated, err, sizeof err),
        SRC_ERROR);
    CHECK(strstr(err, "overlap") && strstr(err, "mergecap"));
    CHECK_EQ_INT(
        merge_all(many, FILES_MAX_OPEN, &packets, from, &back, &truncated, err, sizeof err),
        SRC_EOF);
    CHECK(packets == 2 * FILES_MAX_OPEN && !back);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/ow_test_files.XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    test_order();
    test_capture_reads_all();
    test_merge();
    test_skip_before();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    TEST_MAIN_END("test_capture_files");
}
