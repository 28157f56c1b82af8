/* test_capture_files: the files of one read are put in the order of their first packets
 * (capture/files.c): names that sort otherwise (cap.pcap10 before cap.pcap2), a file without
 * packets last, equal first times in the order given; a file that cannot be read is an error
 * naming it. And a capture over them reads every packet, in that order. */
#include "capture/capture.h"
#include "capture/files.h"
#include "tests/unit/testlib.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

static void put32(FILE *f, uint32_t v)
{
    fwrite(&v, 4, 1, f);
}

/* A RAW pcap of n 40-byte IPv4 packets, the first at second t0, one a second. */
static void write_pcap(const char *name, uint32_t t0, int n)
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
        put32(f, 0);
        put32(f, 40);
        put32(f, 40);
        fwrite(ip, 1, 40, f);
    }
    fclose(f);
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
    CHECK_EQ_INT(files_order(paths, N, &o, err, sizeof err), 0);
    const char *want[] = {"/cap.pcap", "/cap.pcap2", "/same.pcap", "/cap.pcap10", "/empty.pcap"};
    for (int i = 0; i < N; i++)
        CHECK(paths[i] && ends_with(paths[i], want[i]));
    for (int i = 0; i < N; i++)
        free(paths[i]);

    char *bad[2] = {path_of("cap.pcap"), path_of("missing.pcap")};
    CHECK_EQ_INT(files_order(bad, 2, &o, err, sizeof err), -1);
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

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/ow_test_files.XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    test_order();
    test_capture_reads_all();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    TEST_MAIN_END("test_capture_files");
}
