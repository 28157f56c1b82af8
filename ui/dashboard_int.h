/* dashboard_int: the dashboard's components and their state, shared by the ui/dashboard_*.c
 * files (not a public header: callers use ui/dashboard.h). Like htop, the screen is made of
 * small components, each with explicit state and a draw function:
 *   text     (dashboard_text.c)    sanitising, fitting, sparklines, number/time formats
 *   data     (dashboard_data.c)    every SQL query: header stats, list pages, clients
 *   header   (dashboard_header.c)  source, span, packets, outcomes, sparklines
 *   list     (dashboard_list.c)    page loads, keyset-paginated, columns by priority
 *   detail   (dashboard_detail.c)  one page load's timeline, verdict, evidence, advice
 *   clients  (dashboard_clients.c) per client: page loads, orphan rate, dominant verdict
 *   help     (dashboard_help.c)    keys and verdict meanings
 *   prompt   (dashboard_prompt.c)  the filter and incremental search line
 * dashboard.c holds the terminal, the key dispatch and the refresh timing. */
#ifndef OW_DASHBOARD_INT_H
#define OW_DASHBOARD_INT_H
#include "ui/dashboard.h"
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- limits (every one a named constant) ---- */
#define DASH_MAX_LIST_ROWS    512  /* list rows on one screen (a 500-line terminal) */
#define DASH_SPARK_MAX        240  /* minutes of sparkline history kept */
#define DASH_MAX_CLIENTS      5000 /* clients view rows (the rest counted) */
#define DASH_DETAIL_MAX_ITEMS 400  /* fetches / messages / evidence rows listed per kind */
#define DASH_DETAIL_MAX_LINES 20000
#define DASH_FIELD            128  /* a text field of a list row */
#define DASH_INPUT_MAX        120  /* prompt input bytes */
#define DASH_REDRAW_S         0.25 /* at most ~4 redraws a second */
#define DASH_STATS_MIN_S      2.0  /* header counts refreshed at most this often */
#define DASH_MESSAGE_S        3.0  /* a message on the key bar stays this long */
#define DASH_STDERR_MESSAGE_S 15.0 /* ... a line the process wrote to stderr, this long */
#define DASH_SLOW_FACTOR      10.0 /* a query taking t s is repeated at most every 10 t */

/* A refresh's query interrupted for typed keys (see dash_data_interrupt_arm) checks for them
 * every DASH_INTERRUPT_STEPS SQLite VM steps (well under a millisecond), and returns
 * DASH_SUPERSEDED when it stopped: not an error, the query is rerun after the keys. */
#define DASH_INTERRUPT_STEPS 10000
#define DASH_SUPERSEDED      (-2)

/* ---- colours / styles ---- */
enum dash_style {
    DS_NORMAL = 0,
    DS_CONNECTED, /* green */
    DS_ORPHAN,    /* red */
    DS_REFUSED,   /* magenta */
    DS_NODOC,     /* yellow */
    DS_PENDING,   /* cyan: pending, undecided */
    DS_BAR,       /* column header and key bar */
    DS_TITLE,     /* bold labels */
    DS_DIM,
    DS_COUNT
};

/* ---- text (pure functions, unit tested) ---- */
/* Copies in to out, dropping control characters (C0, DEL, C1, bidi overrides) and replacing
 * invalid UTF-8 (or, when !utf8, every non-ASCII byte) with '?', cut to maxcols display
 * columns with an ellipsis. Returns the columns used. out always NUL-terminated. */
