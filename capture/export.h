/* export: copies the packets of chosen TCP connections out of a capture file into a new pcap
 * (same link type), so one page load can be opened in Wireshark on its own. */
#ifndef OW_EXPORT_H
#define OW_EXPORT_H
#include "capture/addr.h"
#include <stddef.h>
#include <stdint.h>

typedef struct ow_conn_key {
    ow_addr client, server;
    uint16_t client_port, server_port;
    double first_ts, last_ts; /* packets outside [first-1 s, last+1 s] are not this one */
} ow_conn_key;

/* Writes every packet of src that belongs to one of conns (either direction) to out.
 * Returns the number of packets written, or -1 with a message in err. */
long ow_export_packets(const char *src, const ow_conn_key *conns, size_t n, const char *out,
                       char *err, size_t errlen);
#endif
