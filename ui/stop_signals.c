/* stop_signals: the stop requests of `read` and `live` (see the header). */
#include "ui/stop_signals.h"

static volatile sig_atomic_t stop_signals; /* how many asked to stop (capped) */
static volatile sig_atomic_t ending;       /* the capture loop is over */
static volatile sig_atomic_t stop_packing; /* a signal after the first or after the end */

static void on_signal(int sig)
{
    (void)sig;
    if (stop_signals || ending)
        stop_packing = 1;
    if (stop_signals < 100)
        stop_signals = stop_signals + 1;
}

void stop_signals_install(void)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask); /* the handler is not interrupted by another of them */
    sigaddset(&sa.sa_mask, SIGINT);
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaddset(&sa.sa_mask, SIGHUP);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

volatile sig_atomic_t *stop_signals_flag(void)
{
    return &stop_signals;
}

void stop_signals_ending(void)
{
    ending = 1;
}

int stop_signals_packing(void *ctx)
{
    (void)ctx;
    return stop_packing;
}
