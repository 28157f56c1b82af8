/* pipeline: the whole chain for one capture run, wired once: capture -> correlator ->
 * (verdict lines) -> SQLite writer. Used by `read` and `live`. */
#ifndef OW_PIPELINE_H
#define OW_PIPELINE_H
#include "capture/capture.h"
#include "correlate/correlator.h"
#include "db/db.h"
#include <signal.h>
#include <stdio.h>

typedef struct pipeline_opts {
    capture_opts cap;
    correlator_opts cor;
    owdb_options db;
    const char *db_path;
    FILE *verdict_out;  /* non-NULL: one line per decided page load, as it happens */
    const char *run_as; /* live: user to drop to (NULL: SUDO_UID or nobody) */
    bool quiet;
} pipeline_opts;

typedef struct pipeline pipeline;

/* Opens the capture (live: then drops privileges for good), the database and the
 * correlator. NULL with a message in err. */
pipeline *pipeline_open(const pipeline_opts *o, char *err, size_t errlen);
/* Files: reads to the end (or until *stop). 0, or -1 with a message. */
int pipeline_run(pipeline *p, volatile sig_atomic_t *stop, char *err, size_t errlen);
/* Live: processes what is ready (up to max packets) and advances the clock to wall time.
 * Returns packets processed, -1 on error. */
int pipeline_poll(pipeline *p, int max_packets, char *err, size_t errlen);
int pipeline_fd(const pipeline *p);
/* Writes the capture row now (live: every second for readers). */
void pipeline_checkpoint(pipeline *p, const char *end_reason);
/* Live: says on stderr that rows could not be written (a full disk, a lock) as soon as it
 * happens, then, while more are lost, at most every PIPELINE_FAILURES_EVERY_S (now: any
 * clock in seconds). pipeline_close says the total in any case. */
#define PIPELINE_FAILURES_EVERY_S 60.0
void pipeline_say_db_failures(pipeline *p, double now);
/* Its rule: more rows failed than were said, and nothing said yet or the interval passed. */
bool pipeline_failures_due(uint64_t failed, uint64_t said, double said_at, double now);
/* Ends every open connection, decides every page load, records how the run ended
 * (eof, signal, error), commits and closes. Returns 0 unless rows could not be written. */
int pipeline_close(pipeline *p, const char *end_reason);
const capture_stats *pipeline_capture_stats(const pipeline *p);
#endif
