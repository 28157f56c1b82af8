/* report: the human report of a capture database — summary, one paragraph per failed page
 * load with its timeline, evidence and advice (orphans first), patterns per client and per
 * resource, and the healthy page loads in one line each. */
#ifndef OW_REPORT_H
#define OW_REPORT_H
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>

typedef struct report_opts {
    bool utc;        /* times in UTC (default: local zone with offset) */
    int max_healthy; /* healthy page loads listed one per line (rest counted) */
    int max_failed;  /* failed page loads shown in full (rest counted); 0: all */
} report_opts;

int report_text(sqlite3 *db, FILE *out, const report_opts *o);
/* Opens path read-only and prints the report in format "text" or "jsonl". 0, or 1 with a
 * message on stderr. */
int report_file(const char *path, const char *format, bool all, FILE *out);
#endif
