/* compressed: capture files that are compressed. gzip (as `tcpdump -G ... -z gzip` leaves
 * rotated files, and Wireshark reads) is decompressed through zlib into a stdio FILE that
 * libpcap reads like any other; zstd, xz, bzip2 and lz4 are recognised by their magic bytes
 * and named, with the command that reads them, instead of libpcap's "unknown file format".
 * Internal to capture/. */
#ifndef OW_CAPTURE_COMPRESSED_H
#define OW_CAPTURE_COMPRESSED_H
#include <stddef.h>
#include <pcap/pcap.h>
#include <stdio.h>

typedef enum compression {
    COMPRESSION_NONE,
    COMPRESSION_GZIP,
    COMPRESSION_ZSTD,
    COMPRESSION_XZ,
    COMPRESSION_BZIP2,
    COMPRESSION_LZ4,
} compression;

/* The compression a regular file's first bytes show (COMPRESSION_NONE when it cannot be read,
 * and for anything else: a FIFO's bytes are not looked at). */
compression compression_of_file(const char *path);
/* "gzip", "zstd", ...; and the command that writes the decompressed bytes ("zcat", ...). */
const char *compression_name(compression c);
const char *compression_cat(compression c);
/* The gzip file at path, decompressed as it is read: a FILE libpcap can read (fclose frees
 * everything). NULL with a message in err. */
FILE *compressed_open_gzip(const char *path, char *err, size_t errlen);
/* The message refusing a file compressed with c (not gzip): what to run instead. */
void compression_refusal(const char *path, compression c, char *err, size_t errlen);
/* pcap_open_offline, a gzip file decompressed, another compression refused. NULL with err. */
pcap_t *compressed_pcap_open(const char *path, char *err, size_t errlen);

#endif
