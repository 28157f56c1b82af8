/* cmd_read: `orphanwatch read FILE [FILE...] [-w DB] [options] [EXPRESSION]` — a pcap or pcapng
 * file through the whole pipeline into a database; without -w the report is printed directly (the
 * database then lives in a private temporary directory and is removed). */
#include "ui/blind_spots.h"
#include "ui/commands.h"
#include "ui/options.h"
#include "ui/report.h"
#include "ui/stop_signals.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: orphanwatch read FILE [FILE...] [-w DB] [options] [EXPRESSION]\n"
                 "Reads a pcap or pcapng file (gzip-compressed too; - for stdin) and finds what\n"
                 "happened to every Bokeh page load. With -w the results go to a database (see\n"
                 "`orphanwatch report`, `query`, `dashboard`); without it the report is printed.\n"
                 "Several files (rotated captures: tcpdump -G/-C) are read as one capture, in the\n"
                 "order of their first packets.\n\n"
                 "      --format text|jsonl   report format when printing (text)\n"
                 "  -q, --quiet               no summary line after writing a database\n");
    fputs(run_options_help(), out);
}

/* The words after FILE that name regular files are more files of the same capture (a shell
 * glob of rotated files); the words from the first that does not are the BPF expression. */
static void take_more_files(run_options *r, int argc, char **argv)
{
    int first = optind;
    struct stat st;
    while (optind < argc && stat(argv[optind], &st) == 0 && S_ISREG(st.st_mode))
        optind++;
    r->p.cap.more_files = (const char *const *)&argv[first];
    r->p.cap.n_more_files = optind - first;
}

static int run_to_database(run_options *r)
{
    char err[1024];
    pipeline *p = pipeline_open(&r->p, err, sizeof err);
    if (!p) {
        fprintf(stderr, "orphanwatch: %s\n", err);
        return 1;
    }
    stop_signals_install();
    volatile sig_atomic_t *stop = stop_signals_flag();
    int rc = pipeline_run(p, stop, err, sizeof err);
    stop_signals_ending();
    if (rc < 0)
        fprintf(stderr, "orphanwatch: %s\n", err);
    const char *how = rc < 0 ? "error" : *stop ? "signal" : "eof";
    if (pipeline_close(p, how) != 0)
        rc = -1;
    return rc < 0 ? 1 : 0;
}

int cmd_read(int argc, char **argv)
{
    run_options r;
    int parsed = run_options_parse(&r, argc, argv, usage);
    if (parsed >= 0)
        return parsed; /* --help (0) or a usage error (2) */
    if (!r.p.cap.file && optind < argc)
        r.p.cap.file = argv[optind++];
    take_more_files(&r, argc, argv);
    if (!r.p.cap.file || r.p.cap.iface) {
        usage(stderr);
        return 2;
    }
    run_options_trailing_bpf(&r, argc, argv, optind);
    if (r.p.db_path) {
        r.p.db.compact = true;          /* the database is kept: packed at the end */
        r.p.db.sync_packed_only = true; /* the capture file can be read again after a power cut */
        r.p.db.compact_stop = stop_signals_packing;
        int rc = run_to_database(&r);
        if (rc == 0 && !r.p.quiet)
            fprintf(stderr, "orphanwatch: wrote %s (see `orphanwatch report %s`)\n", r.p.db_path,
                    r.p.db_path);
        if (rc == 0)
            blind_spots_warn_file(r.p.db_path); /* -q too: they change what the file means */
        return rc;
    }
    if (r.p.cap.keep_dir)
        fprintf(stderr, "orphanwatch: note: without -w no database lists the kept packets "
                        "(export needs one)\n");
    char dir[] = "/tmp/orphanwatch-XXXXXX", path[64];
    if (!mkdtemp(dir)) {
        perror("orphanwatch: temporary directory");
        return 1;
    }
    snprintf(path, sizeof path, "%s/report.db", dir);
    r.p.db_path = path;
    int rc = run_to_database(&r);
    if (rc == 0 && strcmp(r.format, "text") != 0)
        blind_spots_warn_file(path); /* the text report has them; jsonl's stdout stays clean */
    if (rc == 0)
        rc = report_file(path, r.format, true, stdout);
    unlink(path);
    rmdir(dir);
    return rc;
}
