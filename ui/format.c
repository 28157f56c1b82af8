/* format: rows of any statement as an aligned table, CSV, JSON or JSON lines (see format.h).
 * The table takes its column widths from the first FORMAT_TABLE_SAMPLE_ROWS rows and fits
 * them to the line width by cutting the widest columns; later rows are cut to the same
 * widths, so memory stays bounded whatever the row count. */
#include "ui/format.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int format_from_name(const char *name, out_format *f)
{
    static const char *const names[] = {"table", "csv", "json", "jsonl"};
    for (int i = 0; name && i < 4; i++)
        if (strcmp(name, names[i]) == 0) {
            *f = (out_format)i;
            return 0;
        }
    return -1;
}

int format_terminal_width(FILE *out)
{
    struct winsize ws;
    int fd = fileno(out);
    if (fd >= 0 && isatty(fd) && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return FORMAT_DEFAULT_WIDTH;
}

static bool locale_is_utf8(void)
{
    const char *vars[] = {"LC_ALL", "LC_CTYPE", "LANG"};
    for (int i = 0; i < 3; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            return strstr(v, "UTF-8") || strstr(v, "utf8") || strstr(v, "UTF8") ||
                   strstr(v, "utf-8");
    }
    return false;
}

void format_opts_init(format_opts *o, FILE *out)
{
    memset(o, 0, sizeof *o);
    o->format = OUT_TABLE;
    o->width = format_terminal_width(out);
    o->ascii = !locale_is_utf8();
}

/* ---- scalar writers ---- */

size_t format_utf8_len(const unsigned char *s, size_t n)
{
    if (n == 0)
        return 0;
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t len = c >= 0xc2 && c <= 0xdf   ? 2
                 : c >= 0xe0 && c <= 0xef ? 3
                 : c >= 0xf0 && c <= 0xf4 ? 4
                                          : 0;
    if (len == 0 || n < len)
        return 0;
    unsigned lo = 0x80, hi = 0xbf; /* range of the second byte (RFC 3629 table) */
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

static void json_escape_ascii(FILE *out, unsigned char c)
{
    static const char short_forms[] = {
        ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't'};
    if (c == '"' || c == '\\')
        fprintf(out, "\\%c", c);
    else if (c < 0x20 && c < sizeof short_forms && short_forms[c])
        fprintf(out, "\\%c", short_forms[c]);
    else if (c < 0x20)
        fprintf(out, "\\u%04x", c);
    else
        fputc(c, out);
}

void format_json_string(FILE *out, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', out);
    for (size_t i = 0; i < len;) {
        if (p[i] < 0x80) {
            json_escape_ascii(out, p[i++]);
            continue;
        }
        size_t n = format_utf8_len(p + i, len - i);
        if (n == 0) {
            fputs("\\ufffd", out);
            i++;
        } else {
            fwrite(p + i, 1, n, out);
            i += n;
        }
    }
    fputc('"', out);
}

/* Shortest %g form that reads back as the same double. */
static void shortest_double(double d, char *buf, size_t len)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            return;
    }
}

void format_json_number(FILE *out, double d)
{
    char buf[40];
    if (!isfinite(d)) {
        fputs("null", out);
        return;
    }
    shortest_double(d, buf, sizeof buf);
    fputs(buf, out);
}

void format_bytes(double b, char *buf, size_t cap)
{
    if (b >= 1e6)
        snprintf(buf, cap, "%.1f MB", b / 1e6);
    else if (b >= 1e4)
        snprintf(buf, cap, "%.0f KB", b / 1e3);
    else
        snprintf(buf, cap, "%.0f B", b);
}

void format_capture_source(const char *source, char *buf, size_t cap)
{
    size_t first = strcspn(source, "\n");
    int more = 0;
    for (const char *p = source + first; *p; p++)
        more += *p == '\n';
    if (!more)
        snprintf(buf, cap, "%s", source);
    else
        snprintf(buf, cap, "%.*s (+%d more file%s)", (int)first, source, more, more > 1 ? "s" : "");
}

void format_csv_field(FILE *out, const char *s, size_t len)
{
    if (!memchr(s, ',', len) && !memchr(s, '"', len) && !memchr(s, '\n', len) &&
        !memchr(s, '\r', len)) {
        fwrite(s, 1, len, out);
        return;
    }
    fputc('"', out);
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"')
            fputc('"', out);
        fputc(s[i], out);
    }
    fputc('"', out);
}