int dash_text_fit(char *out, size_t outsz, const char *in, int maxcols, bool utf8);
/* Display columns of s after sanitising. */
int dash_text_width(const char *s, bool utf8);
/* One cell per value, scaled to the largest: ▁▂▃▄▅▆▇█ (utf8) or _.-=# ; zero is a space. */
void dash_sparkline(char *out, size_t outsz, const long *vals, int n, bool utf8);
/* HH:MM:SS local time ("--:--:--" when ts <= 0); with_date prefixes YYYY-MM-DD. */
void dash_fmt_clock(char *out, size_t outsz, double ts, bool with_date);
/* A duration: 850ms, 12.3s, 4m05s, 3h02m, 2d04h; "-" when negative/unknown. */
void dash_fmt_dur(char *out, size_t outsz, double secs);
/* An integer with thousands separators: 1,234,567. */
void dash_fmt_count(char *out, size_t outsz, long long v);
/* Byte count: 812 B, 13.2 KB, 3.4 MB. */
void dash_fmt_bytes(char *out, size_t outsz, long long v);
/* Splits text into lines of at most width columns at spaces (hard cut for long words).
 * Calls emit(ctx, line) for each sanitised line; returns the number of lines. */
int dash_wrap(const char *text, int width, bool utf8, void (*emit)(void *, const char *),
              void *ctx);

/* ---- query state: what the list shows ---- */
enum dash_sort { DASH_SORT_TIME = 0, DASH_SORT_CLIENT, DASH_SORT_DURATION, DASH_SORT_COUNT };
const char *dash_sort_name(enum dash_sort s);

typedef struct dash_query {
    bool orphans_only;
    char client[DASH_FIELD], app[DASH_FIELD], verdict[DASH_FIELD], outcome[DASH_FIELD];
    char search[DASH_INPUT_MAX + 1];
    enum dash_sort sort;
} dash_query;
/* Parses a filter prompt ("verdict:pmtu_blackhole client:100.64.0.2", bare words guessed);
 * 0 on success, -1 with a message in err. An empty string clears the filters. */
int dash_query_parse_filter(dash_query *q, const char *text, char *err, size_t errlen);
/* The filters in words: with filters_only, as the filter prompt reads them back
 * ("verdict:x client:y"); else also orphans-only and the search, for the key bar. */
void dash_query_describe(const dash_query *q, bool filters_only, char *out, size_t outsz);

/* One list row: what the list displays plus the sort key of its keyset position. */
typedef struct dash_row {
    int64_t id;
    double started; /* sort keys */
    double dur;     /* time to first websocket, else ttlb; < 0 unknown */
    bool started_null, dur_null, client_null;
    char client[DASH_FIELD];
    char app[DASH_FIELD];
    char sid[DASH_FIELD];
    char ua[DASH_FIELD];
    char outcome[24], verdict[40];
    int status;
    long static_count, websockets;
} dash_row;

/* Builds the SELECT for a list page: rows after (or, backward, before) anchor in the sort
 * order, inclusive or not; NULL anchor = from the start (backward: from the end). Binds are
 * positional; dash_data_list_page does the binding. Exposed for the unit test. */
int dash_list_sql(char *out, size_t outsz, const dash_query *q, const dash_row *anchor,
                  bool backward, bool inclusive);

/* ---- data ---- */
typedef struct dash_stats {
    char source[DASH_FIELD];
    bool live;
    char end_reason[24];
    double t0, t1;
    long long packets, kernel_drops, if_drops;
    int captures;
    int blind_spots;      /* lines ui/blind_spots.c has for the captures (-1: unreadable) */
    long long outcome[8]; /* by ow_outcome */
    long long total, other;
    double spark_end; /* epoch minute (start) of the last sparkline cell */
    long spark_loads[DASH_SPARK_MAX], spark_orphans[DASH_SPARK_MAX];
    double last_run, cost; /* when and how long the last refresh took */
    bool valid;
    char err[160]; /* "query: <message>" when a query of the last refresh failed, else "" */
} dash_stats;

typedef struct dash_client {
    char client[DASH_FIELD];
    long long loads, orphans, verdict_n;
    char verdict[40];
} dash_client;

typedef struct dash_timed {
    double last_run, cost;
} dash_timed;
/* True when a query last run at t->last_run costing t->cost should run again now. */
bool dash_timed_due(const dash_timed *t, double now, double min_interval);

double dash_now(void); /* monotonic seconds */

