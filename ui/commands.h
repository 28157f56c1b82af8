/* commands: one entry point per subcommand of the orphanwatch CLI. Each parses its own
 * options (getopt_long), prints its own usage on --help, and returns the process exit code:
 * 0 success, 1 runtime failure (message on stderr), 2 usage error. */
#ifndef OW_COMMANDS_H
#define OW_COMMANDS_H

int cmd_read(int argc, char **argv);       /* read a pcap -> database and/or report */
int cmd_live(int argc, char **argv);       /* live capture (dashboard or --no-ui lines) */
int cmd_report(int argc, char **argv);     /* report from a database (text or jsonl) */
int cmd_query(int argc, char **argv);      /* canned queries: orphans, sessions, ... */
int cmd_sql(int argc, char **argv);        /* read-only SQL */
int cmd_merge(int argc, char **argv);      /* merge databases of several servers */
int cmd_export(int argc, char **argv);     /* packets of one page load as a pcap */
int cmd_dashboard(int argc, char **argv);  /* the ncurses dashboard on a database */
int cmd_interfaces(int argc, char **argv); /* capture interfaces */

#endif
