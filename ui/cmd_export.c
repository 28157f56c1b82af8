/* cmd_export: placeholder until the subcommand lands. */
#include "ui/commands.h"
#include <stdio.h>

int cmd_export(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "orphanwatch: 'export' is not implemented yet\n");
    return 1;
}
