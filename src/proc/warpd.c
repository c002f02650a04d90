/* warpd: main() only. Parses the command line, builds and checks the whole
 * configuration, then hands over to the supervisor. Nothing is bound or
 * forked before the configuration is known to be good. */
#include <stdio.h>

#include "common.h"
#include "cli.h"
#include "config.h"
#include "supervisor.h"
#include "upgrade.h"

int
main(int argc, char **argv)
{
    struct cli_opts cli;
    struct config cfg;
    char err[512];
    int rc;

    upgrade_init(argc, argv); /* before getopt permutes argv */
    rc = cli_parse(argc, argv, &cli);
    if (rc > 0)
        return WD_EXIT_OK;
    if (rc < 0)
        return WD_EXIT_FATAL;
    if (config_build(&cfg, &cli, err, sizeof(err)) < 0) {
        fprintf(stderr, "warpd: %s\n", err);
        return WD_EXIT_FATAL;
    }
    if (cli.test) {
        printf("configuration OK\n");
        return WD_EXIT_OK;
    }
    return supervisor_run(&cfg, &cli);
}
