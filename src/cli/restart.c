/* SPDX-License-Identifier: MIT */
#include "cli.h"

static const char usage[] =
    "Usage: berth restart [OPTIONS] [NAME]\n"
    "\n"
    "Stop the machine NAME (default: the default machine) when it runs, then start it\n"
    "and wait until it is ready.\n"
    "\n"
    "Options:\n"
    "  -t, --time SECS  how long the init gets to shut down before SIGKILL (default 10)\n"
    "  --timeout SECS   how long to wait for it to be ready again (default 90)\n"
    "  -q, --quiet      print nothing\n"
    "  -h, --help       print this help\n";

int cmd_restart(berth_ctx *ctx, int argc, char **argv)
{
	return cli_machine_start(ctx, argc, argv, "restart", usage, true);
}
