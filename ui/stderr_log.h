/* stderr_log: while the dashboard owns the terminal, what the process writes to stderr (the
 * database writer's "disk full", libnids' warnings, a kept-packets file that failed) goes to
 * an unlinked temporary file instead of over the screen, where curses would not know of it
 * and the alternate screen would take it away at exit. The dashboard shows the newest line and
 * how many there were; when the terminal is given back, the lines are written to the real
 * stderr (the last STDERR_LOG_REPLAY of them, and how many came before). */
#ifndef OW_STDERR_LOG_H
#define OW_STDERR_LOG_H
#include <stdbool.h>
#include <stddef.h>

#define STDERR_LOG_REPLAY     200   /* lines written back at the end, the newest */
#define STDERR_LOG_CRASH_TAIL 65536 /* bytes written back when the process crashes */
#define STDERR_LOG_LINE_MAX   512   /* a longer line is cut */

typedef struct stderr_log stderr_log;

/* Sends fd 2 to a temporary file. NULL (stderr left as it was) when that cannot be done. */
stderr_log *stderr_log_start(void);
/* Reads what was written since the last call; returns how many new lines (0: none). */
int stderr_log_poll(stderr_log *l);
/* The newest complete line ("" before any) and the number of lines so far. */
const char *stderr_log_last(const stderr_log *l);
long stderr_log_count(const stderr_log *l);
/* Gives fd 2 back, writes the lines there (see above) and frees l. NULL is fine. */
void stderr_log_stop(stderr_log *l);
/* For a handler of a fatal signal (async-signal-safe): gives fd 2 of the running log back and
 * writes there the last STDERR_LOG_CRASH_TAIL bytes of its lines, which would otherwise go
 * with the process. Nothing when no log runs. */
void stderr_log_crash_replay(void);

#endif
