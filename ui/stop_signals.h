/* stop_signals: how `read` and `live` are stopped. SIGINT, SIGTERM and SIGHUP ask the capture
 * loop to end (a stream first reads what its writer still sends: capture_run; a second one
 * stops it at once); once it has ended (stop_signals_ending), or when a second one comes, the
 * next asks the writer to skip or stop packing the database it created
 * (owdb_options.compact_stop: the file is then left complete but unpacked). The handler only
 * sets volatile sig_atomic_t flags: the writing thread blocks these signals
 * (db/batch_worker.c), so it always runs on the thread that reads them. */
#ifndef OW_STOP_SIGNALS_H
#define OW_STOP_SIGNALS_H
#include <signal.h>

/* Installs the handler (no SA_RESTART: a blocked read of a pipe returns, and the loop sees
 * the request). */
void stop_signals_install(void);

/* The flag the capture loop polls: how many stops were asked (capture_run's *stop). */
volatile sig_atomic_t *stop_signals_flag(void);

/* The capture loop is over: from now on any signal skips or stops the packing. */
void stop_signals_ending(void);

/* owdb_options.compact_stop: nonzero when the packing should not start or go on. */
int stop_signals_packing(void *ctx);

#endif
