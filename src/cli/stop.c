/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>

#include "cleanup.h"
#include "cli.h"
#include "machine.h"

static const char usage[] =
    "Usage: berth stop [OPTIONS] [NAME]\n"
    "\n"
    "Stop the machine NAME (default: the default machine): its init gets its own stop\n"
    "signal (SIGRTMIN+3 for systemd), then SIGKILL when it has not finished in time.\n"
    "Everything in the machine's own layer is kept for the next start.\n"
    "\n"
    "Options:\n"
    "  -t, --time SECS  how long the init gets to shut down before SIGKILL (default 10)\n"
    "  -f, --force      SIGKILL at once\n"
    "  -q, --quiet      print nothing\n"
    "  -h, --help       print this help\n";

int cmd_stop(berth_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"time", required_argument, NULL, 't'},
	    {"force", no_argument, NULL, 'f'},
	    CLI_COMMON_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	int secs = 10, c;
	bool force = false;
	optind = 0;
	while ((c = getopt_long(argc, argv, "hqt:f", opts, NULL)) != -1) {
		if (c == 't') {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || end == optarg || v < 0 || v > 86400)
				return cli_usage(ctx, "stop", "--time wants seconds, not '%s'",
						 optarg);
			secs = (int)v;
			continue;
		}
		if (c == 'f') {
			force = true;
			continue;
		}
		int r = cli_other_opt(ctx, c, "stop", usage);
		if (r >= 0)
			return r;
	}
	if (argc - optind > 1)
		return cli_usage(ctx, "stop", "'stop' takes one machine name");
	berth_err e = {0};
	_cleanup_free_ char *name = NULL;
	if (machine_resolve_name(ctx, optind < argc ? argv[optind] : NULL, &name, &e) < 0)
		return cli_fail(ctx, &e);
	bool was = false;
	if (machine_stop(ctx, name, secs * 1000, force, &was, &e) < 0)
		return cli_fail(ctx, &e);
	if (!ctx->quiet && !ctx->json) {
		if (was)
			printf("%s\n", name);
		else
			fprintf(stderr, "Machine '%s' was not running.\n", name);
	}
	return 0;
}
