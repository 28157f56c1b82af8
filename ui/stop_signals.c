/* stop_signals: the stop requests of `read` and `live` (see the header). */
#include "ui/stop_signals.h"

static volatile sig_atomic_t stop_signal;  /* the signal that asked to stop, else 0 */
static volatile sig_atomic_t ending;       /* the capture loop is over */
static volatile sig_atomic_t stop_packing; /* a signal after the first or after the end */

static void on_signal(int sig)
{
    if (stop_signal || ending)
        stop_packing = 1;
    stop_signal = sig;
}

void stop_signals_install(void)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

volatile sig_atomic_t *stop_signals_flag(void)
{
    return &stop_signal;
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
