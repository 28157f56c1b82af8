/* dashboard: the terminal side of the dashboard (curses start and end, signal handlers that
 * restore the terminal, colours), the key dispatch between views, and the refresh timing:
 * data re-queried when stale, the screen redrawn at most every DASH_REDRAW_S. The views
 * themselves are in ui/dashboard_*.c (see ui/dashboard_int.h). */
#include "ui/dashboard_int.h"
#include "ui/stderr_log.h"
#include <curses.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* ---- terminal restore on signals ---- */

static const int restore_signals[] = {SIGSEGV, SIGBUS, SIGFPE,  SIGILL,
                                      SIGABRT, SIGINT, SIGTERM, SIGHUP};
enum { N_RESTORE = sizeof restore_signals / sizeof restore_signals[0], FIRST_POLITE = 5 };
static struct sigaction saved_action[N_RESTORE];
static bool installed[N_RESTORE];
static volatile sig_atomic_t curses_on;

static void restore_and_reraise(int sig)
{
    if (curses_on) {
        curses_on = 0;
        endwin(); /* not async-signal-safe, but the process is ending either way */
    }
    stderr_log_crash_replay(); /* the lines the dashboard kept off the screen, before they go */
    for (int i = 0; i < N_RESTORE; i++)
        if (restore_signals[i] == sig && installed[i])
            sigaction(sig, &saved_action[i], NULL);
    raise(sig); /* delivered when this handler returns, with the previous disposition */
}

static void install_signal_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = restore_and_reraise;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < N_RESTORE; i++) {
        struct sigaction old;
        installed[i] = false;
        if (sigaction(restore_signals[i], NULL, &old) != 0)
            continue;
        /* SIGINT/TERM/HUP: leave a caller's own handler (or SIG_IGN) alone. */
        if (i >= FIRST_POLITE && old.sa_handler != SIG_DFL)
            continue;
        if (sigaction(restore_signals[i], &sa, &saved_action[i]) == 0)
            installed[i] = true;
    }
}

static void remove_signal_handlers(void)
{
    for (int i = 0; i < N_RESTORE; i++)
        if (installed[i]) {
            sigaction(restore_signals[i], &saved_action[i], NULL);
            installed[i] = false;
        }
}

/* ---- styles ---- */

static void init_styles(dashboard *d)
{
    d->color = has_colors();
    if (!d->color)
        return;
    start_color();
    use_default_colors();
    init_pair(DS_CONNECTED, COLOR_GREEN, -1);
    init_pair(DS_ORPHAN, COLOR_RED, -1);
    init_pair(DS_REFUSED, COLOR_MAGENTA, -1);
    init_pair(DS_NODOC, COLOR_YELLOW, -1);
    init_pair(DS_PENDING, COLOR_CYAN, -1);
    init_pair(DS_BAR, COLOR_BLACK, COLOR_CYAN);
    init_pair(DS_TITLE, -1, -1);
    init_pair(DS_DIM, -1, -1);
}

int dash_style_attr(const dashboard *d, enum dash_style st)
{
    if (st == DS_TITLE)
        return A_BOLD;
    if (st == DS_DIM)
        return A_DIM;
    if (st == DS_NORMAL)
        return A_NORMAL;
    if (!d->color)
        return st == DS_BAR ? A_REVERSE : st == DS_ORPHAN ? A_BOLD : A_NORMAL;
    return (int)COLOR_PAIR(st);
}

enum dash_style dash_outcome_style(const char *o)
{
    if (strcmp(o, "connected") == 0)
        return DS_CONNECTED;
    if (strcmp(o, "orphan") == 0)
        return DS_ORPHAN;
    if (strcmp(o, "ws_refused") == 0)
        return DS_REFUSED;
    if (strcmp(o, "ws_no_doc") == 0)
        return DS_NODOC;
    return DS_PENDING; /* pending, undecided, anything new */
}

/* ---- drawing helpers ---- */

