/* files: the capture files one `read` takes as one capture (rotated captures: tcpdump -G or
 * -C, dumpcap's ring buffer), read one after the other in the order of their first packets,
 * so that a page load at the end of one file meets its websocket at the start of the next.
 * Files that overlap in time are still read one after the other (merge them first:
 * mergecap). Internal to capture/. */
#ifndef OW_CAPTURE_FILES_H
#define OW_CAPTURE_FILES_H
#include "capture/capture.h"
#include <stddef.h>

/* Sorts paths[0..n) by the time of each file's first packet (a file without packets goes
 * last; equal times keep their order). 0, or -1 with a message in err when a file cannot be
 * read. o gives everything but the file. */
int files_order(char **paths, int n, const capture_opts *o, char *err, size_t errlen);

#endif
