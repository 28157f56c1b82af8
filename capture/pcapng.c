/* pcapng: the own pcapng block reader: files with several link types or sections, and streams (see
 * pcapng.h). */
#include "capture/pcapng.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
    BT_SHB = 0x0A0D0D0A,
    BT_IDB = 1,
    BT_OPB = 2,
    BT_SPB = 3,
    BT_EPB = 6,
    BOM = 0x1A2B3C4D,
    OPT_END = 0,
    OPT_IF_TSRESOL = 9,
    OPT_IF_TSOFFSET = 14,
};

typedef struct pcapng_iface {
    int linktype;
    uint32_t snaplen;
    uint64_t units_per_sec; /* if_tsresol: 10^n (n <= 19) or 2^n (n <= 63); 0 for others */
    int64_t ts_offset;      /* if_tsoffset, seconds */
} pcapng_iface;

struct pcapng_reader {
    FILE *f;
    bool owns_f;
    bool swap;
    uint8_t *buf;
    uint32_t bufsize;
    pcapng_iface ifaces[OW_PCAPNG_MAX_IFACES];
    int nifaces;
};

static uint32_t rd32(const pcapng_reader *r, const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return r->swap ? __builtin_bswap32(v) : v;
}

static uint16_t rd16(const pcapng_reader *r, const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return r->swap ? __builtin_bswap16(v) : v;
}

bool pcapng_is_pcapng(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    uint8_t m[4];
    bool yes =
        fread(m, 1, 4, f) == 4 && m[0] == 0x0A && m[1] == 0x0D && m[2] == 0x0D && m[3] == 0x0A;
    fclose(f);
    return yes;
}

/* Reads one whole block into r->buf (only section and interface blocks when headers_only:
 * the others are skipped). Returns 1, 0 at a clean end, -1 corrupt, -3 cut short. */
static int read_block(pcapng_reader *r, bool headers_only, uint32_t *type, uint32_t *len, char *err,
                      size_t errlen)
{
    uint8_t hdr[12];
    size_t got = fread(hdr, 1, 8, r->f);
    if (got == 0)
        return 0;
    if (got < 8) {
        snprintf(err, errlen, "pcapng: file ends inside a block header");
        return -3;
    }
    uint32_t raw_type;
    memcpy(&raw_type, hdr, 4);
    if (raw_type == BT_SHB) { /* byte order comes from the section header itself */
        if (fread(hdr + 8, 1, 4, r->f) != 4) {
            snprintf(err, errlen, "pcapng: file ends inside a section header");
            return -3;
        }
        uint32_t bom;
        memcpy(&bom, hdr + 8, 4);
        if (bom == BOM)
            r->swap = false;
        else if (bom == __builtin_bswap32(BOM))
            r->swap = true;
        else {
            snprintf(err, errlen, "pcapng: bad byte-order magic in a section header");
            return -1;
        }
        r->nifaces = 0; /* interfaces are numbered per section */
    }
    *type = rd32(r, hdr);
    *len = rd32(r, hdr + 4);
    if (*len < 12 || *len % 4 || *len > OW_PCAPNG_MAX_BLOCK || (*type == BT_SHB && *len < 28)) {
        snprintf(err, errlen, "pcapng: corrupt block (type 0x%x, length %u)", *type, *len);
        return -1;
    }
    uint32_t have = *type == BT_SHB ? 12 : 8;
    if (headers_only && *type != BT_SHB && *type != BT_IDB)
        return fseek(r->f, (long)(*len - have), SEEK_CUR) == 0 ? 1 : -3;
    if (*len > r->bufsize) {
        uint8_t *nb = realloc(r->buf, *len);
        if (!nb) {
            snprintf(err, errlen, "pcapng: out of memory for a %u-byte block", *len);
            return -1;
        }
        r->buf = nb;
        r->bufsize = *len;
    }
    memcpy(r->buf, hdr, have);
    if (fread(r->buf + have, 1, *len - have, r->f) != *len - have) {
        snprintf(err, errlen, "pcapng: file ends inside a block (type 0x%x, %u bytes)", *type,
                 *len);
        return -3;
    }
    if (rd32(r, r->buf + *len - 4) != *len) {
        snprintf(err, errlen, "pcapng: block lengths disagree (type 0x%x)", *type);
        return -1;
    }
    return 1;
}

static uint64_t pow10u(int e)
{
    uint64_t v = 1;
    while (e-- > 0)
        v *= 10;
    return v;
}

static void parse_idb_options(pcapng_reader *r, pcapng_iface *ifc, const uint8_t *o, uint32_t len)
{
    uint32_t i = 0;
    while (i + 4 <= len) {
        uint16_t code = rd16(r, o + i), olen = rd16(r, o + i + 2);
        if (code == OPT_END || i + 4 + olen > len)
            return;
        const uint8_t *v = o + i + 4;
        if (code == OPT_IF_TSRESOL && olen >= 1) {
            int e = v[0] & 0x7F;
            bool binary = (v[0] & 0x80) != 0;
            ifc->units_per_sec = binary ? (e <= 63 ? 1ull << e : 0) : (e <= 19 ? pow10u(e) : 0);
        } else if (code == OPT_IF_TSOFFSET && olen >= 8) {
            uint64_t off;
            memcpy(&off, v, 8);
            ifc->ts_offset = (int64_t)(r->swap ? __builtin_bswap64(off) : off);
        }
        i += 4 + ((olen + 3u) & ~3u);
    }
}

