/* cmd_interfaces: `orphanwatch interfaces` lists what can be captured on. */
#include "capture/capture.h"
#include "ui/commands.h"
#include <stdio.h>

int cmd_interfaces(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    char err[512];
    if (capture_list_interfaces(stdout, err, sizeof err) != 0) {
        fprintf(stderr, "orphanwatch: %s\n", err);
        return 1;
    }
    return 0;
}
