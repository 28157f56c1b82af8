/* testlib: counters and helpers shared by the C unit tests (see testlib.h). */
#include "tests/unit/testlib.h"
#include <stdlib.h>
#include <sys/stat.h>

int tl_passed, tl_failed;

void tl_fail(const char *file, int line, const char *expr)
{
    tl_failed++;
    fprintf(stderr, "FAIL %s:%d: %s\n", file, line, expr);
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
