/* filter: the capture's BPF filter, built once for live capture and file reads (filter.h). */
#include "capture/filter.h"
#include <stdio.h>

int capfilter_build(const capture_opts *o, char *out, size_t outlen)
{
    size_t n = 0;
    n += (size_t)snprintf(out + n, outlen - n, "((");
    for (int i = 0; i < o->n_server_ports && n < outlen; i++)
        n += (size_t)snprintf(out + n, outlen - n, "%stcp port %u", i ? " or " : "",
                              o->server_ports[i]);
    if (n < outlen)
        n += (size_t)snprintf(out + n, outlen - n,
                              ") or (ip and ip[6:2] & 0x3fff != 0) or "
                              "(ip6 and ip6[6] != 6 and ip6[6] != 17 and ip6[6] != 58))");
    if (o->bpf && *o->bpf && n < outlen)
        n += (size_t)snprintf(out + n, outlen - n, " and (%s)", o->bpf);
    return n < outlen ? 0 : -1;
}

/* Compiles o's expression on p into prog. */
static int compile_on(pcap_t *p, const capture_opts *o, struct bpf_program *prog, char *err,
                      size_t errlen)
{
    char expr[OW_FILTER_MAX];
    if (capfilter_build(o, expr, sizeof expr) < 0) {
        snprintf(err, errlen, "BPF filter too long");
        return -1;
    }
    if (pcap_compile(p, prog, expr, 1, PCAP_NETMASK_UNKNOWN) < 0) {
        snprintf(err, errlen, "bad BPF filter \"%s\": %s", expr, pcap_geterr(p));
        return -1;
    }
    return 0;
}

int capfilter_set(pcap_t *p, const capture_opts *o, char *err, size_t errlen)
{
    struct bpf_program prog;
    if (compile_on(p, o, &prog, err, errlen) < 0)
        return -1;
    int rc = pcap_setfilter(p, &prog);
    pcap_freecode(&prog);
    if (rc < 0) {
        snprintf(err, errlen, "cannot set BPF filter: %s", pcap_geterr(p));
        return -1;
    }
    return 0;
}

int capfilter_compile_dlt(int dlt, const capture_opts *o, struct bpf_program *prog, char *err,
                          size_t errlen)
{
    pcap_t *dead = pcap_open_dead(dlt, o->snaplen > 0 ? o->snaplen : OW_DEFAULT_SNAPLEN);
    if (!dead) {
        snprintf(err, errlen, "out of memory compiling the BPF filter");
        return -1;
    }
    int rc = compile_on(dead, o, prog, err, errlen);
    pcap_close(dead);
    return rc;
}