int dash_put(dashboard *d, int y, int x, const char *raw, int maxcols, int attr)
{
    char buf[4 * 512 + 8];
    if (y < 0 || y >= d->rows || x < 0 || x >= d->cols)
        return 0;
    if (maxcols > d->cols - x)
        maxcols = d->cols - x;
    if (maxcols > 512)
        maxcols = 512;
    int w = dash_text_fit(buf, sizeof buf, raw, maxcols, d->utf8);
    attrset(attr);
    mvaddstr(y, x, buf);
    attrset(A_NORMAL);
    return w;
}

void dash_fill(dashboard *d, int y, int x, int ncols, int attr)
{
    if (y < 0 || y >= d->rows || x < 0)
        return;
    if (x + ncols > d->cols)
        ncols = d->cols - x;
    attrset(attr);
    for (int i = 0; i < ncols; i++)
        mvaddch(y, x + i, ' ');
    attrset(A_NORMAL);
}

void dash_message(dashboard *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->msg, sizeof d->msg, fmt, ap);
    va_end(ap);
    d->msg_until = dash_now() + DASH_MESSAGE_S;
    d->redraw = true;
}

void dashboard_stderr(dashboard *d, const char *last_line, long lines)
{
    if (!d || lines == d->stderr_lines)
        return;
    d->stderr_lines = lines;
    dash_message(d, "%s", last_line);
    d->msg_until = dash_now() + DASH_STDERR_MESSAGE_S;
}

/* ---- open / close ---- */

static bool locale_is_utf8(void)
{
    const char *cs = nl_langinfo(CODESET);
    return cs && (strcmp(cs, "UTF-8") == 0 || strcmp(cs, "utf8") == 0);
}

dashboard *dashboard_open(const char *db_path, const dashboard_source *src, char *err,
                          size_t errlen)
{
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        snprintf(err, errlen, "the dashboard needs a terminal");
        return NULL;
    }
    dashboard *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->db = dash_data_open(db_path, err, errlen);
    if (!d->db) {
        free(d);
        return NULL;
    }
    snprintf(d->title, sizeof d->title, "%s", src && src->title ? src->title : "");
    snprintf(d->db_path, sizeof d->db_path, "%s", db_path);
    d->live = src && src->live;
    const char *ctype = setlocale(LC_CTYPE, NULL);
    if (!ctype || strcmp(ctype, "C") == 0 || strcmp(ctype, "POSIX") == 0)
        setlocale(LC_CTYPE, ""); /* curses needs the character set; numbers stay "C" */
    d->utf8 = locale_is_utf8() && !(src && src->ascii);
    d->list.at_top = true;
    d->list.dirty = d->list.total_dirty = true;
    d->list.total = -1;
    d->clients.dirty = true;
    d->input_fd = STDIN_FILENO;

    install_signal_handlers();
    initscr();
    curses_on = 1;
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    set_escdelay(25);
    curs_set(0);
    mousemask(BUTTON1_PRESSED | BUTTON1_CLICKED | BUTTON1_DOUBLE_CLICKED | BUTTON4_PRESSED
#ifdef BUTTON5_PRESSED
                  | BUTTON5_PRESSED
#endif
              ,
              NULL);
    mouseinterval(0);
    init_styles(d);
    getmaxyx(stdscr, d->rows, d->cols);
    d->redraw = true;
    return d;
}

int dashboard_input_fd(const dashboard *d)
{
    return d->input_fd;
}

void dashboard_close(dashboard *d)
{
    if (!d)
        return;
    if (curses_on) {
        curses_on = 0;
        endwin();
    }
    remove_signal_handlers();
    sqlite3_close(d->db);
    dash_lines_clear(&d->detail.lines);
    dash_lines_clear(&d->help);
    dash_lines_clear(&d->capture);
    dash_clients_free(&d->clients);
    free(d);
}

/* ---- keys ---- */

static void set_view(dashboard *d, enum dash_view v)
{
    d->view = v;
    d->redraw = true;
    if (v == DASH_VIEW_LIST)
        d->list.dirty = true;
    if (v == DASH_VIEW_CLIENTS)
        d->clients.dirty = true;
}

static void toggle_view(dashboard *d, enum dash_view v)
{
    set_view(d, d->view == v ? DASH_VIEW_LIST : v);
}

void dash_query_changed(dashboard *d)
{
    d->list.at_top = true;
    d->list.sel = 0;
    d->list.sel_id = 0;
    d->list.dirty = d->list.total_dirty = true;
    d->redraw = true;
}