/* ---- cell text ---- */

/* A column value as text (NULL for SQL NULL): numbers in their shortest exact form, blobs
 * in hex. buf holds numbers; text points into the statement. */
static const char *cell_text(sqlite3_stmt *st, int i, char *buf, size_t buflen, size_t *len)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_NULL:
        *len = 0;
        return NULL;
    case SQLITE_INTEGER:
        *len = (size_t)snprintf(buf, buflen, "%lld", (long long)sqlite3_column_int64(st, i));
        return buf;
    case SQLITE_FLOAT:
        shortest_double(sqlite3_column_double(st, i), buf, buflen);
        *len = strlen(buf);
        return buf;
    default: {
        const char *t = (const char *)sqlite3_column_text(st, i);
        *len = (size_t)sqlite3_column_bytes(st, i);
        return t ? t : "";
    }
    }
}

/* Blob columns become hex text; done by SQL so sqlite3_column_text is not raw bytes. */
static const char *blob_hex(sqlite3_stmt *st, int i, size_t *len, char **owned)
{
    const unsigned char *b = sqlite3_column_blob(st, i);
    size_t n = (size_t)sqlite3_column_bytes(st, i);
    static const char hex[] = "0123456789abcdef";
    *owned = malloc(2 * n + 1);
    if (!*owned) {
        *len = 0;
        return "";
    }
    for (size_t k = 0; k < n; k++) {
        (*owned)[2 * k] = hex[b[k] >> 4];
        (*owned)[2 * k + 1] = hex[b[k] & 15];
    }
    (*owned)[2 * n] = 0;
    *len = 2 * n;
    return *owned;
}

/* The value of column i as text (NULL for SQL NULL); *owned must be freed. */
static const char *value_text(sqlite3_stmt *st, int i, char *buf, size_t buflen, size_t *len,
                              char **owned)
{
    *owned = NULL;
    if (sqlite3_column_type(st, i) == SQLITE_BLOB)
        return blob_hex(st, i, len, owned);
    return cell_text(st, i, buf, buflen, len);
}

/* ---- csv, json, jsonl ---- */

static void csv_header(FILE *out, sqlite3_stmt *st)
{
    int n = sqlite3_column_count(st);
    for (int i = 0; i < n; i++) {
        const char *name = sqlite3_column_name(st, i);
        if (i)
            fputc(',', out);
        format_csv_field(out, name, strlen(name));
    }
    fputs("\r\n", out);
}

static void csv_row(FILE *out, sqlite3_stmt *st)
{
    int n = sqlite3_column_count(st);
    char buf[48], *owned;
    for (int i = 0; i < n; i++) {
        size_t len;
        const char *t = value_text(st, i, buf, sizeof buf, &len, &owned);
        if (i)
            fputc(',', out);
        if (t)
            format_csv_field(out, t, len);
        free(owned);
    }
    fputs("\r\n", out);
}

void format_json_value(FILE *out, sqlite3_stmt *st, int i)
{
    char buf[48], *owned;
    size_t len;
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_NULL:
        fputs("null", out);
        break;
    case SQLITE_INTEGER:
        fprintf(out, "%lld", (long long)sqlite3_column_int64(st, i));
        break;
    case SQLITE_FLOAT:
        format_json_number(out, sqlite3_column_double(st, i));
        break;
    default: {
        const char *t = value_text(st, i, buf, sizeof buf, &len, &owned);
        format_json_string(out, t ? t : "", len);
        free(owned);
    }
    }
}

static void json_object(FILE *out, sqlite3_stmt *st)
{
    int n = sqlite3_column_count(st);
    fputc('{', out);
    for (int i = 0; i < n; i++) {
        const char *name = sqlite3_column_name(st, i);
        fputs(i ? ", " : "", out);
        format_json_string(out, name, strlen(name));
        fputs(": ", out);
        format_json_value(out, st, i);
    }
    fputc('}', out);
}

/* ---- table ---- */

typedef struct table {
    int ncols;
    int *width;    /* display width chosen per column */
    bool *numeric; /* right-aligned: every sampled value is a number */
    char **cells;  /* sampled rows, ncols per row, NULL for SQL NULL */
    long nrows;
    const char *cut; /* mark of a cut value */
} table;

/* Display width of UTF-8 text (one per code point; bytes that are not UTF-8 count one). */
static int display_width(const char *s)
{
    int w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        w += (*p & 0xc0) != 0x80;
    return w;
}

