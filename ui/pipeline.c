/* pipeline: one capture run from packets to rows (see pipeline.h). Also the verdict-line
 * printer used by `live --no-ui`: a record sink in front of the writer that prints a page
 * load when its outcome or verdict is decided or changes. */
#include "ui/pipeline.h"
#include "capture/privileges.h"
#include <libgen.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PRINTED_SLOTS 4096 /* recent page loads whose verdict line was printed */

struct pipeline {
    pipeline_opts o;
    capture *cap;
    correlator *cor;
    ow_db *db;
    const ow_record_sink *db_sink;
    ow_record_sink tee;
    struct {
        int64_t id;
        int outcome, verdict;
    } printed[PRINTED_SLOTS];
    char *source; /* the captures row's source (describe_source), owned */
    char ports[128];
    bool live;
    capture_stats final_stats; /* kept once the capture is closed */
    uint64_t failures_said;    /* rows_failed when pipeline_say_db_failures last said it */
    double failures_said_at;
};

/* ---------------------------------------------------------------- verdict lines */

static void print_verdict_line(FILE *out, const ow_page_rec *r)
{
    char when[32], client[OW_ADDR_STRLEN];
    time_t t = (time_t)r->started;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    ow_addr_str(r->client, client, sizeof client);
    const char *v = ow_verdict_name(r->verdict);
    fprintf(out, "%s %-10s %-18s %s%s%s:%u %s session=%.12s%s%s\n", when,
            ow_outcome_name(r->outcome), v ? v : "-", r->client->family == 6 ? "[" : "", client,
            r->client->family == 6 ? "]" : "", r->client_port, r->path, r->session_id,
            r->summary && r->summary[0] ? " — " : "", r->summary ? r->summary : "");
    fflush(out);
}

static void tee_page(void *ctx, const ow_page_rec *r)
{
    pipeline *p = ctx;
    if (p->db_sink->page)
        p->db_sink->page(p->db_sink->ctx, r);
    if (!p->o.verdict_out || r->outcome == OW_OUTCOME_PENDING)
        return;
    size_t slot = (size_t)r->id % PRINTED_SLOTS;
    if (p->printed[slot].id == r->id && p->printed[slot].outcome == (int)r->outcome &&
        p->printed[slot].verdict == (int)r->verdict)
        return;
    p->printed[slot].id = r->id;
    p->printed[slot].outcome = (int)r->outcome;
    p->printed[slot].verdict = (int)r->verdict;
    print_verdict_line(p->o.verdict_out, r);
}

/* The tee's context is the pipeline: every other record goes on to the writer with the
 * writer's own context (the writer refuses any other). */
static void tee_capture(void *ctx, const ow_capture_rec *r)
{
    const ow_record_sink *s = ((pipeline *)ctx)->db_sink;
    if (s->capture)
        s->capture(s->ctx, r);
}

static void tee_conn(void *ctx, const ow_conn_rec *r)
{
    const ow_record_sink *s = ((pipeline *)ctx)->db_sink;
    if (s->conn)
        s->conn(s->ctx, r);
}

static void tee_http(void *ctx, const ow_http_rec *r)
{
    const ow_record_sink *s = ((pipeline *)ctx)->db_sink;
    if (s->http)
        s->http(s->ctx, r);
}

static void tee_ws(void *ctx, const ow_ws_rec *r)
{
    const ow_record_sink *s = ((pipeline *)ctx)->db_sink;
    if (s->ws)
        s->ws(s->ctx, r);
}

static void tee_bokeh(void *ctx, const ow_bokeh_rec *r)
{
    const ow_record_sink *s = ((pipeline *)ctx)->db_sink;
    if (s->bokeh)
        s->bokeh(s->ctx, r);
}

static void tee_session(void *ctx, const ow_session_rec *r)
{
    const ow_record_sink *s = ((pipeline *)ctx)->db_sink;
    if (s->session)
        s->session(s->ctx, r);
}

/* capture reports its kept files (--keep-packets) here: on to the writer as rows. */
static void kept_file(void *ctx, const capture_kept_file *f)
{
    const ow_record_sink *s = ((pipeline *)ctx)->db_sink;
    if (!s || !s->packet_file)
        return;
    ow_packet_file_rec r = {.file = f->path,
                            .first_ts = f->first_ts,
                            .last_ts = f->last_ts,
                            .packets = f->packets,
                            .dropped = f->dropped};
    s->packet_file(s->ctx, &r);
}

