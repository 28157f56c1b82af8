/* pcap_file: a classic pcap file (magic a1b2c3d4 or a1b23c4d, either byte order, version 2.x)
 * read through a memory mapping, its packets handed out as pointers into the mapping: no read()
 * into a stdio buffer, no copy into libpcap's buffer. Everything else (stdin, pipes, pcapng,
 * other magics, link types capture/ does not decode, a failed mmap) stays with libpcap:
 * pcapf_open then returns NULL and the caller opens the file with libpcap as before.
 *
 * What a packet looks like is libpcap's (1.10) answer for the same file, read with
 * PCAP_TSTAMP_PRECISION_MICRO: link type (LINKTYPE_RAW 101 becomes DLT_RAW; the upper 6 bits
 * of the header's field are ignored), snapshot length (0 or above INT_MAX becomes 262144),
 * seconds and microseconds as signed 32-bit fields (unsigned in a byte-swapped file: libpcap
 * swaps them so), nanoseconds cut to microseconds,
 * caplen/len swapped for versions 2.0-2.3 as libpcap swaps them, a caplen above 262144 an
 * error, a caplen above the snapshot length cut to it. Errors carry libpcap's messages
 * ("truncated dump file; ...", "invalid packet capture length ..."), so a file cut short says
 * "truncated" either way.
 *
 * The parser (pcapf_parse_header, pcapf_parse_record) works on any (pointer, length): the
 * mapping is only where the bytes come from. Every field is read after a bounds check.
 *
 * The mapping: windows of PCAPF_WINDOW bytes (a record that does not fit is given a window of
 * its own), each mapped MAP_PRIVATE/PROT_READ with MADV_SEQUENTIAL and unmapped when the next
 * one is mapped, so resident memory stays bounded (larger windows, MAP_POPULATE and
 * MADV_HUGEPAGE measured no faster on a 1 GB file). The file size is taken again (fstat) each
 * time a window is mapped and at the end: a file still being written (tcpdump -w) is read up
 * to what it holds when the reader gets to its end, as libpcap's read() would; nothing waits
 * for more, and the end once seen stays (a record still being written there ends the read as
 * "truncated"), as with libpcap, whose stdio stream keeps its end-of-file.
 *
 * A file cut by another process while mapped (truncate, or tcpdump -w reopening it with
 * O_TRUNC): touching a page wholly past the new end of file raises SIGBUS. While any reader
 * is open, a SIGBUS handler is installed (the previous disposition is put back when the last
 * one closes) that only acts on a fault inside a registered mapping: it maps a zero page over
 * the faulting page, so the access completes reading zeros, and marks the reader. Any other
 * SIGBUS goes to the previous disposition (the handler puts it back; a fault then repeats).
 * Before handing out a record, the reader touches the page after it: a cut anywhere before
 * that page (inside the record, or in the page it ends in, whose tail the kernel zeroes
 * without a signal) faults there, and the reader returns an error ("... was truncated by
 * another process while being read") instead of the record. Residual risk: a cut made after
 * that touch, while the decoders read the packet, makes them read zeros (pages wholly past
 * the cut, or the zeroed tail) - the next call reports the error, so nothing is lost
 * silently, but that one packet was decoded from partly zeroed bytes; and a cut inside the
 * last page of the file as last seen has no page after it to touch, so it reads as the file
 * ending there (what libpcap reports too). Internal to capture/. */
#ifndef OW_CAPTURE_PCAP_FILE_H
#define OW_CAPTURE_PCAP_FILE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#define PCAPF_HEADER_LEN 24
#define PCAPF_RECORD_LEN 16
#define PCAPF_MAX_CAPLEN 262144u    /* libpcap's MAXIMUM_SNAPLEN (max_snaplen_for_dlt) */
#define PCAPF_WINDOW     (4u << 20) /* bytes mapped at a time: 4 MB more resident at most */
#define PCAPF_MIN_WINDOW 4096u

enum pcapf_lengths { PCAPF_LEN_AS_IS, PCAPF_LEN_SWAPPED, PCAPF_LEN_MAYBE_SWAPPED };

typedef struct pcapf_format {
    bool swapped; /* written in the other byte order */
    bool nsec;    /* nanosecond timestamps (handed out as microseconds) */
    uint8_t lengths;
    uint32_t linktype; /* the header's field */
    int dlt;           /* as libpcap reports it */
    uint32_t snapshot; /* as libpcap adjusts it */
} pcapf_format;

typedef struct pcapf_record {
    struct timeval tv;
    uint32_t caplen, len; /* caplen: bytes at data (at most the snapshot length) */
    const uint8_t *data;
    size_t next; /* offset in the bytes parsed of the next record (where it would be) */
} pcapf_record;

enum {
    PCAPF_PACKET = 1,
    PCAPF_END = 0,    /* no more records */
    PCAPF_ERROR = -1, /* a bogus record, or the file could not be read (message in err) */
    PCAPF_SHORT = -3, /* the bytes end inside a record (message in err) */
};

/* True when b (len bytes) starts with a classic pcap header this reader takes (f filled): a
 * known magic, version 2.0-2.4, a link type capture/ decodes, and not a byte-swapped Linux
 * cooked (SLL/SLL2) file (libpcap rewrites CAN ids in those). */
bool pcapf_parse_header(const uint8_t *b, size_t len, pcapf_format *f);

/* The record at offset off of b[0..len): PCAPF_PACKET (r filled), PCAPF_END when off == len,
 * PCAPF_SHORT when it does not end by len, PCAPF_ERROR for a caplen libpcap refuses. */
int pcapf_parse_record(const pcapf_format *f, const uint8_t *b, size_t len, size_t off,
                       pcapf_record *r, char *err, size_t errlen);

typedef struct pcapf_reader pcapf_reader;

/* NULL when the file is not one this reader takes or cannot be mapped (use libpcap). window:
 * bytes per mapping (0: PCAPF_WINDOW; tests use small ones). */
pcapf_reader *pcapf_open(const char *path, size_t window);
const pcapf_format *pcapf_format_of(const pcapf_reader *pf);
/* PCAPF_PACKET (r->data valid until the next call), PCAPF_END, PCAPF_SHORT or PCAPF_ERROR.
 * After PCAPF_END or PCAPF_SHORT only PCAPF_END, after a bogus record the bytes after its
 * header: what libpcap's next call gives. */
int pcapf_next(pcapf_reader *pf, pcapf_record *r, char *err, size_t errlen);
void pcapf_close(pcapf_reader *pf);

#endif
