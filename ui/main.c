/* main: the orphanwatch command line. Dispatches to the subcommands in ui/. */
#include <stdio.h>

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "orphanwatch: not built yet\n");
    return 2;
}
