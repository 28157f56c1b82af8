/* testlib: counters and helpers shared by the C unit tests (see testlib.h). */
#include "tests/unit/testlib.h"
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int tl_passed, tl_failed;
static uint64_t tl_rng = 88172645463325252ull;

void tl_seed(uint64_t seed)
{
    tl_rng = seed ? seed : 88172645463325252ull;
}

uint64_t tl_random_state(void)
{
    return tl_rng;
}

static uint64_t tl_step(void)
{
    tl_rng ^= tl_rng << 13;
    tl_rng ^= tl_rng >> 7;
    tl_rng ^= tl_rng << 17;
    return tl_rng;
}

uint32_t tl_random(void)
{
    return (uint32_t)(tl_step() >> 32);
}

unsigned tl_below(unsigned n)
{
    return (unsigned)(tl_step() % n);
}

void tl_fail(const char *file, int line, const char *expr)
{
    tl_failed++;
    fprintf(stderr, "FAIL %s:%d: %s\n", file, line, expr);
}

int tl_stderr_to_file(const char *path)
{
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0 && saved >= 0);
    if (fd >= 0) {
        dup2(fd, STDERR_FILENO);
        close(fd);
    }
    return saved;
}

char *tl_stderr_back(int saved, const char *path)
{
    fflush(stderr);
    if (saved >= 0) {
        dup2(saved, STDERR_FILENO);
        close(saved);
    }
    char *text = tl_read_file(path, NULL);
    unlink(path);
    return text;
}

char *tl_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = 0;
        if (len)
            *len = (size_t)n;
    }
    return buf;
}

const char *tl_captures_dir(void)
{
    const char *d = getenv("ORPHANWATCH_CAPTURES");
    struct stat st;
    if (!d || !*d || stat(d, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr,
                "note: ORPHANWATCH_CAPTURES not set or missing: capture-based checks not run\n");
        return NULL;
    }
    return d;
}

int tl_finish(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, tl_passed, tl_failed);
    return tl_failed ? 1 : 0;
}
