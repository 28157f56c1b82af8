/* Unit tests for db/batch_worker.c: batches run in order on one thread, one at a time; the
 * submitter waits only for the previous batch; busy/wait/stop. Signals go to the other
 * threads: a Ctrl-C landing on the worker ran live's handler there, racing the main thread on
 * its flags (ThreadSanitizer, live_pack); the submitter's own mask is left as it was. */
#include "db/batch_worker.h"
#include "testlib.h"
#include <signal.h>
#include <time.h>

typedef struct log {
    int order[16];
    int n;
    pthread_t thread[16];
} log_t;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void slow_batch(void *ctx, void *batch, int flags)
{
    log_t *l = ctx;
    sleep_ms(flags);
    l->thread[l->n] = pthread_self();
    l->order[l->n++] = *(int *)batch;
}

static void test_in_order_on_one_thread(void)
{
    log_t l = {{0}, 0, {0}};
    batch_worker w;
    batch_worker_init(&w, slow_batch, &l);
    CHECK(!batch_worker_busy(&w));
    int a = 1, b = 2, c = 3;
    batch_worker_submit(&w, &a, 80);
    CHECK(batch_worker_busy(&w));   /* 80 ms of work just started */
    batch_worker_submit(&w, &b, 0); /* waits for a, then hands b over */
    batch_worker_submit(&w, &c, 0);
    batch_worker_wait(&w);
    CHECK(!batch_worker_busy(&w));
    CHECK_EQ_INT(l.n, 3);
    CHECK(l.order[0] == 1 && l.order[1] == 2 && l.order[2] == 3);
    CHECK(!pthread_equal(l.thread[0], pthread_self()));
    CHECK(pthread_equal(l.thread[0], l.thread[2]));
    batch_worker_stop(&w);
}

static void test_after_stop_runs_inline(void)
{
    log_t l = {{0}, 0, {0}};
    batch_worker w;
    batch_worker_init(&w, slow_batch, &l);
    batch_worker_stop(&w); /* never started: nothing to join */
    int a = 7;
    batch_worker_submit(&w, &a, 0);
    CHECK_EQ_INT(l.n, 1);
    CHECK(pthread_equal(l.thread[0], pthread_self()));
    CHECK(!batch_worker_busy(&w));
    batch_worker_stop(&w);
}

typedef struct mask_seen {
    int int_blocked, term_blocked, segv_blocked;
} mask_seen;

static void record_mask(void *ctx, void *batch, int flags)
{
    (void)batch, (void)flags;
    mask_seen *m = ctx;
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    m->int_blocked = sigismember(&cur, SIGINT);
    m->term_blocked = sigismember(&cur, SIGTERM);
    m->segv_blocked = sigismember(&cur, SIGSEGV);
}

static void test_signals_stay_with_other_threads(void)
{
    mask_seen m = {-1, -1, -1};
    batch_worker w;
    batch_worker_init(&w, record_mask, &m);
    int a = 1;
    batch_worker_submit(&w, &a, 0);
    batch_worker_wait(&w);
    batch_worker_stop(&w);
    CHECK_EQ_INT(m.int_blocked, 1);
    CHECK_EQ_INT(m.term_blocked, 1);
    CHECK_EQ_INT(m.segv_blocked, 0); /* a fault is the faulting thread's */
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    CHECK_EQ_INT(sigismember(&cur, SIGINT), 0); /* the submitter's mask is back */
}

int main(void)
{
    test_signals_stay_with_other_threads();
    test_in_order_on_one_thread();
    test_after_stop_runs_inline();
    TEST_MAIN_END("test_db_batch_worker");
}