/* Copy of a value fit for one table cell: control characters and invalid UTF-8 become '?'
 * or a space. */
static char *clean_cell(const char *s, size_t len)
{
    char *out = malloc(len + 1), *o = out;
    const unsigned char *p = (const unsigned char *)s;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len;) {
        size_t n = format_utf8_len(p + i, len - i);
        if (n == 0 || (n == 1 && (p[i] < 0x20 || p[i] == 0x7f))) {
            *o++ = p[i] == '\n' || p[i] == '\t' || p[i] == '\r' ? ' ' : '?';
            i++;
            continue;
        }
        memcpy(o, p + i, n);
        o += n;
        i += n;
    }
    *o = 0;
    return out;
}

static char *row_cell(sqlite3_stmt *st, int i)
{
    char buf[48], *owned;
    size_t len;
    const char *t = value_text(st, i, buf, sizeof buf, &len, &owned);
    char *c = t ? clean_cell(t, len) : NULL;
    free(owned);
    return c;
}

/* Cuts until the line fits: first the last column (free text in every query: summary,
 * detail, description) down to FORMAT_LAST_COLUMN_KEEP, then the widest columns one
 * character at a time. */
static void fit_widths(table *t, int avail)
{
    if (t->ncols == 0)
        return;
    int total = 0, *last = &t->width[t->ncols - 1];
    for (int i = 0; i < t->ncols; i++)
        total += t->width[i] + (i ? 2 : 0);
    if (total > avail && *last > FORMAT_LAST_COLUMN_KEEP) {
        int cut = total - avail < *last - FORMAT_LAST_COLUMN_KEEP ? total - avail
                                                                  : *last - FORMAT_LAST_COLUMN_KEEP;
        *last -= cut;
        total -= cut;
    }
    while (total > avail) {
        int widest = -1;
        for (int i = 0; i < t->ncols; i++)
            if (t->width[i] > FORMAT_MIN_COLUMN && (widest < 0 || t->width[i] > t->width[widest]))
                widest = i;
        if (widest < 0)
            return; /* as narrow as allowed: the lines wrap */
        t->width[widest]--;
        total--;
    }
}

static void print_cell(const table *t, FILE *out, int col, const char *s, bool last)
{
    int w = t->width[col], dw = s ? display_width(s) : 0;
    const char *text = s ? s : "";
    int pad = dw <= w ? w - dw : 0;
    if (dw > w) { /* cut: w - 1 characters and the mark */
        const unsigned char *p = (const unsigned char *)text;
        int kept = 0;
        size_t bytes = 0;
        while (p[bytes] && kept < w - 1) {
            bytes++;
            while ((p[bytes] & 0xc0) == 0x80)
                bytes++;
            kept++;
        }
        fwrite(text, 1, bytes, out);
        fputs(t->cut, out);
    } else if (t->numeric[col]) {
        fprintf(out, "%*s%s", pad, "", text);
        pad = 0;
    } else {
        fputs(text, out);
    }
    if (!last)
        fprintf(out, "%*s", pad + 2, "");
}

static void print_row(const table *t, FILE *out, char *const *cells)
{
    for (int i = 0; i < t->ncols; i++)
        print_cell(t, out, i, cells[i], i == t->ncols - 1);
    fputc('\n', out);
}

static void print_header(const table *t, FILE *out, sqlite3_stmt *st)
{
    const char *names[t->ncols > 0 ? t->ncols : 1];
    for (int i = 0; i < t->ncols; i++)
        names[i] = sqlite3_column_name(st, i);
    print_row(t, out, (char *const *)names);
    for (int i = 0; i < t->ncols; i++) {
        for (int k = 0; k < t->width[i]; k++)
            fputc('-', out);
        fputs(i == t->ncols - 1 ? "\n" : "  ", out);
    }
}

static void free_cells(char **cells, long n)
{
    for (long i = 0; i < n; i++)
        free(cells[i]);
}

/* Reads up to FORMAT_TABLE_SAMPLE_ROWS rows into t; returns the last step code. */
static int sample_rows(table *t, sqlite3_stmt *st)
{
    int rc = SQLITE_DONE;
    while (t->nrows < FORMAT_TABLE_SAMPLE_ROWS && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        char **row = t->cells + t->nrows * t->ncols;
        for (int i = 0; i < t->ncols; i++) {
            row[i] = row_cell(st, i);
            int w = row[i] ? display_width(row[i]) : 0;
            if (w > t->width[i])
                t->width[i] = w;
            int type = sqlite3_column_type(st, i);
            if (type == SQLITE_TEXT || type == SQLITE_BLOB)
                t->numeric[i] = false;
        }
        t->nrows++;
    }
    return t->nrows == FORMAT_TABLE_SAMPLE_ROWS ? SQLITE_ROW : rc;
}

