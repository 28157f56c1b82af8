/* test_screen: a curses screen for the dashboard tests, drawn into /dev/null (xterm's 24 x 80,
 * whatever the environment says). Header-only (each test is one program). */
#ifndef OW_TEST_SCREEN_H
#define OW_TEST_SCREEN_H
#include "tests/unit/testlib.h"
#include <curses.h>
#include <stdio.h>

/* Runs run(ctx) with the screen open (stdscr, LINES and COLS set), then closes it. */
static inline void with_null_screen(void (*run)(void *ctx), void *ctx)
{
    FILE *out = fopen("/dev/null", "w"), *in = fopen("/dev/null", "r");
    use_env(FALSE);
    SCREEN *scr = out && in ? newterm("xterm", out, in) : NULL;
    CHECK(scr != NULL);
    if (scr) {
        run(ctx);
        endwin();
        delscreen(scr);
    }
    if (out)
        fclose(out);
    if (in)
        fclose(in);
}

#endif
