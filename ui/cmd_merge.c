/* cmd_merge: `orphanwatch merge OUT.db A.db B.db ...`, the databases of several servers in
 * one, with the sessions correlated across them (db/merge.c does the work). */
#include "db/db.h"
#include "ui/commands.h"
#include <getopt.h>
#include <stdio.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: orphanwatch merge OUT.db IN.db [IN.db ...]\n"
            "\n"
            "Copies the captures of every IN.db (one per server) into the new database OUT.db,\n"
            "with ids renumbered so they stay unique; each capture keeps its source. Then a\n"
            "page load that is an orphan on one server while a websocket carrying its session\n"
            "reached another gets the verdict ws_elsewhere, with evidence naming that server.\n"
            "OUT.db must not exist yet. The inputs are only read.\n"
            "\n"
            "  -h, --help          this help\n");
}

int cmd_merge(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 0;
        }
        fprintf(stderr, "Try 'orphanwatch merge --help'.\n");
        return 2;
    }
    if (argc - optind < 2) {
        usage(stderr);
        return 2;
    }
    char err[1024];
    owdb_merge_result r = {0};
    const char *const *inputs = (const char *const *)argv + optind + 1;
    if (owdb_merge(argv[optind], inputs, argc - optind - 1, &r, err, sizeof err) < 0) {
        fprintf(stderr, "orphanwatch merge: %s\n", err);
        return 1;
    }
    printf("merged %d database%s into %s: %lld captures, %lld page loads, %lld connections, "
           "%lld websockets; %lld orphan page load%s re-labelled ws_elsewhere\n",
           argc - optind - 1, argc - optind - 1 == 1 ? "" : "s", argv[optind],
           (long long)r.captures, (long long)r.page_loads, (long long)r.connections,
           (long long)r.websockets, (long long)r.ws_elsewhere, r.ws_elsewhere == 1 ? "" : "s");
    return 0;
}
