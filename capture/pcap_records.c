/* pcap_records: classic pcap records read from a large buffer where that equals libpcap's
 * reading (see pcap_records.h for when, and how libpcap takes over). The file's layout: a
 * 24-byte header, then per packet a 16-byte record header (seconds, microseconds, captured
 * and original length, 32 bits each in the writer's byte order) and the captured bytes. */
#include "capture/pcap_records.h"
#include "capture/packet.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_HEADER_LEN    24
#define RECORD_HEADER_LEN  16
#define MAGIC_MICROSECONDS 0xa1b2c3d4u /* in the writer's byte order */
#define RECORD_MAX         262144u     /* libpcap's largest captured length for our link types */

/* The file header says: native byte order, microseconds, version 2.4. */
static bool header_is_plain(int fd)
{
    uint8_t h[FILE_HEADER_LEN];
    return pread(fd, h, sizeof h, 0) == (ssize_t)sizeof h &&
           ow_load32_host(h) == MAGIC_MICROSECONDS && ow_load16_host(h + 4) == 2 &&
           ow_load16_host(h + 6) == 4;
}

void pcap_records_open(pcap_records *r, const char *path, pcap_t *p, bool filtered)
{
    memset(r, 0, sizeof *r);
    r->fd = -1;
    struct stat st;
    if (filtered || !p || pcap_is_swapped(p) || pcap_major_version(p) != 2 ||
        pcap_minor_version(p) != 4 || pcap_snapshot(p) <= 0 || stat(path, &st) != 0 ||
        !S_ISREG(st.st_mode))
        return;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    r->buf = malloc(PCAP_RECORDS_BUF_SIZE);
    if (!r->buf || !header_is_plain(fd)) {
        free(r->buf);
        r->buf = NULL;
        close(fd);
        return;
    }
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    r->fd = fd;
    r->offset = FILE_HEADER_LEN;
    r->snaplen = (uint32_t)pcap_snapshot(p);
}

_Static_assert(PCAP_RECORDS_BUF_SIZE >= RECORD_HEADER_LEN + RECORD_MAX + PCAP_RECORDS_READ_CHUNK,
               "a chunk fits after any record");

/* Reads more after moving the unread bytes to the front: a chunk past them, or as much as a
 * record needs; false when the file has fewer than need unread. */
static bool refill(pcap_records *r, size_t need)
{
    size_t n = r->end - r->start;
    memmove(r->buf, r->buf + r->start, n);
    r->start = 0;
    r->end = n;
    size_t fill = n + PCAP_RECORDS_READ_CHUNK > need ? n + PCAP_RECORDS_READ_CHUNK : need;
    while (r->end < need) {
        ssize_t got = pread(r->fd, r->buf + r->end, fill - r->end, (off_t)(r->offset + r->end));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break; /* the end, or an error libpcap will meet and report */
        r->end += (size_t)got;
    }
    return r->end >= need;
}

/* At least need bytes unread (the common case: a check). */
static inline bool have(pcap_records *r, size_t need)
{
    return r->end - r->start >= need || refill(r, need);
}

int pcap_records_next(pcap_records *r, struct pcap_pkthdr *h, uint8_t **data)
{
    if (!r->buf || !have(r, RECORD_HEADER_LEN))
        return 0;
    const uint8_t *b = r->buf + r->start;
    uint32_t caplen = ow_load32_host(b + 8);
    if (caplen > r->snaplen || caplen > RECORD_MAX || !have(r, RECORD_HEADER_LEN + caplen))
        return 0; /* libpcap decides: cut to the snapshot, refused, or truncated */
    b = r->buf + r->start;
    h->ts.tv_sec = (int32_t)ow_load32_host(b);
    h->ts.tv_usec = (int32_t)ow_load32_host(b + 4);
    h->caplen = caplen;
    h->len = ow_load32_host(b + 12);
    *data = r->buf + r->start + RECORD_HEADER_LEN;
    r->start += RECORD_HEADER_LEN + caplen;
    r->offset += RECORD_HEADER_LEN + caplen;
    return 1;
}

uint64_t pcap_records_offset(const pcap_records *r)
{
    return r->offset;
}

void pcap_records_close(pcap_records *r)
{
    if (r->buf) {
        close(r->fd);
        free(r->buf);
    }
    r->buf = NULL;
    r->fd = -1;
}