/* Opens read-only (owdb_open_readonly: schema version checked). NULL with err on failure. */
sqlite3 *dash_data_open(const char *path, char *err, size_t errlen);
/* Refreshes st; a failed query leaves its message in st->err (the header shows it). */
void dash_data_stats(sqlite3 *db, dash_stats *st, bool live);
/* From arm to disarm, a query of db that sees input pending on fd (poll: POLLIN, no hang-up
 * or error) stops and returns DASH_SUPERSEDED: the refresh's own queries, rerun after the keys
 * are read. Disarm returns whether it fired. */
void dash_data_interrupt_arm(sqlite3 *db, int fd);
bool dash_data_interrupt_disarm(sqlite3 *db);
/* Fills up to limit rows; returns the count, -1 on error (message in err), DASH_SUPERSEDED
 * (err untouched) when interrupted for pending input. */
int dash_data_list_page(sqlite3 *db, const dash_query *q, const dash_row *anchor, bool backward,
                        bool inclusive, dash_row *out, int limit, char *err, size_t errlen);
/* The rows matching q; -1 when the query fails, DASH_SUPERSEDED when interrupted. */
long long dash_data_count(sqlite3 *db, const dash_query *q);
/* Fills v (cap entries); returns count; *more set when clients were left out. -1 when the
 * query fails, at any step, with the message in sqlite3_errmsg(db) (read before the next query). */
int dash_data_clients(sqlite3 *db, dash_client *v, int cap, bool *more);

/* ---- detail lines (the detail and help views are scrollable line lists) ---- */
typedef struct dash_line {
    enum dash_style style;
    bool bold;
    char *text; /* sanitised already */
} dash_line;