static void tee_tick(void *ctx, double now)
{
    const ow_record_sink *s = ((pipeline *)ctx)->db_sink;
    if (s->tick)
        s->tick(s->ctx, now);
}

/* ---------------------------------------------------------------- capture row */

static void linktype_names(const capture_stats *s, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; i < s->n_linktypes && n < cap; i++) {
        const char *name = pcap_datalink_val_to_name(s->linktypes[i]);
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? "," : "", name ? name : "?");
    }
}

static size_t capture_counters_json(const capture_stats *s, char *buf, size_t cap)
{
    const struct {
        const char *name;
        uint64_t v;
    } f[] = {
        {"ipv4", s->ipv4},
        {"ipv6", s->ipv6},
        {"non_ip", s->non_ip},
        {"non_tcp", s->non_tcp},
        {"not_server_port", s->not_server_port},
        {"truncated", s->truncated},
        {"bad_ip", s->bad_ip},
        {"bad_tcp", s->bad_tcp},
        {"fragments", s->fragments},
        {"reassembled", s->reassembled},
        {"streams", s->streams},
        {"streams_without_syn", s->streams_without_syn},
        {"midstream_recovered", s->midstream_recovered},
        {"nids_refused", s->nids_refused},
        {"streams_evicted", s->streams_evicted},
        {"gaps", s->gaps},
        {"gap_bytes", s->gap_bytes},
        {"buffer_overflows", s->buffer_overflows},
        {"time_backwards", s->time_backwards},
        {"max_backwards_ms", s->max_backwards_ms},
        {"duplicates", s->duplicates},
        {"files_cut", s->files_cut},
        {"files_open_max", s->files_open_max},
        {"kept_packets", s->kept_packets},
        {"kept_skipped", s->kept_skipped},
        {"kept_files_dropped", s->kept_files_dropped},
        {"kept_packets_dropped", s->kept_packets_dropped},
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof f / sizeof *f && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s\"%s\":%llu", i ? "," : "", f[i].name,
                              (unsigned long long)f[i].v);
    return n < cap ? n : cap;
}

void pipeline_checkpoint(pipeline *p, const char *end_reason)
{
    if (!p->db_sink->capture)
        return;
    const capture_stats *s = p->cap ? capture_get_stats(p->cap) : &p->final_stats;
    const owdb_stats *ds = owdb_get_stats(p->db);
    char links[128], counters[4096];
    linktype_names(s, links, sizeof links);
    size_t n = (size_t)snprintf(counters, sizeof counters, "{");
    n += capture_counters_json(s, counters + n, sizeof counters - n);
    n += (size_t)snprintf(counters + n, sizeof counters - n, ",");
    n += correlator_stats_json(p->cor, counters + n, sizeof counters - n);
    if (n < sizeof counters)
        snprintf(counters + n, sizeof counters - n,
                 ",\"db_rows_failed\":%llu,\"db_bokeh_skipped\":%llu}",
                 (unsigned long long)ds->rows_failed, (unsigned long long)ds->bokeh_skipped);
    ow_capture_rec r = {.id = owdb_capture_id(p->db),
                        .source = p->source ? p->source : "",
                        .live = p->live,
                        .filter = p->o.cap.bpf,
                        .server_ports = p->ports,
                        .end_reason = end_reason,
                        .linktypes = links,
                        .grace = p->o.cor.grace,
                        .store_secrets = p->o.cor.store_secrets,
                        .counters_json = counters,
                        .stats = s};
    p->db_sink->capture(p->db_sink->ctx, &r);
}

/* ---------------------------------------------------------------- life cycle */

/* The captures row's source: the interface, or the files read, each by its absolute path (so
 * that export finds them again), one per line in reading order. Empty when out of memory. */
static void describe_source(pipeline *p)
{
    size_t n = 0, cap = 0;
    char *out = NULL;
    for (int i = 0; i < capture_source_count(p->cap); i++) {
        const char *name = capture_source_at(p->cap, i);
        char *abs = p->live || !strcmp(name, "-") ? NULL : realpath(name, NULL);
        const char *path = abs ? abs : name;
        size_t need = n + strlen(path) + 2;
        char *grown = need > cap ? realloc(out, cap = need * 2) : out;
        if (!grown) {
            free(abs);
            free(out);
            out = NULL;
            break;
        }
        out = grown;
        n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "\n" : "", path);
        free(abs);
    }
    p->source = out;
}

