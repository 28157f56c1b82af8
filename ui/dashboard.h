/* dashboard: the live ncurses dashboard over a capture database. It reads everything it shows
 * from SQLite (opened read-only; WAL lets it read while a capture writes), so the same code
 * serves `orphanwatch dashboard X.db` and the view embedded in `orphanwatch live`.
 *
 * The caller owns the main loop: poll() on dashboard_input_fd() (and whatever else it waits
 * on), then dashboard_handle_input() when it is readable and dashboard_refresh() every turn.
 *
 * dashboard_open() installs handlers that restore the terminal (endwin) and re-raise for the
 * crash signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) and, when their disposition is still
 * the default, for SIGINT, SIGTERM and SIGHUP: a caller that wants its own SIGINT handling
 * installs it before dashboard_open(). dashboard_close() puts the previous handlers back. */
#ifndef OW_DASHBOARD_H
#define OW_DASHBOARD_H
#include <stdbool.h>
#include <stddef.h>

typedef struct dashboard dashboard;

typedef struct dashboard_source {
    const char *title; /* interface or file */
    bool live;         /* another process is still capturing into the database */
    bool ascii;        /* force the ASCII fallback even in a UTF-8 locale */
} dashboard_source;

/* Starts curses (initscr etc.) and opens db_path read-only. NULL with a message in err when
 * the database cannot be opened or is of another schema version (the terminal is untouched). */
dashboard *dashboard_open(const char *db_path, const dashboard_source *src, char *err,
                          size_t errlen);
/* The file descriptor keys arrive on (stdin), for the caller's poll(). */
int dashboard_input_fd(const dashboard *d);
/* Reads every pending key without blocking; returns 1 when the user quit, else 0. */
int dashboard_handle_input(dashboard *d);
/* Re-queries what is visible and redraws: at once after handled input or with force, else
 * at most ~4 times a second. Call it every loop turn. */
void dashboard_refresh(dashboard *d, bool force);
/* What the process wrote to stderr while the dashboard is up (ui/stderr_log.h): the newest
 * line is shown on the key bar for a while, and the count stays in the header. */
void dashboard_stderr(dashboard *d, const char *last_line, long lines);
/* Ends curses (the terminal is restored), closes the database, frees d. NULL is fine. */
void dashboard_close(dashboard *d);

#endif