static void handle_mouse(dashboard *d)
{
    MEVENT ev;
    if (getmouse(&ev) != OK)
        return;
    int body = dash_header_height(d) + 1;
    if (ev.bstate & BUTTON4_PRESSED) {
        if (d->view == DASH_VIEW_LIST)
            dash_list_key(d, KEY_UP);
        return;
    }
#ifdef BUTTON5_PRESSED
    if (ev.bstate & BUTTON5_PRESSED) {
        if (d->view == DASH_VIEW_LIST)
            dash_list_key(d, KEY_DOWN);
        return;
    }
#endif
    if (d->view == DASH_VIEW_LIST && ev.y >= body)
        dash_list_click(d, ev.y - body);
    if ((ev.bstate & BUTTON1_DOUBLE_CLICKED) && d->view == DASH_VIEW_LIST && d->list.sel_id)
        dash_detail_open(d, d->list.sel_id);
    d->redraw = true;
}

/* Keys that mean the same in every view. Returns 1 quit, 0 handled, -1 not handled. */
static int global_key(dashboard *d, int key, bool is_char)
{
    if (!is_char) {
        if (key == KEY_RESIZE) {
            getmaxyx(stdscr, d->rows, d->cols);
            d->list.dirty = true;
            d->redraw = true;
            return 0;
        }
        if (key == KEY_MOUSE) {
            handle_mouse(d);
            return 0;
        }
        /* F1 and Backspace are handled below as the characters they stand for */
        if (key == KEY_F(1))
            key = '?';
        else if (key == KEY_F(10))
            return 1;
        else if (key == KEY_BACKSPACE)
            key = 27;
        else
            return -1;
    }
    switch (key) {
    case 'q':
        return 1;
    case '?':
        toggle_view(d, DASH_VIEW_HELP);
        return 0;
    case 'c':
        toggle_view(d, DASH_VIEW_CLIENTS);
        return 0;
    case 'i':
        d->capture_built = -1; /* built afresh when opened */
        toggle_view(d, DASH_VIEW_CAPTURE);
        return 0;
    case 'o':
        d->q.orphans_only = !d->q.orphans_only;
        dash_query_changed(d);
        set_view(d, DASH_VIEW_LIST);
        return 0;
    case 's':
        d->q.sort = (d->q.sort + 1) % DASH_SORT_COUNT;
        dash_query_changed(d);
        return 0;
    case 'f':
        set_view(d, DASH_VIEW_LIST);
        dash_prompt_open(d, DASH_PROMPT_FILTER);
        return 0;
    case '/':
        set_view(d, DASH_VIEW_LIST);
        dash_prompt_open(d, DASH_PROMPT_SEARCH);
        return 0;
    case 27: /* Esc, Backspace: back */
    case 127:
    case 8:
        if (d->view != DASH_VIEW_LIST) {
            set_view(d, DASH_VIEW_LIST);
        } else if (d->q.search[0]) {
            d->q.search[0] = '\0';
            dash_query_changed(d);
        }
        return 0;
    case 12: /* Ctrl-L */
        clearok(curscr, TRUE);
        d->redraw = true;
        return 0;
    }
    return -1;
}

static void view_key(dashboard *d, int key)
{
    int height = d->rows - dash_header_height(d) - 2;
    switch (d->view) {
    case DASH_VIEW_LIST:
        if (key == '\r' || key == '\n' || key == KEY_ENTER) {
            if (d->list.dirty) /* keys typed ahead: select in what they asked for */
                dash_list_reload(d);
            if (d->list.sel_id)
                dash_detail_open(d, d->list.sel_id);
        } else
            dash_list_key(d, key);
        break;
    case DASH_VIEW_DETAIL:
        dash_lines_key(&d->detail.lines, key, height);
        break;
    case DASH_VIEW_HELP:
        dash_lines_key(&d->help, key, height);
        break;
    case DASH_VIEW_CAPTURE:
        dash_lines_key(&d->capture, key, height);
        break;
    case DASH_VIEW_CLIENTS:
        if (dash_clients_key(d, key, height) && (key == '\r' || key == '\n' || key == KEY_ENTER))
            dash_query_changed(d);
        break;
    }
    d->redraw = true;
}

