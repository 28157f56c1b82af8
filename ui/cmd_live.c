/* cmd_live: `sudo orphanwatch live -i IFACE [-w DB] [options] [EXPRESSION]`. Opens the
 * interface (the only step that needs root), drops privileges for good, then runs a short
 * loop: packets in, verdicts out, the capture row refreshed every second, and either the
 * dashboard or one line per verdict on stdout. SIGINT/SIGTERM/SIGHUP end it cleanly; a
 * database this run created is then packed, which another signal skips. */
#include "db/db.h"
#include "ui/blind_spots.h"
#include "ui/commands.h"
#include "ui/dashboard.h"
#include "ui/options.h"
#include "ui/stderr_log.h"
#include "ui/stop_signals.h"
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LIVE_POLL_MS 100
#define LIVE_BATCH   4096
#define CHECKPOINT_S 1.0

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sudo orphanwatch live -i IFACE [-w DB] [options] [EXPRESSION]\n"
            "Captures on IFACE (tailscale0, any, an Ethernet device), shows orphaned Bokeh\n"
            "sessions as they happen, and writes everything to DB (default\n"
            "orphanwatch-IFACE-DATE.db, owned by the invoking user, mode 0600). Root is used\n"
            "only to open the interface; then it drops to --user, the sudo user, or nobody.\n\n"
            "  -i, --interface IFACE     interface to capture on (required)\n"
            "  -u, --user USER           user to run as after opening the capture\n"
            "  -B, --buffer-size MB      kernel capture buffer (32)\n"
            "  -s, --snaplen BYTES       snap length (262144: whole packets)\n"
            "      --no-ui               no dashboard: one line per decided page load\n"
            "                            (automatic when stdout is not a terminal)\n"
            "      --ascii               dashboard without UTF-8 drawing characters\n"
            "      --no-promiscuous-mode\n");
    fputs(run_options_help(), out);
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

#define DEFAULT_DB_EXT ".db"

/* "orphanwatch-IFACE-", the start of every default database name of the interface. */
static void default_db_prefix(const char *iface, char *buf, size_t cap)
{
    snprintf(buf, cap, "orphanwatch-%s-", iface);
    for (char *p = buf; *p; p++)
        if (*p == '/')
            *p = '_';
}

static void default_db_path(const char *iface, char *buf, size_t cap)
{
    time_t t = time(NULL);
    struct tm tm;
    char prefix[256], stamp[32];
    localtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    default_db_prefix(iface, prefix, sizeof prefix);
    snprintf(buf, cap, "%s%s" DEFAULT_DB_EXT, prefix, stamp);
}

static bool ends_with(const char *s, const char *end)
{
    size_t n = strlen(s), m = strlen(end);
    return n >= m && strcmp(s + n - m, end) == 0;
}

/* A killed packing leaves DB-compacting beside DB, removed when DB is next written; but no
 * run writes a timestamped default name again, so the copies beside the interface's earlier
 * default databases here go now (when provably ours and their DB is not in use). */
static void remove_stale_default_copies(const char *iface)
{
    char prefix[256], path[512], msg[4400];
    default_db_prefix(iface, prefix, sizeof prefix);
    DIR *dir = opendir(".");
    if (!dir)
        return;
    const char *suffix = DEFAULT_DB_EXT OWDB_COMPACT_SUFFIX;
    for (struct dirent *e; (e = readdir(dir)) != NULL;) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 || !ends_with(e->d_name, suffix))
            continue;
        int n = snprintf(path, sizeof path, "%s", e->d_name);
        if (n < 0 || (size_t)n >= sizeof path)
            continue;
        path[(size_t)n - strlen(OWDB_COMPACT_SUFFIX)] = '\0';
        if (owdb_remove_stale_compact(path, msg, sizeof msg) != 0)
            fprintf(stderr, "orphanwatch: %s\n", msg);
    }
    closedir(dir);
}

