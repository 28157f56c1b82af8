/* packet_keep: the ring of kept pcap files behind --keep-packets (see packet_keep.h). The
 * directory is opened once and every file is created (O_EXCL, O_NOFOLLOW, 0600) and deleted
 * relative to it, so later rotations work the same after live has dropped root. */
#include "capture/packet_keep.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct pk_file {
    char name[64];
    double first_ts, last_ts;
    uint64_t packets, bytes;
    uint64_t reported; /* packets when last reported */
} pk_file;

struct packet_keep {
    char *dir; /* absolute */
    int dirfd;
    char stamp[32]; /* the capture's start, UTC */
    unsigned seq;   /* last file number used */
    uint64_t max_bytes, file_limit, total;
    int dlt; /* of every file: the first kept packet's; -1 before it */
    pcap_t *dead;
    pcap_dumper_t *dumper; /* the newest file, while it is open */
    pk_file files[OW_KEEP_MAX_FILES];
    int head, n; /* ring, oldest first */
    bool failed; /* a write error: nothing more is kept */
    capture_stats *st;
    void (*on_file)(void *ctx, const capture_kept_file *f);
    void *ctx;
};

uint64_t pk_file_limit(uint64_t max_bytes)
{
    return max_bytes / 8;
}

bool pk_must_rotate(uint64_t file_bytes, uint64_t file_packets, uint64_t record,
                    uint64_t file_limit)
{
    return file_packets > 0 && file_bytes + record > file_limit;
}

/* ---- directory ---- */

/* The user orphanwatch will run as can create and delete files in it (by the mode bits;
 * supplementary groups are not considered). */
static bool writable_by(const struct stat *st, uid_t uid, gid_t gid)
{
    if (st->st_uid == uid)
        return (st->st_mode & 0300) == 0300;
    if (st->st_gid == gid)
        return (st->st_mode & 0030) == 0030;
    return (st->st_mode & 0003) == 0003;
}

/* Why the opened directory fd cannot take the packet files (NULL: it can). As root, one just
 * created is first given to the user orphanwatch runs as after opening the capture. */
static const char *dir_unusable(const capture_opts *o, int fd, bool created)
{
    struct stat st;
    bool as_root = o->keep_chown && geteuid() == 0;
    if (created && as_root && fchown(fd, o->keep_uid, o->keep_gid) != 0)
        return strerror(errno);
    if (fstat(fd, &st) != 0)
        return strerror(errno);
    if (!as_root) /* it stays the user it is now: ask the kernel */
        return faccessat(fd, ".", W_OK | X_OK, AT_EACCESS) != 0 ? strerror(errno) : NULL;
    if (!writable_by(&st, o->keep_uid, o->keep_gid))
        return "not writable by the user orphanwatch runs as after opening the capture (name a "
               "new directory: it is created for that user)";
    return NULL;
}

static int prepare_dir(const capture_opts *o, bool *created, char *err, size_t errlen)
{
    *created = false;
    if (mkdir(o->keep_dir, 0700) == 0)
        *created = true;
    else if (errno != EEXIST) {
        snprintf(err, errlen, "--keep-packets %s: cannot create: %s", o->keep_dir, strerror(errno));
        return -1;
    }
    int fd = open(o->keep_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "--keep-packets %s: %s", o->keep_dir,
                 errno == ENOTDIR ? "not a directory" : strerror(errno));
        return -1;
    }
    const char *why = dir_unusable(o, fd, *created);
    if (why) {
        snprintf(err, errlen, "--keep-packets %s: %s", o->keep_dir, why);
        close(fd);
        return -1;
    }
    return fd;
}

packet_keep *pk_open(const capture_opts *o, capture_stats *st, char *err, size_t errlen)
{
    packet_keep *k = calloc(1, sizeof *k);
    if (!k) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    bool created;
    k->dirfd = prepare_dir(o, &created, err, errlen);
    if (k->dirfd < 0) {
        free(k);
        return NULL;
    }
    k->dir = realpath(o->keep_dir, NULL);
    if (!k->dir) {
        snprintf(err, errlen, "--keep-packets %s: %s", o->keep_dir, strerror(errno));
        pk_close(k);
        return NULL;
    }
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(k->stamp, sizeof k->stamp, "%Y%m%dT%H%M%SZ", &tm);
    k->max_bytes = o->keep_bytes ? o->keep_bytes : (uint64_t)OW_DEFAULT_KEEP_MB << 20;
    k->file_limit = pk_file_limit(k->max_bytes);
    k->dlt = -1;
    k->st = st;
    k->on_file = o->on_kept_file;
    k->ctx = o->kept_ctx;
    return k;
}

/* ---- the ring ---- */

static pk_file *newest(packet_keep *k)
{
    return k->n ? &k->files[(k->head + k->n - 1) % OW_KEEP_MAX_FILES] : NULL;
}

static void report(packet_keep *k, pk_file *f, bool dropped)
{
    f->reported = f->packets;
    if (!k->on_file)
        return;
    char path[PATH_MAX + sizeof f->name];
    snprintf(path, sizeof path, "%s/%s", k->dir, f->name);
    capture_kept_file r = {.path = path,
                           .first_ts = f->first_ts,
                           .last_ts = f->last_ts,
                           .packets = f->packets,
                           .bytes = f->bytes,
                           .dropped = dropped};
    k->on_file(k->ctx, &r);
}