static void table_footer(FILE *out, long rows, const format_opts *o)
{
    if (o->limit > 0 && rows == o->limit)
        fprintf(out, "(%ld rows: the limit; --limit 0 shows all)\n", rows);
    else
        fprintf(out, "(%ld row%s)\n", rows, rows == 1 ? "" : "s");
}

static int table_alloc(table *t, sqlite3_stmt *st, const format_opts *o)
{
    memset(t, 0, sizeof *t);
    t->ncols = sqlite3_column_count(st);
    t->cut = o->ascii ? "~" : "\xe2\x80\xa6";
    t->width = calloc((size_t)t->ncols + 1, sizeof *t->width);
    t->numeric = calloc((size_t)t->ncols + 1, sizeof *t->numeric);
    t->cells = calloc((size_t)t->ncols * FORMAT_TABLE_SAMPLE_ROWS + 1, sizeof *t->cells);
    if (!t->width || !t->numeric || !t->cells)
        return -1;
    for (int i = 0; i < t->ncols; i++) {
        t->width[i] = display_width(sqlite3_column_name(st, i));
        t->numeric[i] = true;
    }
    return 0;
}

static void table_free(table *t)
{
    if (t->cells)
        free_cells(t->cells, t->nrows * t->ncols);
    free(t->cells);
    free(t->width);
    free(t->numeric);
}

/* Prints the rows after the sample, one at a time. Returns the last step code. */
static int stream_rows(table *t, sqlite3_stmt *st, FILE *out, long *rows)
{
    int rc;
    char **row = t->cells; /* the sample's cells are already freed: reuse one row */
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < t->ncols; i++)
            row[i] = row_cell(st, i);
        print_row(t, out, row);
        free_cells(row, t->ncols);
        (*rows)++;
    }
    return rc;
}

static int write_table(sqlite3_stmt *st, FILE *out, const format_opts *o, long *rows)
{
    table t;
    if (table_alloc(&t, st, o) < 0) {
        table_free(&t);
        return SQLITE_NOMEM;
    }
    int rc = sample_rows(&t, st);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        if (o->width >= 0)
            fit_widths(&t, o->width > 0 ? o->width : format_terminal_width(out));
        print_header(&t, out, st);
        for (long r = 0; r < t.nrows; r++)
            print_row(&t, out, t.cells + r * t.ncols);
    }
    *rows = t.nrows;
    free_cells(t.cells, t.nrows * t.ncols);
    t.nrows = 0;
    if (rc == SQLITE_ROW)
        rc = stream_rows(&t, st, out, rows);
    if (rc == SQLITE_DONE)
        table_footer(out, *rows, o);
    table_free(&t);
    return rc;
}

/* ---- driver ---- */

static int write_records(sqlite3_stmt *st, FILE *out, out_format f, long *rows)
{
    int rc;
    if (f == OUT_CSV)
        csv_header(out, st);
    if (f == OUT_JSON)
        fputc('[', out);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (f == OUT_CSV) {
            csv_row(out, st);
        } else {
            if (f == OUT_JSON)
                fputs(*rows ? ",\n" : "\n", out);
            json_object(out, st);
            if (f == OUT_JSONL)
                fputc('\n', out);
        }
        (*rows)++;
    }
    if (f == OUT_JSON)
        fputs(*rows ? "\n]\n" : "]\n", out);
    return rc;
}

long format_stmt(sqlite3_stmt *st, FILE *out, const format_opts *o, char *err, size_t errlen)
{
    long rows = 0;
    int rc = o->format == OUT_TABLE ? write_table(st, out, o, &rows)
                                    : write_records(st, out, o->format, &rows);
    if (rc != SQLITE_DONE) {
        sqlite3 *db = sqlite3_db_handle(st);
        snprintf(err, errlen, "%s", rc == SQLITE_NOMEM ? "out of memory" : sqlite3_errmsg(db));
        return -1;
    }
    if (fflush(out) != 0 || ferror(out)) {
        snprintf(err, errlen, "write error on the output");
        return -1;
    }
    return rows;
}
