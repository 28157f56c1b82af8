/* files: the capture files one `read` takes as one capture: rotated captures (tcpdump -G or
 * -C, dumpcap's ring buffer), captures of the same traffic on several interfaces, or of
 * several machines. They are put in the order of their first packets, then merged packet by
 * packet in time (as mergecap does): a file is opened when the time of its first packet comes
 * and closed at its end, so rotated files are read one at a time and files that overlap in
 * time side by side. A page load at the end of one file meets its websocket in the next.
 * Internal to capture/. */
#ifndef OW_CAPTURE_FILES_H
#define OW_CAPTURE_FILES_H
#include "capture/capture.h"
#include "capture/pcap_source.h"
#include <stdbool.h>
#include <stddef.h>

#define FILES_MAX_OPEN 32 /* files open at once (each holds ~1.5 MB of buffers) */

/* Sorts paths[0..n) by the time of each file's first packet (a file without packets goes
 * last; equal times keep their order); first_ts (NULL, or n entries) gets those times,
 * INFINITY for none. 0, or -1 with a message in err when a file cannot be read. o gives
 * everything but the file. */
int files_order(char **paths, int n, double *first_ts, const capture_opts *o, char *err,
                size_t errlen);

typedef struct files_merge files_merge;

/* The merge of paths[0..n) in the order files_order put them (first_ts: its times). Paths
 * and o are the caller's and must outlive the merge; a filter in o applies to every file.
 * NULL with a message in err. */
files_merge *files_merge_open(char *const *paths, const double *first_ts, int n,
                              const capture_opts *o, char *err, size_t errlen);
/* The next packet in time over every file (equal times: the file that started first); its
 * data is valid until the next call. SRC_EOF after the last. SRC_TRUNCATED once for a file
 * that ends inside a packet (message in err; files_merge_name names it): the others go on.
 * SRC_ERROR (message in err) when a file cannot be read, or more than FILES_MAX_OPEN overlap. */
int files_merge_next(files_merge *m, raw_packet *p, char *err, size_t errlen);
/* Files whose successor starts at or before ts are passed over unopened: for files known not
 * to overlap (files_open_max 1 when they were read), those hold nothing from ts on. Call
 * before the first files_merge_next. */
void files_merge_skip_before(files_merge *m, double ts);
/* File i (in reading order): the time of its latest packet given out so far (-INFINITY
 * before any) and how many it gave out. */
void files_merge_span(const files_merge *m, int i, double *last_ts, uint64_t *packets);
/* The most files open at once so far (1 when none overlapped). */
int files_merge_open_max(const files_merge *m);
/* The files opened so far. */
int files_merge_opened(const files_merge *m);
/* The file of the last packet, or of the last SRC_TRUNCATED / SRC_ERROR. */
const char *files_merge_name(const files_merge *m);
/* Files still to read after the last packet (open or not yet opened). */
bool files_merge_more(const files_merge *m);
void files_merge_close(files_merge *m);

#endif