static void drop_oldest(packet_keep *k)
{
    static bool warned;
    pk_file *f = &k->files[k->head];
    if (unlinkat(k->dirfd, f->name, 0) != 0 && errno != ENOENT && !warned) {
        fprintf(stderr, "orphanwatch: --keep-packets: cannot delete %s/%s: %s\n", k->dir, f->name,
                strerror(errno));
        warned = true;
    }
    k->st->kept_files_dropped++;
    k->st->kept_packets_dropped += f->packets;
    k->total -= f->bytes;
    report(k, f, true);
    k->head = (k->head + 1) % OW_KEEP_MAX_FILES;
    k->n--;
}

/* Keeping stops for good after a write error (said once, counted per packet). */
static void fail(packet_keep *k, const char *name, const char *why)
{
    fprintf(stderr, "orphanwatch: --keep-packets: %s/%s: %s; no more packets are kept\n", k->dir,
            name, why);
    k->failed = true;
    if (k->dumper) {
        pcap_dump_close(k->dumper);
        k->dumper = NULL;
        report(k, newest(k), false);
    }
}

static void close_newest(packet_keep *k)
{
    if (!k->dumper)
        return;
    pk_file *f = newest(k);
    if (pcap_dump_flush(k->dumper) != 0) {
        fail(k, f->name, "write failed");
        return;
    }
    pcap_dump_close(k->dumper);
    k->dumper = NULL;
    report(k, f, false);
}

static int create_file(packet_keep *k, char *name, size_t cap)
{
    for (int i = 0; i < OW_KEEP_NAME_TRIES; i++) {
        snprintf(name, cap, "orphanwatch-%s-%04u.pcap", k->stamp, ++k->seq);
        int fd = openat(k->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

static bool open_next(packet_keep *k)
{
    if (k->n == OW_KEEP_MAX_FILES)
        drop_oldest(k);
    pk_file *f = &k->files[(k->head + k->n) % OW_KEEP_MAX_FILES];
    memset(f, 0, sizeof *f);
    int fd = create_file(k, f->name, sizeof f->name);
    FILE *fp = NULL;
    if (fd < 0 || fchmod(fd, 0600) != 0 || !(fp = fdopen(fd, "wb"))) {
        fail(k, f->name, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlinkat(k->dirfd, f->name, 0);
        }
        return false;
    }
    k->dumper = pcap_dump_fopen(k->dead, fp);
    if (!k->dumper) {
        fail(k, f->name, pcap_geterr(k->dead));
        fclose(fp);
        unlinkat(k->dirfd, f->name, 0);
        return false;
    }
    f->bytes = OW_KEEP_FILE_HEADER;
    k->total += f->bytes;
    k->n++;
    return true;
}

/* The first packet fixes the link type of every file. */
static bool same_link_type(packet_keep *k, int dlt)
{
    if (k->dlt >= 0)
        return dlt == k->dlt;
    k->dead = pcap_open_dead_with_tstamp_precision(dlt, (int)OW_KEEP_SNAPLEN,
                                                   PCAP_TSTAMP_PRECISION_MICRO);
    if (!k->dead) {
        fail(k, "", "out of memory");
        return false;
    }
    k->dlt = dlt;
    return true;
}

/* Makes room for a record: a new file when it does not fit in the newest, and the oldest
 * files deleted while all would exceed the bound. */
static bool make_room(packet_keep *k, uint64_t record)
{
    pk_file *f = newest(k);
    bool rotate = !k->dumper || pk_must_rotate(f->bytes, f->packets, record, k->file_limit);
    uint64_t need = record + (rotate ? OW_KEEP_FILE_HEADER : 0);
    if (rotate)
        close_newest(k);
    while (k->n > (rotate ? 0 : 1) && k->total + need > k->max_bytes)
        drop_oldest(k);
    return !k->failed && (!rotate || open_next(k));
}

void pk_packet(packet_keep *k, int dlt, const struct timeval *tv, uint32_t caplen, uint32_t wirelen,
               const uint8_t *frame)
{
    uint32_t cap = caplen < OW_KEEP_SNAPLEN ? caplen : OW_KEEP_SNAPLEN;
    uint64_t record = OW_KEEP_RECORD_HEADER + (uint64_t)cap;
    if (k->failed || record + OW_KEEP_FILE_HEADER > k->max_bytes || !same_link_type(k, dlt) ||
        !make_room(k, record)) {
        k->st->kept_skipped++;
        return;
    }
    struct pcap_pkthdr h = {.ts = *tv, .caplen = cap, .len = wirelen > cap ? wirelen : cap};
    pcap_dump((u_char *)k->dumper, &h, frame);
    pk_file *f = newest(k);
    if (ferror(pcap_dump_file(k->dumper))) {
        fail(k, f->name, "write failed");
        k->st->kept_skipped++;
        return;
    }
    double ts = (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
    if (f->packets == 0 || ts < f->first_ts)
        f->first_ts = ts;
    if (f->packets == 0 || ts > f->last_ts)
        f->last_ts = ts;
    f->packets++;
    f->bytes += record;
    k->total += record;
    k->st->kept_packets++;
    if (f->packets == 1)
        report(k, f, false); /* created */
}

void pk_tick(packet_keep *k)
{
    if (!k || !k->dumper)
        return;
    pk_file *f = newest(k);
    if (pcap_dump_flush(k->dumper) != 0) {
        fail(k, f->name, "write failed");
        return;
    }
    if (f->packets != f->reported)
        report(k, f, false);
}

void pk_close(packet_keep *k)
{
    if (!k)
        return;
    close_newest(k);
    if (k->dead)
        pcap_close(k->dead);
    if (k->dirfd >= 0)
        close(k->dirfd);
    free(k->dir);
    free(k);
}
