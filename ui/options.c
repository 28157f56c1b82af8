/* options: parsing of the options shared by `read` and `live` (see options.h). */
#include "ui/options.h"
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    OPT_GRACE = OPT_RUN_OPTIONS_BASE,
    OPT_STORE_SECRETS,
    OPT_MAX_STREAMS,
    OPT_MAX_PAGE_LOADS,
    OPT_MAX_WS_MESSAGE,
    OPT_MAX_STREAM_BUFFER,
    OPT_FORMAT,
    OPT_NO_UI,
    OPT_COMMIT_MS,
    OPT_ASCII,
    OPT_MAX_BOKEH_MSGS,
    OPT_NO_PROMISC,
    OPT_KEEP_PACKETS,
    OPT_KEEP_PACKETS_SIZE,
};

const struct option run_long_options[] = {
    {"write", required_argument, 0, 'w'},
    {"port", required_argument, 0, 'p'},
    {"interface", required_argument, 0, 'i'},
    {"read", required_argument, 0, 'r'},
    {"user", required_argument, 0, 'u'},
    {"quiet", no_argument, 0, 'q'},
    {"buffer-size", required_argument, 0, 'B'},
    {"snaplen", required_argument, 0, 's'},
    {"grace", required_argument, 0, OPT_GRACE},
    {"store-secrets", no_argument, 0, OPT_STORE_SECRETS},
    {"max-streams", required_argument, 0, OPT_MAX_STREAMS},
    {"max-page-loads", required_argument, 0, OPT_MAX_PAGE_LOADS},
    {"max-ws-message", required_argument, 0, OPT_MAX_WS_MESSAGE},
    {"max-stream-buffer", required_argument, 0, OPT_MAX_STREAM_BUFFER},
    {"max-bokeh-messages", required_argument, 0, OPT_MAX_BOKEH_MSGS},
    {"commit-interval", required_argument, 0, OPT_COMMIT_MS},
    {"format", required_argument, 0, OPT_FORMAT},
    {"no-ui", no_argument, 0, OPT_NO_UI},
    {"ascii", no_argument, 0, OPT_ASCII},
    {"no-promiscuous-mode", no_argument, 0, OPT_NO_PROMISC},
    {"keep-packets", required_argument, 0, OPT_KEEP_PACKETS},
    {"keep-packets-size", required_argument, 0, OPT_KEEP_PACKETS_SIZE},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

const char *run_options_help(void)
{
    return "  -w, --write DB            capture database to write (created 0600)\n"
           "  -p, --port PORT           Bokeh server port to analyse (repeatable; default 5006)\n"
           "      --grace SECONDS       websocket expected within this after the page (15)\n"
           "      --store-secrets       keep token-bearing query values (default: redacted)\n"
           "      --max-streams N       TCP connections tracked at once (65536)\n"
           "      --max-page-loads N    page loads held in memory (100000)\n"
           "      --max-ws-message B    websocket message bytes decoded (1048576)\n"
           "      --max-stream-buffer B undecoded bytes kept per direction (1048576)\n"
           "      --max-bokeh-messages N  Bokeh messages stored per websocket, the first of\n"
           "                            each type and direction (8; all counted)\n"
           "      --commit-interval MS  database commit interval (1000)\n"
           "      --keep-packets DIR    keep the analysed packets (server-port TCP) as pcap\n"
           "                            files in DIR (created 0700), for `orphanwatch export`\n"
           "      --keep-packets-size MB  bound of those files together (256): files of\n"
           "                            MB/8, the oldest deleted first\n"
           "  EXPRESSION                trailing words: a BPF filter (tcpdump syntax),\n"
           "                            combined with the server ports\n";
}

void run_options_init(run_options *r)
{
    memset(r, 0, sizeof *r);
    correlator_default_opts(&r->p.cor);
    r->p.cap.snaplen = OW_DEFAULT_SNAPLEN;
    r->p.cap.buffer_mb = OW_DEFAULT_BUFFER_MB;
    r->p.cap.max_streams = OW_DEFAULT_MAX_STREAMS;
    r->p.cap.max_stream_buffer = OW_DEFAULT_MAX_STREAM_BUFFER;
    r->p.cap.promisc = true;
    r->p.db.max_bokeh_msgs_per_ws = SIZE_MAX; /* the correlator caps them, exactly */
    r->format = "text";
}

static int parse_u64(const char *arg, const char *what, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (errno || end == arg || *end || v == 0 || v > max) {
        fprintf(stderr, "orphanwatch: bad %s '%s'\n", what, arg);
        return -1;
    }
    *out = v;
    return 0;
}

static int add_port(run_options *r, const char *arg)
{
    uint64_t v;
    if (parse_u64(arg, "port", 65535, &v))
        return -1;
    if (r->p.cap.n_server_ports == OW_MAX_SERVER_PORTS) {
        fprintf(stderr, "orphanwatch: at most %d ports\n", OW_MAX_SERVER_PORTS);
        return -1;
    }
    r->p.cap.server_ports[r->p.cap.n_server_ports++] = (uint16_t)v;
    return 0;
}

int run_options_handle(run_options *r, int opt, const char *arg)
{
    uint64_t v;
    switch (opt) {
    case 'w':
        r->p.db_path = arg;
        return 1;
    case 'p':
        return add_port(r, arg) ? -1 : 1;
    case 'i':
        r->p.cap.iface = arg;
        return 1;
    case 'r':
        r->p.cap.file = arg;
        return 1;
    case 'u':
        r->p.run_as = arg;
        return 1;
    case 'q':
        r->p.quiet = true;
        return 1;
    case 'B':
        if (parse_u64(arg, "buffer size (MB)", 4096, &v))
            return -1;
        r->p.cap.buffer_mb = (int)v;
        return 1;
    case 's':
        if (parse_u64(arg, "snap length", 262144, &v))
            return -1;
        r->p.cap.snaplen = (int)v;
        return 1;
    case OPT_GRACE: {
        char *end;
        double g = strtod(arg, &end);
        if (end == arg || *end || g <= 0 || g > 86400) {
            fprintf(stderr, "orphanwatch: bad grace '%s' (seconds, > 0)\n", arg);
            return -1;
        }
        r->p.cor.grace = g;
        return 1;
    }
    case OPT_STORE_SECRETS:
        r->p.cor.store_secrets = true;
        return 1;
    case OPT_MAX_STREAMS:
        if (parse_u64(arg, "--max-streams", 10000000, &v))
            return -1;
        r->p.cap.max_streams = (int)v;
        return 1;
    case OPT_MAX_PAGE_LOADS:
        if (parse_u64(arg, "--max-page-loads", 100000000, &v))
            return -1;
        r->p.cor.max_page_loads = v;
        return 1;
    case OPT_MAX_WS_MESSAGE:
        if (parse_u64(arg, "--max-ws-message", 1u << 30, &v))
            return -1;
        r->p.cor.max_ws_message = v;
        return 1;
    case OPT_MAX_STREAM_BUFFER:
        if (parse_u64(arg, "--max-stream-buffer", 1u << 30, &v))
            return -1;
        r->p.cap.max_stream_buffer = (uint32_t)v;
        return 1;
    case OPT_MAX_BOKEH_MSGS:
        if (parse_u64(arg, "--max-bokeh-messages", 1u << 30, &v))
            return -1;
        r->p.cor.max_bokeh_stored = v;
        return 1;
    case OPT_COMMIT_MS:
        if (parse_u64(arg, "--commit-interval", 3600000, &v))
            return -1;
        r->p.db.commit_interval_ms = (int)v;
        return 1;
    case OPT_FORMAT:
        if (strcmp(arg, "text") && strcmp(arg, "jsonl")) {
            fprintf(stderr, "orphanwatch: --format is text or jsonl\n");
            return -1;
        }
        r->format = arg;
        return 1;
    case OPT_NO_UI:
        r->no_ui = true;
        return 1;
    case OPT_ASCII:
        r->ascii = true;
        return 1;
    case OPT_NO_PROMISC:
        r->p.cap.promisc = false;
        return 1;
    case OPT_KEEP_PACKETS:
        r->p.cap.keep_dir = arg;
        return 1;
    case OPT_KEEP_PACKETS_SIZE:
        if (parse_u64(arg, "--keep-packets-size (MB)", 1u << 24, &v))
            return -1;
        r->p.cap.keep_bytes = v << 20;
        return 1;
    default:
        return 0;
    }
}

int run_options_parse(run_options *r, int argc, char **argv, void (*usage)(FILE *))
{
    int opt;
    run_options_init(r);
    optind = 1;
    while ((opt = getopt_long(argc, argv, RUN_SHORT_OPTIONS "h", run_long_options, NULL)) != -1) {
        if (opt == 'h') {
            usage(stdout);
            return 0;
        }
        if (run_options_handle(r, opt, optarg) <= 0) {
            usage(stderr);
            return 2;
        }
    }
    return -1;
}

void run_options_trailing_bpf(run_options *r, int argc, char **argv, int first)
{
    size_t n = 0;
    r->bpf[0] = 0;
    for (int i = first; i < argc && n < sizeof r->bpf; i++)
        n += (size_t)snprintf(r->bpf + n, sizeof r->bpf - n, "%s%s", n ? " " : "", argv[i]);
    if (r->bpf[0])
        r->p.cap.bpf = r->bpf;
}
