/* stream_clock: which clock a capture read from a stream (standard input, a pipe) goes by.
 * A file's packets are judged by their own times only. A stream may carry packets as they
 * are captured (`tcpdump -U -w -`): while it is silent, and once it ends, the time since its
 * last packet then passes for the timers too, so a page load whose grace runs out meanwhile is
 * decided. Whether the writer hands packets over as it has them, or holds them back in a
 * buffer (tcpdump without -U), is read from the pipe (stream.h's hooks) and from each
 * packet's lag, its read time less its own time. Internal to capture/. */
#include "capture/capture_priv.h"
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

/* The wall clock in seconds; its timeval too when tv is not NULL. */
double capture_wall_clock(struct timeval *tv)
{
    struct timeval now;
    gettimeofday(&now, NULL);
    if (tv)
        *tv = now;
    return (double)now.tv_sec + (double)now.tv_usec / 1e6;
}

/* The stream's hook when its writer hands over whole blocks (stream.h): noted, and acted on
 * once the stream shows it carries packets as they are captured (stream_clock_note_read). */
static void stream_blocks_seen(void *ctx)
{
    capture *c = ctx;
    c->stream_blocks = true;
}

/* The stream's hook when a read emptied the pipe off a block's end (stream.h): its writer
 * hands packets over as it has them, so the clock may decide while it is silent. */
static void stream_prompt_seen(void *ctx)
{
    capture *c = ctx;
    c->stream_prompt = true;
}

/* A packet read from a stream (a read waits on its writer: a clock per packet): when it was
 * read, and whether the writer holds packets back. A writer that passes packets on as they
 * are captured keeps their lag (read time - own time) within about a second of the least one
 * seen (a clock's offset between hosts cancels out), and writes each as it comes. One that
 * buffers them hands over whole blocks, the first packets of a block as late as the block was
 * slow to fill. Going by the clock would then decide page loads whose packets are still in
 * that buffer, so a stream of packets as they are captured whose writer buffers goes by its
 * packets from then on (and by the clock only once it ends, when the writer has flushed
 * everything). An old capture piped in goes by its packets anyway, and is not told about. */
void stream_clock_note_read(capture *c, double pkt_ts)
{
    double at = capture_wall_clock(NULL);
    c->stream_read_at = at;
    c->stream_pkt_now = c->now;
    double lag = at - pkt_ts;
    if (lag < c->stream_min_lag)
        c->stream_min_lag = lag;
    bool late = lag - c->stream_min_lag > OW_STREAM_HELD_S;
    if (c->stream_held || !(late || c->stream_blocks) || fabs(c->stream_min_lag) > OW_STREAM_LIVE_S)
        return;
    c->stream_held = true;
    char why[96];
    if (late)
        snprintf(why, sizeof why,
                 "a packet arrived %.1f s later, against its own time, than "
                 "the promptest ones",
                 lag - c->stream_min_lag);
    else
        snprintf(why, sizeof why, "packets arrive in whole %d-byte blocks", STREAM_BLOCK);
    fprintf(stderr,
            "orphanwatch: %s: %s: the writer holds packets back (tcpdump without -U buffers its "
            "output); from now on page loads are decided as later packets arrive, not by the "
            "clock\n",
            strcmp(c->name, "-") == 0 ? "standard input" : c->name, why);
}

/* A stream that carries packets as they are captured goes by the clock while it waits for
 * the next one, and once it has ended (EOF, a signal): its newest packet's time plus the time
 * since that packet was read. So a page load whose grace runs out meanwhile is decided (an
 * orphan), not left pending, or undecided at the end. A stream of old packets (a file through
 * cat or ssh) is read far from their own time, and goes by its packets only. */
static void stream_follow_clock(capture *c)
{
    double lag = c->stream_read_at - c->stream_pkt_now;
    if (!c->from_stream || c->stream_read_at == 0 || lag > OW_STREAM_LIVE_S ||
        lag < -OW_STREAM_LIVE_S)
        return;
    double t = c->stream_pkt_now + (capture_wall_clock(NULL) - c->stream_read_at);
    if (t > c->now)
        c->now = t;
}

/* The stream has ended: by the clock as it would while waiting (stream_follow_clock). A
 * stream whose writer held packets back and closed it whole (not inside a packet: a writer
 * killed loses its buffer) has flushed every packet it captured, so its end is the clock
 * less the promptest packets' lag (the two clocks' offset at most): the time its last packets
 * sat in the writer's buffer passed for the timers too. Stopped by a signal before its end
 * (not drained to it: stream_drains), the writer's last block may never have been read: as
 * while waiting. */
void stream_clock_ended(capture *c, bool whole)
{
    stream_follow_clock(c);
    if (!c->from_stream || !c->stream_held || !whole || c->stats.files_cut > 0 ||
        fabs(c->stream_min_lag) > OW_STREAM_LIVE_S)
        return;
    double t = capture_wall_clock(NULL) - c->stream_min_lag;
    if (t > c->now)
        c->now = t;
}

/* The stream's hook while it waits, every STREAM_IDLE_MS (stream.h): between two packets,
 * the reader filling its buffer (the last frame is no longer there). Timers run, and what was
 * decided is committed, whichever clock the stream goes by: the clock only once the writer
 * is known to hand packets over as it has them (a buffering writer's first block looks
 * like anything else until the second: its packets would be taken for all there is). */
static void stream_waiting(void *ctx)
{
    capture *c = ctx;
    c->frame = NULL;
    if (c->stream_prompt && !c->stream_held)
        stream_follow_clock(c);
    capture_tick(c);
}

bool stream_drains(capture *c)
{
    if (!c->from_stream || c->drain_over || !c->stop || *c->stop >= OW_STOP_AT_ONCE) {
        c->drain_over = true;
        return false;
    }
    double now = capture_wall_clock(NULL);
    if (c->drain_until == 0) {
        c->drain_until = now + OW_STREAM_DRAIN_S;
        fprintf(stderr,
                "orphanwatch: %s: stopping; reading what its writer still sends (up to %.0f s, "
                "until it closes the pipe; a second Ctrl-C stops at once)\n",
                strcmp(c->name, "-") == 0 ? "standard input" : c->name, OW_STREAM_DRAIN_S);
    }
    if (now >= c->drain_until)
        c->drain_over = true;
    return !c->drain_over;
}

/* The stream's hook before it waits for bytes (stream.h): the usual idle period, or once
 * asked to stop what is left of the drain (stream_drains), or no wait at all (-1: the read
 * fails as interrupted, and the capture loop sees the stop). */
static int stream_wait_ms(void *ctx)
{
    capture *c = ctx;
    if (!c->stop || !*c->stop)
        return STREAM_IDLE_MS;
    if (!stream_drains(c))
        return -1;
    double ms = ceil((c->drain_until - capture_wall_clock(NULL)) * 1000.0);
    return ms < 1 ? 1 : ms > STREAM_IDLE_MS ? STREAM_IDLE_MS : (int)ms;
}

stream_hooks stream_clock_hooks(capture *c)
{
    return (stream_hooks){.idle = stream_waiting,
                          .ctx = c,
                          .held = stream_blocks_seen,
                          .prompt = stream_prompt_seen,
                          .wait_ms = stream_wait_ms};
}
