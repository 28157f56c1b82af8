/* files: several capture files read as one capture, merged in time (see files.h). */
#include "capture/files.h"
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

int files_order(char **paths, int n, double *first_ts, const capture_opts *o, char *err,
                size_t errlen)
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
    for (int i = 0; i < n; i++) {
        paths[i] = f[i].path;
        if (first_ts)
            first_ts[i] = f[i].first_ts;
    }
    free(f);
    return 0;
}

/* ---- the merge ---- */

typedef struct open_file {
    bool used;
    pkt_source src;    /* refers to opts (its filter is compiled as link types come) */
    capture_opts opts; /* the merge's, with this file */
    raw_packet next;   /* its packet not yet given out */
    int index;         /* in the reading order */
} open_file;

struct files_merge {
    char *const *paths;
    const double *first_ts;
    int n, next_to_open;
    const capture_opts *opts;
    open_file open[FILES_MAX_OPEN]; /* slots, never moved (a source refers to its opts) */
    int n_open;
    int given;         /* the slot whose packet went out last (advanced first), or -1 */
    int open_max;      /* the most open at once */
    int opened;        /* files opened */
    int named;         /* the file files_merge_name names */
    double *last_ts;   /* per file in reading order: its latest packet given out (-INFINITY) */
    uint64_t *packets; /* per file: its packets given out */
};

files_merge *files_merge_open(char *const *paths, const double *first_ts, int n,
                              const capture_opts *o, char *err, size_t errlen)
{
    files_merge *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    *m = (files_merge){.paths = paths, .first_ts = first_ts, .n = n, .opts = o, .given = -1};
    m->last_ts = malloc((size_t)n * sizeof *m->last_ts);
    m->packets = calloc((size_t)n, sizeof *m->packets);
    if (!m->last_ts || !m->packets) {
        files_merge_close(m);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (int i = 0; i < n; i++)
        m->last_ts[i] = -INFINITY;
    return m;
}

static void drop_open(files_merge *m, int k)
{
    src_close(&m->open[k].src);
    m->open[k].used = false;
    m->n_open--;
}

/* Reads open file k's next packet: 1 when it has one, else its end (the file closed): 0, or
 * SRC_TRUNCATED / SRC_ERROR with the message in err. */
static int advance(files_merge *m, int k, char *err, size_t errlen)
{
    int rc = src_next(&m->open[k].src, &m->open[k].next, err, errlen);
    if (rc == SRC_PACKET)
        return 1;
    m->named = m->open[k].index;
    drop_open(m, k);
    return rc == SRC_EOF || rc == SRC_NONE ? 0 : rc;
}

/* The open file with the earliest packet (equal times: the one that started first). */
static int earliest(const files_merge *m)
{
    int best = -1;
    for (int k = 0; k < FILES_MAX_OPEN; k++) {
        const open_file *f = &m->open[k];
        if (!f->used)
            continue;
        if (best < 0 || f->next.ts < m->open[best].next.ts ||
            (f->next.ts == m->open[best].next.ts && f->index < m->open[best].index))
            best = k;
    }
    return best;
}

/* Opens the next file in reading order and reads its first packet. */
static int open_next(files_merge *m, char *err, size_t errlen)
{
    int i = m->next_to_open++;
    m->named = i;
    if (m->n_open == FILES_MAX_OPEN) {
        snprintf(err, errlen,
                 "more than %d files overlap in time: merge some of them first (mergecap -w "
                 "part.pcap FILES)",
                 FILES_MAX_OPEN);
        return SRC_ERROR;
    }
    int k = 0;
    while (m->open[k].used)
        k++;
    open_file *f = &m->open[k];
    f->opts = *m->opts;
    f->opts.file = m->paths[i];
    if (src_open_file(&f->src, &f->opts, err, errlen) < 0)
        return SRC_ERROR;
    f->used = true;
    f->index = i;
    m->opened++;
    if (++m->n_open > m->open_max)
        m->open_max = m->n_open;
    return advance(m, k, err, errlen);
}

int files_merge_next(files_merge *m, raw_packet *p, char *err, size_t errlen)
{
    if (m->given >= 0) {
        int k = m->given;
        m->given = -1;
        int rc = advance(m, k, err, errlen);
        if (rc < 0)
            return rc;
    }
    for (;;) {
        int k = earliest(m);
        /* a file opens when its first packet's time comes (its first packet: its own time,
         * which a filter may have passed over; the earlier packets came before it anyway) */
        bool due =
            m->next_to_open < m->n && (k < 0 || m->first_ts[m->next_to_open] <= m->open[k].next.ts);
        if (!due) {
            if (k < 0)
                return SRC_EOF;
            int i = m->open[k].index;
            m->given = k;
            m->named = i;
            *p = m->open[k].next;
            if (p->ts > m->last_ts[i])
                m->last_ts[i] = p->ts;
            m->packets[i]++;
            return SRC_PACKET;
        }
        int rc = open_next(m, err, errlen);
        if (rc < 0)
            return rc;
    }
}

void files_merge_skip_before(files_merge *m, double ts)
{
    while (m->next_to_open + 1 < m->n && m->first_ts[m->next_to_open + 1] <= ts)
        m->next_to_open++;
}

void files_merge_span(const files_merge *m, int i, double *last_ts, uint64_t *packets)
{
    bool in = i >= 0 && i < m->n;
    *last_ts = in ? m->last_ts[i] : -INFINITY;
    *packets = in ? m->packets[i] : 0;
}

int files_merge_open_max(const files_merge *m)
{
    return m->open_max;
}

int files_merge_opened(const files_merge *m)
{
    return m->opened;
}

const char *files_merge_name(const files_merge *m)
{
    return m->named < m->n ? m->paths[m->named] : "";
}

bool files_merge_more(const files_merge *m)
{
    return m->n_open > 0 || m->next_to_open < m->n;
}

void files_merge_close(files_merge *m)
{
    if (!m)
        return;
    for (int k = 0; k < FILES_MAX_OPEN; k++)
        if (m->open[k].used)
            drop_open(m, k);
    free(m->last_ts);
    free(m->packets);
    free(m);
}
