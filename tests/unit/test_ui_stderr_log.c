/* test_ui_stderr_log: while the log runs, what is written to fd 2 (through stdio and write(2))
 * reaches neither the real stderr nor is lost: the lines are counted as they end, the newest is
 * kept (a long one cut, an unfinished one not counted until its newline); when it stops, the
 * real stderr gets every line in order, or the newest STDERR_LOG_REPLAY after a note of how
 * many came before; a second log after the first starts afresh. The dashboard then shows the
 * count in its header and the newest line on its key bar. A process that crashes while the
 * log runs writes its last lines to the real stderr from the signal handler. */
#include "tests/unit/test_screen.h"
#include "tests/unit/testlib.h"
#include "ui/dashboard_int.h"
#include "ui/stderr_log.h"
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char real_path[64];

/* fd 2 made a fresh file (the "real" stderr the log gives back); returns the saved fd 2. */
static int real_stderr_to_file(void)
{
    snprintf(real_path, sizeof real_path, "/tmp/ow_test_stderr_log_%d", (int)getpid());
    return tl_stderr_to_file(real_path);
}

static char *real_stderr_text(int saved)
{
    return tl_stderr_back(saved, real_path);
}

static void test_lines(void)
{
    int saved = real_stderr_to_file();
    stderr_log *l = stderr_log_start();
    CHECK(l != NULL);
    if (!l) {
        free(real_stderr_text(saved));
        return;
    }
    CHECK_EQ_INT(stderr_log_poll(l), 0);
    CHECK_EQ_STR(stderr_log_last(l), "");
    fprintf(stderr, "orphanwatch: first\n");
    CHECK(write(STDERR_FILENO, "orphanwatch: sec", 16) == 16);
    CHECK_EQ_INT(stderr_log_poll(l), 1); /* the second is not finished */
    CHECK_EQ_STR(stderr_log_last(l), "orphanwatch: first");
    CHECK(write(STDERR_FILENO, "ond\nthird\n", 10) == 10);
    CHECK_EQ_INT(stderr_log_poll(l), 2);
    CHECK_EQ_STR(stderr_log_last(l), "third");
    CHECK_EQ_INT(stderr_log_count(l), 3);
    char longline[3 * STDERR_LOG_LINE_MAX];
    memset(longline, 'x', sizeof longline - 1);
    longline[sizeof longline - 1] = '\0';
    fprintf(stderr, "%s\n", longline);
    CHECK_EQ_INT(stderr_log_poll(l), 1);
    CHECK_EQ_INT(strlen(stderr_log_last(l)), STDERR_LOG_LINE_MAX - 1);
    stderr_log_stop(l);
    fprintf(stderr, "after\n"); /* the real stderr again */
    char *text = real_stderr_text(saved);
    CHECK(text != NULL);
    if (text) {
        const char *want = "orphanwatch: first\norphanwatch: second\nthird\n";
        CHECK(strncmp(text, want, strlen(want)) == 0);
        size_t head = strlen(want) + strlen(longline) + 1; /* the long line whole, as written */
        CHECK(strlen(text) == head + 6 && strcmp(text + head, "after\n") == 0);
    }
    free(text);
}

static void test_replay_bound(void)
{
    int saved = real_stderr_to_file();
    stderr_log *l = stderr_log_start();
    CHECK(l != NULL);
    enum { N = STDERR_LOG_REPLAY + 57 };
    for (int i = 0; i < N; i++)
        fprintf(stderr, "line %d\n", i);
    CHECK_EQ_INT(stderr_log_poll(l), N);
    stderr_log_stop(l);
    char *text = real_stderr_text(saved);
    CHECK(text != NULL);
    if (text) {
        char want[128];
        snprintf(want, sizeof want,
                 "orphanwatch: (%d earlier lines of stderr not shown)\nline %d\n",
                 N - STDERR_LOG_REPLAY, N - STDERR_LOG_REPLAY);
        CHECK(strncmp(text, want, strlen(want)) == 0);
        int lines = 0;
        for (const char *p = text; *p; p++)
            lines += *p == '\n';
        CHECK_EQ_INT(lines, STDERR_LOG_REPLAY + 1);
        snprintf(want, sizeof want, "line %d\n", N - 1);
        CHECK(strlen(text) > strlen(want) && strcmp(text + strlen(text) - strlen(want), want) == 0);
    }
    free(text);
    /* a second log: nothing of the first */
    saved = real_stderr_to_file();
    l = stderr_log_start();
    CHECK_EQ_INT(stderr_log_poll(l), 0);
    CHECK_EQ_INT(stderr_log_count(l), 0);
    stderr_log_stop(l);
    text = real_stderr_text(saved);
    CHECK(text != NULL && text[0] == '\0');
    free(text);
    stderr_log_stop(NULL); /* fine */
    CHECK_EQ_INT(stderr_log_poll(NULL), 0);
}

