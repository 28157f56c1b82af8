/* Fuzz target: a whole capture file through capture, libnids and the correlator. The input
 * is written behind a pcap file header (link type RAW, or Ethernet when the first byte is
 * odd) to a memory file and read like any capture; every record the correlator emits is
 * checked for the invariants the database relies on. */
#include "capture/capture.h"
#include "correlate/correlator.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void check_page(void *ctx, const ow_page_rec *r)
{
    if (!r->session_id || (unsigned)r->outcome >= OW_OUTCOME_COUNT ||
        (unsigned)r->verdict >= OW_VERDICT_COUNT || r->n_evidence > 8)
        abort();
    for (size_t i = 0; i < r->n_evidence; i++)
        if (!r->evidence[i].text)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct {
        uint32_t magic;
        uint16_t major, minor;
        int32_t zone;
        uint32_t sigfigs, snaplen, linktype;
    } hdr = {0xa1b2c3d4, 2, 4, 0, 0, 262144, (data[0] & 1) ? 1u : 101u};
    int fd = memfd_create("fuzz.pcap", 0);
    if (fd < 0)
        return 0;
    if (write(fd, &hdr, sizeof hdr) != sizeof hdr || write(fd, data + 1, size - 1) < 0) {
        close(fd);
        return 0;
    }
    char path[64], err[512];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    capture_opts o = {
        .file = path, .max_streams = 64, .max_stream_buffer = 1 << 16, .snaplen = 262144};
    capture *cap = capture_open(&o, err, sizeof err);
    if (cap) {
        ow_record_sink out = {.page = check_page};
        correlator_opts co;
        correlator_default_opts(&co);
        co.max_page_loads = 16;
        co.max_page_body = 1 << 16;
        co.max_ws_message = 1 << 16;
        correlator *c = correlator_new(&co, &out);
        volatile sig_atomic_t stop = 0;
        capture_run(cap, correlator_flow_sink(c), &stop, err, sizeof err);
        double end = capture_get_stats(cap)->last_ts;
        capture_close(cap, correlator_flow_sink(c));
        correlator_finish(c, end);
        correlator_free(c);
    }
    close(fd);
    return 0;
}
