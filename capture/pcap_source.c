/* pcap_source: reading packets from a pcap/pcapng file (libpcap, microsecond timestamps), or
 * from a pcapng file of several interfaces (own reader). See pcap_source.h. A named file is
 * opened here (a gzip one through zlib: compressed.h) and handed to libpcap with a large stdio
 * buffer and without stdio's locking (only the packet thread reads it): two freads per packet
 * cost less that way. */
#include "capture/pcap_source.h"
#include "capture/compressed.h"
#include "capture/filter.h"
#include "capture/packet.h"
#include <errno.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* The user's filter compiled for each supported link type of a pcapng file the own reader reads. */
static int compile_ng_filters(pkt_source *s, const capture_opts *o, const int *types, int n,
                              char *err, size_t errlen)
{
    for (int i = 0; i < n && o->bpf && *o->bpf; i++) {
        if (!ow_link_supported(types[i]))
            continue; /* its packets are skipped (and counted) anyway */
        pkt_filter *f = &s->ng_filter[s->n_ng_filter];
        f->dlt = dlt_of_linktype(types[i]);
        if (capfilter_compile_dlt(f->dlt, o, &f->prog, err, errlen) < 0)
            return -1;
        s->n_ng_filter++;
    }
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
    if (!s->ng || compile_ng_filters(s, o, types, n, err, errlen) < 0)
        return -1;
    s->dlt = types[0];
    *used = true;
    return 0;
}

/* What pcap_open_offline_with_tstamp_precision does (fopen, then pcap_fopen_offline), with
 * the FILE set up for speed, or decompressing a gzip file. When this fopen fails, libpcap
 * opens the file itself and says why in its own words. */
static pcap_t *open_offline(pkt_source *s, const char *path, bool gzip, char *ebuf)
{
    FILE *fp = strcmp(path, "-") == 0 ? NULL
               : gzip                 ? compressed_open_gzip(path, ebuf, PCAP_ERRBUF_SIZE)
                                      : fopen(path, "rb");
    if (!fp && gzip)
        return NULL;
    if (!fp)
        return pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
    s->iobuf = malloc(FILE_IOBUF_SIZE);
    if (s->iobuf && setvbuf(fp, s->iobuf, _IOFBF, FILE_IOBUF_SIZE) != 0) {
        free(s->iobuf);
        s->iobuf = NULL;
    }
    __fsetlocking(fp, FSETLOCKING_BYCALLER);
    pcap_t *p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
    if (!p) {
        fclose(fp);
        free(s->iobuf);
        s->iobuf = NULL;
    }
    return p;
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
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    s->pcap = open_offline(s, path, comp == COMPRESSION_GZIP, ebuf);
    if (!s->pcap) {
        snprintf(err, errlen, "cannot read %s: %s", path, ebuf);
        return -1;
    }
    s->dlt = pcap_datalink(s->pcap);
    if (!ow_link_supported(s->dlt)) {
        refuse_dlt(s->dlt, path, err, errlen);
        src_close(s);
        return -1;
    }
    bool filtered = o->bpf && *o->bpf;
    if (filtered && capfilter_set(s->pcap, o, err, errlen) < 0) {
        src_close(s);
        return -1;
    }
    pcap_records_open(&s->rec, path, s->pcap, filtered);
    return 0;
}

/* Does the user's filter (if any) keep this packet of the own pcapng reader? */
static bool ng_filter_keeps(pkt_source *s, const raw_packet *p)
{
    if (s->n_ng_filter == 0)
        return true;
    for (int i = 0; i < s->n_ng_filter; i++) {
        if (s->ng_filter[i].dlt != p->dlt)
            continue;
        struct pcap_pkthdr h = {.ts = p->tv, .caplen = p->caplen, .len = p->wirelen};
        return pcap_offline_filter(&s->ng_filter[i].prog, &h, p->data) != 0;
    }
    return true; /* a link type orphanwatch skips */
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
    p->ts = q.ts;
    p->tv.tv_sec = (time_t)q.ts;
    p->tv.tv_usec = (suseconds_t)((q.ts - (double)p->tv.tv_sec) * 1e6);
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
        int rc;
        while ((rc = next_own_pcapng(s, p, err, errlen)) == SRC_PACKET && !ng_filter_keeps(s, p))
            ;
        return rc;
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
    if (rc == 0)
        return SRC_NONE;
    if (rc == PCAP_ERROR_BREAK)
        return SRC_EOF;
    const char *msg = pcap_geterr(s->pcap);
    /* libpcap 1.10 on a second RAW interface of a pcapng read from a pipe (a named file goes
     * to the own reader, which reads it: see pcapng.h) */
    bool second_iface = strstr(msg, "different from the type of the first interface") != NULL;
    snprintf(err, errlen, "%s%s", msg,
             second_iface ? " (libpcap cannot read a pcapng with several RAW interfaces or "
                            "sections from a pipe: give orphanwatch the file's name)"
                          : "");
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