/* ---- a crash while the log runs ---- */

enum { CRASH_HANDLED = 42 };
static stderr_log *volatile crash_log; /* the child's log, reachable at its exit (valgrind) */

static void on_crash(int sig)
{
    (void)sig;
    stderr_log_crash_replay();
    _exit(CRASH_HANDLED);
}

/* The child: fd 2 to path, a log, more lines than the crash replay keeps, then SIGSEGV. */
static void crash_child(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
        _exit(2);
    close(fd);
    if (!(crash_log = stderr_log_start()))
        _exit(3);
    fprintf(stderr, "orphanwatch: the first line\n");
    for (int i = 0; i < 2 * STDERR_LOG_CRASH_TAIL / 64; i++)
        fprintf(stderr, "filler line %05d, long enough to fill the tail the replay keeps\n", i);
    fprintf(stderr, "orphanwatch: the last line before the crash\n");
    fflush(stderr);
    signal(SIGSEGV, on_crash);
    raise(SIGSEGV);
    _exit(4);
}

static void test_crash_replay(void)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/ow_test_stderr_crash_%d", (int)getpid());
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
        crash_child(path);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == CRASH_HANDLED);
    size_t len = 0;
    char *text = tl_read_file(path, &len);
    unlink(path);
    CHECK(text != NULL);
    if (!text)
        return;
    const char *head = "orphanwatch: written to stderr while the dashboard was up:\n"
                       "orphanwatch: (earlier lines of stderr not shown)\nfiller line ";
    CHECK(strncmp(text, head, strlen(head)) == 0);
    const char *tail = "orphanwatch: the last line before the crash\n";
    CHECK(len > strlen(tail) && strcmp(text + len - strlen(tail), tail) == 0);
    CHECK(strstr(text, "the first line") == NULL); /* past the bound */
    CHECK(len > STDERR_LOG_CRASH_TAIL - 200 && len <= STDERR_LOG_CRASH_TAIL + 200);
    free(text);
    stderr_log_crash_replay(); /* no log runs here: nothing */
}

/* ---- the dashboard showing them ---- */

static bool screen_has(int y, const char *text)
{
    char line[256];
    mvinnstr(y, 0, line, (int)sizeof line - 1);
    return strstr(line, text) != NULL;
}

static void on_screen(void *ctx)
{
    (void)ctx;
    static dashboard d;
    d.rows = LINES;
    d.cols = COLS;
    d.stats.valid = true;
    erase();
    dash_header_draw(&d);
    CHECK(!screen_has(0, "messages"));
    dashboard_stderr(&d, "orphanwatch: db: disk full", 3);
    CHECK_EQ_INT(d.stderr_lines, 3);
    CHECK_EQ_STR(d.msg, "orphanwatch: db: disk full");
    CHECK(d.msg_until > dash_now() + DASH_MESSAGE_S);
    erase();
    dash_header_draw(&d);
    CHECK(screen_has(0, "messages 3"));
    d.msg[0] = '\0';
    dashboard_stderr(&d, "orphanwatch: db: disk full", 3); /* nothing new: no message again */
    CHECK_EQ_STR(d.msg, "");
}

int main(void)
{
    test_lines();
    test_replay_bound();
    test_crash_replay();
    with_null_screen(on_screen, NULL);
    TEST_MAIN_END("test_ui_stderr_log");
}
