/* export: the packets of some connections, out of capture files (see export.h). The files are
 * read as `read` reads them (files.h: merged in time; gzip, pcapng of several interfaces).
 * Each frame is decoded with the same link-layer, IP and TCP decoders the capture path uses;
 * frames that are not TCP (nor IP fragments, TCP only once reassembled) are not copied. */
#include "capture/export.h"
#include "capture/files.h"
#include "capture/packet.h"
#include <limits.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool conn_matches(const ow_conn_key *k, const ow_ip *ip, const ow_tcp_seg *t, double ts)
{
    if (ts < k->first_ts - OW_EXPORT_SLACK_S || ts > k->last_ts + OW_EXPORT_SLACK_S)
        return false;
    bool c2s = ow_addr_eq(&ip->src, &k->client) && ow_addr_eq(&ip->dst, &k->server) &&
               t->sport == k->client_port && t->dport == k->server_port;
    bool s2c = ow_addr_eq(&ip->src, &k->server) && ow_addr_eq(&ip->dst, &k->client) &&
               t->sport == k->server_port && t->dport == k->client_port;
    return c2s || s2c;
}

static bool packet_wanted(int dlt, const struct pcap_pkthdr *h, const uint8_t *frame,
                          const ow_conn_key *conns, size_t n)
{
    ow_l3 l3;
    ow_ip ip;
    ow_tcp_seg tcp;
    if (ow_link_decode(dlt, frame, h->caplen, h->len, &l3) != OW_PKT_OK)
        return false;
    enum ow_pkt_verdict v = l3.version == 6 ? ow_ipv6_decode(&l3, &ip) : ow_ipv4_decode(&l3, &ip);
    if (v != OW_PKT_OK || ow_tcp_decode(&ip, &tcp) != OW_PKT_OK)
        return false;
    double ts = (double)h->ts.tv_sec + h->ts.tv_usec / 1e6;
    for (size_t i = 0; i < n; i++)
        if (conn_matches(&conns[i], &ip, &tcp, ts))
            return true;
    return false;
}

/* Where the chosen packets go: the file is made at the first one, with its link type (a pcap
 * holds one); wanted packets of other link types are counted, not written. */
typedef struct export_out {
    const char *path;
    pcap_t *dead;
    pcap_dumper_t *d;
    int dlt;
    long written, other_dlt;
} export_out;

static int out_open(export_out *o, int dlt, char *err, size_t errlen)
{
    o->dead = pcap_open_dead(dlt, OW_EXPORT_SNAPLEN);
    o->d = o->dead ? pcap_dump_open(o->dead, o->path) : NULL;
    if (!o->d) {
        snprintf(err, errlen, "%s: %s", o->path, o->dead ? pcap_geterr(o->dead) : "out of memory");
        return -1;
    }
    o->dlt = dlt;
    return 0;
}

static int out_packet(export_out *o, const raw_packet *p, char *err, size_t errlen)
{
    if (!o->d && out_open(o, p->dlt, err, errlen) < 0)
        return -1;
    if (p->dlt != o->dlt) {
        o->other_dlt++;
        return 0;
    }
    struct pcap_pkthdr h = {.ts = p->tv, .caplen = p->caplen, .len = p->wirelen};
    pcap_dump((u_char *)o->d, &h, p->data);
    o->written++;
    return 0;
}

/* Ends the file (made now, empty, when nothing was chosen): 0, or -1 when it cannot be
 * written. */
static int out_close(export_out *o, int first_dlt, char *err, size_t errlen)
{
    int rc = o->d || out_open(o, first_dlt, err, errlen) == 0 ? 0 : -1;
    if (rc == 0 && pcap_dump_flush(o->d) != 0) {
        snprintf(err, errlen, "%s: write failed", o->path);
        rc = -1;
    }
    if (o->d)
        pcap_dump_close(o->d);
    if (o->dead)
        pcap_close(o->dead);
    return rc;
}

/* The time after which no packet of conns can come: the latest end, with the slack and the
 * late margin. */
static double last_wanted(const ow_conn_key *conns, size_t n)
{
    double last = 0;
    for (size_t i = 0; i < n; i++)
        if (conns[i].last_ts > last)
            last = conns[i].last_ts;
    return last + OW_EXPORT_SLACK_S + OW_EXPORT_LATE_S;
}

/* Copies the chosen packets of the merged files into o, stopping once the files' time is past
 * the last of them; -1 when a file cannot be read. */
static int copy_wanted(files_merge *m, export_out *o, int *first_dlt, const ow_conn_key *conns,
                       size_t n, char *err, size_t errlen)
{
    raw_packet p;
    int rc;
    double until = last_wanted(conns, n);
    while ((rc = files_merge_next(m, &p, err, errlen)) != SRC_EOF) {
        if (rc == SRC_PACKET && p.ts > until)
            break;
        if (rc == SRC_TRUNCATED) {
            fprintf(stderr, "orphanwatch: %s: %s (exported what came before)\n",
                    files_merge_name(m), err);
            continue;
        }
        if (rc != SRC_PACKET) {
            char why[400];
            snprintf(why, sizeof why, "%s", err);
            snprintf(err, errlen, "%s: %s", files_merge_name(m), why);
            return -1;
        }
        if (*first_dlt < 0)
            *first_dlt = p.dlt;
        struct pcap_pkthdr h = {.ts = p.tv, .caplen = p.caplen, .len = p.wirelen};
        if (packet_wanted(p.dlt, &h, p.data, conns, n) && out_packet(o, &p, err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* The earliest time a packet of conns can have (its slack taken off). */
static double first_wanted(const ow_conn_key *conns, size_t n)
{
    double first = n ? conns[0].first_ts : 0;
    for (size_t i = 1; i < n; i++)
        if (conns[i].first_ts < first)
            first = conns[i].first_ts;
    return first - OW_EXPORT_SLACK_S;
}

long ow_export_packets(ow_export_files *files, const ow_conn_key *conns, size_t n, const char *out,
                       char *err, size_t errlen)
{
    size_t n_src = files->n;
    const char *const *srcs = files->path;
    files->read = 0;
    if (n_src == 0 || n_src > INT_MAX) {
        snprintf(err, errlen, "no capture file to export from");
        return -1;
    }
    char **paths = calloc(n_src, sizeof *paths);
    double *first = calloc(n_src, sizeof *first);
    capture_opts opts = {0};
    files_merge *m = NULL;
    long written = -1;
    if (!paths || !first) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n_src; i++)
        paths[i] = (char *)srcs[i];
    if (files_order(paths, (int)n_src, first, &opts, err, errlen) < 0 ||
        !(m = files_merge_open(paths, first, (int)n_src, &opts, err, errlen)))
        goto done;
    if (files->in_sequence)
        files_merge_skip_before(m, first_wanted(conns, n));
    export_out o = {.path = out};
    int first_dlt = -1;
    int rc = copy_wanted(m, &o, &first_dlt, conns, n, err, errlen);
    files->read = files_merge_opened(m);
    char close_err[300] = "";
    if (out_close(&o, first_dlt < 0 ? DLT_RAW : first_dlt, close_err, sizeof close_err) < 0 &&
        rc == 0) {
        snprintf(err, errlen, "%s", close_err);
        rc = -1;
    }
    if (rc == 0 && o.other_dlt > 0)
        fprintf(stderr,
                "orphanwatch: %ld packets of these connections have another link type than the "
                "first (a pcap holds one): not written\n",
                o.other_dlt);
    if (rc < 0 && o.d)
        unlink(out);
    written = rc < 0 ? -1 : o.written;
done:
    files_merge_close(m);
    free(paths);
    free(first);
    return written;
}