int dashboard_handle_input(dashboard *d)
{
    wint_t wc;
    int r;
    while ((r = get_wch(&wc)) != ERR) {
        bool is_char = r == OK;
        d->keys_seen = true;
        d->interrupt_held = false;
        int key = (int)wc;
        if (d->prompt.kind != DASH_PROMPT_NONE && key != KEY_RESIZE && key != KEY_MOUSE) {
            dash_prompt_key(d, key, is_char);
            continue;
        }
        int g = global_key(d, key, is_char);
        if (g == 1)
            return 1;
        if (g < 0)
            view_key(d, key);
    }
    return 0;
}

/* ---- refresh ---- */

static bool data_is_live(const dashboard *d)
{
    return d->live || strcmp(d->stats.end_reason, "running") == 0;
}

static void refresh_list(dashboard *d, bool live, double now)
{
    if (d->view == DASH_VIEW_LIST &&
        (d->list.dirty || (live && dash_timed_due(&d->list.timed, now, 1.0)))) {
        dash_list_reload(d);
        d->redraw = true;
    }
}

static void refresh_count(dashboard *d, bool live, double now)
{
    /* The count is a second scan: not while a search is being typed. */
    if (d->view != DASH_VIEW_LIST || d->prompt.kind == DASH_PROMPT_SEARCH ||
        !(d->list.total_dirty ||
          (live && dash_timed_due(&d->list.total_timed, now, DASH_STATS_MIN_S))))
        return;
    double t = dash_now();
    long long n = dash_data_count(d->db, &d->q);
    if (n == DASH_SUPERSEDED) { /* keys are pending: counted after them (total_dirty) */
        d->list.total_dirty = true;
        return;
    }
    d->list.total = n;
    d->list.total_timed.last_run = dash_now();
    d->list.total_timed.cost = d->list.total_timed.last_run - t;
    d->list.total_dirty = false;
    d->redraw = true;
}

/* The list reload and the count stop for keys typed meanwhile (a search matching nothing
 * scans every row: typing would lag by that on every key) and run again after them. Only
 * these: a key's own query (End, PgUp) comes after its key was read, and the header and the
 * clients view are cheap. Once superseded, they are not interrupted again before a key is
 * read: input readable without a key (half an escape sequence) would stop them forever. */
static void refresh_interruptible(dashboard *d, bool live, double now)
{
    bool armed = !d->interrupt_held;
    if (armed)
        dash_data_interrupt_arm(d->db, d->input_fd);
    refresh_list(d, live, now);
    refresh_count(d, live, now);
    if (armed && dash_data_interrupt_disarm(d->db))
        d->interrupt_held = true;
}

static void refresh_data(dashboard *d, double now)
{
    bool live = data_is_live(d);
    if (!d->stats.valid || (live && dash_timed_due(&(dash_timed){d->stats.last_run, d->stats.cost},
                                                   now, DASH_STATS_MIN_S))) {
        dash_data_stats(d->db, &d->stats, d->live);
        d->redraw = true;
    }
    refresh_interruptible(d, live, now);
    if (d->view == DASH_VIEW_DETAIL && live &&
        dash_timed_due(&d->detail.timed, now, DASH_STATS_MIN_S)) {
        d->detail.built_width = 0; /* rebuilt below with fresh rows */
        d->redraw = true;
    }
}

