/* pcap_file: a classic pcap file read through a memory mapping (see pcap_file.h): the parser on
 * (pointer, length), the SIGBUS guard for files cut while mapped, and the windowed reader. */
#include "capture/pcap_file.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC_USEC          0xa1b2c3d4u
#define MAGIC_NSEC          0xa1b23c4du
#define LT_LINKTYPE(x)      ((x)&0x03FFFFFFu) /* libpcap: the upper 6 bits are not the type */
#define LINKTYPE_RAW        101
#define DLT_RAW_LINUX       12 /* what libpcap on Linux reports for LINKTYPE_RAW */
#define LINKTYPE_LINUX_SLL  113
#define LINKTYPE_LINUX_SLL2 276

/* ---- the parser: bytes in memory ---- */

static uint32_t rd32(const pcapf_format *f, const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return f->swapped ? __builtin_bswap32(v) : v;
}

static uint16_t rd16(const pcapf_format *f, const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return f->swapped ? __builtin_bswap16(v) : v;
}

/* The link types capture/ decodes (ow_link_supported), as libpcap maps them to DLT_ values;
 * -1 for any other (those stay with libpcap, which names them in its refusal). */
static int dlt_of(uint32_t linktype)
{
    switch (linktype) {
    case LINKTYPE_RAW:
        return DLT_RAW_LINUX;
    case 0:   /* NULL */
    case 1:   /* Ethernet */
    case 12:  /* DLT_RAW written as such */
    case 108: /* LOOP */
    case LINKTYPE_LINUX_SLL:
    case 228: /* IPv4 */
    case 229: /* IPv6 */
    case LINKTYPE_LINUX_SLL2:
        return (int)linktype;
    default:
        return -1;
    }
}

static bool read_magic(const uint8_t *b, pcapf_format *f)
{
    uint32_t m;
    memcpy(&m, b, 4);
    f->swapped = m == __builtin_bswap32(MAGIC_USEC) || m == __builtin_bswap32(MAGIC_NSEC);
    if (f->swapped)
        m = __builtin_bswap32(m);
    f->nsec = m == MAGIC_NSEC;
    return m == MAGIC_USEC || m == MAGIC_NSEC;
}

bool pcapf_parse_header(const uint8_t *b, size_t len, pcapf_format *f)
{
    memset(f, 0, sizeof *f);
    if (!b || len < PCAPF_HEADER_LEN || !read_magic(b, f))
        return false;
    uint16_t major = rd16(f, b + 4), minor = rd16(f, b + 6);
    if (major != 2 || minor > 4) /* libpcap's own errors for the others */
        return false;
    f->lengths = minor < 3    ? PCAPF_LEN_SWAPPED
                 : minor == 3 ? PCAPF_LEN_MAYBE_SWAPPED
                              : PCAPF_LEN_AS_IS;
    uint32_t snaplen = rd32(f, b + 16);
    f->snapshot = snaplen == 0 || snaplen > INT_MAX ? PCAPF_MAX_CAPLEN : snaplen;
    f->linktype = rd32(f, b + 20);
    f->dlt = dlt_of(LT_LINKTYPE(f->linktype));
    if (f->dlt < 0)
        return false;
    /* byte-swapped cooked captures: libpcap fixes CAN ids inside the packet (a copy) */
    return !(f->swapped && (f->dlt == LINKTYPE_LINUX_SLL || f->dlt == LINKTYPE_LINUX_SLL2));
}

static void record_header(const pcapf_format *f, const uint8_t *h, pcapf_record *r)
{
    /* libpcap 1.10 reads both as signed 32-bit fields, unsigned when it swaps them */
    uint32_t sec = rd32(f, h), frac = rd32(f, h + 4);
    int64_t s = f->swapped ? (int64_t)sec : (int64_t)(int32_t)sec;
    int64_t us = f->swapped ? (int64_t)frac : (int64_t)(int32_t)frac;
    r->tv.tv_sec = (time_t)s;
    r->tv.tv_usec = (suseconds_t)(f->nsec ? us / 1000 : us); /* SCALE_DOWN truncates */
    r->caplen = rd32(f, h + 8);
    r->len = rd32(f, h + 12);
    if (f->lengths == PCAPF_LEN_SWAPPED ||
        (f->lengths == PCAPF_LEN_MAYBE_SWAPPED && r->caplen > r->len)) {
        uint32_t t = r->caplen;
        r->caplen = r->len;
        r->len = t;
    }
}

