/* pcap_source: reading packets from a pcap/pcapng file (libpcap, microsecond timestamps), or
 * from a pcapng file of several interfaces or read as a stream (own reader). See
 * pcap_source.h. A regular file is opened here and handed to libpcap with a large stdio
 * buffer and without stdio's locking (only the packet thread reads it): two freads per packet
 * cost less that way. Standard input, a pipe or a gzip file (through zlib: compressed.h) is a
 * stream (stream.h). */
#include "capture/pcap_source.h"
#include "capture/compressed.h"
#include "capture/filter.h"
#include "capture/packet.h"
#include "capture/stream.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILE_LINKTYPES SRC_MAX_FILE_LINKTYPES
#define LINKTYPE_RAW       101
#define FILE_IOBUF_SIZE    (1u << 20)

void src_describe_dlt(int dlt, char *out, size_t outlen)
{
    const char *name = pcap_datalink_val_to_name(dlt);
    const char *desc = pcap_datalink_val_to_description(dlt);
    snprintf(out, outlen, "link type %d (%s: %s)", dlt, name ? name : "unknown",
             desc ? desc : "no description");
}

static int refuse_dlt(int dlt, const char *path, char *err, size_t errlen)
{
    char d[160];
    src_describe_dlt(dlt, d, sizeof d);
    snprintf(err, errlen,
             "%s: unsupported %s; orphanwatch reads RAW, Ethernet (802.1Q/QinQ), Linux SLL/SLL2, "
             "NULL/LOOP, IPv4 and IPv6 link types",
             path, d);
    return -1;
}

/* A pcapng file with more than one interface (of different link types, or in several
 * sections: libpcap 1.10 refuses a second RAW one, see pcapng.h) goes to the own reader. */
/* LINKTYPE_ values equal DLT_ values for every supported type but RAW */
static int dlt_of_linktype(int linktype)
{
    return linktype == LINKTYPE_RAW ? DLT_RAW : linktype;
}

/* The own reader's program for link type dlt: compiled when its first packet comes (NULL
 * with a message in err when it cannot be, or too many link types came). */
static const struct bpf_program *ng_filter_for(pkt_source *s, int dlt, char *err, size_t errlen)
{
    for (int i = 0; i < s->n_ng_filter; i++)
        if (s->ng_filter[i].dlt == dlt)
            return &s->ng_filter[i].prog;
    if (s->n_ng_filter == MAX_FILE_LINKTYPES) {
        snprintf(err, errlen,
                 "%s: packets of more than %d link types: the filter is not "
                 "compiled for more",
                 s->ng_opts->file, MAX_FILE_LINKTYPES);
        return NULL;
    }
    pkt_filter *f = &s->ng_filter[s->n_ng_filter];
    if (capfilter_compile_dlt(dlt, s->ng_opts, &f->prog, err, errlen) < 0)
        return NULL;
    f->dlt = dlt;
    s->n_ng_filter++;
    return &f->prog;
}

/* The user's filter, if any, for the own reader: compiled now for each supported link type
 * of a file looked into (so that a filter that cannot apply is said before reading), and
 * for a stream's when their first packets come. */
static int set_ng_filter(pkt_source *s, const capture_opts *o, const int *types, int n, char *err,
                         size_t errlen)
{
    if (!o->bpf || !*o->bpf)
        return 0;
    s->ng_opts = o;
    for (int i = 0; i < n; i++)
        if (ow_link_supported(types[i]) &&
            !ng_filter_for(s, dlt_of_linktype(types[i]), err, errlen))
            return -1;
    return 0;
}

static int open_pcapng_own(pkt_source *s, const capture_opts *o, bool *used, char *err,
                           size_t errlen)
{
    const char *path = o->file;
    struct stat st;
    *used = false;
    /* Only a regular file is looked into first: a pipe's bytes (a FIFO, `read <(tcpdump -w -)`)
     * would be gone for libpcap, which reads single-link-type pcapng itself. */
    if (strcmp(path, "-") == 0 || stat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
        !pcapng_is_pcapng(path))
        return 0;
    int types[MAX_FILE_LINKTYPES], n_ifaces;
    int n = pcapng_link_types(path, types, MAX_FILE_LINKTYPES, &n_ifaces, err, errlen);
    if (n < 0 || (n == 1 && n_ifaces == 1) || n == 0)
        return 0; /* libpcap handles it (and reports its own errors) */
    bool any = false;
    for (int i = 0; i < n; i++)
        any |= ow_link_supported(types[i]);
    if (!any)
        return refuse_dlt(types[0], path, err, errlen);
    s->ng = pcapng_open(path, err, errlen);
    if (!s->ng || set_ng_filter(s, o, types, n, err, errlen) < 0)
        return -1;
    s->dlt = types[0];
    *used = true;
    return 0;
}

/* What pcap_open_offline_with_tstamp_precision does (fopen, then pcap_fopen_offline) for a
 * regular file, with the FILE set up for speed. When this fopen fails, libpcap opens the file
 * itself and says why in its own words. */
