/* export: copies the packets of chosen TCP connections out of capture files into a new pcap
 * (same link type), so one page load can be opened in Wireshark on its own. */
#ifndef OW_EXPORT_H
#define OW_EXPORT_H
#include "capture/addr.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OW_EXPORT_SLACK_S 1.0    /* a connection's packets may lie this far outside its times */
#define OW_EXPORT_SNAPLEN 262144 /* the written file's snap length */
/* Reading stops this long after the last connection's end (and its slack): the files are read
 * in time order, and a packet written out of order by more than this is rare (time_backwards
 * counts those over a second). */
#define OW_EXPORT_LATE_S 60.0

typedef struct ow_conn_key {
    ow_addr client, server;
    uint16_t client_port, server_port;
    double first_ts, last_ts; /* packets outside [first - slack, last + slack] are not this one */
} ow_conn_key;

/* Writes every packet of the capture files, merged in time as `read` reads
 * them (until OW_EXPORT_LATE_S past the connections' end), that belongs to one of conns
 * (either direction) to out, a pcap of the link type of the
 * first such packet (those of another link type are said on stderr, not written). Returns the
 * number of packets written, or -1 with a message in err (out is then removed). */
typedef struct ow_export_files {
    const char *const *path; /* the capture files */
    size_t n;
    bool in_sequence; /* known not to overlap in time (read one at a time): the files that
                         end before the connections begin are passed over */
    int read;         /* set: how many were opened */
} ow_export_files;

long ow_export_packets(ow_export_files *files, const ow_conn_key *conns, size_t n, const char *out,
                       char *err, size_t errlen);
#endif
