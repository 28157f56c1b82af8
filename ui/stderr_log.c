/* stderr_log: stderr kept in a temporary file while the dashboard is up (see the header). */
#include "ui/stderr_log.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct stderr_log {
    int saved;     /* the real stderr, given back at the end */
    int file;      /* the temporary file fd 2 now appends to */
    off_t read_at; /* bytes of it read so far */
    char partial[STDERR_LOG_LINE_MAX];
    size_t partial_len; /* an unfinished line's start */
    char last[STDERR_LOG_LINE_MAX];
    long count;
};

/* The running log, for stderr_log_crash_replay (from a signal handler). */
static stderr_log *volatile running;

static int temp_file(void)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    char path[4096];
    snprintf(path, sizeof path, "%s/orphanwatch-stderr-XXXXXX", dir);
    fd = mkostemp(path, O_APPEND | O_CLOEXEC);
    if (fd >= 0)
        unlink(path);
    return fd;
}

stderr_log *stderr_log_start(void)
{
    stderr_log *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    fflush(stderr);
    l->file = temp_file();
    l->saved = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    if (l->file < 0 || l->saved < 0 || dup2(l->file, STDERR_FILENO) < 0) {
        if (l->file >= 0)
            close(l->file);
        if (l->saved >= 0)
            close(l->saved);
        free(l);
        return NULL;
    }
    running = l;
    return l;
}

/* One finished line: the partial start (if any) and len bytes of s. */
static void end_line(stderr_log *l, const char *s, size_t len)
{
    size_t room = sizeof l->partial - 1 - l->partial_len;
    size_t n = len < room ? len : room;
    memcpy(l->partial + l->partial_len, s, n);
    l->partial[l->partial_len + n] = '\0';
    memcpy(l->last, l->partial, l->partial_len + n + 1);
    l->partial_len = 0;
    l->count++;
}

static void keep_partial(stderr_log *l, const char *s, size_t len)
{
    size_t room = sizeof l->partial - 1 - l->partial_len;
    size_t n = len < room ? len : room; /* a line past the bound is cut */
    memcpy(l->partial + l->partial_len, s, n);
    l->partial_len += n;
}

int stderr_log_poll(stderr_log *l)
{
    if (!l)
        return 0;
    long before = l->count;
    char buf[4096];
    ssize_t got;
    while ((got = pread(l->file, buf, sizeof buf, l->read_at)) > 0) {
        l->read_at += got;
        const char *p = buf, *end = buf + got;
        const char *nl;
        while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
            end_line(l, p, (size_t)(nl - p));
            p = nl + 1;
        }
        keep_partial(l, p, (size_t)(end - p));
    }
    return (int)(l->count - before);
}

const char *stderr_log_last(const stderr_log *l)
{
    return l ? l->last : "";
}

long stderr_log_count(const stderr_log *l)
{
    return l ? l->count : 0;
}

/* Where the last STDERR_LOG_REPLAY lines start, and how many lines come before. */
static off_t replay_start(int fd, off_t size, long *skipped)
{
    long lines = 0;
    char buf[4096];
    for (off_t at = 0; at < size;) { /* count the lines, then find where to start */
        ssize_t got = pread(fd, buf, sizeof buf, at);
        if (got <= 0)
            break;
        for (ssize_t i = 0; i < got; i++)
            lines += buf[i] == '\n';
        at += got;
    }
    *skipped = lines > STDERR_LOG_REPLAY ? lines - STDERR_LOG_REPLAY : 0;
    long seen = 0;
    for (off_t at = 0; *skipped > 0 && at < size;) {
        ssize_t got = pread(fd, buf, sizeof buf, at);
        if (got <= 0)
            break;
        for (ssize_t i = 0; i < got; i++)
            if (buf[i] == '\n' && ++seen == *skipped)
                return at + i + 1;
        at += got;
    }
    return 0;
}

void stderr_log_stop(stderr_log *l)
{
    if (!l)
        return;
    if (running == l)
        running = NULL;
    fflush(stderr);
    dup2(l->saved, STDERR_FILENO);
    close(l->saved);
    off_t size = lseek(l->file, 0, SEEK_END);
    long skipped = 0;
    off_t at = size > 0 ? replay_start(l->file, size, &skipped) : 0;
    if (skipped > 0)
        fprintf(stderr, "orphanwatch: (%ld earlier lines of stderr not shown)\n", skipped);
    char buf[4096];
    ssize_t got;
    while (at < size && (got = pread(l->file, buf, sizeof buf, at)) > 0) {
        fwrite(buf, 1, (size_t)got, stderr);
        at += got;
    }
    fflush(stderr);
    close(l->file);
    free(l);
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return;
        p += w, n -= (size_t)w;
    }
}

void stderr_log_crash_replay(void)
{
    stderr_log *l = running;
    if (!l)
        return;
    running = NULL;
    if (dup2(l->saved, STDERR_FILENO) < 0)
        return;
    static const char head[] = "orphanwatch: written to stderr while the dashboard was up:\n";
    static const char cut[] = "orphanwatch: (earlier lines of stderr not shown)\n";
    write_all(STDERR_FILENO, head, sizeof head - 1);
    off_t size = lseek(l->file, 0, SEEK_END);
    off_t at = size > STDERR_LOG_CRASH_TAIL ? size - STDERR_LOG_CRASH_TAIL : 0;
    char buf[4096];
    ssize_t got;
    if (at > 0) { /* from the start of a line */
        write_all(STDERR_FILENO, cut, sizeof cut - 1);
        got = pread(l->file, buf, sizeof buf, at);
        const char *nl = got > 0 ? memchr(buf, '\n', (size_t)got) : NULL;
        at = nl ? at + (nl - buf) + 1 : size;
    }
    while (at < size && (got = pread(l->file, buf, sizeof buf, at)) > 0) {
        write_all(STDERR_FILENO, buf, (size_t)got);
        at += got;
    }
}
