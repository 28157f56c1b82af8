/* batch_worker: one background thread that works through one batch at a time, so the packet
 * thread can fill the next batch while the last one is written. The submitter waits only
 * while the worker is still busy with the previous batch (memory stays bounded to two). When
 * the thread cannot be started, batches run in the caller's thread: same results, no overlap.
 * The thread is started at the first batch (after privileges were dropped). */
#ifndef OW_BATCH_WORKER_H
#define OW_BATCH_WORKER_H
#include <pthread.h>
#include <stdbool.h>

typedef void (*batch_fn)(void *ctx, void *batch, int flags);

typedef struct batch_worker {
    batch_fn run;
    void *ctx;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool sync_init, started, inline_only; /* inline_only: the thread could not start */
    bool busy, stop;
    void *batch;
    int flags;
} batch_worker;

void batch_worker_init(batch_worker *w, batch_fn run, void *ctx);
/* Waits until the worker is idle, then hands batch over (runs it here without a thread). */
void batch_worker_submit(batch_worker *w, void *batch, int flags);
/* Whether the worker is still writing the batch handed over last. */
bool batch_worker_busy(batch_worker *w);
/* Waits until the batch handed over last is done. */
void batch_worker_wait(batch_worker *w);
/* Waits, then ends the thread. */
void batch_worker_stop(batch_worker *w);

#endif
