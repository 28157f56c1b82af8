/* cmd_dashboard: `orphanwatch dashboard [--ascii] [--live] [--title T] CAPTURE.db` — the
 * dashboard (ui/dashboard.h) on a database, live while another process captures into it or
 * after the fact. A short loop: poll stdin for 250 ms, handle keys, refresh. */
#include "ui/commands.h"
#include "ui/dashboard.h"
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: orphanwatch dashboard [--ascii] [--live] [--title TEXT] CAPTURE.db\n"
               "  Browse a capture database: page loads, orphans, verdicts, evidence.\n"
               "  --ascii       no UTF-8 block characters or symbols (also when the locale is "
               "not UTF-8)\n"
               "  --live        re-read the database continuously (automatic while the capture "
               "that writes it is running)\n"
               "  --title TEXT  what the header names as the source (default: the capture's "
               "interface or file)\n"
               "Keys: ? in the dashboard.\n");
}

int cmd_dashboard(int argc, char **argv)
{
    static const struct option opts[] = {
        {"ascii", no_argument, NULL, 'a'},
        {"live", no_argument, NULL, 'l'},
        {"title", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    dashboard_source src = {0};
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "alt:h", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            src.ascii = true;
            break;
        case 'l':
            src.live = true;
            break;
        case 't':
            src.title = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    char err[256];
    dashboard *d = dashboard_open(argv[optind], &src, err, sizeof err);
    if (!d) {
        fprintf(stderr, "orphanwatch dashboard: %s\n", err);
        return 1;
    }
    int rc = 0;
    dashboard_refresh(d, true);
    for (;;) {
        struct pollfd p = {.fd = dashboard_input_fd(d), .events = POLLIN};
        int r = poll(&p, 1, 250);
        if (r < 0 && errno != EINTR) {
            rc = 1;
            break;
        }
        if (r > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL))) {
            rc = 1; /* the terminal went away */
            break;
        }
        if (r != 0 && dashboard_handle_input(d)) /* keys, or EINTR: a KEY_RESIZE to read */
            break;
        dashboard_refresh(d, false);
    }
    dashboard_close(d);
    return rc;
}
