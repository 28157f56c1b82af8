/* blind_spots: what a capture could not see or follow, in words. Each line comes from the drop
 * and skip counters of the database's captures rows (kernel_drops, if_drops and the
 * `counters` JSON, summed over every capture in the file) and says what the analysis missed
 * and what to change: packets cut by the snap length, dropped by the kernel, streams with
 * gaps, limits reached, no traffic on the server port at all. capture/ and correlate/ count;
 * this file is the one place that says which counts are a problem. The report prints the
 * lines under WHAT THE CAPTURE COULD NOT SEE; `read` and `live` print them on stderr when they
 * end. */
#ifndef OW_BLIND_SPOTS_H
#define OW_BLIND_SPOTS_H
#include <sqlite3.h>
#include <stdio.h>

#define BLIND_SPOT_LINE_MAX 512

typedef void (*blind_spot_fn)(void *ctx, const char *line);

/* Calls fn with each problem found in capture capture_id (0: every capture in the file,
 * summed), most serious first (a sentence or two, no newline). Returns how many, or -1 when
 * the captures rows cannot be read (sqlite3_errmsg(db) says why; nothing is printed). */
int blind_spots_each(sqlite3 *db, sqlite3_int64 capture_id, blind_spot_fn fn, void *ctx);

/* Every integer counter of the captures rows (capture_id 0: all, summed by name; a max_
 * one the largest; a row whose counters are not JSON adds nothing), in the rows' order:
 * fn(ctx, name, value) each. 0, or -1 when they cannot be read (sqlite3_errmsg says why). */
typedef void (*blind_spot_counter_fn)(void *ctx, const char *name, long long value);
int blind_spots_counters(sqlite3 *db, sqlite3_int64 capture_id, blind_spot_counter_fn fn,
                         void *ctx);

/* Each line on out as PREFIX LINE; returns blind_spots_each's count. */
int blind_spots_print(sqlite3 *db, sqlite3_int64 capture_id, FILE *out, const char *prefix);

/* Opens the database at path read-only and prints the lines of its newest capture (the run
 * that just wrote it) on stderr, each after "orphanwatch: warning: "; silent when the file
 * cannot be opened (the run said why). */
void blind_spots_warn_file(const char *path);

#endif