/* fp read by this thread only, through a large buffer (s->iobuf, freed after fp). */
static void buffer_for_libpcap(pkt_source *s, FILE *fp)
{
    s->iobuf = malloc(FILE_IOBUF_SIZE);
    if (s->iobuf && setvbuf(fp, s->iobuf, _IOFBF, FILE_IOBUF_SIZE) != 0) {
        free(s->iobuf);
        s->iobuf = NULL;
    }
    __fsetlocking(fp, FSETLOCKING_BYCALLER);
}

static pcap_t *open_offline(pkt_source *s, const char *path, char *ebuf)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
    buffer_for_libpcap(s, fp);
    pcap_t *p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
    if (!p) {
        fclose(fp);
        free(s->iobuf);
        s->iobuf = NULL;
    }
    return p;
}

/* libpcap opened: the link type checked, the filter set, and the own record reader tried.
 * name is what messages call the input. */
static int libpcap_opened(pkt_source *s, const capture_opts *o, const char *name, char *err,
                          size_t errlen)
{
    s->dlt = pcap_datalink(s->pcap);
    if (!ow_link_supported(s->dlt))
        return refuse_dlt(s->dlt, name, err, errlen);
    bool filtered = o->bpf && *o->bpf;
    if (filtered && capfilter_set(s->pcap, o, err, errlen) < 0)
        return -1;
    pcap_records_open(&s->rec, o->file, s->pcap, filtered);
    return 0;
}

/* The stream on fd from its first byte, a compression undone (gzip; another is refused):
 * NULL with a message in err. magic gets its first (decompressed) bytes. fd is closed on
 * failure when owns_fd. */
static FILE *stream_opened(const char *path, int fd, bool owns_fd, const stream_hooks *hooks,
                           uint8_t *magic, size_t *n, char *err, size_t errlen)
{
    const char *name = strcmp(path, "-") == 0 ? "standard input" : path;
    uint8_t raw[STREAM_MAGIC_LEN];
    ssize_t got = stream_peek_fd(fd, raw);
    compression c = got < 0 ? COMPRESSION_NONE : compression_of_bytes(raw, (size_t)got);
    FILE *fp = NULL;
    if (c == COMPRESSION_GZIP) {
        *n = STREAM_MAGIC_LEN;
        fp = compressed_gzip_fd(fd, owns_fd, hooks, raw, (size_t)got, magic, n, err, errlen);
    } else if (c != COMPRESSION_NONE) {
        compression_refusal(path, c, err, errlen);
    } else if (got >= 0 && (fp = stream_from_fd(fd, owns_fd, raw, (size_t)got, hooks))) {
        memcpy(magic, raw, (size_t)got);
        *n = (size_t)got;
    } else { /* the read, or the FILE, failed */
        snprintf(err, errlen, "cannot read %s: %s", name, strerror(errno));
    }
    if (!fp && owns_fd)
        close(fd);
    return fp;
}

/* Standard input, a pipe or a gzip file: read once (stream.h). Its first bytes choose the
 * reader: pcapng goes to the own reader, anything else to libpcap. */
static int open_stream(pkt_source *s, const capture_opts *o, char *err, size_t errlen)
{
    const char *path = o->file;
    bool is_stdin = strcmp(path, "-") == 0;
    const char *name = is_stdin ? "standard input" : path;
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot read %s: %s", name, strerror(errno));
        return -1;
    }
    uint8_t magic[STREAM_MAGIC_LEN];
    size_t n = 0;
    FILE *fp = stream_opened(path, fd, !is_stdin, &s->hooks, magic, &n, err, errlen);
    if (!fp)
        return -1;
    if (stream_is_pcapng(magic, n)) {
        s->ng = pcapng_open_stream(fp, true, err, errlen);
        if (!s->ng)
            fclose(fp);
        return s->ng ? set_ng_filter(s, o, NULL, 0, err, errlen) : -1;
    }
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    buffer_for_libpcap(s, fp);
    s->pcap = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
    if (!s->pcap) {
        fclose(fp);
        free(s->iobuf);
        s->iobuf = NULL;
        snprintf(err, errlen, "cannot read %s: %s", name, ebuf);
        return -1;
    }
    return libpcap_opened(s, o, name, err, errlen);
}