static int add_iface(pcapng_reader *r, uint32_t len, char *err, size_t errlen)
{
    if (len < 20) {
        snprintf(err, errlen, "pcapng: interface description block too short");
        return -1;
    }
    if (r->nifaces == OW_PCAPNG_MAX_IFACES) {
        snprintf(err, errlen, "pcapng: more than %d interfaces", OW_PCAPNG_MAX_IFACES);
        return -1;
    }
    pcapng_iface *ifc = &r->ifaces[r->nifaces++];
    ifc->linktype = rd16(r, r->buf + 8);
    ifc->snaplen = rd32(r, r->buf + 12);
    ifc->units_per_sec = 1000000;
    ifc->ts_offset = 0;
    parse_idb_options(r, ifc, r->buf + 16, len - 20);
    return 1;
}

/* The time of a packet of interface ifc: whole seconds and microseconds, truncated (as
 * libpcap gives them), worked out in integers so that no microsecond is lost to rounding. A
 * resolution that is no power of 10 or 2 in range gives 0. */
static void iface_time(const pcapng_iface *ifc, uint32_t hi, uint32_t lo, int64_t *sec,
                       uint32_t *usec)
{
    uint64_t units = (uint64_t)hi << 32 | lo, per = ifc->units_per_sec;
    *sec = 0;
    *usec = 0;
    if (per == 0)
        return;
    *sec = (int64_t)(units / per) + ifc->ts_offset;
    *usec = (uint32_t)((unsigned __int128)(units % per) * 1000000u / per);
}

/* Fills p from an EPB/OPB/SPB in r->buf. Returns 1, 0 to skip, -1 corrupt. */
static int packet_block(pcapng_reader *r, uint32_t type, uint32_t len, pcapng_packet *p, char *err,
                        size_t errlen)
{
    const uint8_t *b = r->buf;
    uint32_t ifid, hdr, caplen, wirelen;
    if (type == BT_SPB) {
        if (len < 16)
            goto corrupt;
        ifid = 0;
        hdr = 12;
        wirelen = rd32(r, b + 8);
        caplen = len - 16 < wirelen ? len - 16 : wirelen;
        if (r->nifaces > 0 && r->ifaces[0].snaplen && caplen > r->ifaces[0].snaplen)
            caplen = r->ifaces[0].snaplen;
    } else {
        if (len < 32)
            goto corrupt;
        ifid = type == BT_OPB ? rd16(r, b + 8) : rd32(r, b + 8);
        hdr = 28;
        caplen = rd32(r, b + 20);
        wirelen = rd32(r, b + 24);
    }
    if (ifid >= (uint32_t)r->nifaces) {
        snprintf(err, errlen, "pcapng: packet for undeclared interface %u", ifid);
        return -1;
    }
    if (caplen > len - hdr - 4)
        goto corrupt;
    p->sec = 0; /* a simple packet block has no time */
    p->usec = 0;
    if (type != BT_SPB)
        iface_time(&r->ifaces[ifid], rd32(r, b + 12), rd32(r, b + 16), &p->sec, &p->usec);
    p->linktype = r->ifaces[ifid].linktype;
    p->caplen = caplen;
    p->wirelen = wirelen < caplen ? caplen : wirelen;
    p->data = b + hdr;
    return 1;
corrupt:
    snprintf(err, errlen, "pcapng: packet block (type %u) longer than its block", type);
    return -1;
}

int pcapng_next(pcapng_reader *r, pcapng_packet *p, char *err, size_t errlen)
{
    for (;;) {
        uint32_t type, len;
        int rc = read_block(r, false, &type, &len, err, errlen);
        if (rc <= 0)
            return rc;
        if (type == BT_IDB) {
            if (add_iface(r, len, err, errlen) < 0)
                return -1;
        } else if (type == BT_EPB || type == BT_SPB || type == BT_OPB) {
            return packet_block(r, type, len, p, err, errlen);
        }
    }
}

pcapng_reader *pcapng_open(const char *path, char *err, size_t errlen)
{
    pcapng_reader *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->f = fopen(path, "rb");
    if (!r->f) {
        snprintf(err, errlen, "%s: cannot open", path);
        free(r);
        return NULL;
    }
    r->owns_f = true;
    return r;
}

pcapng_reader *pcapng_open_stream(FILE *f, bool owns_f, char *err, size_t errlen)
{
    pcapng_reader *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->f = f;
    r->owns_f = owns_f;
    return r;
}

void pcapng_close(pcapng_reader *r)
{
    if (!r)
        return;
    if (r->f && r->owns_f)
        fclose(r->f);
    free(r->buf);
    free(r);
}

int pcapng_link_types(const char *path, int *types, int max, int *n_ifaces, char *err,
                      size_t errlen)
{
    *n_ifaces = 0;
    pcapng_reader *r = pcapng_open(path, err, errlen);
    if (!r)
        return -1;
    int n = 0, rc;
    uint32_t type, len;
    while ((rc = read_block(r, true, &type, &len, err, errlen)) > 0) {
        if (type != BT_IDB || len < 20)
            continue;
        (*n_ifaces)++;
        int lt = rd16(r, r->buf + 8);
        bool known = false;
        for (int i = 0; i < n; i++)
            known |= types[i] == lt;
        if (!known && n < max)
            types[n++] = lt;
    }
    pcapng_close(r);
    return rc == -1 ? -1 : n;
}
