/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cli.h"
#include "machine.h"

static const char usage[] =
    "Usage: berth start [OPTIONS] [NAME]\n"
    "\n"
    "Start the machine NAME (default: the default machine) and wait until it is ready:\n"
    "systemd reports it is running (or degraded), other inits have started their first\n"
    "process. When the machine fails, the error shows its last console lines.\n"
    "\n"
    "Options:\n"
    "  --timeout SECS   how long to wait for it to be ready (default 90); a machine not\n"
    "                   ready by then is stopped\n"
    "  -q, --quiet      print nothing\n"
    "  -h, --help       print this help\n";

int cli_machine_start(berth_ctx *ctx, int argc, char **argv, const char *verb, const char *help,
		      bool restart)
{
	static const struct option opts[] = {
	    {"timeout", required_argument, NULL, 'T'},
	    {"time", required_argument, NULL, 't'},
	    CLI_COMMON_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	int timeout = 90, stop_time = 10, c;
	optind = 0;
	while ((c = getopt_long(argc, argv, restart ? "hqt:" : "hq", opts, NULL)) != -1) {
		if (c == 'T' || (c == 't' && restart)) {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || end == optarg || v < (c == 't' ? 0 : 1) || v > 86400)
				return cli_usage(ctx, verb, "--%s wants seconds, not '%s'",
						 c == 'T' ? "timeout" : "time", optarg);
			*(c == 'T' ? &timeout : &stop_time) = (int)v;
			continue;
		}
		int r = cli_other_opt(ctx, c, verb, help);
		if (r >= 0)
			return r;
	}
	if (argc - optind > 1)
		return cli_usage(ctx, verb, "'%s' takes one machine name", verb);
	berth_err e = {0};
	_cleanup_free_ char *name = NULL;
	if (machine_resolve_name(ctx, optind < argc ? argv[optind] : NULL, &name, &e) < 0)
		return cli_fail(ctx, &e);
	if (restart) {
		bool was;
		if (machine_stop(ctx, name, stop_time * 1000, false, &was, &e) < 0)
			return cli_fail(ctx, &e);
	}
	if (machine_start(ctx, name, timeout * 1000, &e) < 0)
		return cli_fail(ctx, &e);
	if (!ctx->quiet && !ctx->json)
		printf("%s\n", name);
	return 0;
}

int cmd_start(berth_ctx *ctx, int argc, char **argv)
{
	return cli_machine_start(ctx, argc, argv, "start", usage, false);
}
