/* files: several capture files read as one capture (see files.h). */
#include "capture/files.h"
#include "capture/pcap_source.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct file_start {
    char *path;
    double first_ts; /* INFINITY: no packet */
    int given;       /* its place on the command line */
} file_start;

static int by_first_packet(const void *a, const void *b)
{
    const file_start *x = a, *y = b;
    if (x->first_ts != y->first_ts)
        return x->first_ts < y->first_ts ? -1 : 1;
    return x->given - y->given;
}

/* The time of the file's first packet (INFINITY when it has none); -1 when unreadable. */
static int first_packet_time(const char *path, const capture_opts *o, double *ts, char *err,
                             size_t errlen)
{
    capture_opts one = *o;
    one.file = path;
    one.bpf = NULL; /* the first packet of the file, whatever the filter keeps */
    pkt_source s;
    if (src_open_file(&s, &one, err, errlen) < 0)
        return -1;
    raw_packet p;
    int rc = src_next(&s, &p, err, errlen);
    *ts = rc == SRC_PACKET ? p.ts : INFINITY;
    src_close(&s);
    return rc == SRC_ERROR ? -1 : 0;
}

int files_order(char **paths, int n, const capture_opts *o, char *err, size_t errlen)
{
    file_start *f = calloc((size_t)n, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        f[i] = (file_start){.path = paths[i], .given = i};
        if (first_packet_time(paths[i], o, &f[i].first_ts, err, errlen) < 0) {
            free(f);
            return -1;
        }
    }
    qsort(f, (size_t)n, sizeof *f, by_first_packet);
    for (int i = 0; i < n; i++)
        paths[i] = f[i].path;
    free(f);
    return 0;
}
