/* man.c — `regula --man`: comes in a later commit. */
#include "cli.h"
int cli_man(FILE *f, const char *exit_help) { (void)f; (void)exit_help; return cli_error(CLI_OTHER, "--man: not built yet"); }
