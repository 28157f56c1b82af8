/* batch_worker: a background thread working through one batch at a time (see the header). */
#include "db/batch_worker.h"
#include <signal.h>
#include <string.h>

void batch_worker_init(batch_worker *w, batch_fn run, void *ctx)
{
    memset(w, 0, sizeof *w);
    w->run = run;
    w->ctx = ctx;
    w->sync_init = pthread_mutex_init(&w->mu, NULL) == 0 && pthread_cond_init(&w->cv, NULL) == 0;
    w->inline_only = !w->sync_init;
}

static void *worker_main(void *arg)
{
    batch_worker *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->busy && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->busy)
            break; /* stop, nothing left */
        void *batch = w->batch;
        int flags = w->flags;
        pthread_mutex_unlock(&w->mu);
        w->run(w->ctx, batch, flags);
        pthread_mutex_lock(&w->mu);
        w->busy = false;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* The signals the worker leaves to the other threads: every one but those a fault raises in
 * the thread that caused it. A handler (Ctrl-C's stop flag, the terminal's resize) then
 * always runs in the thread that set it up, as its volatile sig_atomic_t flags need. */
static void worker_signals(sigset_t *set)
{
    static const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT};
    sigfillset(set);
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++)
        sigdelset(set, faults[i]);
}

static void start(batch_worker *w)
{
    if (w->started || w->inline_only)
        return;
    sigset_t blocked, old;
    worker_signals(&blocked);
    bool masked = pthread_sigmask(SIG_BLOCK, &blocked, &old) == 0; /* the thread inherits it */
    if (pthread_create(&w->thread, NULL, worker_main, w) == 0)
        w->started = true;
    else
        w->inline_only = true;
    if (masked)
        pthread_sigmask(SIG_SETMASK, &old, NULL);
}

bool batch_worker_busy(batch_worker *w)
{
    if (!w->started)
        return false;
    pthread_mutex_lock(&w->mu);
    bool busy = w->busy;
    pthread_mutex_unlock(&w->mu);
    return busy;
}

void batch_worker_wait(batch_worker *w)
{
    if (!w->started)
        return;
    pthread_mutex_lock(&w->mu);
    while (w->busy)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

void batch_worker_submit(batch_worker *w, void *batch, int flags)
{
    start(w);
    if (!w->started) {
        w->run(w->ctx, batch, flags);
        return;
    }
    pthread_mutex_lock(&w->mu);
    while (w->busy)
        pthread_cond_wait(&w->cv, &w->mu);
    w->batch = batch;
    w->flags = flags;
    w->busy = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void batch_worker_stop(batch_worker *w)
{
    if (w->started) {
        pthread_mutex_lock(&w->mu);
        w->stop = true;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
        w->started = false;
    }
    if (w->sync_init) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        w->sync_init = false;
    }
    w->inline_only = true;
}
