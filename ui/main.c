/* main: the orphanwatch command line. Subcommands dispatch to ui/cmd_*.c; tcpdump habits
 * work too: `orphanwatch -i IF ...` is `live`, `orphanwatch -r FILE ...` is `read`. */
#include "ui/commands.h"
#include <locale.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *what;
} commands[] = {
    {"live", cmd_live, "capture on an interface, dashboard or one line per verdict"},
    {"read", cmd_read, "read a pcap/pcapng file into a database, or print its report"},
    {"report", cmd_report, "the report of a capture database (text or jsonl)"},
    {"dashboard", cmd_dashboard, "the live dashboard on a capture database"},
    {"query", cmd_query, "orphans, sessions, pageloads, clients, verdicts, stats, timeline"},
    {"sql", cmd_sql, "read-only SQL on a capture database"},
    {"merge", cmd_merge, "merge databases of several servers (finds ws_elsewhere)"},
    {"export", cmd_export, "the packets of one page load as a pcap"},
    {"interfaces", cmd_interfaces, "list capture interfaces"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: orphanwatch COMMAND [options]\n"
                 "       orphanwatch -i IFACE [options] [EXPRESSION]   (= live)\n"
                 "       orphanwatch -r FILE [options] [EXPRESSION]    (= read)\n\n"
                 "Finds Bokeh/Panel page loads whose websocket never arrived (orphaned\n"
                 "sessions) and says why, from the packets.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].what);
    fprintf(out, "\n`orphanwatch COMMAND --help` for each; `man orphanwatch` for all.\n");
}

static int has_option(int argc, char **argv, const char *shortopt, const char *longopt)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        if (!strncmp(argv[i], shortopt, 2) || !strncmp(argv[i], longopt, strlen(longopt)))
            return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    setlocale(LC_CTYPE, ""); /* UTF-8 for the dashboard; numbers stay in the C locale */
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("orphanwatch %s\n", OW_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    if (argv[1][0] == '-') { /* tcpdump habits: the options name the mode */
        if (has_option(argc, argv, "-i", "--interface"))
            return cmd_live(argc, argv);
        if (has_option(argc, argv, "-r", "--read"))
            return cmd_read(argc, argv);
    }
    fprintf(stderr, "orphanwatch: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
