/* filter: the BPF filter orphanwatch captures through, live and from files: the server ports,
 * what a port filter cannot see (IPv4 fragments after the first, IPv6 packets whose first next
 * header is not TCP), and the user's expression ANDed to it. Live it runs in the kernel; on a
 * file libpcap runs it on each record; the own pcapng reader (several link types) runs one
 * program per link type. Internal to capture/. */
#ifndef OW_CAPTURE_FILTER_H
#define OW_CAPTURE_FILTER_H
#include "capture/capture.h"
#include <pcap/pcap.h>

#define OW_FILTER_MAX 4096

/* The expression for o; -1 when it does not fit in outlen. */
int capfilter_build(const capture_opts *o, char *out, size_t outlen);
/* Compiles the expression for p and sets it; -1 with a message naming the expression. */
int capfilter_set(pcap_t *p, const capture_opts *o, char *err, size_t errlen);
/* Compiles the expression for packets of link type dlt (pcapng files of several link types):
 * 0 and *prog to free with pcap_freecode, or -1 with a message. */
int capfilter_compile_dlt(int dlt, const capture_opts *o, struct bpf_program *prog, char *err,
                          size_t errlen);
#endif
