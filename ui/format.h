/* format: query results written as an aligned table, CSV (RFC 4180), a JSON array of objects
 * or JSON lines; the JSON string and number writers; and the stable jsonl page-load report.
 * Every format takes any statement's rows, so `query` and `sql` print alike. The formats
 * are a stable interface, documented in docs/query.md. */
#ifndef OW_FORMAT_H
#define OW_FORMAT_H
#include "db/query.h"
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define FORMAT_TABLE_SAMPLE_ROWS 1000 /* table column widths come from the first rows */
#define FORMAT_DEFAULT_WIDTH     80   /* when the output is not a terminal */
#define FORMAT_MIN_COLUMN        6    /* a cut column keeps at least this many characters */
#define FORMAT_LAST_COLUMN_KEEP  20   /* the last column is cut first, down to this */

typedef enum out_format { OUT_TABLE, OUT_CSV, OUT_JSON, OUT_JSONL } out_format;

typedef struct format_opts {
    out_format format;
    int width;  /* table: characters per line; 0: the terminal's (FORMAT_DEFAULT_WIDTH
                   when the output is not a terminal); < 0: no limit, nothing cut */
    bool ascii; /* table: mark cut values with '~' instead of '…' */
    long limit; /* table footer: the query's --limit, to say when it was reached */
} format_opts;

/* "table", "csv", "json", "jsonl": 0, or -1 for another name. */
int format_from_name(const char *name, out_format *f);
/* Defaults: table, the width of out's terminal, '…' unless the locale is not UTF-8. */
void format_opts_init(format_opts *o, FILE *out);
/* Width of the terminal out writes to (TIOCGWINSZ), FORMAT_DEFAULT_WIDTH when none. */
int format_terminal_width(FILE *out);

/* Steps st to its end and writes every row in o->format. Returns the number of rows, or -1
 * with a message in err (a statement error, or a write error on out). */
long format_stmt(sqlite3_stmt *st, FILE *out, const format_opts *o, char *err, size_t errlen);

/* A JSON string: quotes, backslash and control characters escaped, invalid UTF-8 replaced
 * by \ufffd. */
void format_json_string(FILE *out, const char *s, size_t len);
/* A JSON number (shortest form that reads back exactly; null for NaN and infinities). */
void format_json_number(FILE *out, double d);
/* Column i of the current row as a JSON value (null, number or string). */
void format_json_value(FILE *out, sqlite3_stmt *st, int i);
/* A byte count for people: "812 B", "45 KB" (from 10 KB), "3.2 MB" (from 1 MB). */
void format_bytes(double b, char *buf, size_t cap);
/* A captures row's source for one line: the interface or file, or, for a read of several
 * files (one path per line), the first and how many more: "/x/a.pcap (+3 more files)". */
void format_capture_source(const char *source, char *buf, size_t cap);
/* One CSV field, quoted when it holds a comma, a quote, CR or LF (RFC 4180). */
void format_csv_field(FILE *out, const char *s, size_t len);
/* Length of the valid UTF-8 sequence at s (1..4), 0 when the bytes there are not one. */
size_t format_utf8_len(const unsigned char *s, size_t n);

/* The stable jsonl report: one JSON object per page load in the filter (NULL: all), in time
 * order (keys in docs/query.md). Returns 0, or -1 with a message on stderr. */
int report_jsonl(sqlite3 *db, FILE *out, const query_filter *f);

#endif