static void draw_keybar(dashboard *d)
{
    int y = d->rows - 1;
    if (d->prompt.kind != DASH_PROMPT_NONE) {
        dash_prompt_draw(d, y);
        return;
    }
    dash_fill(d, y, 0, d->cols, A_NORMAL);
    if (d->msg[0] && dash_now() < d->msg_until) {
        dash_put(d, y, 0, d->msg, d->cols, A_BOLD);
        return;
    }
    /* Right: the filters in force and the rows matching; left: the keys, long or short. */
    char right[256], keys[200];
    dash_query_describe(&d->q, false, right, sizeof right);
    if (d->view == DASH_VIEW_LIST && d->list.total >= 0) {
        char n[32];
        size_t l = strlen(right);
        dash_fmt_count(n, sizeof n, d->list.total);
        snprintf(right + l, sizeof right - l, "%s%s shown", l ? "  " : "", n);
    } else if (d->view == DASH_VIEW_LIST && !d->list.total_dirty) { /* counted, and it failed */
        size_t l = strlen(right);
        snprintf(right + l, sizeof right - l, "%scount failed", l ? "  " : "");
    }
    int rw = right[0] ? dash_text_width(right, d->utf8) + 1 : 0;
    if (rw > d->cols / 2)
        rw = d->cols / 2;
    /* before them when it fits, in the warning colour: what the capture could not see (i) */
    char spots[48] = "";
    if (d->stats.blind_spots > 0)
        snprintf(spots, sizeof spots, "blind spots %d (i)%s", d->stats.blind_spots,
                 right[0] ? "  " : " ");
    int sw = dash_text_width(spots, d->utf8);
    if (spots[0] && rw + sw + (rw ? 0 : 1) <= d->cols / 2)
        rw += sw + (rw ? 0 : 1);
    else
        spots[0] = '\0';
    const char *back = d->view == DASH_VIEW_LIST      ? "Enter:Detail"
                       : d->view == DASH_VIEW_CLIENTS ? "Enter:Filter Esc:Back"
                                                      : "Esc:Back";
    snprintf(keys, sizeof keys,
             "?:Help o:Orphans f:Filter /:Search s:Sort(%s) c:Clients i:Capture q:Quit %s",
             dash_sort_name(d->q.sort), back);
    if (dash_text_width(keys, d->utf8) > d->cols - rw)
        snprintf(keys, sizeof keys, "?:Help o f / s:%s c i q:Quit %s", dash_sort_name(d->q.sort),
                 back);
    dash_put(d, y, 0, keys, d->cols - rw, A_NORMAL);
    int x = d->cols - rw + 1, room = rw - 1;
    if (spots[0] && room > 0) {
        int n = dash_put(d, y, x, spots, room, dash_style_attr(d, DS_NODOC) | (int)A_BOLD);
        x += n, room -= n;
    }
    if (right[0] && room > 0)
        dash_put(d, y, x, right, room, dash_style_attr(d, DS_BAR) | (int)A_BOLD);
}

static void draw(dashboard *d)
{
    erase();
    int hh = dash_header_height(d);
    dash_header_draw(d);
    int top = hh, height = d->rows - hh - 1;
    switch (d->view) {
    case DASH_VIEW_LIST:
        dash_list_draw(d, top, height);
        break;
    case DASH_VIEW_DETAIL:
        dash_detail_draw(d, top, height);
        break;
    case DASH_VIEW_CLIENTS:
        dash_clients_draw(d, top, height);
        break;
    case DASH_VIEW_HELP:
        dash_help_draw(d, top, height);
        break;
    case DASH_VIEW_CAPTURE:
        dash_capture_draw(d, top, height);
        break;
    }
    draw_keybar(d);
    refresh();
}

/* A caller's poll() may swallow the SIGWINCH that would become KEY_RESIZE: ask the tty. */
static void check_resize(dashboard *d)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0 || ws.ws_col == 0)
        return;
    if (ws.ws_row != d->rows || ws.ws_col != d->cols) {
        resizeterm(ws.ws_row, ws.ws_col);
        getmaxyx(stdscr, d->rows, d->cols);
        d->list.dirty = true;
        d->redraw = true;
    }
}

void dashboard_refresh(dashboard *d, bool force)
{
    double now = dash_now();
    if (!force && !d->keys_seen && now - d->last_draw < DASH_REDRAW_S)
        return;
    bool keys = d->keys_seen;
    d->keys_seen = false;
    check_resize(d);
    /* The keys echo (a search prompt's text) before the reload they asked for, which may run
     * to its end when no more keys come: the rows follow when it is done. */
    if (keys && d->view == DASH_VIEW_LIST && d->list.dirty && d->stats.valid)
        draw(d);
    refresh_data(d, now);
    if (d->msg[0] && now >= d->msg_until) {
        d->msg[0] = '\0';
        d->redraw = true;
    }
    if (!d->redraw && !force)
        return;
    draw(d);
    d->redraw = false;
    d->last_draw = dash_now();
}
