/* readahead: a capture file read on a thread of its own, handed over in blocks. See
 * readahead.h. The reader fills block w while the packet thread reads block r; a block is
 * the reader's until it is marked ready, then the packet thread's until it moves past it.
 * Both sides wait on one mutex and condition, taken once per block (about 20,000 packets). */
#include "capture/readahead.h"
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ra_block {
    uint8_t *buf;
    size_t cap, used, pos;
    bool ready; /* filled: the packet thread's until it moves on */
    bool last;  /* the source ended after this block's packets */
    int end_rc; /* what the source returned at its end (SRC_EOF, SRC_ERROR, ...) */
    char err[512];
} ra_block;

/* One packet in a block: this header, then caplen bytes, padded to 8. */
typedef struct ra_record {
    double ts;
    struct timeval tv;
    uint32_t caplen, wirelen;
    int dlt;
} ra_record;

struct readahead {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool quit;
    readahead_next_fn next;
    void *ctx;
    ra_block blocks[READAHEAD_BLOCKS];
    size_t rd;        /* the block the packet thread reads */
    bool rd_acquired; /* ... and has seen ready */
};

static size_t record_size(uint32_t caplen)
{
    return (sizeof(ra_record) + (size_t)caplen + 7) & ~(size_t)7;
}

static void put_record(ra_block *b, const raw_packet *p)
{
    ra_record h = {
        .ts = p->ts, .tv = p->tv, .caplen = p->caplen, .wirelen = p->wirelen, .dlt = p->dlt};
    memcpy(b->buf + b->used, &h, sizeof h);
    if (p->caplen)
        memcpy(b->buf + b->used + sizeof h, p->data, p->caplen);
    b->used += record_size(p->caplen);
}

/* Room for a record of `need` bytes in block b; an empty block grows for an oversized one. */
static bool room_for(ra_block *b, size_t need)
{
    if (b->used + need <= b->cap)
        return true;
    if (b->used > 0)
        return false;
    uint8_t *bigger = realloc(b->buf, need);
    if (!bigger)
        return false;
    b->buf = bigger;
    b->cap = need;
    return true;
}

/* Waits until block b is the reader's again; false when told to quit. */
static bool wait_free(readahead *ra, ra_block *b)
{
    pthread_mutex_lock(&ra->mu);
    while (b->ready && !ra->quit)
        pthread_cond_wait(&ra->cond, &ra->mu);
    bool go = !ra->quit;
    pthread_mutex_unlock(&ra->mu);
    return go;
}

static void publish(readahead *ra, ra_block *b)
{
    pthread_mutex_lock(&ra->mu);
    b->ready = true;
    pthread_cond_broadcast(&ra->cond);
    pthread_mutex_unlock(&ra->mu);
}

/* Fills block b from the source; a packet that does not fit is kept in *held for the next
 * block (its data is still valid: the source has not been called again). */
static void fill_block(readahead *ra, ra_block *b, raw_packet *held, bool *have)
{
    b->used = b->pos = 0;
    for (;;) {
        if (!*have) {
            int rc = ra->next(ra->ctx, held, b->err, sizeof b->err);
            if (rc != SRC_PACKET) {
                b->last = true;
                b->end_rc = rc;
                return;
            }
            *have = true;
        }
        size_t need = record_size(held->caplen);
        if (!room_for(b, need)) {
            if (b->used > 0)
                return; /* the next block takes it */
            snprintf(b->err, sizeof b->err, "out of memory for a packet of %u bytes", held->caplen);
            b->last = true;
            b->end_rc = SRC_ERROR;
            return;
        }
        put_record(b, held);
        *have = false;
    }
}

static void *reader_main(void *arg)
{
    readahead *ra = arg;
    raw_packet held;
    bool have = false;
    for (size_t w = 0;; w = (w + 1) % READAHEAD_BLOCKS) {
        ra_block *b = &ra->blocks[w];
        if (!wait_free(ra, b))
            return NULL;
        fill_block(ra, b, &held, &have);
        bool last = b->last;
        publish(ra, b);
        if (last)
            return NULL;
    }
}

/* The thread starts with every signal blocked: they stay with the threads that handle them. */
static bool start_thread(readahead *ra)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    bool ok = pthread_create(&ra->thread, NULL, reader_main, ra) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return ok;
}

static void free_blocks(readahead *ra)
{
    for (int i = 0; i < READAHEAD_BLOCKS; i++)
        free(ra->blocks[i].buf);
}

readahead *readahead_start(readahead_next_fn next, void *ctx)
{
    readahead *ra = calloc(1, sizeof *ra);
    if (!ra)
        return NULL;
    ra->next = next;
    ra->ctx = ctx;
    for (int i = 0; i < READAHEAD_BLOCKS; i++) {
        ra->blocks[i].buf = malloc(READAHEAD_BLOCK_SIZE);
        ra->blocks[i].cap = READAHEAD_BLOCK_SIZE;
        if (!ra->blocks[i].buf) {
            free_blocks(ra);
            free(ra);
            return NULL;
        }
    }
    pthread_mutex_init(&ra->mu, NULL);
    pthread_cond_init(&ra->cond, NULL);
    if (!start_thread(ra)) {
        pthread_mutex_destroy(&ra->mu);
        pthread_cond_destroy(&ra->cond);
        free_blocks(ra);
        free(ra);
        return NULL;
    }
    return ra;
}

static void take_record(ra_block *b, raw_packet *p)
{
    ra_record h;
    memcpy(&h, b->buf + b->pos, sizeof h);
    p->ts = h.ts;
    p->tv = h.tv;
    p->caplen = h.caplen;
    p->wirelen = h.wirelen;
    p->dlt = h.dlt;
    p->data = b->buf + b->pos + sizeof h;
    b->pos += record_size(h.caplen);
}

int readahead_next(readahead *ra, raw_packet *p, char *err, size_t errlen)
{
    for (;;) {
        ra_block *b = &ra->blocks[ra->rd];
        if (!ra->rd_acquired) {
            pthread_mutex_lock(&ra->mu);
            while (!b->ready)
                pthread_cond_wait(&ra->cond, &ra->mu);
            pthread_mutex_unlock(&ra->mu);
            ra->rd_acquired = true;
        }
        if (b->pos < b->used) {
            take_record(b, p);
            return SRC_PACKET;
        }
        if (b->last) { /* stays here: every later call gets the same end */
            snprintf(err, errlen, "%s", b->err);
            return b->end_rc;
        }
        pthread_mutex_lock(&ra->mu); /* done with it: back to the reader */
        b->ready = false;
        pthread_cond_broadcast(&ra->cond);
        pthread_mutex_unlock(&ra->mu);
        ra->rd_acquired = false;
        ra->rd = (ra->rd + 1) % READAHEAD_BLOCKS;
    }
}

void readahead_stop(readahead *ra)
{
    if (!ra)
        return;
    pthread_mutex_lock(&ra->mu);
    ra->quit = true;
    pthread_cond_broadcast(&ra->cond);
    pthread_mutex_unlock(&ra->mu);
    pthread_join(ra->thread, NULL);
    pthread_mutex_destroy(&ra->mu);
    pthread_cond_destroy(&ra->cond);
    free_blocks(ra);
    free(ra);
}