static int bogus_caplen(const pcapf_format *f, uint32_t caplen, char *err, size_t errlen)
{
    if (caplen > f->snapshot)
        snprintf(err, errlen, "invalid packet capture length %u, bigger than snaplen of %d", caplen,
                 (int)f->snapshot);
    else
        snprintf(err, errlen, "invalid packet capture length %u, bigger than maximum of %u", caplen,
                 PCAPF_MAX_CAPLEN);
    return PCAPF_ERROR;
}

static int short_data(uint32_t wanted, size_t got, char *err, size_t errlen)
{
    snprintf(err, errlen, "truncated dump file; tried to read %u captured bytes, only got %zu",
             wanted, got);
    return PCAPF_SHORT;
}

static inline int parse_record(const pcapf_format *f, const uint8_t *b, size_t len, size_t off,
                               pcapf_record *r, char *err, size_t errlen)
{
    if (off >= len)
        return PCAPF_END;
    size_t avail = len - off;
    r->next = off + PCAPF_RECORD_LEN;
    if (avail < PCAPF_RECORD_LEN) {
        snprintf(err, errlen, "truncated dump file; tried to read %u header bytes, only got %zu",
                 (unsigned)PCAPF_RECORD_LEN, avail);
        return PCAPF_SHORT;
    }
    record_header(f, b + off, r);
    if (r->caplen > PCAPF_MAX_CAPLEN)
        return bogus_caplen(f, r->caplen, err, errlen);
    avail -= PCAPF_RECORD_LEN;
    r->next += r->caplen; /* a caplen past the snapshot length: the rest is skipped */
    if (avail < r->caplen) {
        bool cut = r->caplen > f->snapshot && avail < f->snapshot;
        return short_data(cut ? f->snapshot : r->caplen, avail, err, errlen);
    }
    if (r->caplen > f->snapshot)
        r->caplen = f->snapshot;
    r->data = b + off + PCAPF_RECORD_LEN;
    return PCAPF_PACKET;
}

int pcapf_parse_record(const pcapf_format *f, const uint8_t *b, size_t len, size_t off,
                       pcapf_record *r, char *err, size_t errlen)
{
    return parse_record(f, b, len, off, r, err, errlen);
}

/* ---- the SIGBUS guard: a page of a registered mapping cut from its file reads as zeros ---- */

#define GUARD_SLOTS 16

typedef struct guard_slot {
    atomic_uint seq;          /* odd while lo/hi change (a seqlock: the handler skips it) */
    _Atomic uintptr_t lo, hi; /* the mapping [lo, hi); 0, 0 when none */
    atomic_int hit;           /* a page of it was replaced by zeros */
    bool used;                /* under guard_lock */
} guard_slot;

static guard_slot guard_slots[GUARD_SLOTS];
static pthread_mutex_t guard_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction guard_previous;
static int guard_users;
static uintptr_t guard_page = 4096;

/* The slot whose mapping holds addr (read consistently), or NULL. */
static guard_slot *guard_find(uintptr_t addr)
{
    for (int i = 0; i < GUARD_SLOTS; i++) {
        guard_slot *g = &guard_slots[i];
        unsigned s1 = atomic_load(&g->seq);
        uintptr_t lo = atomic_load(&g->lo), hi = atomic_load(&g->hi);
        if (!(s1 & 1) && s1 == atomic_load(&g->seq) && addr >= lo && addr < hi)
            return g;
    }
    return NULL;
}

static bool guard_zero_page(uintptr_t addr)
{
    guard_slot *g = guard_find(addr);
    if (!g)
        return false;
    void *page = (void *)(addr & ~(guard_page - 1));
    if (mmap(page, guard_page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
        MAP_FAILED)
        return false;
    atomic_store(&g->hit, 1);
    return true;
}

static void on_sigbus(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    if (si && si->si_code > 0 && guard_zero_page((uintptr_t)si->si_addr))
        return; /* the access is repeated and reads zeros */
    /* not a fault in a mapping of ours: the previous disposition takes it (a fault repeats) */
    sigaction(SIGBUS, &guard_previous, NULL);
    if (!si || si->si_code <= 0)
        raise(sig);
}

static bool guard_install(void)
{
    long ps = sysconf(_SC_PAGESIZE);
    if (ps > 0)
        guard_page = (uintptr_t)ps;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGBUS, &sa, &guard_previous) == 0;
}

