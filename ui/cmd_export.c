/* cmd_export: `orphanwatch export DB --session ID -w OUT.pcap [--source FILE]` writes the
 * packets of every connection of one page load (the page, its scripts, its websockets) to a
 * pcap that opens in Wireshark. The packets come from the capture file the database was made
 * from (its path is in the captures row), or from --source. */
#include "capture/export.h"
#include "db/db.h"
#include "db/query.h"
#include "ui/commands.h"
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT_MAX_CONNS 256

static void usage(FILE *out)
{
    fprintf(out, "usage: orphanwatch export DB --session ID -w OUT.pcap [--source FILE]\n"
                 "Writes the packets of one page load's connections (page, scripts,\n"
                 "websockets) as a pcap. ID may be a unique prefix of the session id. The\n"
                 "packets are read from the capture file the database was made from; for a\n"
                 "live capture, name a pcap of the same traffic with --source.\n");
}

static const char *col_text(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? (const char *)t : "";
}

/* Every connection of the page load: its own, its fetches', its session's websockets'. */
static size_t page_connections(sqlite3 *db, int64_t page_id, ow_conn_key *keys, size_t cap)
{
    sqlite3_stmt *s;
    const char *sql =
        "SELECT client, client_port, server, server_port, first_ts, last_ts FROM connections "
        "WHERE id IN (SELECT connection_id FROM page_loads WHERE id = ?1 "
        "UNION SELECT connection_id FROM http_exchanges WHERE page_load_id = ?1 "
        "UNION SELECT connection_id FROM websockets WHERE page_load_id = ?1 OR session_id = "
        "(SELECT session_id FROM page_loads WHERE id = ?1))";
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_int64(s, 1, page_id);
    size_t n = 0;
    while (n < cap && sqlite3_step(s) == SQLITE_ROW) {
        ow_conn_key *k = &keys[n];
        if (!ow_addr_parse(col_text(s, 0), &k->client) ||
            !ow_addr_parse(col_text(s, 2), &k->server))
            continue;
        k->client_port = (uint16_t)sqlite3_column_int(s, 1);
        k->server_port = (uint16_t)sqlite3_column_int(s, 3);
        k->first_ts = sqlite3_column_double(s, 4);
        k->last_ts = sqlite3_column_double(s, 5);
        n++;
    }
    sqlite3_finalize(s);
    return n;
}

static int capture_source(sqlite3 *db, int64_t page_id, char *buf, size_t cap)
{
    sqlite3_stmt *s;
    int rc = -1;
    if (sqlite3_prepare_v2(db,
                           "SELECT c.source, c.live FROM captures c JOIN page_loads p "
                           "ON p.capture_id = c.id WHERE p.id = ?",
                           -1, &s, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(s, 1, page_id);
    if (sqlite3_step(s) == SQLITE_ROW && !sqlite3_column_int(s, 1)) {
        snprintf(buf, cap, "%s", col_text(s, 0));
        rc = 0;
    }
    sqlite3_finalize(s);
    return rc;
}

int cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {{"session", required_argument, 0, 's'},
                                         {"write", required_argument, 0, 'w'},
                                         {"source", required_argument, 0, 'r'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *session = NULL, *out = NULL, *source = NULL;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "s:w:r:h", opts, NULL)) != -1) {
        if (opt == 's')
            session = optarg;
        else if (opt == 'w')
            out = optarg;
        else if (opt == 'r')
            source = optarg;
        else {
            usage(opt == 'h' ? stdout : stderr);
            return opt == 'h' ? 0 : 2;
        }
    }
    if (optind != argc - 1 || !session || !out) {
        usage(stderr);
        return 2;
    }
    char err[1024], src[4096];
    sqlite3 *db = owdb_open_readonly(argv[optind], err, sizeof err);
    if (!db) {
        fprintf(stderr, "orphanwatch: %s\n", err);
        return 1;
    }
    int64_t page_id;
    int rc = 1;
    static ow_conn_key keys[EXPORT_MAX_CONNS];
    size_t n = 0;
    if (query_find_page_load(db, session, &page_id, err, sizeof err) != 0) {
        fprintf(stderr, "orphanwatch: %s\n", err);
    } else if (!source && capture_source(db, page_id, src, sizeof src) != 0) {
        fprintf(stderr, "orphanwatch: that page load comes from a live capture: name a pcap of "
                        "the same traffic with --source FILE\n");
    } else if ((n = page_connections(db, page_id, keys, EXPORT_MAX_CONNS)) == 0) {
        fprintf(stderr, "orphanwatch: no connections recorded for that page load\n");
    } else {
        long w = ow_export_packets(source ? source : src, keys, n, out, err, sizeof err);
        if (w < 0)
            fprintf(stderr, "orphanwatch: %s\n", err);
        else
            fprintf(stderr, "orphanwatch: wrote %ld packets of %zu connections to %s\n", w, n, out);
        rc = w < 0 ? 1 : 0;
    }
    sqlite3_close(db);
    return rc;
}