static void describe_ports(pipeline *p)
{
    size_t n = 0;
    int np = p->o.cap.n_server_ports;
    if (!np)
        snprintf(p->ports, sizeof p->ports, "%d", OW_DEFAULT_SERVER_PORT);
    for (int i = 0; i < np && n < sizeof p->ports; i++)
        n += (size_t)snprintf(p->ports + n, sizeof p->ports - n, "%s%u", i ? "," : "",
                              p->o.cap.server_ports[i]);
}

/* The directory path is in (dirname(3); the working directory by name for "."), into dir. */
static void dir_of(const char *path, char *dir, size_t cap)
{
    char copy[PATH_MAX];
    snprintf(copy, sizeof copy, "%s", path);
    const char *d = dirname(copy);
    if (strcmp(d, ".") != 0 || !getcwd(dir, cap))
        snprintf(dir, cap, "%s", d);
}

/* live as root: the user it becomes once the capture is open must be able to make files beside
 * the database (its journal, its packed copy) and in an existing --keep-packets directory
 * (one made here is given to that user). Said now, before anything is captured. */
static int check_dirs_for(const pipeline_opts *o, uid_t uid, gid_t gid, char *err, size_t errlen)
{
    struct {
        char path[PATH_MAX];
        const char *what, *why;
    } dirs[2];
    int n = 0;
    struct stat st;
    if (o->db_path) {
        dir_of(o->db_path, dirs[n].path, sizeof dirs[n].path);
        dirs[n].what = "the database";
        dirs[n++].why = " (the database's journal and packed copy go there)";
    }
    if (o->cap.keep_dir && stat(o->cap.keep_dir, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(dirs[n].path, sizeof dirs[n].path, "%s", o->cap.keep_dir);
        dirs[n].what = "the kept packets";
        dirs[n++].why = "";
    }
    for (int i = 0; i < n; i++) {
        if (ow_privileges_can_write_dir(uid, gid, dirs[i].path) != 0)
            continue; /* yes, or cannot tell: the run says so if it fails */
        const struct passwd *pw = getpwuid(uid);
        snprintf(err, errlen,
                 "%s: %s (uid %u), the user orphanwatch runs as once the capture is open, "
                 "cannot create files there%s; write %s elsewhere (such as /var/tmp), or name a "
                 "user who can with --user",
                 dirs[i].path, pw ? pw->pw_name : "that user", (unsigned)uid, dirs[i].why,
                 dirs[i].what);
        return -1;
    }
    return 0;
}

pipeline *pipeline_open(const pipeline_opts *o, char *err, size_t errlen)
{
    pipeline *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->o = *o;
    p->o.cap.on_kept_file = kept_file;
    p->o.cap.kept_ctx = p;
    uid_t uid;
    gid_t gid;
    bool live = !o->cap.file; /* as capture_open decides */
    if (live && ow_privileges_target(o->run_as, &uid, &gid) == 0 && geteuid() == 0) {
        p->o.db.owner = uid; /* the database and kept packets belong to the invoking user */
        p->o.db.group = gid;
        p->o.db.chown_to_owner = true;
        p->o.cap.keep_uid = uid;
        p->o.cap.keep_gid = gid;
        p->o.cap.keep_chown = true;
        if (check_dirs_for(o, uid, gid, err, errlen) < 0)
            goto fail;
    }
    p->cap = capture_open(&p->o.cap, err, errlen);
    if (!p->cap)
        goto fail;
    p->live = capture_is_live(p->cap);
    describe_source(p);
    describe_ports(p);
    p->o.db.never_stall = p->live; /* packets do not wait for the disk; a file read may */
    p->db = owdb_create(o->db_path, &p->o.db, err, errlen);
    if (!p->db)
        goto fail;
    if (capture_is_live(p->cap) && ow_drop_privileges(o->run_as, err, errlen) != 0)
        goto fail;
    p->db_sink = owdb_sink(p->db);
    p->tee = (ow_record_sink){.ctx = p,
                              .capture = tee_capture,
                              .conn = tee_conn,
                              .http = tee_http,
                              .ws = tee_ws,
                              .bokeh = tee_bokeh,
                              .page = tee_page,
                              .session = tee_session,
                              .tick = tee_tick};
    p->cor = correlator_new(&p->o.cor, &p->tee);
    if (!p->cor) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    pipeline_checkpoint(p, "running");
    return p;
fail:
    p->db_sink = NULL; /* nothing more reaches the writer */
    if (p->db)
        owdb_close(p->db);
    if (p->cap)
        capture_close(p->cap, NULL);
    free(p->source);
    free(p);
    return NULL;
}

int pipeline_run(pipeline *p, volatile sig_atomic_t *stop, char *err, size_t errlen)
{
    return capture_run(p->cap, correlator_flow_sink(p->cor), stop, err, errlen);
}

int pipeline_poll(pipeline *p, int max_packets, char *err, size_t errlen)
{
    int n = capture_poll(p->cap, correlator_flow_sink(p->cor), max_packets, err, errlen);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    const ow_flow_sink *s = correlator_flow_sink(p->cor);
    s->on_tick(s->ctx, (double)ts.tv_sec + ts.tv_nsec / 1e9);
    return n;
}

int pipeline_fd(const pipeline *p)
{
    return capture_get_fd(p->cap);
}

const capture_stats *pipeline_capture_stats(const pipeline *p)
{
    return p->cap ? capture_get_stats(p->cap) : &p->final_stats;
}

/* The writer's lost rows, and its last error, in one line on stderr. */
static void say_db_failures(const owdb_stats *st, const char *when)
{
    fprintf(stderr, "orphanwatch: %llu rows could not be written%s: %s\n",
            (unsigned long long)st->rows_failed, when, st->last_error);
}

bool pipeline_failures_due(uint64_t failed, uint64_t said, double said_at, double now)
{
    return failed > said && (said == 0 || now - said_at >= PIPELINE_FAILURES_EVERY_S);
}

void pipeline_say_db_failures(pipeline *p, double now)
{
    const owdb_stats *st = owdb_get_stats(p->db);
    if (!pipeline_failures_due(st->rows_failed, p->failures_said, p->failures_said_at, now))
        return;
    say_db_failures(st, " so far");
    p->failures_said = st->rows_failed;
    p->failures_said_at = now;
}

/* A read's files, one row each (their times: export opens only those that hold a page
 * load's). Named as in the capture row's source, whose lines are the files in reading order. */
static void record_source_files(pipeline *p)
{
    const ow_record_sink *s = p->db_sink;
    if (p->live || !s->capture_file || !p->source)
        return;
    const char *line = p->source;
    for (int i = 0; i < capture_source_count(p->cap) && line; i++) {
        const char *end = strchr(line, '\n');
        char *name = end ? strndup(line, (size_t)(end - line)) : strdup(line);
        ow_capture_file_rec r = {.seq = i, .file = name}; /* no packet: times NULL */
        if (!capture_source_span(p->cap, i, &r.first_ts, &r.last_ts, &r.packets))
            r.packets = 0;
        s->capture_file(s->ctx, &r); /* no name (out of memory): counted as lost */
        free(name);
        line = end ? end + 1 : NULL;
    }
}

int pipeline_close(pipeline *p, const char *end_reason)
{
    capture_refresh_stats(p->cap);
    record_source_files(p);
    p->final_stats = *capture_get_stats(p->cap);
    capture_close(p->cap, correlator_flow_sink(p->cor));
    p->cap = NULL;
    correlator_finish(p->cor, p->final_stats.last_ts);
    pipeline_checkpoint(p, end_reason);
    /* the last rows: a full disk or a lock shows here, not in owdb_close */
    owdb_commit_last(p->db);
    int failed = owdb_get_stats(p->db)->rows_failed ? -1 : 0;
    if (failed) {
        say_db_failures(owdb_get_stats(p->db), "");
        pipeline_checkpoint(p, "error"); /* the capture row says so, if it still fits */
        if (owdb_commit(p->db) != 0)     /* else only this says so: later readers cannot know */
            fprintf(stderr,
                    "orphanwatch: %s: the capture row could not record those lost rows either "
                    "(%s): its report will not show them\n",
                    p->o.db_path, owdb_get_stats(p->db)->last_error);
    }
    owdb_close(p->db);
    correlator_free(p->cor);
    free(p->source);
    free(p);
    return failed;
}
