/* compressed: compressed capture files (see compressed.h). */
#include "capture/compressed.h"
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

static const struct {
    compression c;
    const char *name, *cat;
    unsigned char magic[6];
    size_t len;
} kinds[] = {
    {COMPRESSION_GZIP, "gzip", "zcat", {0x1f, 0x8b}, 2},
    {COMPRESSION_ZSTD, "zstd", "zstdcat", {0x28, 0xb5, 0x2f, 0xfd}, 4},
    {COMPRESSION_XZ, "xz", "xzcat", {0xfd, '7', 'z', 'X', 'Z', 0x00}, 6},
    {COMPRESSION_BZIP2, "bzip2", "bzcat", {'B', 'Z', 'h'}, 3},
    {COMPRESSION_LZ4, "lz4", "lz4cat", {0x04, 0x22, 0x4d, 0x18}, 4},
};
enum { N_KINDS = sizeof kinds / sizeof kinds[0] };

compression compression_of_file(const char *path)
{
    unsigned char head[6];
    struct stat st; /* a FIFO's bytes read here would be gone for libpcap */
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return COMPRESSION_NONE;
    FILE *f = fopen(path, "rb");
    if (!f)
        return COMPRESSION_NONE;
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    for (int i = 0; i < N_KINDS; i++)
        if (n >= kinds[i].len && memcmp(head, kinds[i].magic, kinds[i].len) == 0)
            return kinds[i].c;
    return COMPRESSION_NONE;
}

const char *compression_name(compression c)
{
    for (int i = 0; i < N_KINDS; i++)
        if (kinds[i].c == c)
            return kinds[i].name;
    return "none";
}

const char *compression_cat(compression c)
{
    for (int i = 0; i < N_KINDS; i++)
        if (kinds[i].c == c)
            return kinds[i].cat;
    return "cat";
}

/* fopencookie's read: a gzip error (a corrupt or cut file) is a read error, which libpcap
 * reports as a file cut short. */
static ssize_t gz_cookie_read(void *cookie, char *buf, size_t size)
{
    unsigned chunk = size > (1u << 30) ? 1u << 30 : (unsigned)size;
    int n = gzread((gzFile)cookie, buf, chunk);
    if (n < 0) {
        errno = EIO;
        return -1;
    }
    return n;
}

static int gz_cookie_close(void *cookie)
{
    return gzclose_r((gzFile)cookie) == Z_OK ? 0 : EOF;
}

FILE *compressed_open_gzip(const char *path, char *err, size_t errlen)
{
    gzFile gz = gzopen(path, "rb");
    if (!gz) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno ? errno : ENOMEM));
        return NULL;
    }
    (void)gzbuffer(gz, 1u << 18);
    cookie_io_functions_t io = {.read = gz_cookie_read, .close = gz_cookie_close};
    FILE *f = fopencookie(gz, "rb", io);
    if (!f) {
        snprintf(err, errlen, "%s: cannot read through zlib: %s", path, strerror(errno));
        gzclose_r(gz);
    }
    return f;
}

void compression_refusal(const char *path, compression c, char *err, size_t errlen)
{
    snprintf(err, errlen,
             "%s is %s-compressed (gzip is read as it is, not %s): decompress it, or give it on "
             "standard input: %s %s | orphanwatch read -",
             path, compression_name(c), compression_name(c), compression_cat(c), path);
}

pcap_t *compressed_pcap_open(const char *path, char *err, size_t errlen)
{
    char perr[PCAP_ERRBUF_SIZE] = "";
    compression c = compression_of_file(path);
    if (c != COMPRESSION_NONE && c != COMPRESSION_GZIP) {
        compression_refusal(path, c, err, errlen);
        return NULL;
    }
    FILE *f = c == COMPRESSION_GZIP ? compressed_open_gzip(path, err, errlen) : NULL;
    if (c == COMPRESSION_GZIP && !f)
        return NULL;
    pcap_t *p = f ? pcap_fopen_offline(f, perr) : pcap_open_offline(path, perr);
    if (!p) {
        if (f)
            fclose(f);
        snprintf(err, errlen, "%s: %s", path, perr);
    }
    return p;
}