typedef struct dash_lines {
    dash_line *v;
    int n, cap;
    int scroll;
    int truncated; /* lines dropped at DASH_DETAIL_MAX_LINES */
} dash_lines;
void dash_lines_clear(dash_lines *l);
void dash_lines_add(dash_lines *l, enum dash_style st, bool bold, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Adds text wrapped to width with a hanging indent of `indent` spaces. */
void dash_lines_wrap(dash_lines *l, enum dash_style st, int indent, int width, bool utf8,
                     const char *prefix, const char *text);

/* Fills l with page load id's timeline, verdict, evidence and advice, wrapped to width. */
void dash_detail_build(sqlite3 *db, int64_t id, int width, bool utf8, dash_lines *l);
void dash_help_build(dash_lines *l, int width, bool utf8);
void dash_capture_build(sqlite3 *db, dash_lines *l, int width, bool utf8);
void dash_capture_draw(dashboard *d, int top, int height);

/* ---- the dashboard ---- */
enum dash_view {
    DASH_VIEW_LIST = 0,
    DASH_VIEW_DETAIL,
    DASH_VIEW_CLIENTS,
    DASH_VIEW_HELP,
    DASH_VIEW_CAPTURE
};
enum dash_prompt_kind { DASH_PROMPT_NONE = 0, DASH_PROMPT_FILTER, DASH_PROMPT_SEARCH };

typedef struct dash_list {
    dash_row rows[DASH_MAX_LIST_ROWS + 1];
    int nrows;        /* rows on screen (<= height) */
    bool more;        /* rows exist after the last one shown */
    int sel;          /* selected index in rows */
    int64_t sel_id;   /* selected page load, kept across re-queries */
    bool at_top;      /* following the newest rows: no anchor */
    dash_row anchor;  /* the top row when !at_top */
    bool dirty;       /* re-query now (user action) */
    dash_timed timed; /* periodic re-query for live data */
    long long total;  /* rows matching the filters, -1 unknown */
    dash_timed total_timed;
    bool total_dirty;
    char err[160];
    dash_row scratch[DASH_MAX_LIST_ROWS + 1];
} dash_list;

typedef struct dash_clients_view {
    dash_client *v;
    int n, sel, top;
    bool more;
    dash_timed timed;
    bool dirty;
    char err[160]; /* the last load's error, shown in place of the rows (as the list's err) */
} dash_clients_view;

typedef struct dash_detail_view {
    int64_t id;
    dash_lines lines;
    int built_width;
    dash_timed timed;
} dash_detail_view;

typedef struct dash_prompt {
    enum dash_prompt_kind kind;
    char buf[DASH_INPUT_MAX + 1];
    size_t len;
    char saved[DASH_INPUT_MAX + 1]; /* search text before the prompt opened (Esc restores) */
} dash_prompt;

struct dashboard {
    sqlite3 *db;
    char title[DASH_FIELD]; /* the caller's name for the source; "" = the capture's own */
    char db_path[512];
    bool live, utf8, color;
    int rows, cols;
    enum dash_view view;
    dash_query q;
    dash_stats stats;
    dash_list list;
    dash_detail_view detail;
    dash_clients_view clients;
    dash_lines help;
    int help_width;
    dash_lines capture;   /* the capture view (i) */
    int capture_width;    /* the width it was built for */
    double capture_built; /* stats.last_run when it was built */
    dash_prompt prompt;
    char msg[160];
    double msg_until;
    long stderr_lines; /* lines the process wrote to stderr meanwhile (dashboard_stderr) */
    double last_draw;
    bool redraw;    /* something changed: draw at the next refresh */
    bool keys_seen; /* input was handled: the next refresh draws at once (no rate limit) */
    int input_fd;   /* where keys arrive (stdin) */
    /* A refresh query was superseded and no key read since: the next ones are not interrupted
     * (the input was readable without a key: a partial escape sequence), so one completes. */
    bool interrupt_held;
};

/* Layout rows shared by the views. */
int dash_header_height(const dashboard *d);
void dash_header_draw(dashboard *d);
int dash_list_height(const dashboard *d); /* visible list rows */
/* Re-queries the rows from the position. Superseded (interrupted for pending keys): the rows,
 * position, selection and error on screen are kept, and dirty is left set. */
void dash_list_reload(dashboard *d);
void dash_list_draw(dashboard *d, int top, int height);
/* Navigation: returns true when handled. */
bool dash_list_key(dashboard *d, int key);
void dash_list_click(dashboard *d, int row);
/* Column layout for a width: the columns kept, in display order (unit tested). */
enum dash_col {
    DC_TIME = 0,
    DC_CLIENT,
    DC_APP,
    DC_SID,
    DC_STAGES,
    DC_OUTCOME,
    DC_VERDICT,
    DC_DUR,
    DC_UA,
    DC_COUNT
};
typedef struct dash_layout {
    int n;
    enum dash_col col[DC_COUNT];
    int width[DC_COUNT];
} dash_layout;
void dash_list_layout(int total_width, dash_layout *out);
/* The stage strip: page, scripts, websocket, document reached? */
void dash_row_stages(const dash_row *r, bool reached[4]);

void dash_detail_open(dashboard *d, int64_t id);
void dash_detail_draw(dashboard *d, int top, int height);
/* Scroll keys for a view showing `visible` lines; any key clamps the scroll. */
bool dash_lines_key(dash_lines *l, int key, int visible);
void dash_lines_draw(dashboard *d, const dash_lines *l, int top, int height);

void dash_clients_draw(dashboard *d, int top, int height);
bool dash_clients_key(dashboard *d, int key, int height);
void dash_clients_free(dash_clients_view *c);

void dash_help_draw(dashboard *d, int top, int height);

void dash_prompt_open(dashboard *d, enum dash_prompt_kind kind);
/* Feeds one key (wide char when is_char) to the open prompt. */
void dash_prompt_key(dashboard *d, int key, bool is_char);
void dash_prompt_draw(dashboard *d, int y);

/* The filters or sort changed: back to the newest rows, re-query. */
void dash_query_changed(dashboard *d);

/* Drawing helpers (dashboard.c). */
int dash_style_attr(const dashboard *d, enum dash_style st);
enum dash_style dash_outcome_style(const char *outcome);
/* Draws raw (untrusted) text at y,x, sanitised and cut to maxcols (and the screen's right
 * edge). Returns the columns written. */
int dash_put(dashboard *d, int y, int x, const char *raw, int maxcols, int attr);
void dash_fill(dashboard *d, int y, int x, int ncols, int attr);
void dash_message(dashboard *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
