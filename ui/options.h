/* options: the command-line options `read` and `live` share (ports, grace, limits, secrets,
 * database path, kept packets, trailing BPF expression), parsed in one place. */
#ifndef OW_OPTIONS_H
#define OW_OPTIONS_H
#include "ui/pipeline.h"
#include <getopt.h>
#include <stdio.h>

enum { OPT_RUN_OPTIONS_BASE = 1000 };

typedef struct run_options {
    pipeline_opts p;
    const char *format; /* read: report format (text, jsonl) */
    bool no_ui;         /* live */
    bool ascii;         /* live dashboard */
    char bpf[2048];     /* trailing expression joined */
} run_options;

void run_options_init(run_options *r);
/* Initialises r and parses argv's options (optind is left at the first operand). Returns -1
 * to go on, or the exit code: 0 after --help (usage printed to stdout), 2 on a usage error
 * (usage printed to stderr). */
int run_options_parse(run_options *r, int argc, char **argv, void (*usage)(FILE *));
/* Handles one option shared by read/live; returns 1 if it was one, 0 if not, -1 on a bad
 * value (message printed). */
int run_options_handle(run_options *r, int opt, const char *arg);
/* Joins argv[optind..] into the BPF expression. */
void run_options_trailing_bpf(run_options *r, int argc, char **argv, int first);
extern const struct option run_long_options[];
#define RUN_SHORT_OPTIONS "w:p:i:r:u:qB:s:"
const char *run_options_help(void);
#endif
