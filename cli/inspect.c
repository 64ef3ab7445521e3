/* inspect.c — `regula inspect`: comes in the next commit. */
#include "cli.h"
int cmd_inspect(int argc, char **argv) { (void)argc; (void)argv; return cli_error(CLI_OTHER, "inspect: not built yet"); }
