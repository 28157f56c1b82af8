/* cmd_report: `orphanwatch report DB [--format text|jsonl]`. */
#include "ui/commands.h"
#include "ui/report.h"
#include <getopt.h>
#include <stdio.h>
#include <string.h>

int cmd_report(int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, 0, 'f'},
                                         {"all", no_argument, 0, 'a'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *format = "text";
    bool all = false;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "f:ah", opts, NULL)) != -1) {
        if (opt == 'a') {
            all = true;
            continue;
        }
        if (opt == 'f' && (!strcmp(optarg, "text") || !strcmp(optarg, "jsonl"))) {
            format = optarg;
            continue;
        }
        FILE *out = opt == 'h' ? stdout : stderr;
        fprintf(out, "usage: orphanwatch report DB [--format text|jsonl] [--all]\n"
                     "Prints what happened to every page load in a capture database: a summary,\n"
                     "then each page load that did not end connected (orphans first) with its\n"
                     "timeline, evidence and advice. jsonl: one JSON object per page load in\n"
                     "time order (a stable interface, see docs/query.md). The text report shows\n"
                     "the first 200 failed and 50 healthy page loads; --all shows every one.\n");
        return opt == 'h' ? 0 : 2;
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: orphanwatch report DB [--format text|jsonl]\n");
        return 2;
    }
    return report_file(argv[optind], format, all, stdout);
}