static int live_loop(pipeline *p, dashboard *d, stderr_log *log, char *err, size_t errlen)
{
    double last_checkpoint = 0;
    volatile sig_atomic_t *stop = stop_signals_flag();
    while (!*stop) {
        struct pollfd fds[2] = {{.fd = pipeline_fd(p), .events = POLLIN},
                                {.fd = d ? dashboard_input_fd(d) : -1, .events = POLLIN}};
        poll(fds, 2, LIVE_POLL_MS);
        if (pipeline_poll(p, LIVE_BATCH, err, errlen) < 0)
            return -1;
        double now = wall_now();
        if (now - last_checkpoint >= CHECKPOINT_S) {
            pipeline_checkpoint(p, "running");
            pipeline_say_db_failures(p, now);
            last_checkpoint = now;
        }
        if (stderr_log_poll(log) > 0)
            dashboard_stderr(d, stderr_log_last(log), stderr_log_count(log));
        if (d && (fds[1].revents & POLLIN) && dashboard_handle_input(d))
            break;
        if (d)
            dashboard_refresh(d, false);
    }
    return 0;
}

int cmd_live(int argc, char **argv)
{
    run_options r;
    int parsed = run_options_parse(&r, argc, argv, usage);
    if (parsed >= 0)
        return parsed; /* --help (0) or a usage error (2) */
    if (!r.p.cap.iface || r.p.cap.file) {
        usage(stderr);
        return 2;
    }
    run_options_trailing_bpf(&r, argc, argv, optind);
    char dbpath[512];
    bool default_path = !r.p.db_path;
    if (default_path) {
        default_db_path(r.p.cap.iface, dbpath, sizeof dbpath);
        r.p.db_path = dbpath;
    }
    r.p.db.compact = true; /* the file this run creates is packed when it ends */
    r.p.db.compact_stop = stop_signals_packing;
    bool ui = !r.no_ui && isatty(STDOUT_FILENO) && isatty(STDIN_FILENO);
    if (!ui)
        r.p.verdict_out = stdout;
    stop_signals_install();
    signal(SIGPIPE, SIG_IGN); /* verdict lines to a closed pipe: an error, not death */
    char err[1024];
    pipeline *p = pipeline_open(&r.p, err, sizeof err);
    if (!p) {
        fprintf(stderr, "orphanwatch: %s\n", err);
        return 1;
    }
    if (default_path)
        remove_stale_default_copies(r.p.cap.iface); /* as the user privileges were dropped to */
    fprintf(stderr, "orphanwatch: capturing on %s into %s%s\n", r.p.cap.iface, r.p.db_path,
            ui ? "" : " (Ctrl-C to stop)");
    dashboard *d = NULL;
    if (ui) {
        dashboard_source src = {.title = r.p.cap.iface, .live = true, .ascii = r.ascii};
        pipeline_checkpoint(p, "running");
        d = dashboard_open(r.p.db_path, &src, err, sizeof err);
        if (!d)
            fprintf(stderr, "orphanwatch: dashboard: %s (continuing without it)\n", err);
    }
    stderr_log *log = d ? stderr_log_start() : NULL; /* not over the dashboard's screen */
    int rc = live_loop(p, d, log, err, sizeof err);
    const char *how = rc < 0 ? "error" : *stop_signals_flag() ? "signal" : "quit";
    stop_signals_ending();
    if (d)
        dashboard_close(d); /* the terminal is back before anything is printed */
    stderr_log_stop(log);   /* what was written to stderr meanwhile, now on it */
    if (rc < 0)
        fprintf(stderr, "orphanwatch: %s\n", err);
    if (pipeline_close(p, how) != 0)
        rc = -1;
    fprintf(stderr, "orphanwatch: stopped (%s); results in %s\n", how, r.p.db_path);
    blind_spots_warn_file(r.p.db_path);
    return rc < 0 ? 1 : 0;
}