/* Puts the previous disposition back, unless someone installed another handler since. */
static void guard_uninstall(void)
{
    struct sigaction cur;
    if (sigaction(SIGBUS, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
        cur.sa_sigaction == on_sigbus)
        sigaction(SIGBUS, &guard_previous, NULL);
}

/* A slot for one reader (the handler installed with the first); -1 when none is free. */
static int guard_claim(void)
{
    int slot = -1;
    pthread_mutex_lock(&guard_lock);
    for (int i = 0; i < GUARD_SLOTS && slot < 0; i++)
        if (!guard_slots[i].used)
            slot = i;
    if (slot >= 0 && (guard_users > 0 || guard_install())) {
        guard_users++;
        guard_slots[slot].used = true;
        atomic_store(&guard_slots[slot].hit, 0);
    } else {
        slot = -1;
    }
    pthread_mutex_unlock(&guard_lock);
    return slot;
}

static void guard_set(int slot, const void *map, size_t len)
{
    guard_slot *g = &guard_slots[slot];
    atomic_fetch_add(&g->seq, 1);
    atomic_store(&g->lo, (uintptr_t)map);
    atomic_store(&g->hi, map ? (uintptr_t)map + len : 0);
    atomic_fetch_add(&g->seq, 1);
}

static void guard_release(int slot)
{
    pthread_mutex_lock(&guard_lock);
    guard_set(slot, NULL, 0);
    guard_slots[slot].used = false;
    if (--guard_users == 0)
        guard_uninstall();
    pthread_mutex_unlock(&guard_lock);
}

/* ---- the reader: the file through windows of the mapping ---- */

struct pcapf_reader {
    int fd;
    int guard;
    atomic_int *hit; /* the guard's mark for this reader */
    pcapf_format fmt;
    size_t window;
    uint64_t size;      /* the file's size at the last look */
    uint64_t pos;       /* file offset of the next record */
    const uint8_t *map; /* file bytes [map_off, map_off + map_size); records parsed up to map_len */
    uint64_t map_off;
    size_t map_len, map_size;
    uint8_t touched; /* the byte touch_next_page read */
    bool ended;      /* the end was seen (maybe inside a record): no more records */
    char path[256];  /* for messages */
};

static void unmap(pcapf_reader *pf)
{
    if (!pf->map)
        return;
    guard_set(pf->guard, NULL, 0);
    munmap((void *)pf->map, pf->map_size);
    pf->map = NULL;
    pf->map_len = pf->map_size = 0;
}

static size_t min_size(uint64_t a, uint64_t b)
{
    return (size_t)(a < b ? a : b);
}

/* Maps the file from the page holding pos, at least need bytes past pos (and a window), as
 * far as the file now goes; one page more is mapped when the file has it, for the touch in
 * pcapf_next. 0, or -1 with errno set. */
static int map_from(pcapf_reader *pf, uint64_t pos, size_t need)
{
    struct stat st;
    if (fstat(pf->fd, &st) != 0)
        return -1;
    pf->size = st.st_size > 0 ? (uint64_t)st.st_size : 0;
    uint64_t off = pos & ~(uint64_t)(guard_page - 1);
    uint64_t want = (pos - off) + (need > pf->window ? need : pf->window);
    size_t len = pf->size > off ? min_size(pf->size - off, want) : 0;
    size_t size = pf->size > off ? min_size(pf->size - off, want + guard_page) : 0;
    if (pf->map && off == pf->map_off && len == pf->map_len && size == pf->map_size)
        return 0;
    unmap(pf);
    pf->map_off = off;
    if (len == 0)
        return 0;
    void *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, pf->fd, (off_t)off);
    if (m == MAP_FAILED)
        return -1;
    madvise(m, size, MADV_SEQUENTIAL);
    pf->map = m;
    pf->map_len = len;
    pf->map_size = size;
    guard_set(pf->guard, m, size);
    return 0;
}

static size_t window_for(size_t asked)
{
    size_t w = asked ? asked : PCAPF_WINDOW;
    if (w < PCAPF_MIN_WINDOW)
        w = PCAPF_MIN_WINDOW;
    return (w + guard_page - 1) & ~(size_t)(guard_page - 1);
}

/* The header, read with pread: a regular file with a header this reader takes. */
static bool take_file(int fd, pcapf_format *f, uint64_t *size)
{
    struct stat st;
    uint8_t hdr[PCAPF_HEADER_LEN];
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < PCAPF_HEADER_LEN)
        return false;
    *size = (uint64_t)st.st_size;
    return pread(fd, hdr, sizeof hdr, 0) == (ssize_t)sizeof hdr &&
           pcapf_parse_header(hdr, sizeof hdr, f);
}

pcapf_reader *pcapf_open(const char *path, size_t window)
{
    if (!path || strcmp(path, "-") == 0)
        return NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    pcapf_reader *pf = calloc(1, sizeof *pf);
    if (!pf || !take_file(fd, &pf->fmt, &pf->size) || (pf->guard = guard_claim()) < 0) {
        free(pf);
        close(fd);
        return NULL;
    }
    pf->fd = fd;
    pf->hit = &guard_slots[pf->guard].hit;
    pf->window = window_for(window);
    pf->pos = PCAPF_HEADER_LEN;
    snprintf(pf->path, sizeof pf->path, "%s", path);
    if (map_from(pf, 0, 0) < 0 || pf->map_len < PCAPF_HEADER_LEN) {
        pcapf_close(pf); /* cannot be mapped (or already cut): libpcap reads it */
        return NULL;
    }
    return pf;
}