static bool is_regular_file(const char *path)
{
    struct stat st;
    return strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int src_open_file(pkt_source *s, const capture_opts *o, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    const char *path = o->file;
    bool own;
    if (open_pcapng_own(s, o, &own, err, errlen) < 0) {
        src_close(s);
        return -1;
    }
    if (own)
        return 0;
    compression comp = strcmp(path, "-") == 0 ? COMPRESSION_NONE : compression_of_file(path);
    if (comp != COMPRESSION_NONE && comp != COMPRESSION_GZIP) {
        compression_refusal(path, comp, err, errlen);
        return -1;
    }
    int rc;
    if (comp == COMPRESSION_GZIP || !is_regular_file(path)) {
        rc = open_stream(s, o, err, errlen);
    } else {
        char ebuf[PCAP_ERRBUF_SIZE] = "";
        s->pcap = open_offline(s, path, ebuf);
        if (!s->pcap) {
            snprintf(err, errlen, "cannot read %s: %s", path, ebuf);
            return -1;
        }
        rc = libpcap_opened(s, o, path, err, errlen);
    }
    if (rc < 0)
        src_close(s);
    return rc;
}

/* Does the user's filter (if any) keep this packet of the own pcapng reader? 1 yes, 0 no,
 * -1 when it cannot be compiled for the packet's link type (message in err). */
static int ng_filter_keeps(pkt_source *s, const raw_packet *p, char *err, size_t errlen)
{
    if (!s->ng_opts || !ow_link_supported(p->dlt))
        return 1; /* no filter; or a link type orphanwatch skips (and counts) anyway */
    const struct bpf_program *prog = ng_filter_for(s, p->dlt, err, errlen);
    if (!prog)
        return -1;
    struct pcap_pkthdr h = {.ts = p->tv, .caplen = p->caplen, .len = p->wirelen};
    return pcap_offline_filter(prog, &h, p->data) != 0;
}

static int next_own_pcapng(pkt_source *s, raw_packet *p, char *err, size_t errlen)
{
    pcapng_packet q;
    int rc = pcapng_next(s->ng, &q, err, errlen);
    if (rc == 0)
        return SRC_EOF;
    if (rc == -3)
        return SRC_TRUNCATED;
    if (rc < 0)
        return SRC_ERROR;
    p->tv.tv_sec = (time_t)q.sec;
    p->tv.tv_usec = (suseconds_t)q.usec;
    p->ts = (double)p->tv.tv_sec + (double)p->tv.tv_usec / 1e6; /* as packet_from's */
    p->caplen = q.caplen;
    p->wirelen = q.wirelen;
    p->data = q.data;
    p->dlt = dlt_of_linktype(q.linktype);
    return SRC_PACKET;
}

static int packet_from(const pkt_source *s, raw_packet *p, const struct pcap_pkthdr *h,
                       const uint8_t *data)
{
    p->tv = h->ts;
    p->ts = (double)h->ts.tv_sec + (double)h->ts.tv_usec / 1e6;
    p->caplen = h->caplen;
    p->wirelen = h->len < h->caplen ? h->caplen : h->len;
    p->data = data;
    p->dlt = s->dlt;
    return SRC_PACKET;
}

/* The own record reader stopped: libpcap reads on from the record it stopped at. */
static int records_to_libpcap(pkt_source *s, char *err, size_t errlen)
{
    uint64_t at = pcap_records_offset(&s->rec);
    pcap_records_close(&s->rec);
    if (fseeko(pcap_file(s->pcap), (off_t)at, SEEK_SET) != 0) {
        snprintf(err, errlen, "cannot seek to offset %llu: %s", (unsigned long long)at,
                 strerror(errno));
        return SRC_ERROR;
    }
    return SRC_PACKET;
}

int src_next(pkt_source *s, raw_packet *p, char *err, size_t errlen)
{
    if (s->ng) {
        int rc, keep = 0;
        while ((rc = next_own_pcapng(s, p, err, errlen)) == SRC_PACKET &&
               (keep = ng_filter_keeps(s, p, err, errlen)) == 0)
            ;
        return keep < 0 ? SRC_ERROR : rc;
    }
    if (s->rec.buf) {
        struct pcap_pkthdr rh;
        uint8_t *rd;
        if (pcap_records_next(&s->rec, &rh, &rd))
            return packet_from(s, p, &rh, rd);
        if (records_to_libpcap(s, err, errlen) != SRC_PACKET)
            return SRC_ERROR;
    }
    struct pcap_pkthdr *h;
    const u_char *data;
    int rc = pcap_next_ex(s->pcap, &h, &data);
    if (rc == 1)
        return packet_from(s, p, h, data);
    if (s->gone) { /* the ring's last packets are read: now the error */
        snprintf(err, errlen, "%s", s->gone_msg);
        return SRC_ERROR;
    }
    if (rc == 0)
        return SRC_NONE;
    if (rc == PCAP_ERROR_BREAK)
        return SRC_EOF;
    const char *msg = pcap_geterr(s->pcap);
    if (src_live_gone(s, msg))
        return src_next(s, p, err, errlen);
    snprintf(err, errlen, "%s", msg);
    return !s->live && strstr(msg, "truncated") ? SRC_TRUNCATED : SRC_ERROR;
}

void src_close(pkt_source *s)
{
    pcap_records_close(&s->rec);
    if (s->pcap)
        pcap_close(s->pcap); /* closes the FILE: its buffer goes after it */
    free(s->iobuf);
    pcapng_close(s->ng);
    for (int i = 0; i < s->n_ng_filter; i++)
        pcap_freecode(&s->ng_filter[i].prog);
    memset(s, 0, sizeof *s);
}