const pcapf_format *pcapf_format_of(const pcapf_reader *pf)
{
    return &pf->fmt;
}

static int cut_under_us(pcapf_reader *pf, char *err, size_t errlen)
{
    struct stat st;
    long long now = fstat(pf->fd, &st) == 0 ? (long long)st.st_size : -1;
    snprintf(err, errlen,
             "%s was truncated by another process while being read (now %lld bytes; reading "
             "had reached byte %llu): stopping, the last packet may have been read in part as "
             "zeros and the packets after it are lost",
             pf->path, now, (unsigned long long)pf->pos);
    return PCAPF_ERROR;
}

static int map_error(pcapf_reader *pf, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: cannot map the file at byte %llu: %s", pf->path,
             (unsigned long long)pf->pos, strerror(errno));
    return PCAPF_ERROR;
}

/* The record at pf->pos in the current mapping (map_off <= pos always; past the mapping, or
 * with none, that is PCAPF_END). */
static inline int parse_here(pcapf_reader *pf, pcapf_record *r, char *err, size_t errlen)
{
    return parse_record(&pf->fmt, pf->map, pf->map_len, (size_t)(pf->pos - pf->map_off), r, err,
                        errlen);
}

static size_t mapped_past_pos(const pcapf_reader *pf)
{
    uint64_t end = pf->map_off + pf->map_len;
    return end > pf->pos ? (size_t)(end - pf->pos) : 0;
}

/* A cut anywhere before the page after the record (the record itself, or the zeroed tail of
 * the page it ends in) leaves that page past the end of the file: reading it faults here, the
 * guard marks the reader, and the record is not handed out. Not possible in the file's last
 * mapped page (nothing after it), nor needed at a window's end (the next mapping looks at the
 * size again). */
static void touch_next_page(pcapf_reader *pf)
{
    uintptr_t end = (uintptr_t)pf->map + (size_t)(pf->pos - pf->map_off);
    uintptr_t page = (end + guard_page - 1) & ~(guard_page - 1);
    if (page < (uintptr_t)pf->map + pf->map_size)
        pf->touched = *(volatile const uint8_t *)page; /* kept: valgrind drops unused loads */
}

/* The mapping ends before the record does (or at it): maps again from pos, as far as the
 * record needs and the file now goes. *more: more bytes past pos are mapped than before. */
static int remap_for(pcapf_reader *pf, int rc, const pcapf_record *r, bool *more)
{
    size_t had = mapped_past_pos(pf);
    size_t need = rc == PCAPF_END ? 1 : r->next - (size_t)(pf->pos - pf->map_off);
    if (map_from(pf, pf->pos, need) < 0)
        return -1;
    *more = mapped_past_pos(pf) > had;
    return 0;
}

/* The next record, mapping more of the file when the mapping ends before it does. */
static int next_record(pcapf_reader *pf, pcapf_record *r, char *err, size_t errlen)
{
    int rc = parse_here(pf, r, err, errlen);
    for (bool more = true; more && (rc == PCAPF_END || rc == PCAPF_SHORT);) {
        if (remap_for(pf, rc, r, &more) < 0)
            return map_error(pf, err, errlen);
        rc = parse_here(pf, r, err, errlen);
    }
    if (rc == PCAPF_PACKET) {
        pf->pos = pf->map_off + r->next;
        touch_next_page(pf);
    } else if (rc == PCAPF_SHORT || rc == PCAPF_END) {
        pf->ended = true; /* libpcap too: its stdio stream keeps its end-of-file */
    } else if (rc == PCAPF_ERROR) {
        pf->pos += PCAPF_RECORD_LEN; /* a bogus record: libpcap has read its header */
    }
    return rc;
}

int pcapf_next(pcapf_reader *pf, pcapf_record *r, char *err, size_t errlen)
{
    int rc = pf->ended ? PCAPF_END : next_record(pf, r, err, errlen);
    if (atomic_load_explicit(pf->hit, memory_order_relaxed))
        return cut_under_us(pf, err, errlen); /* every call from then on */
    return rc;
}

void pcapf_close(pcapf_reader *pf)
{
    if (!pf)
        return;
    unmap(pf);
    guard_release(pf->guard);
    close(pf->fd);
    free(pf);
}
